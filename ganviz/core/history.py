"""One record per update, and the run's full metric history kept in growable numpy columns."""
from __future__ import annotations

import csv
from dataclasses import dataclass, fields

import numpy as np

from .atomic import atomic_write


@dataclass
class Record:
    """What one update did. Probe values are measured on the fixed probe batch right before
    and right after the update, so they show the update's own effect, free of batch noise.
    While training freely they (and grad_norm) are measured on every config.probe_every-th
    iteration only (nan in between); single Steps always measure them."""
    update: int            # 1-based count of all updates in the run
    iteration: int         # the iteration this update belongs to (k D updates + 1 G update)
    x: float               # position on the iteration axis: the G update of iteration i sits at i
    phase: str             # "D" or "G": the network this update changed
    epoch: float           # passes over the training data so far
    loss_d: float          # D updates: loss on the training batch (real + fake parts); else nan
    loss_d_real: float
    loss_d_fake: float
    loss_g: float          # G updates: loss on the training batch; else nan
    d_real_before: float   # D(x) on the probe batch, before / after the update
    d_real_after: float
    d_fake_before: float   # D(G(z)) on the probe noise: the DCGAN example's D_G_z1 / D_G_z2
    d_fake_after: float
    acc_real: float        # fraction of probe reals D calls real, after the update
    acc_fake: float        # fraction of probe fakes D calls fake, after the update
    grad_norm: float       # L2 norm of the updated network's gradient
    lr: float              # learning rate used by the updated network
    duration: float        # seconds the update took on the host

    @property
    def is_finite(self) -> bool:
        """False once the update's loss became NaN or infinite (a diverged network makes its
        loss so; the probe columns and grad_norm may be nan only because they were not
        measured on this update)."""
        loss = self.loss_d if self.phase == "D" else self.loss_g
        return bool(np.isfinite(loss))


COLUMNS = [f.name for f in fields(Record)]
NUMERIC = [c for c in COLUMNS if c != "phase"]


KEEP_ROWS = 20_000    # rows a History with a store behind it keeps in memory (3 to 6 MB)


class History:
    """Every record of the run, as float64 columns that double in size when full.

    A run with a store (core/store.py) keeps its history there: release() lets the rows the
    store has committed go from memory, all but the newest KEEP_ROWS, and reads them back from
    the store when asked (a Save, an export, a rebuilt plot). So memory stays flat however long
    the run; row indices never change. Without a store, nothing is ever dropped (200 000
    updates take about 27 MB)."""

    def __init__(self, capacity: int = 4096):
        self._data = np.empty((capacity, len(COLUMNS)), dtype=np.float64)
        self._n = 0          # rows in memory
        self._first = 0      # index of the first row in memory: rows before it are in `cold`
        self.cold = None     # (start, stop) -> rows [start, stop): the store's committed rows

    def __len__(self):
        return self._first + self._n

    @property
    def in_memory(self) -> int:
        """Rows kept in memory (for the memory benchmark and tests)."""
        return self._n

    def append(self, records) -> np.ndarray:
        """Add records; returns their rows (a copy) for whoever draws them."""
        if not records:
            return np.empty((0, len(COLUMNS)))
        return self.append_rows(as_rows(records))

    def append_rows(self, rows: np.ndarray) -> np.ndarray:
        """Add rows already in COLUMNS order (a run store's columns); returns them."""
        need = self._n + len(rows)
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), len(COLUMNS)), dtype=np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n: need] = rows
        self._n = need
        return rows

    def release(self, committed: int, cold, keep: int | None = None) -> int:
        """The first `committed` rows are safe in a store that `cold(start, stop)` reads back:
        let all but the newest `keep` rows go from memory (in chunks of at least `keep`, so
        this costs nothing on most calls). Returns the rows released now."""
        keep = KEEP_ROWS if keep is None else keep
        upto = min(committed, len(self)) - keep
        if upto - self._first < keep:
            return 0
        drop = upto - self._first
        self._n -= drop
        # a smaller array (memory goes back), with room for the rows until the next release:
        # that comes at 2 * keep rows in memory (and a few seconds' rows more)
        size = max(2 * keep, self._n + keep) + max(4096, keep // 4)
        kept = np.empty((size, len(COLUMNS)), dtype=np.float64)
        kept[: self._n] = self._data[drop: drop + self._n]
        self._data, self._first, self.cold = kept, upto, cold
        return drop

    def column(self, name: str) -> np.ndarray:
        """A copy of one column, safe to hand to another thread."""
        return self.rows(0, len(self))[:, COLUMNS.index(name)]

    def array(self) -> np.ndarray:
        return self.rows(0, len(self))

    def head(self, n: int) -> np.ndarray:
        """A copy of the first n rows (all, if fewer)."""
        return self.rows(0, n)

    def tail(self, n: int) -> np.ndarray:
        """A copy of the last n rows (all, if fewer)."""
        return self.rows(max(0, len(self) - n), len(self))

    def record(self, i: int) -> Record:
        if i < 0:
            i += len(self)
        return as_records(self.rows(i, i + 1))[0]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """A copy of rows [start, stop) (without copying the whole history); rows no longer in
        memory are read back from the store."""
        start, stop = max(0, start), min(stop, len(self))
        if stop <= start:
            return np.empty((0, len(COLUMNS)), dtype=np.float64)
        f = self._first
        hot = self._data[max(start, f) - f: stop - f].copy() if stop > f else None
        if start >= f:
            return hot
        cold = self.cold(start, min(stop, f))
        return cold if hot is None else np.concatenate([cold, hot])

    def chunks(self, size: int = 65_536):
        """All rows, a chunk at a time (the rows no longer in memory are read back in pieces)."""
        for a in range(0, len(self), size):
            yield self.rows(a, a + size)

    def truncate(self, n: int):
        if n < self._first:   # back into rows that live in the store only
            self._n, self._first = 0, n
        else:
            self._n = min(self._n, n - self._first)

    def write_csv(self, path):
        """The full history (never the downsampled screen), written atomically."""
        phase, ints = COLUMNS.index("phase"), [COLUMNS.index(c) for c in ("update", "iteration")]
        with atomic_write(path, "w") as f:   # raises atomic.WriteError
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for chunk in self.chunks():
                for row in chunk:
                    out = [repr(float(v)) for v in row]
                    out[phase] = "D" if row[phase] == 0 else "G"
                    for j in ints:
                        out[j] = str(int(row[j]))
                    w.writerow(out)

    @classmethod
    def from_array_state(cls, array: np.ndarray) -> "History":
        h = cls(max(4096, len(array)))
        h._data[: len(array)] = array
        h._n = len(array)
        return h


_PHASE = COLUMNS.index("phase")


def as_rows(records) -> np.ndarray:
    """Records as float64 rows in COLUMNS order (phase 0 for D, 1 for G), as History keeps them."""
    return np.array([_row(r) for r in records], dtype=np.float64).reshape(-1, len(COLUMNS))


def as_records(rows: np.ndarray) -> list[Record]:
    """The Records of as_rows's rows."""
    out = []
    for row in rows.tolist():
        values = dict(zip(COLUMNS, row))
        values["phase"] = "D" if values["phase"] == 0 else "G"
        values["update"], values["iteration"] = int(values["update"]), int(values["iteration"])
        out.append(Record(**values))
    return out


def _row(r: Record):
    # not dataclasses.astuple: its deep copy made turning a batch into rows a millisecond of
    # the GUI thread's time per batch
    t = [getattr(r, name) for name in COLUMNS]
    t[_PHASE] = 0.0 if r.phase == "D" else 1.0
    return t

