"""All-or-nothing writes: a full disk, a read-only or missing target leaves the previous file
byte-identical, no temp file behind, and one message naming the file and the cause.

A full disk is simulated in-process by making os.write (which core/atomic.py writes through)
fail with ENOSPC after a few bytes; CLI runs in a real process use a target whose parent is a
file (root writes anywhere, so chmod would prove nothing here). benchmarks/full_disk.sh does
the same on a real 1 MB tmpfs."""
import errno
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_here import ganviz
from ganviz import cli
from ganviz.core import atomic
from ganviz.core.atomic import WriteError, atomic_write, write_bytes
from ganviz.core.checkpoint import load_checkpoint, save_checkpoint
from ganviz.core.config import Config
from ganviz.core.render import grid_png, scatter_png
from ganviz.core.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--batch-size", "32", "--noise-dim", "8"]


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def full_disk(monkeypatch):
    """After `room` bytes, every os.write fails as on a full disk (ENOSPC)."""
    real = os.write
    state = {"room": 100}

    def write(fd, data):
        if state["room"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real(fd, bytes(data[: state["room"]]))
        state["room"] -= n
        return n

    def fill(room=100):
        state["room"] = room
        monkeypatch.setattr(os, "write", write)
    yield fill
    monkeypatch.setattr(os, "write", real)


def small_trainer(iterations=2):
    t = Trainer(Config(dataset="ring", batch_size=32, hidden=16, noise_dim=8, probe_size=16))
    t.train(iterations)
    return t


def assert_untouched(folder, path, digest):
    assert sha(path) == digest
    leftovers = [n for n in os.listdir(folder) if n.endswith(".tmp")]
    assert leftovers == [], leftovers


# ------------------------------------------------------------------ the writer itself
def test_full_disk_keeps_every_kind_of_file(tmp_path, full_disk):
    t = small_trainer()
    files = {
        "checkpoint.pt": lambda p: save_checkpoint(t, p),
        "metrics.csv": lambda p: t.history.write_csv(p),
        "samples.png": lambda p: scatter_png(np.zeros((50, 2)), np.ones((50, 2)), p),
        "grid.png": lambda p: grid_png(np.zeros((4, 1, 8, 8), np.float32), p),
        "raw.bin": lambda p: write_bytes(p, b"x" * 5000),
    }
    digests = {}
    for name, write in files.items():
        write(tmp_path / name)
        digests[name] = sha(tmp_path / name)
    for name, write in files.items():
        full_disk(room=100)
        with pytest.raises(WriteError) as caught:
            write(tmp_path / name)
        full_disk(room=10**9)
        assert caught.value.path == str(tmp_path / name)
        assert str(caught.value) == f"Cannot write {tmp_path / name}: no space left on device"
        assert_untouched(tmp_path, tmp_path / name, digests[name])
    assert load_checkpoint(tmp_path / "checkpoint.pt").updates == t.updates


def test_write_error_is_an_oserror_with_the_cause(tmp_path, full_disk):
    full_disk(room=0)
    with pytest.raises(OSError) as caught:
        write_bytes(tmp_path / "a.bin", b"abc")
    assert caught.value.errno == errno.ENOSPC
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("where, cause", [
    (lambda tmp: tmp / "missing" / "a.pt", "does not exist"),
    (lambda tmp: tmp / "a_file" / "a.pt", "is a file, not a folder"),
    (lambda tmp: tmp / "a_folder", "it is a folder"),
])
def test_missing_or_wrong_target_names_the_file_and_cause(tmp_path, where, cause):
    (tmp_path / "a_file").write_text("keep me")
    (tmp_path / "a_folder").mkdir()
    target = where(tmp_path)
    with pytest.raises(WriteError, match=cause) as caught:
        write_bytes(target, b"data")
    assert caught.value.path == str(target)
    assert str(caught.value).startswith(f"Cannot write {target}: ")
    assert sorted(os.listdir(tmp_path)) == ["a_file", "a_folder"]
    assert (tmp_path / "a_file").read_text() == "keep me"


def test_read_only_file_system_is_named(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    with pytest.raises(WriteError, match="the file system is read-only"):
        write_bytes(tmp_path / "x.png", b"png")


def test_new_files_follow_the_umask_and_overwrites_keep_their_mode(tmp_path):
    old = os.umask(0o027)
    try:
        write_bytes(tmp_path / "new.bin", b"1")
        assert (tmp_path / "new.bin").stat().st_mode & 0o777 == 0o640
        shared = tmp_path / "shared.csv"
        shared.write_text("old")
        shared.chmod(0o664)
        with atomic_write(shared, "w") as f:
            f.write("new")
        assert shared.stat().st_mode & 0o777 == 0o664 and shared.read_text() == "new"
    finally:
        os.umask(old)
    os.umask(0o022)
    try:
        save_checkpoint(small_trainer(1), tmp_path / "c.pt")
        assert (tmp_path / "c.pt").stat().st_mode & 0o777 == 0o644   # was forced to 0600
    finally:
        os.umask(old)


def test_a_bug_in_the_serializer_is_not_reported_as_a_write_error(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with atomic_write(tmp_path / "x.bin") as f:
            f.write(b"half")
            1 / 0
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ the CLI, in-process
def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code, err, *words):
    """Exit 2 and one message line, the last (after the progress line, which it ends)."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert [line for line in lines if "ganviz" in line] == lines[-1:], err
    assert lines[-1].startswith("ganviz: error: cannot write "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[-1], err


@pytest.fixture
def ring_run(tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", "ring", "--steps", "20", "--out", str(out), *SMALL]) == 0
    return out


def test_train_on_a_full_disk_is_one_line_and_keeps_nothing_half_written(tmp_path, capsys, full_disk):
    full_disk(room=0)
    out = tmp_path / "new"
    code, _, err = run(capsys, "train", "--dataset", "ring", "--steps", 5, "--out", out, *SMALL)
    assert_one_line(code, err, str(out / "config.json"), "no space left on device")
    assert os.listdir(out) == []


def files(folder, skip=()):
    """sha256 of every file in the folder and its snapshots/ (the run store's checkpoints)."""
    return {str(p.relative_to(folder)): sha(p) for p in Path(folder).rglob("*") if p.is_file()
            and p.name not in skip}


def test_resume_on_a_full_disk_keeps_the_checkpoint_byte_identical(ring_run, capsys, full_disk):
    from ganviz.core.store import RunReader
    digests = files(ring_run, skip=("run.db",))   # SQLite writes past this simulation (not through os.write)
    full_disk(room=4096)
    code, _, err = run(capsys, "train", "--resume", ring_run, "--steps", 10)
    assert_one_line(code, err, str(ring_run), "no space left on device")
    full_disk(room=10**9)
    assert files(ring_run, skip=("run.db",)) == digests
    good = load_checkpoint(ring_run / "checkpoint.pt")
    assert np.array_equal(RunReader(ring_run)._rows(0, 40), good.history.array(), equal_nan=True)
    assert load_checkpoint(ring_run / "checkpoint.pt").iteration == 20


def test_sample_on_a_full_disk_names_the_file(ring_run, tmp_path, capsys, full_disk):
    out = tmp_path / "s.npy"
    assert run(capsys, "sample", "--checkpoint", ring_run / "checkpoint.pt", "--out", out, "--n", 100)[0] == 0
    digest = sha(out)
    full_disk(room=1000)
    code, _, err = run(capsys, "sample", "--checkpoint", ring_run / "checkpoint.pt", "--out", out, "--n", 200000)
    assert_one_line(code, err, f"cannot write {out}: no space left on device")
    assert "requested" not in err
    full_disk(room=10**9)
    assert_untouched(tmp_path, out, digest)
    assert np.load(out).shape == (100, 2)


# ------------------------------------------------------------------ the CLI
def subprocess_run(*argv, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("GANVIZ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "ganviz", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_commands_into_an_unwritable_place_exit_2_with_one_line(ring_run, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cases = [
        (["sample", "--checkpoint", ring_run / "checkpoint.pt", "--out", blocker / "s.npy"], "s.npy"),
        (["screenshot", "--steps", "1", "--out", blocker / "shot.png"], "shot.png"),
        (["sample", "--checkpoint", ring_run / "checkpoint.pt", "--out", "/proc/ganviz-s.npy"], "ganviz-s.npy"),
    ]
    for argv, name in cases:
        # the screenshot builds a window: in a process of its own, as a user runs it
        result = (subprocess_run if argv[0] == "screenshot" else ganviz)(*argv, cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, result.stderr
        assert len(lines) == 1 and lines[0].startswith("ganviz: error: cannot write "), result.stderr
        assert name in lines[0] and "Traceback" not in result.stderr


# ------------------------------------------------------------------ non-finite losses in `ganviz train`
def test_resume_with_an_absurd_learning_rate_exits_3_and_keeps_the_good_checkpoint(ring_run, tmp_path):
    from ganviz.core.store import RunReader
    digests = files(ring_run, skip=("run.db",))   # the store records the diverging updates too
    result = ganviz("train", "--resume", ring_run, "--steps", 500, "--lr-d", "1e6", "--lr-g", "1e6",
                    cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert re.search(r"^ganviz: loss_[dg] became (nan|inf|-inf) at iteration \d+ ", last), last
    assert f"kept {ring_run / 'checkpoint.pt'} as it was (iteration 20)" in last
    assert "Traceback" not in result.stderr
    assert files(ring_run, skip=("run.db",)) == digests
    good = load_checkpoint(ring_run / "checkpoint.pt")
    assert good.iteration == 20
    store = RunReader(ring_run)   # the good run, then the updates up to the non-finite loss
    assert len(store) > 40 and not np.isfinite(store.columns(start=len(store) - 1)["loss_" + last[13]]).all()
    assert np.array_equal(store._rows(0, 40), good.history.array(), equal_nan=True)


def test_a_new_run_that_diverges_writes_its_last_finite_state(tmp_path):
    out = tmp_path / "run"
    result = ganviz("train", "--dataset", "ring", "--steps", 2000, "--lr-d", "1e6", "--lr-g", "1e6",
                    "--out", out, *SMALL, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert re.search(r"^ganviz: loss_[dg] became (nan|inf|-inf) at iteration \d+ ", last), last
    assert "saved the last finite state (iteration " in last, last
    trainer = load_checkpoint(out / "checkpoint.pt")
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())
    assert all(torch.isfinite(p).all() for p in trainer.discriminator.parameters())
    assert all(trainer.history.record(i).is_finite for i in range(len(trainer.history)))
    assert f"iteration {trainer.iteration})" in last
    assert (out / "metrics.csv").exists() and (out / "samples.png").exists()
