"""The run store: every Record column comes back as written, frames are found at or before a
moment, retention keeps the disk budget and the first and latest moments, a reader follows a
live writer, a killed writer leaves a store that opens at its last commit, and a snapshot
continues the run exactly."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from ganviz.core import store as store_module
from ganviz.core.config import Config
from ganviz.core.data import points_dataset
from ganviz.core.history import COLUMNS
from ganviz.core.store import RunReader, RunStore, StoreError
from ganviz.core.trainer import Trainer

TINY = {
    "ring": dict(batch_size=32, hidden=16, noise_dim=8, probe_size=32, grid_size=16, device="cpu"),
    "digits": dict(batch_size=16, channels=8, noise_dim=8, probe_size=16, grid_size=16, device="cpu"),
}
KEEP = [c for c in COLUMNS if c != "duration"]   # wall time is never identical between two runs


def make(name="ring", **changes):
    return Trainer(Config(dataset=name, **{**TINY[name], **changes}))


def test_every_record_column_round_trips(tmp_path):
    trainer = make(probe_every=3)
    store = RunStore(tmp_path / "run", trainer)
    for _ in range(4):
        store.add_records(trainer.train(7))
    store.close()
    reader = RunReader(tmp_path / "run")
    assert len(reader) == trainer.updates == 56
    columns = reader.columns()
    assert list(columns) == COLUMNS
    for j, name in enumerate(COLUMNS):
        expected = trainer.history.array()[:, j]
        if name == "phase":
            assert list(columns[name]) == ["D" if v == 0 else "G" for v in expected]
        else:
            assert np.array_equal(columns[name], expected, equal_nan=True), name
    assert columns["update"].dtype == np.int64 and columns["iteration"].dtype == np.int64
    part = reader.columns(["loss_d", "update"], start=10, stop=15)
    assert list(part["update"]) == [11, 12, 13, 14, 15]
    with pytest.raises(StoreError, match="no metric column loss_x"):
        reader.columns(["loss_x"])


def test_meta_says_what_the_run_is(tmp_path):
    trainer = make("digits")
    RunStore(tmp_path / "run", trainer, parent="/runs/a", parent_update=40).close()
    reader = RunReader(tmp_path / "run")
    assert reader.config == trainer.config
    assert (reader.dataset_kind, reader.dataset_name, reader.sample_shape) == ("images", "digits", (1, 8, 8))
    assert (reader.parent, reader.parent_update) == ("/runs/a", 40)
    assert np.array_equal(reader.fixed_noise, trainer.fixed_noise.numpy())
    assert os.path.exists(tmp_path / "run" / "config.json")


def test_frames_are_found_at_or_before_a_moment(tmp_path):
    trainer = make()
    store = RunStore(tmp_path / "run", trainer)   # a frame of the start: update 0
    kept = {0: _weights(trainer)}
    for n in (5, 3, 9):
        store.add_records(trainer.train(n))
        assert store.maybe_frame(trainer, force=True)
        kept[trainer.updates] = _weights(trainer)
    assert not store.maybe_frame(trainer)   # within FRAME_INTERVAL of the last one: none
    store.commit()
    reader = RunReader(tmp_path / "run")
    assert list(reader.frame_updates()) == [0, 10, 16, 34]
    for asked, found in ((0, 0), (9, 0), (10, 10), (33, 16), (34, 34), (10_000, 34)):
        update, payload = reader.frame(asked)
        assert update == found == payload["updates"]
        for net in ("G", "D"):
            for name, value in kept[found][net].items():
                assert np.array_equal(payload["weights"][net][name], value)
    with pytest.raises(StoreError, match="no frame at or before update -1"):
        reader.frame(-1)


def test_image_frames_keep_the_samples_to_a_255th(tmp_path):
    trainer = make("digits")
    store = RunStore(tmp_path / "run", trainer)
    store.add_records(trainer.train(3))
    store.maybe_frame(trainer, force=True)
    store.close()
    update, payload = RunReader(tmp_path / "run").frame(trainer.updates)
    samples = trainer.samples()
    assert update == trainer.updates and payload["iteration"] == trainer.iteration == 3
    assert payload["samples"].dtype == np.float32 and payload["samples"].shape == samples.shape
    assert np.abs(payload["samples"] - samples).max() <= 1 / 255 + 1e-6


def test_a_reader_following_a_thinning_writer_lists_exactly_the_frames_stored(tmp_path):
    """refresh() reads only the frames past its last one, unless the writer deleted some since:
    then it reads the list anew (a long run's refresh must not cost its whole length)."""
    trainer = make()
    frame_bytes = len(store_module.encode_frame(store_module.frame_payload(trainer)))
    store = RunStore(tmp_path / "run", trainer, budget_mb=12 * frame_bytes / 1e6)
    reader, thinned = RunReader(tmp_path / "run"), 0
    for _ in range(60):
        store.add_records(trainer.train(1))
        store.maybe_frame(trainer, force=True)
        store.commit()
        before = reader.frame_updates()
        reader.refresh()
        stored = [u for (u,) in store.db.execute("SELECT at_update FROM frames ORDER BY at_update")]
        assert reader.frame_updates().tolist() == stored
        thinned += not set(before) <= set(stored)
    store.close()
    assert thinned > 3   # the writer thinned while the reader followed


def test_a_reader_sees_a_frame_written_before_the_last_as_after_a_restore(tmp_path):
    trainer = make()
    store = RunStore(tmp_path / "run", trainer)
    reader = RunReader(tmp_path / "run")
    kept = None
    for _ in range(10):
        store.add_records(trainer.train(1))
        if trainer.updates == 10:
            kept = trainer.state_dict()   # no frame here: a moment a snapshot could restore
        else:
            store.maybe_frame(trainer, force=True)
        store.commit()
        reader.refresh()
    assert 10 not in reader.frame_updates() and reader.frame_updates()[-1] == 20
    trainer.load_state_dict(kept)   # Restore: the run goes back to update 10 and shows it
    store.maybe_frame(trainer, force=True)
    store.commit()
    reader.refresh()
    assert 10 in reader.frame_updates()
    store.close()


def test_retention_keeps_the_budget_the_first_and_the_latest(tmp_path):
    from ganviz.core.checkpoint import save_checkpoint
    trainer = make()
    frame_bytes = len(store_module.encode_frame(store_module.frame_payload(trainer)))
    save_checkpoint(trainer, tmp_path / "one.pt", state={**trainer.state_dict(history=False), "points": None})
    snapshot_bytes = os.path.getsize(tmp_path / "one.pt")
    # room for about 20 frames and 2 snapshots of a run that makes 201 frames and 4 snapshots
    budget = 20 * frame_bytes + 8 * snapshot_bytes
    store = RunStore(tmp_path / "run", trainer, budget_mb=budget / 1e6)
    for _ in range(200):
        store.add_records(trainer.train(1))
        store.maybe_frame(trainer, force=True)
        if trainer.iteration % 50 == 0:
            store.maybe_snapshot(trainer, force=True)
        store.commit()
        assert store.frame_bytes + store.snapshot_bytes <= budget
    store.close()
    reader = RunReader(tmp_path / "run")
    frames = reader.frame_updates()
    assert frames[0] == 0 and frames[-1] == trainer.updates == 400
    assert len(frames) >= 15
    assert ((frames > 50) & (frames < 150)).any() and ((frames > 150) & (frames < 250)).any()
    gaps = np.diff(frames)
    assert gaps[-3:].max() < gaps[1:4].min()   # dense recent, sparse old
    snapshots = reader.snapshot_updates()
    assert snapshots[-1] == 400
    on_disk = sorted(os.listdir(tmp_path / "run" / "snapshots"))
    assert on_disk == [f"{u:012d}.pt" for u in snapshots]   # thinned snapshots leave no file
    for update in frames:
        assert reader.frame(update)[0] == update   # every kept frame reads


def test_a_reader_follows_a_live_writer(tmp_path):
    trainer = make()
    store = RunStore(tmp_path / "run", trainer)
    store.add_records(trainer.train(5))
    store.commit()
    reader = RunReader(tmp_path / "run")
    assert len(reader) == 10
    store.add_records(trainer.train(5))
    store.maybe_frame(trainer, force=True)
    store.commit()
    assert len(reader) == 10 and list(reader.frame_updates()) == [0]   # as of the last refresh
    assert reader.refresh() == 20 == len(reader)
    assert list(reader.frame_updates()) == [0, 20]
    assert np.array_equal(reader.columns(["update"])["update"], np.arange(1, 21))
    store.close()


def test_a_snapshot_continues_the_run_exactly(tmp_path):
    trainer = make(probe_every=1)
    store = RunStore(tmp_path / "run", trainer)
    store.add_records(trainer.train(6))
    assert store.maybe_snapshot(trainer, force=True)
    store.add_records(trainer.train(4))
    store.close()
    reader = RunReader(tmp_path / "run")
    assert list(reader.snapshot_updates()) == [12]
    branch = reader.load_snapshot(15)   # the snapshot at or before update 15
    assert (branch.iteration, branch.updates, len(branch.history)) == (6, 12, 12)
    branch.train(4)
    keep = [COLUMNS.index(c) for c in KEEP]
    assert np.array_equal(branch.history.array()[:, keep], trainer.history.array()[:, keep], equal_nan=True)
    with pytest.raises(StoreError, match="no snapshot at or before update 11"):
        reader.load_snapshot(11)


def test_drawn_points_come_back_with_a_snapshot(tmp_path):
    points = np.random.default_rng(1).normal(size=(300, 2)).astype(np.float32)
    trainer = Trainer(Config(**TINY["ring"]).replace(dataset="drawn"), dataset=points_dataset(points))
    store = RunStore(tmp_path / "run", trainer)
    store.add_records(trainer.train(2))
    store.maybe_snapshot(trainer, force=True)
    store.close()
    branch = RunReader(tmp_path / "run").load_snapshot(4)
    assert np.array_equal(branch.dataset.data.numpy(), points)


def test_resuming_drops_what_came_after_the_checkpoint(tmp_path):
    from ganviz.core.checkpoint import load_checkpoint, save_checkpoint
    trainer = make()
    store = RunStore(tmp_path / "run", trainer)
    store.add_records(trainer.train(5))
    save_checkpoint(trainer, tmp_path / "run" / "checkpoint.pt")
    store.add_records(trainer.train(5))
    store.maybe_frame(trainer, force=True)
    store.close()
    resumed = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    store = RunStore(tmp_path / "run", resumed)
    reader = RunReader(tmp_path / "run")
    assert len(reader) == 10 and list(reader.frame_updates()) == [0, 10]
    store.add_records(resumed.train(1))
    store.close()
    assert reader.refresh() == 12


def test_another_run_in_the_folder_is_refused(tmp_path):
    RunStore(tmp_path / "run", make()).close()
    with pytest.raises(StoreError, match="already holds another run .it was trained on ring, not digits"):
        RunStore(tmp_path / "run", make("digits"))
    first = make()
    store = RunStore(tmp_path / "other", first)
    store.add_records(first.train(3))
    store.close()
    with pytest.raises(StoreError, match="already holds another run .it holds 6 updates and this run none"):
        RunStore(tmp_path / "other", make())


def test_a_recovered_run_with_no_rows_goes_on_from_its_start(tmp_path):
    """A training process that died before it kept any state past the start: the run reopened
    from that state has no history, and its own folder takes it back from the start."""
    first = make()
    store = RunStore(tmp_path / "run", first)
    store.add_records(first.train(3))
    store.close()
    again = make()
    store = RunStore(tmp_path / "run", again, recovered=True)
    reader = RunReader(tmp_path / "run")
    assert len(reader) == 0
    store.add_records(again.train(2))
    store.close()
    assert reader.refresh() == 4
    np.testing.assert_array_equal(reader._rows(0, 4), again.history.rows(0, 4))
    reader.close()


def test_one_writer_at_a_time(tmp_path):
    store = RunStore(tmp_path / "run", make())
    with pytest.raises(StoreError, match="another ganviz is writing this run"):
        RunStore(tmp_path / "run", make())
    store.close()
    RunStore(tmp_path / "run", make()).close()


def test_folders_that_are_not_runs(tmp_path):
    with pytest.raises(StoreError, match="nope: no such folder"):
        RunReader(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file, not a run folder"):
        RunReader(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="empty is not a ganviz run .it has no run.db"):
        RunReader(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.db").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StoreError, match="junk: its run.db is damaged or not a ganviz run"):
        RunReader(tmp_path / "junk")
    with pytest.raises(StoreError, match="junk: its run.db is damaged or not a ganviz run"):
        RunStore(tmp_path / "junk", make())
    with pytest.raises(StoreError, match="budget must be more than 0 MB"):
        RunStore(tmp_path / "budget", make(), budget_mb=0)


WRITER = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from ganviz.core.config import Config
    from ganviz.core.store import RunStore
    from ganviz.core.trainer import Trainer
    trainer = Trainer(Config(batch_size=32, hidden=16, noise_dim=8, probe_size=32, grid_size=16, device="cpu"))
    store = RunStore(sys.argv[1], trainer)
    while True:
        store.add_records(trainer.train(3))
        store.maybe_frame(trainer, force=trainer.iteration % 2 == 0)
        if trainer.iteration % 30 == 0:
            store.maybe_snapshot(trainer, force=True)
        print(trainer.updates, flush=True)
""")


@pytest.mark.slow(seconds=5)
@pytest.mark.parametrize("seconds", [1.5, 2.6])
def test_a_killed_writer_leaves_a_store_that_opens(tmp_path, seconds):
    folder = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, env=env)
    try:
        assert writer.stdout.readline()   # it is writing
        time.sleep(seconds)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait()
    reader = RunReader(folder)
    n = len(reader)
    assert n > 0 and n % 2 == 0   # whole commits: 3 iterations of a D and a G update each
    columns = reader.columns()
    assert np.array_equal(columns["update"], np.arange(1, n + 1))
    assert np.isfinite(columns["loss_d"][columns["phase"] == "D"]).all()
    frames = reader.frame_updates()
    assert frames[0] == 0 and frames[-1] <= n
    for update in frames:
        assert reader.frame(update)[1]["updates"] == update
    for update in reader.snapshot_updates():
        assert reader.load_snapshot(update).updates == update
    # and the run goes on where it stopped, from its last snapshot
    snapshots = reader.snapshot_updates()
    if len(snapshots):
        from ganviz.core.store import RunStore as Store
        trainer = reader.load_snapshot(snapshots[-1])
        store = Store(folder, trainer)
        store.add_records(trainer.train(1))
        store.close()
        assert reader.refresh() == snapshots[-1] + 2


def _weights(trainer):
    return {net: {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
            for net, m in (("G", trainer.generator), ("D", trainer.discriminator))}


def test_a_full_disk_is_a_write_error_and_keeps_what_was_committed(tmp_path):
    from ganviz.core.atomic import WriteError
    trainer = make()
    store = RunStore(tmp_path / "run", trainer)
    store.add_records(trainer.train(5))
    store.commit()
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")   # SQLite's own "database or disk is full"
    records = trainer.train(50)
    with pytest.raises(WriteError) as caught:
        store.add_records(records)   # it commits by itself if half a second has passed
        store.commit()
    assert str(caught.value) == f"Cannot write {tmp_path / 'run' / 'run.db'}: no space left on device"
    reader = RunReader(tmp_path / "run")
    assert len(reader) == 10 and list(reader.frame_updates()) == [0]
    store.db.execute("PRAGMA max_page_count = 1000000")   # room again: nothing buffered was lost
    store.maybe_frame(trainer, force=True)
    store.close()
    assert reader.refresh() == 110 and list(reader.frame_updates()) == [0, 110]


def test_records_that_go_back_replace_what_came_after(tmp_path):
    trainer = make(probe_every=1)
    store = RunStore(tmp_path / "run", trainer)
    store.add_records(trainer.train(6))
    store.maybe_snapshot(trainer, force=True)   # update 12
    store.add_records(trainer.train(4))
    store.maybe_frame(trainer, force=True)
    store.maybe_snapshot(trainer, force=True)   # update 20
    store.commit()
    back = RunReader(tmp_path / "run").load_snapshot(12)   # the run goes back (after a NaN, say)
    store.add_records(back.train(2))
    store.commit()
    reader = RunReader(tmp_path / "run")
    assert len(reader) == 16 and list(reader.frame_updates()) == [0]
    assert list(reader.snapshot_updates()) == [12]
    assert os.listdir(tmp_path / "run" / "snapshots") == [f"{12:012d}.pt"]
    assert np.array_equal(reader._rows(), back.history.array(), equal_nan=True)
    store.close()


def test_a_history_with_a_store_keeps_only_its_newest_rows_in_memory(tmp_path):
    """Memory stays flat however long the run: the rows the store committed leave memory and
    come back from it, identical, for a Save, an export or a plot rebuilt."""
    trainer = make(probe_every=3)
    store = RunStore(tmp_path / "run", trainer)
    unbounded = make(probe_every=3).history   # the same rows, never released
    for _ in range(30):
        records = trainer.train(20)
        unbounded.append(records)
        store.add_records(records)
        store.commit()
        trainer.history.release(store.committed, store_module.RowSource(store.folder), keep=50)
    h = trainer.history
    assert len(h) == 1200 and h.in_memory <= 3 * 50
    assert np.array_equal(h.array(), unbounded.array(), equal_nan=True)
    assert np.array_equal(h.rows(5, 995), unbounded.rows(5, 995), equal_nan=True)
    assert (h.record(0).update, h.record(0).loss_d) == (1, unbounded.record(0).loss_d)
    assert h.record(-1).update == 1200
    assert np.array_equal(np.concatenate(list(h.chunks(size=77))), unbounded.array(), equal_nan=True)
    # what a Save writes holds the whole history, read back from the store
    state = trainer.state_dict()
    assert np.array_equal(state["history"].numpy(), unbounded.array(), equal_nan=True)
    # the store's release() keeps the default number of rows
    assert store.release(h) == 0 and len(h) - h.in_memory == 1200 - h.in_memory
    store.close()
    # rows not yet committed never leave memory
    fresh = make(probe_every=3)
    assert fresh.history.release(0, None, keep=0) == 0


def test_released_history_holds_a_bounded_array():
    """The array behind a released history has room for the rows until the next release
    (2 * keep, and some), not twice that: the window's and the training process's memory
    (README: 20 000 to 40 000 rows, about 6.5 MB)."""
    from ganviz.core.history import History

    h, keep, batch = History(), 8000, 500
    row = np.arange(len(COLUMNS), dtype=np.float64)
    for _ in range(400):   # 200 000 rows, released as the window does when 2 * keep are in memory
        h.append_rows(np.tile(row, (batch, 1)))
        if h.in_memory >= 2 * keep:
            assert h.release(len(h), lambda start, stop: None, keep=keep) > 0
        assert h.in_memory <= 2 * keep + batch
    assert len(h) == 200_000
    assert len(h._data) <= 2 * keep + max(4096, keep // 4) + batch
