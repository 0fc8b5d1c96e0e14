"""The run store: every run is a folder that remembers it (metrics, frames, snapshots).
The training side is the only writer (RunStore); anyone reads it, even while it is written
(RunReader, in run_reader.py). The layout is in store_format.py.

Schedule (seconds of wall-clock time while training):
- records: every update, buffered and written in one transaction at most every
  COMMIT_INTERVAL (0.5 s), or at once by commit(); a kill -9 loses at most that half second;
- frames (what the window shows of a moment: the sample grid, or G's and D's weights for the
  2D field) every FRAME_INTERVAL (0.5 s), and at every forced call (each Step);
- snapshots (full checkpoints, to branch from) every SNAPSHOT_INTERVAL (10 s), and forced.

Budget (budget_mb, default 500 MB; `ganviz train --budget-mb`): frames and snapshots together
stay within it; snapshots within SNAPSHOT_SHARE of it. Over budget, frames (or snapshots) are
removed where they are closest together for their age (retention.py), until the total is 10 %
under: the spacing then grows with age (dense recent moments, sparse old ones, from the whole
run), and the first and the latest are always kept. Measured sizes: a 2D default frame 169 KB
(its weights, stored raw: they hardly compress), a digits frame 2 to 4 KB (64 samples as uint8,
compressed); a snapshot 0.54 MB (2D default) or 1.0 MB (Digits (DCGAN)). An hour of 2D
training makes 7200 frames (1.2 GB) and 360 snapshots (194 MB): it keeps about 2600 frames
and about 270 snapshots, denser towards the present. The metric history is never thinned (one
row per update, about 40 bytes compressed) and is not counted in the budget.
"""
from __future__ import annotations

import datetime
import os
import sqlite3
import time

import numpy as np

from .. import __version__
from .atomic import WriteError, atomic_write
from .checkpoint import save_checkpoint
from .data import BUILTIN_DATASETS
from .field import network_weights
from .frames import encode_frame
from .run_reader import RowSource, RunReader  # noqa: F401  (the API: store.RunReader)
from .history import COLUMNS
from .retention import to_thin
from .store_format import (DB, FORMAT, FRAMES_REMOVED, SCHEMA, SNAPSHOTS, VERSION, StoreError, drop_empty_wal, lock_folder,
                           pack_rows, records_to_rows, snapshot_path, to_json, unpack_rows, write_error)

COMMIT_INTERVAL = 0.5
FRAME_INTERVAL = 0.5
SNAPSHOT_INTERVAL = 10.0   # a moment to branch from at most this far back (as in the window)
SNAPSHOT_SHARE = 0.3
SLACK = 0.1            # thinning frees this fraction of the budget more than it must
REAL_POINTS = 1000     # the real points the window draws (the same subset as loop.py's)


def frame_payload(trainer) -> dict:
    """What the window renders of this moment (as service/training.py's flush() sends it)."""
    payload = {"iteration": trainer.iteration, "updates": trainer.updates}
    if trainer.dataset.kind == "images":
        payload["samples"] = trainer.samples()
    else:
        payload["weights"] = network_weights(trainer)
    return payload


