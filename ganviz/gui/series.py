"""A growable (x, y) buffer with its debiased moving average, and the bounded envelope the
plots draw of it (no Qt here)."""
from __future__ import annotations

import numpy as np

DISPLAY_BINS = 2000            # a longer curve is drawn as each bin's min and max (an envelope):
                               # handing pyqtgraph 800 000 points made a redraw cost 24 ms, not 8


class Series:
    """A growable (x, y) buffer with its debiased EMA, updated incrementally."""

    def __init__(self):
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.s = np.empty(1024)
        self.n = 0
        self.weight = 0.0
        self._ema = 0.0       # biased running EMA; debiased by dividing by 1 - w^t
        self._wt = 1.0        # w^t
        self.lo, self.hi = np.inf, -np.inf   # bounds of the finite y values
        self._bins = None     # (bin size, bins done, x, y, smoothed) of display()

    def clear(self):
        self.n, self._ema, self._wt = 0, 0.0, 1.0
        self.lo, self.hi = np.inf, -np.inf
        self._bins = None

    def extend(self, x, y):
        k = len(x)
        if k == 0:
            return
        if self.n + k > len(self.x):
            size = max(self.n + k, 2 * len(self.x))
            for name in ("x", "y", "s"):
                grown = np.empty(size)
                grown[: self.n] = getattr(self, name)[: self.n]
                setattr(self, name, grown)
        self.x[self.n: self.n + k] = x
        self.y[self.n: self.n + k] = y
        finite = np.asarray(y)[np.isfinite(y)]
        if len(finite):
            self.lo, self.hi = min(self.lo, finite.min()), max(self.hi, finite.max())
        self._smooth(self.n, self.n + k)
        self.n += k

    def set_weight(self, w: float):
        self.weight = w
        self._ema, self._wt = 0.0, 1.0
        self._smooth(0, self.n)
        self._bins = None

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
        return self.x[: self.n], self.y[: self.n], self.s[: self.n]

    def display(self):
        """(x, y, smoothed) to draw: the data itself up to 2 * DISPLAY_BINS points; beyond, each
        bin of k points (k a power of two, so finished bins never change) becomes its min and
        max at the bin's middle, followed by the unfinished tail as it is. Finished bins are
        computed once."""
        n = self.n
        if n <= 2 * DISPLAY_BINS:
            return self.view()
        k = 1 << int(np.ceil(np.log2(n / DISPLAY_BINS)))
        if self._bins is None or self._bins[0] != k:
            self._bins = (k, 0, np.empty(0), np.empty(0), np.empty(0))
        _, done, bx, by, bs = self._bins
        full = n // k
        if full > done:
            part = slice(done * k, full * k)
            x = self.x[part].reshape(-1, k)
            y, sm = self.y[part].reshape(-1, k), self.s[part].reshape(-1, k)
            mid = np.repeat(0.5 * (x[:, 0] + x[:, -1]), 2)
            bx = np.concatenate([bx, mid])
            by = np.concatenate([by, np.stack([y.min(1), y.max(1)], 1).ravel()])
            bs = np.concatenate([bs, np.stack([sm.min(1), sm.max(1)], 1).ravel()])
            self._bins = (k, full, bx, by, bs)
        tail = slice(full * k, n)
        return (np.concatenate([bx, self.x[tail]]), np.concatenate([by, self.y[tail]]),
                np.concatenate([bs, self.s[tail]]))
