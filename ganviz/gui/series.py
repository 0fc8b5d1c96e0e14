"""A curve's (x, y) points with their debiased moving average, in bounded memory, and the
envelope the plots draw of it (no Qt here)."""
from __future__ import annotations

import numpy as np

DISPLAY_BINS = 1000            # a longer curve is drawn as each bin's min and max (an envelope) of
                               # 1000 to 2000 bins, a bin a pixel or finer: handing pyqtgraph
                               # 800 000 points made a redraw cost 24 ms, not 8; 2000 to 4000 bins
                               # cost twice 1000's (a real run's curves, 102 000 updates: 8.7
                               # against 4.1 ms to redraw the three plots)
RAW_POINTS = 8192              # the newest points kept as they are (the step view, the hover
                               # readout, a short run drawn point by point)


class Series:
    """A curve's points, updated incrementally, in memory that stays flat however long the run.

    The newest RAW_POINTS points are kept as they are (x, y and the smoothed s). Older ones are
    folded into bins of k points (k a power of two that doubles as the run grows, so there are
    at most 2 * DISPLAY_BINS bins): each bin keeps its first and last x and the min and max of
    y and of s, which is all the screen draws of them. A series that folded points away cannot
    re-smooth them (set_weight says so: `complete` is False); the plot then rebuilds it from
    the run's stored history."""

    def __init__(self, keep_all: bool = False):
        self.weight = 0.0
        self.keep_all = keep_all   # never drop a point (another run's fixed curves, overlaid)
        self.clear()

    def clear(self):
        self.x, self.y, self.s = np.empty(1024), np.empty(1024), np.empty(1024)
        self.r = 0            # raw points held (the newest)
        self.n = 0            # all points ever added
        self._ema = 0.0       # biased running EMA; debiased by dividing by 1 - w^t
        self._wt = 1.0        # w^t
        self.lo, self.hi = np.inf, -np.inf   # bounds of the finite y values
        self.k = 1            # points per bin
        self._bins = np.empty((0, 6))   # first x, last x, min y, max y, min s, max s
        self._binned = 0      # points folded into bins (the first n - r are always among them)
        self._envelope = None

    @property
    def complete(self) -> bool:
        """Whether every point is still held as it is (none folded into bins)."""
        return self.r == self.n

    def last_x(self) -> float:
        return float(self.x[self.r - 1])

    def extend(self, x, y):
        k = len(x)
        if k == 0:
            return
        if self.r + k > len(self.x):
            size = max(self.r + k, 2 * len(self.x))
            for name in ("x", "y", "s"):
                grown = np.empty(size)
                grown[: self.r] = getattr(self, name)[: self.r]
                setattr(self, name, grown)
        self.x[self.r: self.r + k] = x
        self.y[self.r: self.r + k] = y
        finite = np.asarray(y)[np.isfinite(y)]
        if len(finite):
            self.lo, self.hi = min(self.lo, finite.min()), max(self.hi, finite.max())
        self._smooth(self.r, self.r + k)
        self.r += k
        self.n += k
        if self.n > 2 * DISPLAY_BINS:
            self._fold()
        if self.r > 2 * max(RAW_POINTS, 2 * self.k) and not self.keep_all:
            self._drop_raw()

    def _fold(self):
        """Fold every whole group of k unbinned points into bins; halve the bins (k doubles)
        while there are more than 2 * DISPLAY_BINS."""
        while True:
            new = (self.n - self._binned) // self.k
            if new:
                a = self.r - (self.n - self._binned)   # the first unbinned point among the raw
                part = slice(a, a + new * self.k)
                x, y, s = (v[part].reshape(new, self.k) for v in (self.x, self.y, self.s))
                with np.errstate(all="ignore"):
                    bins = np.stack([x[:, 0], x[:, -1], _nanmin(y), _nanmax(y), _nanmin(s), _nanmax(s)], 1)
                self._bins = np.concatenate([self._bins, bins])
                self._binned += new * self.k
                self._envelope = None
            if len(self._bins) <= 2 * DISPLAY_BINS:
                return
            even = len(self._bins) // 2 * 2
            pairs = self._bins[:even].reshape(-1, 2, 6)
            with np.errstate(all="ignore"):
                merged = np.stack([pairs[:, 0, 0], pairs[:, 1, 1],
                                   np.fmin(pairs[:, 0, 2], pairs[:, 1, 2]), np.fmax(pairs[:, 0, 3], pairs[:, 1, 3]),
                                   np.fmin(pairs[:, 0, 4], pairs[:, 1, 4]), np.fmax(pairs[:, 0, 5], pairs[:, 1, 5])], 1)
            self.k *= 2
            self._bins = np.concatenate([merged, self._bins[even:]])   # an odd bin out stays as it is
            self._envelope = None

    def _drop_raw(self):
        """Keep the newest points (at least RAW_POINTS, and every one not yet in a bin)."""
        keep = max(RAW_POINTS, 2 * self.k, self.n - self._binned)
        if keep >= self.r:
            return
        for name in ("x", "y", "s"):
            v = getattr(self, name)
            v[:keep] = v[self.r - keep: self.r]
        self.r = keep

    def set_weight(self, w: float) -> bool:
        """Smooth with weight w from the start. False if that cannot be done here (points were
        folded away): the caller rebuilds the series from the stored history."""
        self.weight = w
        if not self.complete:
            return False
        self._ema, self._wt = 0.0, 1.0
        self._smooth(0, self.r)
        self._bins, self._binned, self.k = np.empty((0, 6)), 0, 1
        if self.n > 2 * DISPLAY_BINS:
            self._fold()
        self._envelope = None
        return True

    def _smooth(self, a, b):
        # TensorBoard's debiased exponential moving average, carried across calls; non-finite
        # values pass through unsmoothed. (numpy's accumulate keeps scipy's 1 s import away.)
        y, s, w = self.y[a:b], self.s[a:b], self.weight
        ok = np.isfinite(y)
        s[~ok] = y[~ok]
        v = y[ok]
        if w == 0 or len(v) == 0:
            s[ok] = v
            return
        step = np.frompyfunc(lambda acc, x: w * acc + (1 - w) * x, 2, 1)
        ema = step.accumulate(np.concatenate([[self._ema], v]).astype(object))[1:].astype(float)
        wt = self._wt * w ** np.arange(1, len(v) + 1)
        s[ok] = ema / (1 - wt)
        self._ema, self._wt = ema[-1], wt[-1]

    def view(self):
        """The points held as they are: the newest r of the n (all of them while complete)."""
        return self.x[: self.r], self.y[: self.r], self.s[: self.r]

    def display(self):
        """(x, y, smoothed) to draw: the points themselves up to 2 * DISPLAY_BINS; beyond,
        each bin's min and max at the bin's middle, then the points not yet in a bin."""
        if self.n <= 2 * DISPLAY_BINS:
            return self.view()
        if self._envelope is None:
            b = self._bins
            mid = np.repeat(0.5 * (b[:, 0] + b[:, 1]), 2)
            self._envelope = (mid, b[:, 2:4].ravel(), b[:, 4:6].ravel())
        bx, by, bs = self._envelope
        tail = slice(self.r - (self.n - self._binned), self.r)
        return (np.concatenate([bx, self.x[tail]]), np.concatenate([by, self.y[tail]]),
                np.concatenate([bs, self.s[tail]]))

    def bin_at(self, x: float):
        """(y min, y max, s min, s max) of the bin around x, for a point no longer held."""
        if not len(self._bins):
            return None
        i = int(np.clip(np.searchsorted(self._bins[:, 1], x), 0, len(self._bins) - 1))
        return tuple(self._bins[i, 2:])


def _nanmin(a):
    return np.fmin.reduce(a, axis=1)


def _nanmax(a):
    return np.fmax.reduce(a, axis=1)