class RunStore:
    """The writer. Create it when a run starts (or resumes) in `folder`; feed it the records
    the trainer returns, call maybe_frame / maybe_snapshot after them, close() at the end.
    Write failures raise atomic.WriteError (a full disk, ...): what was committed stays."""

    def __init__(self, folder, trainer, *, parent: str | None = None, parent_update: int | None = None,
                 budget_mb: float = 500, recovered: bool = False):
        self.folder = os.fspath(folder)
        if not (isinstance(budget_mb, (int, float)) and budget_mb > 0):
            raise StoreError(f"{self.folder}: the disk budget must be more than 0 MB (got {budget_mb})")
        self.budget = float(budget_mb) * 1e6
        self.path = os.path.join(self.folder, DB)
        try:
            os.makedirs(os.path.join(self.folder, SNAPSHOTS), exist_ok=True)
        except OSError as e:
            raise WriteError(self.folder, e) from None
        self._lock = lock_folder(self.folder)
        self.db = None
        self._pending_rows: list[np.ndarray] = []
        self._pending_frames: list[tuple] = []
        self._pending_quality: list[tuple] = []
        self._pending_snapshots: list[tuple] = []
        self._doomed: list[str] = []   # snapshot files to remove once their rows are gone
        self.frame_bytes = self.snapshot_bytes = self.rows = 0
        self.committed = 0    # rows on disk: a History may let them go from memory (release)
        self._known_snapshots: set[int] = set()
        self.last_commit = self.last_frame = -np.inf
        self.snapshot_interval = SNAPSHOT_INTERVAL
        self.last_snapshot = time.perf_counter()   # the first one a SNAPSHOT_INTERVAL in
        try:
            existed = os.path.exists(self.path)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if existed:
                self._reopen(trainer, recovered)
            else:
                self._create(trainer, parent, parent_update)
            self._recount()
            self._known_snapshots = {u for (u,) in self.db.execute("SELECT at_update FROM snapshots")}
            self._remove_orphans()
        except sqlite3.DatabaseError as e:
            self._abandon()
            if "file is not a database" in str(e) or "malformed" in str(e):
                raise StoreError(f"{self.folder}: its run.db is damaged or not a ganviz run ({e})") from None
            raise write_error(self.path, e) from None
        except BaseException:
            self._abandon()
            raise
        if not existed:   # a resumed run's config.json stays as its checkpoint's until saved
            with atomic_write(os.path.join(self.folder, "config.json"), "w") as f:
                f.write(trainer.config.to_json() + "\n")
        self.maybe_frame(trainer, force=True)   # the run's first moment (or where it resumes)
        self.commit()

    # ------------------------------------------------------------------ opening
    def _create(self, trainer, parent, parent_update):
        db = self.db
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")   # thinned frames give their pages back
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        ds = trainer.dataset
        meta = {"format": FORMAT, "version": VERSION, "config": trainer.config.to_dict(),
                "dataset_kind": ds.kind, "dataset_name": ds.name, "sample_shape": list(ds.sample_shape),
                "parent": parent, "parent_update": parent_update,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "ganviz_version": __version__, "columns": COLUMNS,
                "classes": None if trainer.classes is None else list(trainer.classes),
                "grid_columns": trainer.grid_columns}
        arrays = {"fixed_noise": trainer.fixed_noise.cpu().numpy()}
        if trainer.fixed_labels is not None:
            arrays["fixed_labels"] = trainer.fixed_labels.cpu().numpy()
        if ds.kind == "points":
            data = ds.data.cpu().numpy()
            shown = np.random.default_rng(0).permutation(len(data))[:REAL_POINTS]
            arrays["real"] = data[shown]
            if trainer.labels is not None:
                arrays["real_labels"] = trainer.labels.cpu().numpy()[shown]
            if ds.modes is not None:
                arrays["modes"] = np.asarray(ds.modes, dtype=np.float64)
            if ds.name not in BUILTIN_DATASETS:   # drawn or read from a file: keep it to rebuild the run
                arrays["points"] = data
        db.execute("BEGIN")
        for statement in SCHEMA.split(";"):   # not executescript(): it would commit half-way
            if statement.strip():
                db.execute(statement)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, to_json(v)) for k, v in meta.items()])
        db.executemany("INSERT INTO arrays VALUES (?, ?, ?, ?)",
                       [(k, a.dtype.str, to_json(list(a.shape)), np.ascontiguousarray(a).tobytes())
                        for k, a in arrays.items()])
        db.execute("COMMIT")
        self.rows = 0
        self._append_history(trainer)

    def _reopen(self, trainer, recovered=False):
        """Go on writing a run already in the folder: only the same run (same data and model)
        whose history agrees with the trainer's. Rows past the trainer's update count (written
        after the checkpoint it was loaded from) are dropped: the run goes on from there.
        `recovered`: the trainer is this folder's own run, reopened from the state a dead
        training process kept (recovery.py), which may predate every row here: then a trainer
        with no history yet goes on from the start instead of being taken for another run."""
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        reader = RunReader(self.folder)
        try:
            stored, theirs = reader.config, trainer.config
            why = ""
            if reader.dataset_name != trainer.dataset.name:
                why = f"it was trained on {reader.dataset_name}, not {trainer.dataset.name}"
            elif theirs.needs_reset(stored):
                why = f"its {', '.join(theirs.needs_reset(stored))} differ"
            else:
                n, mine = len(reader), len(trainer.history)
                if mine == 0 and n > 0 and not recovered:
                    why = f"it holds {n} updates and this run none"
                elif min(n, mine) > 0:
                    k = min(n, mine)
                    ours = reader._rows(k - 1, k)[0]
                    if not np.array_equal(ours, trainer.history.rows(k - 1, k)[0], equal_nan=True):
                        why = f"its update {k} differs from this run's"
            if why:
                raise StoreError(f"{self.folder} already holds another run ({why}); choose another folder")
            self.rows = self.committed = len(reader)
        finally:
            reader.close()
        self._truncate(len(trainer.history))
        self._append_history(trainer)

    def _append_history(self, trainer):
        """Rows the trainer has and the store lacks (a run loaded from a checkpoint, a branch)."""
        if len(trainer.history) > self.rows:
            self._pending_rows.append(trainer.history.rows(self.rows, len(trainer.history)))
            self.rows = len(trainer.history)
            self.commit()

    def _remove_orphans(self):
        """Snapshot files without a committed row: a writer killed between the two."""
        folder = os.path.join(self.folder, SNAPSHOTS)
        known = {os.path.basename(snapshot_path(self.folder, u)) for u in self._known_snapshots}
        for name in os.listdir(folder):
            if name not in known:
                try:
                    os.unlink(os.path.join(folder, name))
                except OSError:
                    pass

    def _abandon(self):
        if self.db is not None:
            self.db.close()
            self.db = None
            drop_empty_wal(self.path)
        self._lock.close()

    # ------------------------------------------------------------------ writing
    def add_records(self, records) -> None:
        """Records as the trainer returns them, in update order. Records that go back (a run
        restored to an earlier state) replace what the store held from there on."""
        if not records:
            return
        first = records[0].update
        if first <= self.rows:
            self.commit()
            self._truncate(first - 1)
        elif first > self.rows + 1:
            raise StoreError(f"{self.folder}: records jump from update {self.rows} to {first}; "
                             "every update must be added")
        self._pending_rows.append(records_to_rows(records))
        self.rows += len(records)
        self._maybe_commit()

    def release(self, history) -> int:
        """Let `history` (the trainer's, or a reader's copy) keep only its newest rows in
        memory: the rows this store has committed are read back from it when needed. Call it
        after add_records; it costs nothing until there is something to let go."""
        return history.release(self.committed, RowSource(self.folder))

    def add_quality(self, update: int, metrics: dict) -> None:
        self._pending_quality.append((int(update), to_json(metrics)))
        self._maybe_commit()

    def maybe_frame(self, trainer, force: bool = False, payload: dict | None = None) -> bool:
        """Keep a frame of this moment if FRAME_INTERVAL has passed (or force). `payload`: the
        frame_payload() the caller already made for the window, to save making it twice."""
        now = time.perf_counter()
        if not force and now - self.last_frame < FRAME_INTERVAL:
            return False
        if self._pending_frames and self._pending_frames[-1][0] == trainer.updates:
            return False
        self.last_frame = now
        data = encode_frame(payload if payload is not None else frame_payload(trainer))
        self._pending_frames.append((trainer.updates, trainer.iteration, len(data), data))
        self._maybe_commit()
        return True

    def maybe_snapshot(self, trainer, force: bool = False) -> bool:
        """Keep a full checkpoint if SNAPSHOT_INTERVAL has passed (or force); committed at
        once. Call it after the trainer's records were fetched (state_dict() fetches them)."""
        now = time.perf_counter()
        if not force and now - self.last_snapshot < self.snapshot_interval:
            return False
        if trainer.updates in self._known_snapshots:
            return False
        self.last_snapshot = now
        state = trainer.state_dict(history=False)
        state["points"] = None   # the data is stored once (arrays table), not in every snapshot
        path = snapshot_path(self.folder, trainer.updates)
        save_checkpoint(trainer, path, state=state)
        self._pending_snapshots.append((trainer.updates, trainer.iteration, os.path.getsize(path),
                                        os.path.relpath(path, self.folder)))
        self._known_snapshots.add(trainer.updates)
        self.commit()
        return True

    def _maybe_commit(self):
        if time.perf_counter() - self.last_commit >= COMMIT_INTERVAL:
            self.commit()

    def commit(self) -> None:
        """Write everything buffered in one transaction, now. The store also commits by
        itself, at most every COMMIT_INTERVAL, whenever something is added."""
        self.last_commit = time.perf_counter()
        if not (self._pending_rows or self._pending_frames or self._pending_quality
                or self._pending_snapshots):
            return
        db = self.db
        if db is None:
            raise StoreError(f"{self.folder}: the run store is closed")
        try:
            db.execute("BEGIN IMMEDIATE")
            if self._pending_rows:
                rows = np.concatenate(self._pending_rows)
                db.execute("INSERT INTO records VALUES (?, ?, ?)",
                           (self.rows - len(rows), len(rows), pack_rows(rows)))
            if self._pending_frames:
                (last,) = db.execute("SELECT MAX(at_update) FROM frames").fetchone()
                if last is not None and self._pending_frames[0][0] <= last:   # e.g. after a Restore
                    _frames_removed(db)
            db.executemany("INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?)", self._pending_frames)
            db.executemany("INSERT OR REPLACE INTO quality VALUES (?, ?)", self._pending_quality)
            db.executemany("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?)", self._pending_snapshots)
            self.frame_bytes += sum(f[2] for f in self._pending_frames)
            self.snapshot_bytes += sum(s[2] for s in self._pending_snapshots)
            thinned = self._keep_budget()
            db.execute("COMMIT")
        except sqlite3.Error as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._recount()
            raise write_error(self.path, e) from None
        self._pending_rows, self._pending_frames = [], []
        self._pending_quality, self._pending_snapshots = [], []
        self.committed = self.rows
        self._unlink_doomed()
        if thinned:
            db.execute("PRAGMA incremental_vacuum")

    def close(self) -> None:
        if self.db is None:
            return
        try:
            self.commit()
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._abandon()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ------------------------------------------------------------------ retention
    def _keep_budget(self) -> bool:
        """Thin snapshots past their share, then frames (and snapshots) past the budget, down
        to SLACK below the limit so that the next commits do not thin again at once."""
        thinned = False
        share = SNAPSHOT_SHARE * self.budget
        while self.snapshot_bytes > share and self._thin("snapshots", self.snapshot_bytes - share * (1 - SLACK)):
            thinned = True
        while self.frame_bytes + self.snapshot_bytes > self.budget:
            need = self.frame_bytes + self.snapshot_bytes - self.budget * (1 - SLACK)
            if not self._thin("frames", need) and not self._thin("snapshots", need):
                break   # only the first and the latest are left: they stay
            thinned = True
        return thinned

    def _thin(self, table: str, need: float) -> bool:
        """Remove about `need` bytes of frames (or snapshots): retention.to_thin chooses."""
        rows = self.db.execute(f"SELECT at_update, bytes FROM {table} ORDER BY at_update").fetchall()
        drop = to_thin([r[0] for r in rows], [r[1] for r in rows], need)
        if not drop.any():
            return False
        freed = sum(rows[i][1] for i in np.flatnonzero(drop))
        updates = [rows[i][0] for i in np.flatnonzero(drop)]
        if table == "snapshots":
            self._doomed += [snapshot_path(self.folder, u) for u in updates]
            self._known_snapshots.difference_update(updates)
            self.snapshot_bytes -= freed
        else:
            self.frame_bytes -= freed
        self.db.executemany(f"DELETE FROM {table} WHERE at_update = ?", [(u,) for u in updates])
        if table == "frames":
            _frames_removed(self.db)
        return True

    def _truncate(self, rows: int):
        """Forget everything after update `rows` (the run went back there)."""
        if rows >= self.rows and not self._pending_rows:
            return
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            cut = db.execute("SELECT first_row, rows, data FROM records WHERE first_row < ? "
                             "AND first_row + rows > ?", (rows, rows)).fetchone()
            db.execute("DELETE FROM records WHERE first_row >= ?", (rows,))
            if cut is not None:
                first, n, data = cut
                db.execute("UPDATE records SET rows = ?, data = ? WHERE first_row = ?",
                           (rows - first, pack_rows(unpack_rows(data, n)[: rows - first]), first))
            for table in ("frames", "quality"):
                db.execute(f"DELETE FROM {table} WHERE at_update > ?", (rows,))
            _frames_removed(db)
            gone = [u for (u,) in db.execute("SELECT at_update FROM snapshots WHERE at_update > ?", (rows,))]
            db.execute("DELETE FROM snapshots WHERE at_update > ?", (rows,))
            db.execute("COMMIT")
        except sqlite3.Error as e:
            db.execute("ROLLBACK")
            raise write_error(self.path, e) from None
        self._doomed += [snapshot_path(self.folder, u) for u in gone]
        self._known_snapshots.difference_update(gone)
        self._unlink_doomed()
        self.rows = self.committed = rows
        self._pending_rows = []
        self._pending_frames = [f for f in self._pending_frames if f[0] <= rows]
        self._recount()

    def _recount(self):
        self.frame_bytes, self.snapshot_bytes = (
            self.db.execute(f"SELECT COALESCE(SUM(bytes), 0) FROM {t}").fetchone()[0]
            for t in ("frames", "snapshots"))

    def _unlink_doomed(self):
        for path in self._doomed:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._doomed = []



def _frames_removed(db):
    """Mark that frames were deleted, or one was written before the last (in that transaction):
    a reader then reads the list of frames anew, instead of only the frames past the last it
    knew (RunReader.refresh)."""
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (FRAMES_REMOVED, to_json(time.time_ns())))
