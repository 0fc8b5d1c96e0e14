"""Which frames or snapshots a run store gives up when it is over its disk budget."""
from __future__ import annotations

import numpy as np


def to_thin(at, size, need: float) -> np.ndarray:
    """A mask of the items (updates `at`, sorted, with their `size` in bytes) to remove so that
    about `need` bytes are freed; never the first or the latest.

    Each item's worth is the gap its removal would leave, over its age (updates before the
    latest, plus a quarter of the run's span); the least worth goes first, one at a time with
    the worth recomputed after each (its neighbours' gaps grew). So the spacing grows with
    age: recent moments stay dense, old ones thin out, the oldest at most about 5 times
    sparser than the newest, and a run of any length stays scrubbable from start to end. A
    few ms for thousands of frames, and it runs once per tenth of the budget."""
    at = np.asarray(at, dtype=np.float64)
    size = np.asarray(size, dtype=np.float64)
    keep = np.ones(len(at), bool)
    freed = 0.0
    while freed < need and keep.sum() > 2:
        left = np.flatnonzero(keep)
        a = at[left]
        worth = (a[2:] - a[:-2]) / (a[-1] - a[1:-1] + (a[-1] - a[0]) / 4 + 1)
        i = left[1 + int(np.argmin(worth))]
        keep[i] = False
        freed += size[i]
    return ~keep
