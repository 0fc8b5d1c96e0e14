"""One record per update, and the run's full metric history kept in growable numpy columns."""
from __future__ import annotations

import csv
from dataclasses import astuple, dataclass, fields

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


class History:
    """Every record of the run, as float64 columns that double in size when full.
    200 000 updates take about 27 MB; nothing is ever dropped."""

    def __init__(self, capacity: int = 4096):
        self._data = np.empty((capacity, len(COLUMNS)), dtype=np.float64)
        self._n = 0

    def __len__(self):
        return self._n

    def append(self, records) -> np.ndarray:
        """Add records; returns their rows (a copy) for whoever draws them."""
        if not records:
            return np.empty((0, len(COLUMNS)))
        return self.append_rows(np.array([_row(r) for r in records], dtype=np.float64))

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

    def column(self, name: str) -> np.ndarray:
        """A copy of one column, safe to hand to another thread."""
        return self._data[: self._n, COLUMNS.index(name)].copy()

    def array(self) -> np.ndarray:
        return self._data[: self._n].copy()

    def head(self, n: int) -> np.ndarray:
        """A copy of the first n rows (all, if fewer)."""
        return self._data[: min(n, self._n)].copy()

    def tail(self, n: int) -> np.ndarray:
        """A copy of the last n rows (all, if fewer)."""
        return self._data[max(0, self._n - n): self._n].copy()

    def record(self, i: int) -> Record:
        row = self._data[i]
        values = {c: row[j] for j, c in enumerate(COLUMNS)}
        values["phase"] = "D" if values["phase"] == 0 else "G"
        for c in ("update", "iteration"):
            values[c] = int(values[c])
        return Record(**values)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """A copy of rows [start, stop) (without copying the whole history)."""
        return self._data[start: min(stop, self._n)].copy()

    def truncate(self, n: int):
        self._n = min(self._n, n)

    def write_csv(self, path):
        """The full history (never the downsampled screen), written atomically."""
        with atomic_write(path, "w") as f:   # raises atomic.WriteError
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for row in self._data[: self._n]:
                out = [repr(float(v)) for v in row]
                out[COLUMNS.index("phase")] = "D" if row[COLUMNS.index("phase")] == 0 else "G"
                for c in ("update", "iteration"):
                    out[COLUMNS.index(c)] = str(int(row[COLUMNS.index(c)]))
                w.writerow(out)

    @classmethod
    def from_array_state(cls, array: np.ndarray) -> "History":
        h = cls(max(4096, len(array)))
        h._data[: len(array)] = array
        h._n = len(array)
        return h


def _row(r: Record):
    t = list(astuple(r))
    t[COLUMNS.index("phase")] = 0.0 if r.phase == "D" else 1.0
    return t

