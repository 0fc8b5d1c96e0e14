"""Reading a run folder (store_format.py's layout): its settings, metric history, quality
scores, frames and snapshots. Read-only, and safe while a writer is still writing: SQLite's WAL
gives every query a consistent view of the last commit; refresh() moves to the newest."""
from __future__ import annotations

import os
import sqlite3
import urllib.parse

import numpy as np
import torch

from .config import Config, ConfigError
from .frames import FrameError, decode_frame
from .history import COLUMNS
from .store_format import (DB, FORMAT, FRAMES_REMOVED, VERSION, WIDTH, StoreError, from_json, unpack_rows)

INT_COLUMNS = ("update", "iteration")


class RunReader:
    """A run as stored. Attributes: config, dataset_kind ("points" / "images"), dataset_name,
    sample_shape, parent, parent_update, created, real (the 1000 real points the window draws;
    None for images), fixed_noise, modes (None unless a known mixture); for conditional runs
    classes, fixed_labels, real_labels, grid_columns (else None)."""

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        if not os.path.exists(self.folder):
            raise StoreError(f"{self.folder}: no such folder")
        if not os.path.isdir(self.folder):
            raise StoreError(f"{self.folder} is a file, not a run folder")
        path = os.path.join(self.folder, DB)
        if not os.path.isfile(path):
            raise StoreError(f"{self.folder} is not a ganviz run (it has no {DB})")
        self.path = path
        try:
            self._db = connect_read_only(path, check_same_thread=False)
            meta = {k: from_json(v) for k, v in self.db.execute("SELECT key, value FROM meta")}
            arrays = {name: np.frombuffer(data, np.dtype(dtype)).reshape(from_json(shape)).copy()
                      for name, dtype, shape, data in self.db.execute("SELECT * FROM arrays")}
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.folder}: its {DB} is damaged or not a ganviz run ({e})") from None
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.folder}: its {DB} is not a ganviz run store")
        if meta.get("version") != VERSION:
            raise StoreError(f"{self.folder}: run store version {meta.get('version')} is not "
                             f"supported (this ganviz reads version {VERSION})")
        if meta.get("columns") != COLUMNS:
            raise StoreError(f"{self.folder}: its metric columns differ from this ganviz's")
        try:
            self.config = Config.from_dict(meta["config"])
        except (ConfigError, TypeError, KeyError) as e:
            raise StoreError(f"{self.folder}: its stored settings are invalid ({e})") from None
        self.dataset_kind: str = meta["dataset_kind"]
        self.dataset_name: str = meta["dataset_name"]
        self.sample_shape = tuple(meta["sample_shape"])
        self.parent, self.parent_update = meta.get("parent"), meta.get("parent_update")
        self.created = meta.get("created")
        self.ganviz_version = meta.get("ganviz_version")
        self.real, self.fixed_noise = arrays.get("real"), arrays.get("fixed_noise")
        # conditional runs: the class names, the classes of the fixed noise's samples and of
        # the real points shown, and the sample grid's columns (one row per class)
        self.classes = tuple(meta["classes"]) if meta.get("classes") else None
        self.fixed_labels, self.real_labels = arrays.get("fixed_labels"), arrays.get("real_labels")
        self.grid_columns = meta.get("grid_columns")
        self.modes, self._points = arrays.get("modes"), arrays.get("points")
        self._n = 0
        self._frames = np.zeros(0, np.int64)
        self._removed = None   # the writer's mark of its last deletion of frames
        self.refresh()

    def refresh(self) -> int:
        """Rows committed now (call again to follow a run that is still being written). The
        frames' list is read past its last known frame only, unless the writer deleted frames
        since (thinning, going back) or wrote one before the last (a Restore): a long run's
        refresh costs what is new, not its length."""
        with self._reading():
            self.db.execute("BEGIN")   # one snapshot of the store for the mark and the frames
            try:
                self._refresh()
            finally:
                self.db.execute("COMMIT")
        return self._n

    def _refresh(self):
        self._n = rows_stored(self.db)
        removed = self.db.execute("SELECT value FROM meta WHERE key = ?", (FRAMES_REMOVED,)).fetchone()
        if removed != self._removed or not len(self._frames):
            self._removed = removed
            self._frames = np.array([u for (u,) in self.db.execute(
                "SELECT at_update FROM frames ORDER BY at_update")], dtype=np.int64)
            return
        new = [u for (u,) in self.db.execute("SELECT at_update FROM frames WHERE at_update > ? "
                                             "ORDER BY at_update", (int(self._frames[-1]),))]
        if new:
            self._frames = np.concatenate([self._frames, np.array(new, np.int64)])

    def __len__(self) -> int:
        return self._n

    def columns(self, names=None, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Record columns (history.COLUMNS) for rows [start, stop) of the last refresh; row i
        is update i + 1. update and iteration as int64, phase as "D" / "G", the rest float64."""
        names = list(COLUMNS) if names is None else list(names)
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise StoreError(f"{self.folder}: no metric column {', '.join(unknown)} "
                             f"(columns: {', '.join(COLUMNS)})")
        rows = self._rows(start, stop, [COLUMNS.index(n) for n in names])
        out = {}
        for j, name in enumerate(names):
            column = rows[:, j]
            if name in INT_COLUMNS:
                out[name] = column.astype(np.int64)
            elif name == "phase":
                out[name] = np.where(column == 0, "D", "G")
            else:
                out[name] = column.copy()
        return out

    def _rows(self, start: int = 0, stop: int | None = None, picks=None) -> np.ndarray:
        """float64 rows [start, stop) as history.History keeps them (all columns, or `picks`)."""
        start = max(0, int(start))
        stop = self._n if stop is None else max(start, min(int(stop), self._n))
        with self._reading():
            return read_rows(self.db, start, stop, picks)

    def last_quality(self) -> tuple[int, dict] | None:
        """The latest (update, metrics), or None: one row, however long the run."""
        with self._reading():
            row = self.db.execute("SELECT at_update, metrics FROM quality ORDER BY at_update DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), from_json(row[1]))

    def quality_count(self, upto: int) -> int:
        """How many quality records there are up to update `upto`."""
        with self._reading():
            return int(self.db.execute("SELECT COUNT(*) FROM quality WHERE at_update <= ?", (int(upto),)).fetchone()[0])

    def quality(self, since: int = -1, upto: int | None = None) -> list[tuple[int, dict]]:
        """(update, metrics) for every quality measurement after update `since` (and at or
        before `upto`), in update order."""
        upto = (1 << 62) if upto is None else int(upto)
        with self._reading():
            return [(u, from_json(m)) for u, m in self.db.execute(
                "SELECT at_update, metrics FROM quality WHERE at_update > ? AND at_update <= ? "
                "ORDER BY at_update", (int(since), upto))]

    def quality_updates(self, since: int = -1) -> np.ndarray:
        """The updates at which quality was measured (after update `since`), sorted."""
        with self._reading():
            return np.array([u for (u,) in self.db.execute(
                "SELECT at_update FROM quality WHERE at_update > ? ORDER BY at_update", (int(since),))],
                dtype=np.int64)

    def frame_updates(self) -> np.ndarray:
        """The updates that have a frame (as of the last refresh), sorted."""
        return self._frames.copy()

    def frame(self, update: int) -> tuple[int, dict]:
        """The frame at or before `update`: (its update, payload as frames.decode_frame gives)."""
        with self._reading():
            row = self.db.execute("SELECT at_update, data FROM frames WHERE at_update <= ? "
                                  "ORDER BY at_update DESC LIMIT 1", (int(update),)).fetchone()
        if row is None:
            raise StoreError(f"{self.folder}: no frame at or before update {update}")
        try:
            return int(row[0]), decode_frame(row[1])
        except FrameError as e:
            raise StoreError(f"{self.folder}: the frame of update {row[0]} is damaged ({e})") from None

    def snapshot_updates(self) -> np.ndarray:
        with self._reading():
            return np.array([u for (u,) in self.db.execute(
                "SELECT at_update FROM snapshots ORDER BY at_update")], dtype=np.int64)

    def load_snapshot(self, update: int):
        """A Trainer as the run was at the snapshot at or before `update`, with the run's
        history up to there: continue it (a branch) with new settings."""
        # the training side, loaded only here: the window reads runs without it (test_imports)
        from .checkpoint import CheckpointError, checkpoint_config, choose_device, fit_noise_state, read_checkpoint
        from .data import points_dataset
        from .trainer import Trainer, dataset_for

        with self._reading():
            row = self.db.execute("SELECT at_update, file FROM snapshots WHERE at_update <= ? "
                                  "ORDER BY at_update DESC LIMIT 1", (int(update),)).fetchone()
        if row is None:
            raise StoreError(f"{self.folder}: no snapshot at or before update {update}")
        path = os.path.join(self.folder, row[1])
        try:
            state = read_checkpoint(path)
        except CheckpointError as e:
            raise StoreError(f"{self.folder}: snapshot unreadable: {e}") from None
        config = checkpoint_config(state, path)
        device, config, _ = choose_device(config, state)
        dataset = points_dataset(self._points, name=config.dataset) if self._points is not None \
            else dataset_for(config)
        fit_noise_state(state, device)
        updates = int(state["counters"]["updates"])
        if updates > self._n:
            self.refresh()
        state["history"] = torch.from_numpy(self._rows(0, updates))
        trainer = Trainer(config, dataset=dataset, device=device)
        trainer.load_state_dict(state)
        return trainer

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, opened again if idle() let it go."""
        if self._db is None:
            try:
                self._db = connect_read_only(self.path, check_same_thread=False)
            except sqlite3.Error as e:
                raise StoreError(f"{self.folder}: cannot read its {DB} ({e})") from None
        return self._db

    def idle(self) -> None:
        """Let the connection (and its three open files) go until the next read: a list of
        many runs would otherwise hold three files open per run."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def close(self) -> None:
        self.idle()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _reading(self):
        return _Reading(self)


class _Reading:
    """SQLite errors while reading, worded for a person (a folder deleted under us, ...)."""

    def __init__(self, reader):
        self.reader = reader

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"{self.reader.folder}: cannot read its {DB} ({error})") from None
        return False



def connect_read_only(path, **kwargs) -> sqlite3.Connection:
    """A read-only connection to a run.db. A store in WAL mode needs its folder writable even
    to be read (SQLite's shared-memory file); on read-only media (a CD, a read-only mount),
    where nobody can be writing it, it is opened as immutable instead."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, **kwargs)
    try:
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return db
    except sqlite3.OperationalError:
        db.close()
        if os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
            raise
    return sqlite3.connect(uri + "&immutable=1", uri=True, **kwargs)


def rows_stored(db) -> int:
    """How many rows an open run.db holds: the end of its last block, found through the
    primary key (a long run has tens of thousands of blocks)."""
    last = db.execute("SELECT first_row + rows FROM records ORDER BY first_row DESC LIMIT 1").fetchone()
    return int(last[0]) if last else 0


def read_rows(db, start: int, stop: int, picks=None) -> np.ndarray:
    """float64 rows [start, stop) of the records table of an open run.db (all columns, or
    `picks`), as history.History keeps them."""
    width = WIDTH if picks is None else len(picks)
    out = np.empty((max(0, stop - start), width), dtype=np.float64)
    if stop <= start:
        return out
    filled = 0
    for block_start, n, data in db.execute(
            # from the block holding `start` (found through the primary key, not a scan)
            "SELECT first_row, rows, data FROM records WHERE first_row >= (SELECT COALESCE(MAX(first_row), 0) "
            "FROM records WHERE first_row <= ?) AND first_row < ? ORDER BY first_row", (int(start), int(stop))):
        if block_start + n <= start:
            continue
        block = unpack_rows(data, n)
        lo, hi = max(start, block_start), min(stop, block_start + n)
        part = block[lo - block_start: hi - block_start]
        out[lo - start: hi - start] = part if picks is None else part[:, picks]
        filled += hi - lo
    if filled != len(out):
        raise StoreError(f"rows {start} to {stop} are not all in the run store ({filled} found)")
    return out


class RowSource:
    """The committed rows of the run store in `folder`, for a History that let them go from
    memory (history.History.release). Each read opens the store read-only and closes it, so a
    long run holds no extra file open."""

    def __init__(self, folder):
        self.path = os.path.join(os.fspath(folder), DB)

    def __call__(self, start: int, stop: int) -> np.ndarray:
        return self._read(lambda db: read_rows(db, start, stop))

    def committed(self) -> int:
        """How many rows the store holds now (0 if it cannot be read)."""
        try:
            return self._read(rows_stored)
        except StoreError:
            return 0

    def _read(self, query):
        try:
            db = connect_read_only(self.path)
            try:
                return query(db)
            finally:
                db.close()
        except sqlite3.Error as e:
            raise StoreError(f"{os.path.dirname(self.path)}: cannot read its {DB} ({e})") from None


def branch_start(reader) -> int:
    """The first row a reader's run has of its own: 0, or a child's branch update."""
    return int(reader.parent_update or 0) if reader.parent else 0
