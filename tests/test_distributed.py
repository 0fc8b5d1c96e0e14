"""torchrun: two CPU processes (gloo) train one run data-parallel. Each update still changes
one network on every rank; the ranks stay identical bit for bit; and the run is the one a
single process trains with the same total batch, within floating-point rounding."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cli_here import ganviz
from distributed_worker import EQUIVALENCE, UPDATES
from ganviz.core.config import Config
from ganviz.core.history import COLUMNS
from ganviz.core.trainer import Trainer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COMPARED = [i for i, c in enumerate(COLUMNS) if c != "duration"]


def torchrun(*argv, cwd, timeout=240):
    """`torchrun --standalone --nproc_per_node 2 ARGV` (a free port on this machine)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    if sys.platform.startswith("linux"):   # gloo on loopback, whatever the host's name resolves to
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           *map(str, argv)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow(seconds=25)
def test_two_ranks_keep_one_network_per_update_and_train_the_single_process_run(tmp_path):
    done = torchrun(os.path.join(HERE, "distributed_worker.py"), tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    # test_trainer's isolation tests passed on both ranks, every conditioning, both datasets
    assert [r["checked"] for r in ranks] == [20, 20] and [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["part"] == slice(0, 32) and ranks[1]["part"] == slice(32, 64)
    # every rank holds the same networks, optimizer state and records (but their durations), bit for bit
    for key in ("generator", "discriminator", "opt_g", "opt_d", "sampler", "noise_gen"):
        torch.testing.assert_close(ranks[0]["state"][key], ranks[1]["state"][key], rtol=0, atol=0)
    assert np.array_equal(ranks[0]["history"][:, COMPARED], ranks[1]["history"][:, COMPARED], equal_nan=True)
    # ... and they are what one process trains with the whole batch of 64
    one = Trainer(Config(**EQUIVALENCE))
    for _ in range(UPDATES):
        one.step(fetch=False)
    one.fetch_records()
    for key in ("generator", "discriminator", "opt_g", "opt_d", "counters", "sampler"):
        torch.testing.assert_close(ranks[0]["state"][key], one.state_dict(history=False)[key], rtol=1e-4, atol=1e-6)
    assert np.allclose(ranks[0]["history"][:, COMPARED], one.history.array()[:, COMPARED],
                       rtol=1e-4, atol=1e-6, equal_nan=True)
    assert ranks[0]["phases"] == ["D", "G", "D", "G", "D", "G", "D"]


@pytest.mark.slow(seconds=20)
def test_ganviz_train_distributed_writes_one_run_folder_like_one_process(tmp_path):
    args = ["--dataset", "ring", "--steps", 40, "--batch-size", 64, "--hidden", 32, "--threads", 1,
            "--checkpoint-every", 0]
    two = torchrun("-m", "ganviz", "train", "--distributed", *args, "--out", "two", cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("saved to two") == 1   # rank 0 alone reports (and writes)
    one = ganviz("train", *args, "--out", "one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    a = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)
    torch.testing.assert_close([a["generator"], a["discriminator"]], [b["generator"], b["discriminator"]],
                               rtol=1e-4, atol=1e-6)
    rows = [np.genfromtxt(tmp_path / run / "metrics.csv", delimiter=",", names=True) for run in ("two", "one")]
    assert len(rows[0]) == len(rows[1]) == 80
    assert np.allclose(rows[0]["loss_d"], rows[1]["loss_d"], rtol=1e-3, atol=1e-5, equal_nan=True)


def test_distributed_outside_torchrun_is_refused_in_one_line(tmp_path, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    done = ganviz("train", "--distributed", "--dataset", "ring", "--steps", 1, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "torchrun" in done.stderr
    assert os.listdir(tmp_path) == []


def test_a_batch_the_ranks_cannot_split_is_refused_by_name():
    from ganviz.core.config import ConfigError
    from ganviz.core.distributed import Ranks

    three = [Ranks(r, 3, torch.device("cpu")) for r in range(3)]
    assert [r.part(96) for r in three] == [slice(0, 32), slice(32, 64), slice(64, 96)]
    with pytest.raises(ConfigError, match="batch size 64 does not split evenly over 3 processes; use a multiple of 3"):
        three[0].part(64)


def drive_served(command, cwd, env, reset=False):
    """Start a served run (`... train --serve --paused`), and as a window would: three Steps,
    a new learning rate, a fourth Step, (a Reset, which torchrun's refuses), then Train until
    its --steps end it. Returns the Stepped records, the refusal and the process's stderr."""
    from ganviz.protocol import messages as m
    from ganviz.protocol.remote import SocketTransport
    from serving import events_until
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        while "listening on" not in line:
            assert line, proc.stderr.read()[-3000:]
            line = proc.stdout.readline()
        address = line.split("listening on ")[1].split(";")[0]
        t = SocketTransport.connect(address, proc.stdout.readline().split()[1])
        events_until(t, m.RunStarted, timeout=60)
        stepped = []
        for changes in (None, None, None, {"lr_d": -1.0}, {"lr_d": 5e-4}, None):
            if changes and changes["lr_d"] < 0:   # refused: by name, and the run goes on in step
                t.send(m.ChangeSettings(changes))
                assert "learning rate D must be a positive number" in events_until(t, m.Failed)[-1].message
                continue
            if changes:
                t.send(m.ChangeSettings(changes))
                assert events_until(t, m.SettingsApplied)[-1].applied == changes
                continue
            t.send(m.Step())
            stepped.append(events_until(t, m.Stepped, timeout=60)[-1].record)
        refusal = ""
        if reset:
            t.send(m.Reset(Config(dataset="grid")))
            refusal = events_until(t, m.Failed)[-1].message
        t.send(m.Play())
        with pytest.raises(EOFError):   # the run ends at its --steps, and the server with it
            while True:
                event = t.receive()
                if isinstance(event, m.Batch):
                    t.send(m.Ack())
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:   # SIGTERM: torchrun ends its workers too (a kill would orphan them)
            proc.terminate()
            proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    return stepped, refusal, err


@pytest.mark.slow(seconds=30)
def test_torchrun_serve_process_0_serves_and_every_process_takes_each_step(tmp_path):
    """`torchrun ... ganviz train --distributed --serve`: a window steps, changes a setting and
    trains the run process 0 serves; the other process makes every update with it (each update
    all-reduces: without it, none would finish), and the run is the one process's."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    args = ["train", "--serve", "--paused", "--port", "0", "--dataset", "ring", "--steps", "6", "--batch-size", "64",
            "--hidden", "32", "--threads", "1"]
    two = drive_served([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "-m", "ganviz", *args, "--distributed", "--out", "two"], tmp_path, env, reset=True)
    one = drive_served([sys.executable, "-m", "ganviz", *args, "--out", "one"], tmp_path, env)
    assert [r.phase for r in two[0]] == [r.phase for r in one[0]] == ["D", "G", "D", "G"]
    for a, b in zip(two[0], one[0]):
        assert a.update == b.update and a.lr == b.lr
        assert np.allclose([a.loss_d, a.loss_g, a.d_real_after], [b.loss_d, b.loss_g, b.d_real_after],
                           rtol=1e-4, atol=1e-6, equal_nan=True)
    assert "one run only" in two[1] and "torchrun trains it in 2 processes" in two[1]
    a = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)
    assert a["counters"] == b["counters"]
    torch.testing.assert_close([a["generator"], a["discriminator"]], [b["generator"], b["discriminator"]],
                               rtol=1e-4, atol=1e-6)
