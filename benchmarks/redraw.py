"""How long the three metric plots take to redraw and repaint as the history grows: the
GUI-thread cost of a long run, without waiting an hour for one. Synthetic records (the probe
measured on every 20th iteration, as while training), smoothing on.

    python benchmarks/redraw.py [10000 100000 400000 800000]
"""
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6)
from PySide6.QtWidgets import QApplication  # noqa: E402

from ganviz.core.history import COLUMNS  # noqa: E402
from ganviz.gui.plots import AccuracyPlot, LossPlot, ScorePlot  # noqa: E402

rng = np.random.default_rng(0)


def rows(start, n):
    r = np.full((n, len(COLUMNS)), np.nan)
    u = np.arange(start, start + n)
    r[:, COLUMNS.index("x")] = u / 2
    ph = u % 2
    r[:, COLUMNS.index("phase")] = ph
    for c in ("loss_d", "loss_d_real", "loss_d_fake"):
        r[ph == 0, COLUMNS.index(c)] = 1.38 + 0.01 * rng.standard_normal((ph == 0).sum())
    r[ph == 1, COLUMNS.index("loss_g")] = 0.69 + 0.01 * rng.standard_normal((ph == 1).sum())
    probed = (u // 2) % 20 == 0
    for c in ("d_real_before", "d_real_after", "d_fake_before", "d_fake_after", "acc_real", "acc_fake"):
        r[probed, COLUMNS.index(c)] = 0.5 + 0.01 * rng.standard_normal(probed.sum())
    return r


def main():
    app = QApplication.instance() or QApplication([])  # noqa: F841
    plots = [ScorePlot(), LossPlot(), AccuracyPlot()]
    for p in plots:
        p.resize(500, 300)
        p.show()
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000, 400_000, 800_000]
    n = 0
    for target in sizes:
        batch = rows(n, target - n)
        n = target
        for p in plots:
            p.append(batch, batch[:, COLUMNS.index("phase")])
            p.set_smoothing(0.6)
        times = []
        for _ in range(15):   # then a few batches as the window receives them, each drawn
            batch = rows(n, 8)
            n += 8
            t = time.perf_counter()
            for p in plots:
                p.append(batch, batch[:, COLUMNS.index("phase")])
                p.redraw()
                p.repaint()
            times.append(time.perf_counter() - t)
        print(f"history {n:>8d} updates: redraw + repaint of the 3 plots, median {1000 * np.median(times):.1f} ms")


if __name__ == "__main__":
    main()
