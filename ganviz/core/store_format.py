"""The run store's on-disk layout, shared by its writer (store.py) and its reader (run_reader.py).

A run folder holds:
- run.db: SQLite (WAL journal, synchronous=NORMAL), the tables below;
- snapshots/NNNNNNNNNNNN.pt: full checkpoints (checkpoint.py's format, history left out: the
  records table holds it), named by their update count, each indexed by a row in `snapshots`;
- config.json (and, from `ganviz train`, metrics.csv and checkpoint.pt) for other tools.

Tables:
- meta(key, value): JSON values: format, version, config, dataset_kind, dataset_name,
  sample_shape, parent, parent_update, created, ganviz_version, columns;
- arrays(name, dtype, shape, data): small arrays stored once: "real" (the 1000 real points the
  window draws), "fixed_noise" (the noise of the field's fakes), "modes", "points" (the user's
  own 2D data, which cannot be regenerated from the config);
- records(first_row, rows, data): the metric history, one row per update (history.COLUMNS, as
  float64), kept in blocks of the rows of one commit, zlib-compressed. Why blocks and not one
  SQL row per update: reading a million updates back as SQL rows takes 5.7 s on this machine
  (and 178 MB on disk), as blocks well under a second; the goal is 2 s;
- frames(at_update, iteration, bytes, data): frames.py's bytes;
- snapshots(at_update, iteration, bytes, file);
- quality(at_update, metrics): evaluate() results as JSON.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3

import numpy as np

from .atomic import CAUSES, WriteError
from .history import COLUMNS

FORMAT = "ganviz-run"
VERSION = 1
DB = "run.db"
SNAPSHOTS = "snapshots"

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE arrays(name TEXT PRIMARY KEY, dtype TEXT NOT NULL, shape TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE records(first_row INTEGER PRIMARY KEY, rows INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE frames(at_update INTEGER PRIMARY KEY, iteration INTEGER NOT NULL, bytes INTEGER NOT NULL,
                    data BLOB NOT NULL);
CREATE TABLE snapshots(at_update INTEGER PRIMARY KEY, iteration INTEGER NOT NULL, bytes INTEGER NOT NULL,
                       file TEXT NOT NULL);
CREATE TABLE quality(at_update INTEGER PRIMARY KEY, metrics TEXT NOT NULL);
"""
WIDTH = len(COLUMNS)
PHASE = COLUMNS.index("phase")


class StoreError(ValueError):
    """A folder that cannot be used as a run; one plain sentence naming the folder and the
    problem. A ValueError, so the CLI prints it as one line (exit 2)."""


FRAMES_REMOVED = "frames_removed"   # meta key the writer sets when it deletes frames or writes one
                                    # before the last (readers then read the frames' list anew)
D_HISTOGRAM = "d_histogram"   # in a quality record: (edges, real counts, fake counts) of D's scores


def to_json(value) -> str:
    """JSON for metrics and meta; numpy arrays are tagged so they come back as arrays."""
    def default(v):
        if isinstance(v, np.ndarray):
            return {"__ndarray__": v.tolist(), "dtype": v.dtype.str}
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, tuple):
            return list(v)
        raise TypeError(f"{type(v).__name__} is not JSON serialisable")
    return json.dumps(value, default=default, allow_nan=True)


def from_json(text: str):
    def hook(d):
        if "__ndarray__" in d:
            return np.asarray(d["__ndarray__"], dtype=np.dtype(d["dtype"]))
        return d
    return json.loads(text, object_hook=hook)


def write_error(path: str, error: sqlite3.Error) -> WriteError:
    """A failed SQLite write as atomic.WriteError, worded like every other failed write.
    SQLite calls a full disk "disk I/O error" when it strikes the WAL's shared memory file:
    the free space tells."""
    text = str(error)
    if "full" in text or ("I/O" in text and _free_bytes(path) < FULL_BELOW):
        cause = CAUSES[28]      # errno.ENOSPC
    elif "readonly" in text or "unable to open" in text:   # "attempt to write a readonly database"
        cause = _read_only(path) or text
    elif "I/O" in text:
        cause = CAUSES[5]       # errno.EIO
    else:
        cause = text
    return WriteError(path, cause)


FULL_BELOW = 1 << 20   # bytes free under which a failed write is put down to a full disk


def _read_only(path: str) -> str:
    """Why a run.db cannot be written, where it is read-only; else ""."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return CAUSES[30]   # errno.EROFS
    except OSError:
        return ""
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return "the file or its folder is read-only"
    return ""


def _free_bytes(path: str) -> int:
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


def pack_rows(rows: np.ndarray) -> bytes:
    import zlib
    return zlib.compress(np.ascontiguousarray(rows, dtype="<f8").tobytes(), 1)


def unpack_rows(data: bytes, rows: int) -> np.ndarray:
    import zlib
    return np.frombuffer(zlib.decompress(data), dtype="<f8").reshape(rows, WIDTH)


def records_to_rows(records) -> np.ndarray:
    """Records as history.History's float64 rows (phase D = 0, G = 1)."""
    rows = np.empty((len(records), WIDTH), dtype=np.float64)
    for i, r in enumerate(records):
        rows[i] = [getattr(r, c) if c != "phase" else (0.0 if r.phase == "D" else 1.0) for c in COLUMNS]
    return rows


def snapshot_path(folder: str, update: int) -> str:
    return os.path.join(folder, SNAPSHOTS, f"{update:012d}.pt")


def drop_empty_wal(path: str) -> None:
    """SQLite leaves an empty WAL and its shared memory file behind when it could not start
    (a full disk, a read-only folder): nothing is in them, and the folder stays as it was."""
    wal = path + "-wal"
    try:
        if os.path.getsize(wal) == 0:
            os.unlink(wal)
            os.unlink(path + "-shm")
    except OSError:
        pass


def lock_folder(folder: str) -> "FolderLock":
    """One writer per run: a second one (another `ganviz train --resume` of the same folder)
    is refused. The lock is on the folder itself (no file left behind) and goes with the
    process, so a killed writer leaves none."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as e:
        raise WriteError(folder, e) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EACCES):
            raise StoreError(f"{folder}: another ganviz is writing this run") from None
        raise WriteError(folder, e) from None
    return FolderLock(fd)


class FolderLock:
    def __init__(self, fd: int):
        self.fd = fd

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
