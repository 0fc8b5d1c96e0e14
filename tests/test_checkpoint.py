"""A saved run continues bit for bit where it stood, even between a D and a G update; a bad
file gets a clear error; a failed save never costs the last good checkpoint."""
import os

import numpy as np
import pytest
import torch

from ganviz.core.atomic import WriteError
from ganviz.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ganviz.core.config import Config
from ganviz.core.history import COLUMNS
from ganviz.core.trainer import Trainer

TINY = {
    "ring": dict(batch_size=32, hidden=16, noise_dim=8, probe_size=32, grid_size=16, device="cpu", probe_every=1),
    "digits": dict(batch_size=16, channels=8, noise_dim=8, probe_size=16, grid_size=16, device="cpu",
                   probe_every=1),
}   # probe_every=1: single Steps and whole iterations then record the same columns
KEEP = [i for i, c in enumerate(COLUMNS) if c != "duration"]  # wall time is never identical


def make(name="ring", **changes):
    return Trainer(Config(dataset=name, **{**TINY[name], **changes}))


def assert_same_run(a, b):
    assert np.array_equal(a.history.array()[:, KEEP], b.history.array()[:, KEEP], equal_nan=True)
    assert (a.generator_ema is None) == (b.generator_ema is None)
    nets = ("generator", "discriminator") + (("generator_ema",) if a.generator_ema is not None else ())
    for net in nets:
        for (name, x), y in zip(getattr(a, net).state_dict().items(), getattr(b, net).state_dict().values()):
            assert torch.equal(x, y), f"{net}.{name}"
    assert (a.iteration, a.updates, a.d_done) == (b.iteration, b.updates, b.d_done)


@pytest.mark.parametrize("g_ema, clusters", [(0.0, 0), (0.99, 0), (0.0, 16)])
@pytest.mark.parametrize("name", ["ring", "digits"])
def test_resume_is_bit_exact(tmp_path, name, g_ema, clusters):
    n = 4
    a = make(name, g_ema=g_ema, noise_clusters=clusters)
    a.train(2 * n)
    b = make(name, g_ema=g_ema, noise_clusters=clusters)
    b.train(n)
    save_checkpoint(b, tmp_path / "run.pt")
    c = load_checkpoint(tmp_path / "run.pt")
    assert len(c.history) == 2 * n
    c.train(n)
    assert_same_run(a, c)
    assert np.array_equal(a.samples(), c.samples())


@pytest.mark.parametrize("d_done", [1, 2])
def test_resume_between_d_and_g_updates(tmp_path, d_done):
    a = make(d_steps=2)
    a.train(3)
    b = make(d_steps=2)
    b.train(2)
    for _ in range(d_done):
        b.step()
    save_checkpoint(b, tmp_path / "mid.pt")
    c = load_checkpoint(tmp_path / "mid.pt")
    assert c.d_done == d_done and c.next_phase == b.next_phase == ("D" if d_done < 2 else "G")
    assert [r.phase for r in c.step_iteration()] == ["D"] * (2 - d_done) + ["G"]
    assert_same_run(a, c)


def test_checkpoint_from_before_g_ema_still_loads(tmp_path):
    t = make()
    t.train(2)
    save_checkpoint(t, tmp_path / "new.pt")
    state = torch.load(tmp_path / "new.pt", weights_only=True)
    del state["generator_ema"], state["config"]["g_ema"]  # what older versions wrote
    torch.save(state, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.config.g_ema == 0.0 and loaded.generator_ema is None
    assert np.array_equal(loaded.samples(), t.samples())


def test_checkpoint_with_a_stored_permutation_still_resumes_bit_exact(tmp_path):
    a = make()
    a.train(6)
    b = make()
    b.train(3)
    save_checkpoint(b, tmp_path / "new.pt")
    state = torch.load(tmp_path / "new.pt", weights_only=True)
    assert "perm" not in state["sampler"] and state["sampler"]["perm_gen"] is not None
    sampler = state["sampler"]  # what older versions wrote: the permutation itself
    state["sampler"] = {"gen": sampler["gen"], "perm": b.sampler.perm.clone(), "pos": sampler["pos"],
                        "epochs_done": sampler["epochs_done"]}
    torch.save(state, tmp_path / "old.pt")
    c = load_checkpoint(tmp_path / "old.pt")
    c.train(3)
    assert_same_run(a, c)


def test_resumed_ring_keeps_its_modes_for_the_scores(tmp_path):
    t = make()
    save_checkpoint(t, tmp_path / "ring.pt")
    loaded = load_checkpoint(tmp_path / "ring.pt")
    assert loaded.dataset.modes is not None and len(loaded.dataset.modes) == 8
    assert torch.equal(loaded.dataset.data, t.dataset.data)


def test_drawn_points_travel_inside_the_checkpoint(tmp_path):
    from ganviz.core.data import points_dataset

    points = np.random.default_rng(0).normal(size=(100, 2))
    t = Trainer(Config(dataset="drawn", **TINY["ring"]), dataset=points_dataset(points))
    t.train(2)
    save_checkpoint(t, tmp_path / "drawn.pt")
    loaded = load_checkpoint(tmp_path / "drawn.pt")
    assert np.allclose(loaded.dataset.data.numpy(), points.astype(np.float32))
    assert loaded.iteration == 2


# ------------------------------------------------------------------ bad files
@pytest.fixture
def saved(tmp_path):
    t = make()
    t.train(2)
    path = tmp_path / "good.pt"
    save_checkpoint(t, path)
    return path


def test_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    bad = tmp_path / "half.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(bad)


def test_foreign_torch_file(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"a": 1}, path)
    with pytest.raises(CheckpointError, match="not a ganviz checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", ["hello, I am a text file\n", ""])
def test_text_or_empty_file(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_text(content)
    with pytest.raises(CheckpointError, match="notes.txt"):
        load_checkpoint(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)


# ------------------------------------------------------------------ failed saves
def test_failed_save_keeps_the_previous_checkpoint(saved, monkeypatch):
    good = saved.read_bytes()
    t = make()
    t.train(3)

    def disk_full(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(WriteError, match=f"Cannot write {saved}: no space left on device"):
        save_checkpoint(t, saved)
    monkeypatch.undo()
    assert saved.read_bytes() == good
    assert os.listdir(saved.parent) == [saved.name]  # no temp file left behind
    assert load_checkpoint(saved).iteration == 2


def test_save_into_a_missing_folder_is_a_write_error(tmp_path):
    with pytest.raises(WriteError, match="Cannot write .*run.pt: folder .* does not exist"):
        save_checkpoint(make(), tmp_path / "no" / "such" / "folder" / "run.pt")
    assert os.listdir(tmp_path) == []
