"""RowCache: the history rows of a run this window has no store of (one trained on a server,
ganviz serve; or one whose runs folder could not be written), kept in a temporary file as they
arrive, so the History lets them go from memory as it does with a store (history.History
.release) and reads them back when asked (a redrawn plot, Export CSV). The file has no name on
disk (tempfile.TemporaryFile): it is gone when the window closes, however it closes."""
from __future__ import annotations

import tempfile

import numpy as np

from ganviz.core.history import COLUMNS

ROW_BYTES = 8 * len(COLUMNS)


class RowCache:
    def __init__(self):
        self.file = tempfile.TemporaryFile(prefix="ganviz-rows-")
        self.rows = 0          # rows written whole (a failed write counts none: release stops there)
        self.broken = False

    def add(self, rows: np.ndarray) -> None:
        if self.broken or not len(rows):
            return
        try:
            self.file.seek(self.rows * ROW_BYTES)
            self.file.write(np.ascontiguousarray(rows, dtype=np.float64).tobytes())
            self.rows += len(rows)
        except OSError:   # a full disk: the rows from here on stay in memory
            self.broken = True

    def committed(self) -> int:
        return self.rows

    def __call__(self, start: int, stop: int) -> np.ndarray:
        start, stop = max(0, start), min(stop, self.rows)
        if stop <= start:
            return np.empty((0, len(COLUMNS)), dtype=np.float64)
        self.file.flush()
        self.file.seek(start * ROW_BYTES)
        data = self.file.read((stop - start) * ROW_BYTES)
        return np.frombuffer(data, dtype=np.float64).reshape(-1, len(COLUMNS)).copy()

    def close(self):
        self.file.close()
