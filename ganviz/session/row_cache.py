"""RowCache: the history rows of a run this window has no store of (one trained on a server,
ganviz serve; or one whose runs folder could not be written), kept in a temporary file as they
arrive, so the History lets them go from memory as it does with a store (history.History
.release) and reads them back when asked (a redrawn plot, Export CSV). The file has no name on
disk (tempfile.TemporaryFile): it is gone when the window closes, however it closes."""
from __future__ import annotations

import tempfile

import numpy as np

from ganviz.core.history import COLUMNS
from ganviz.core.store_format import StoreError

ROW_BYTES = 8 * len(COLUMNS)


class RowCache:
    def __init__(self):
        self.file = tempfile.TemporaryFile(prefix="ganviz-rows-", buffering=0)   # errors at once, not at a flush
        self.rows = 0          # rows on disk whole: History.release lets go of these alone
        self.broken = False    # a write failed (a full disk): the rows from then on stay in memory

    def add(self, rows: np.ndarray) -> None:
        if self.broken or not len(rows):
            return
        data = memoryview(np.ascontiguousarray(rows, dtype=np.float64).tobytes())
        try:
            self.file.seek(self.rows * ROW_BYTES)
            while data:   # a raw write may take part of it
                data = data[self.file.write(data):]
        except OSError:
            self.broken = True
            return
        self.rows += len(rows)

    def committed(self) -> int:
        return self.rows

    def __call__(self, start: int, stop: int) -> np.ndarray:
        start, stop = max(0, start), min(stop, self.rows)
        if stop <= start:
            return np.empty((0, len(COLUMNS)), dtype=np.float64)
        try:
            self.file.seek(start * ROW_BYTES)
            data = bytearray()
            while len(data) < (stop - start) * ROW_BYTES:
                piece = self.file.read((stop - start) * ROW_BYTES - len(data))
                if not piece:
                    raise OSError("the file ended early")
                data += piece
        except OSError as e:   # as a store that cannot be read says it (the callers catch it)
            raise StoreError(f"cannot read this run's rows back from its temporary file ({e})") from None
        return np.frombuffer(data, dtype=np.float64).reshape(-1, len(COLUMNS))   # owns `data`: no copy

    def close(self):
        self.file.close()
