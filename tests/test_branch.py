"""Branches: a child run continues its parent's snapshot with changed settings; its curves are
its parent's up to the branch point and its own after it; what cannot carry over is refused
in a plain sentence, by continue_run and by `ganviz train --from`."""
import json
import os

import numpy as np
import pytest

from ganviz.cli import main
from ganviz.core.branch import BranchError, continue_run
from ganviz.core.run_reader import branch_start
from ganviz.core.config import Config, ConfigError
from ganviz.core.history import COLUMNS
from ganviz.core.store import RunReader, RunStore, StoreError
from ganviz.core.trainer import Trainer

TINY = dict(dataset="ring", batch_size=32, hidden=16, noise_dim=8, probe_size=32, grid_size=16,
            probe_every=1, device="cpu")
SAME = [c for c in COLUMNS if c != "duration"]   # wall time is never identical between two runs


def same(a, b) -> bool:
    return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def parent_run(folder, snapshots=(100, 200), iterations=200, **changes):
    """A tiny ring run (d_steps 1: two updates an iteration) with snapshots at `snapshots`
    (in iterations), stored in `folder`; returns the trainer at its end."""
    trainer = Trainer(Config(**{**TINY, **changes}))
    with RunStore(folder, trainer) as store:
        done = 0
        for at in sorted(snapshots) + [iterations]:
            if at > done:
                store.add_records(trainer.train(at - done))
                done = at
            store.maybe_snapshot(trainer, force=True)
    return trainer


def test_a_branch_is_its_parent_up_to_the_branch_point_and_its_own_after(tmp_path):
    parent_trainer = parent_run(tmp_path / "parent")
    child, store = continue_run(tmp_path / "parent", 200, {"objective": "minimax"}, tmp_path / "child")
    assert child.updates == 200 and child.config.objective == "minimax"
    with store:
        store.add_records(child.train(100))
    parent, kid = RunReader(tmp_path / "parent"), RunReader(tmp_path / "child")
    assert kid.parent == os.path.abspath(tmp_path / "parent") and kid.parent_update == 200
    assert kid.config.objective == "minimax" and parent.config.objective == "nonsaturating"
    assert branch_start(kid) == 200 and branch_start(parent) == 0
    assert list(kid.snapshot_updates()) == [200]   # the branch point, kept in the child's folder
    assert len(parent) == 400 and len(kid) == 400
    before_p, before_c = parent.columns(SAME, stop=200), kid.columns(SAME, stop=200)
    for name in SAME:
        assert same(before_p[name], before_c[name]), name
    after_p, after_c = parent.columns(start=200), kid.columns(start=200)
    # the same x axis: the child's updates go on from the branch point, not from 0
    assert np.array_equal(after_p["x"], after_c["x"]) and after_c["update"][0] == 201
    # minimax's loss_G is -log(1 - D(G(z))) where non-saturating's is -log D(G(z)): other numbers
    g = after_c["phase"] == "G"
    assert not np.allclose(after_p["loss_g"][g], after_c["loss_g"][g])
    # the first G update after the branch starts from the same networks: its minimax loss is
    # what D(G(z)) before it says (up to the batch)
    assert np.all(np.isfinite(after_c["loss_g"][g]))
    # the weights carried over: the child's first update started where the parent's did
    assert after_c["d_real_before"][0] == pytest.approx(after_p["d_real_before"][0])
    assert parent_trainer.updates == 400


def test_a_branch_with_live_changes_only_continues_exactly(tmp_path):
    parent_run(tmp_path / "parent")
    child, store = continue_run(tmp_path / "parent", 250, {"lr_d": 1e-3}, tmp_path / "same")
    assert child.updates == 200          # the snapshot at or before update 250
    with store:
        store.add_records(child.train(100))
    parent, other = RunReader(tmp_path / "parent").columns(SAME), RunReader(tmp_path / "same").columns(SAME)
    for name in SAME:   # no change at all: the branch is the parent's run, update for update
        assert same(parent[name], other[name]), name
    child, store = continue_run(tmp_path / "parent", 200, {"lr_g": 5e-3}, tmp_path / "faster")
    store.close()
    assert child.config.lr_g == 5e-3
    assert child.opt_g.param_groups[0]["lr"] == pytest.approx(5e-3 * child._lr_scale())


