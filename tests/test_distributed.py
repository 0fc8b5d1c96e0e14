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