def test_another_optimizer_starts_afresh_and_the_weights_carry_over(tmp_path):
    parent_run(tmp_path / "parent", snapshots=(100,))
    reader = RunReader(tmp_path / "parent")
    child, store = continue_run(tmp_path / "parent", 200, {"optimizer": "sgd", "batch_size": 64},
                                tmp_path / "sgd")
    store.close()
    snap = reader.load_snapshot(200)
    for a, b in zip(child.generator.parameters(), snap.generator.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    assert type(child.opt_g).__name__ == "SGD" and child.opt_g.state_dict()["state"] == {}
    assert child.config.batch_size == 64 and child.updates == 200


@pytest.mark.parametrize("changes, words", [
    ({"noise_dim": 16}, "cannot continue .* with another noise dimension: the networks' weights do not fit"),
    ({"hidden": 32}, "with another network width"),
    ({"dataset": "grid"}, "cannot change dataset in a branch .*its parent's data"),
    ({"seed": 3}, "cannot change seed"),
    ({"conditional": "concat"}, "with another conditioning: the networks' weights do not fit"),
])
def test_what_cannot_carry_over_is_refused_by_name(tmp_path, changes, words):
    parent_run(tmp_path / "parent", snapshots=(100,))
    with pytest.raises(BranchError, match=words):
        continue_run(tmp_path / "parent", 200, changes, tmp_path / "child")
    assert not os.path.exists(tmp_path / "child")   # nothing half-made


def test_bad_input_names_the_problem(tmp_path):
    parent_run(tmp_path / "parent", snapshots=(100,), iterations=150)
    with pytest.raises(BranchError, match="no snapshot at or before update 150 .*first is at update 200"):
        continue_run(tmp_path / "parent", 150, {}, tmp_path / "c1")
    with pytest.raises(BranchError, match="has updates 0 to 300; update 999 is not in it"):
        continue_run(tmp_path / "parent", 999, {}, tmp_path / "c2")
    with pytest.raises(StoreError, match="is not a ganviz run"):
        continue_run(tmp_path, 100, {}, tmp_path / "c3")
    with pytest.raises(BranchError, match="needs a folder of its own"):
        continue_run(tmp_path / "parent", 200, {}, tmp_path / "parent")
    with pytest.raises(ConfigError, match="lr_d"):
        continue_run(tmp_path / "parent", 200, {"lr_d": -1.0}, tmp_path / "c4")
    with pytest.raises(BranchError, match="has no snapshot to continue from"):
        trainer = Trainer(Config(**TINY))
        with RunStore(tmp_path / "bare", trainer) as store:
            store.add_records(trainer.train(5))
        continue_run(tmp_path / "bare", None, {}, tmp_path / "c5")
    assert not any(os.path.exists(tmp_path / f"c{i}") for i in range(1, 6))


def test_train_from_runs_a_branch(tmp_path, capsys):
    parent_run(tmp_path / "parent")
    out = tmp_path / "child"
    code = main(["train", "--from", str(tmp_path / "parent"), "--at", "200", "--objective", "minimax",
                 "--out", str(out), "--steps", "50", "--checkpoint-every", "0"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "update 200 (iteration 100)" in err
    reader = RunReader(out)
    assert reader.parent == os.path.abspath(tmp_path / "parent") and reader.parent_update == 200
    assert len(reader) == 300 and reader.config.objective == "minimax"
    assert json.load(open(out / "config.json"))["objective"] == "minimax"
    assert os.path.exists(out / "checkpoint.pt") and os.path.exists(out / "metrics.csv")


@pytest.mark.parametrize("argv, words", [
    (["--at", "999"], "update 999 is not in it"),
    (["--at", "50"], "no snapshot at or before update 50"),
    (["--hidden", "64"], "with another network width"),
    (["--resume", "X"], "--from and --resume"),
])
def test_train_from_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, words):
    parent_run(tmp_path / "parent")
    code = main(["train", "--from", str(tmp_path / "parent"), "--out", str(tmp_path / "c"),
                 "--steps", "5"] + argv)
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_train_from_a_folder_that_is_not_a_run(tmp_path, capsys):
    code = main(["train", "--from", str(tmp_path), "--out", str(tmp_path / "c"), "--steps", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a ganviz run" in err and len(err.strip().splitlines()) == 1
