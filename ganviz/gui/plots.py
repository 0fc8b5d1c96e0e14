"""Live metric plots: scores, losses, D accuracy. Full history kept; the screen gets at most
DISPLAY_BINS min/max pairs per curve, never the data. Curves are updated with setData, never
re-created."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ganviz.core.history import COLUMNS

D_COLOUR = (52, 120, 246)      # the discriminator's colour everywhere
G_COLOUR = (235, 120, 30)      # the generator's
REAL_COLOUR = (40, 160, 90)
GREY = (130, 130, 130)
MAX_MARKERS = 400              # step markers drawn for at most this many recent updates
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


class MetricPlot(pg.PlotWidget):
    """One plot of several named series taken from record columns, with smoothing (raw curve
    faint behind), a log-axis option, horizontal reference lines and a hover readout."""

    def __init__(self, title: str, y_label: str, parent=None):
        super().__init__(parent=parent, background="w")
        self.base_title = title
        self.setTitle(title, color="#222", size="10pt")
        self.setLabel("bottom", "iteration")
        self.setLabel("left", y_label)
        self.series: dict[str, Series] = {}
        self._curves: dict[str, tuple] = {}
        self._spec: dict[str, tuple] = {}
        self._lines: list[pg.InfiniteLine] = []
        self._dirty = False
        self.smoothing = 0.0
        self.readout = pg.TextItem(color="#222", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 210))
        self.readout.setZValue(100)
        self.addItem(self.readout, ignoreBounds=True)
        self.readout.hide()
        self.getPlotItem().setDownsampling(auto=True, mode="peak")
        self.getPlotItem().setClipToView(True)
        self.scene().sigMouseMoved.connect(self._hover)
        # The view follows the data in steps with headroom, so the axes (costly to paint) are
        # redrawn only when the data outgrows them; zooming or panning stops the following,
        # the "A" button resumes it.
        self.fixed_y = None
        self.follow = True
        vb = self.getPlotItem().vb
        vb.disableAutoRange()
        vb.sigRangeChangedManually.connect(self._stop_following)
        self.getPlotItem().autoBtn.clicked.connect(self._follow_again)

    def add_series(self, key, label, colour, column, phase=None, width=1, style=Qt.SolidLine):
        """Plot `column` of the records (only those of `phase` if given) as `label`."""
        s = Series()
        raw = self.plot(pen=pg.mkPen(colour + (60,), width=1))
        smooth = self.plot(pen=pg.mkPen(colour, width=width, style=style), name=label)
        for c in (raw, smooth):
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
        self.series[key] = s
        self._curves[key] = (raw, smooth)
        self._spec[key] = (COLUMNS.index(column), phase, label)
        self._update_title()

    def set_visible(self, key, visible: bool):
        for c in self._curves[key]:
            c.setVisible(visible)
        self._update_title()

    def _update_title(self, extra: str = ""):
        """The title names each visible curve in its colour: a legend that never covers data."""
        keys = []
        for key, (raw, smooth) in self._curves.items():
            if smooth.isVisible():
                pen = smooth.opts["pen"]
                dash = " (dashed)" if pen.style() != Qt.SolidLine else ""
                keys.append(f"<span style='color:{pen.color().name()}'>&#9644; {self._spec[key][2]}{dash}</span>")
        self.setTitle(f"<b>{self.base_title}</b><br>{'&nbsp;&nbsp;'.join(keys)}{extra}", color="#222", size="9pt")

    def set_reference_lines(self, values, labels=()):
        for line in self._lines:
            self.removeItem(line)
        self._lines = []
        for v, text in zip(values, list(labels) + [""] * len(values)):
            if v is None:
                continue
            line = pg.InfiniteLine(pos=v, angle=0, pen=pg.mkPen(GREY, width=1, style=Qt.DashLine),
                                   label=text, labelOpts={"position": 0.98, "color": "#666", "anchors": [(1, 1), (1, 1)],
                                                                "fill": (255, 255, 255, 180)})
            self.addItem(line)
            self._lines.append(line)

    def clear_data(self):
        for s in self.series.values():
            s.clear()
        self._dirty = True
        self.follow = True
        self._fit(force=True)

    def _stop_following(self, *_):
        self.follow = False

    def _follow_again(self):
        self.follow = True
        self.getPlotItem().vb.disableAutoRange()
        self._fit(force=True)

    def _fit(self, force=False):
        """Grow the view to contain every visible point, with headroom; never hide data."""
        if not self.follow or self.getPlotItem().ctrl.logYCheck.isChecked():
            return
        shown = [s for k, s in self.series.items() if s.n and self._curves[k][1].isVisible()]
        xmax = max((s.x[s.n - 1] for s in shown), default=1.0)
        (x0, x1), (y0, y1) = self.getPlotItem().vb.viewRange()
        if force or xmax > x1 or x1 > 4 * max(xmax, 10):
            self.setXRange(0, max(10.0, xmax * 1.3), padding=0.02)
        if self.fixed_y is not None:
            lo, hi = self.fixed_y
            lo = min([lo] + [s.lo for s in shown])
            hi = max([hi] + [s.hi for s in shown])
            if force or (lo, hi) != (y0, y1) and (lo < y0 or hi > y1):
                self.setYRange(lo, hi, padding=0.02)
            return
        lo = min((s.lo for s in shown), default=0.0)
        hi = max((s.hi for s in shown), default=1.0)
        if force or lo < y0 or hi > y1 or (hi - lo) < 0.25 * (y1 - y0):
            span = max(hi - lo, 1e-3)
            self.setYRange(lo - 0.15 * span, hi + 0.15 * span, padding=0)

    def append(self, rows: np.ndarray, phases: np.ndarray):
        """rows: history rows (one per update); phases: 0 for D updates, 1 for G."""
        x = rows[:, COLUMNS.index("x")]
        for key, (col, phase, _) in self._spec.items():
            # nan: not measured (the probe, on most updates while training freely; loss_G
            # on D updates): a line joins the measured points
            mask = np.isfinite(rows[:, col])
            if phase is not None:
                mask &= phases == (0 if phase == "D" else 1)
            self.series[key].extend(x[mask], rows[mask, col])
        self._dirty = True

    def set_smoothing(self, weight: float):
        self.smoothing = weight
        for s in self.series.values():
            s.set_weight(weight)
        self._dirty = True

    def redraw(self):
        if not self._dirty:
            return
        self._dirty = False
        log = self.getPlotItem().ctrl.logYCheck.isChecked()
        for key, s in self.series.items():
            x, y, sm = s.display()
            raw, smooth = self._curves[key]
            if log:  # non-positive values cannot sit on a log axis: leave gaps, not errors
                y, sm = np.where(y > 0, y, np.nan), np.where(sm > 0, sm, np.nan)
            raw.setData(x, y, connect="finite")
            smooth.setData(x, sm if self.smoothing > 0 else y, connect="finite")
            raw.setVisible(self.smoothing > 0 and smooth.isVisible())
        self._fit()

    def set_log_y(self, on: bool):
        self.getPlotItem().ctrl.logYCheck.setChecked(on)
        self.setLogMode(y=on)
        if on:  # pyqtgraph's own autoscale knows log space
            self.enableAutoRange()
        else:
            self.getPlotItem().vb.disableAutoRange()
            self._fit(force=True)
        self._dirty = True
        self.redraw()

    def _hover(self, pos):
        vb = self.getPlotItem().vb
        if not self.sceneBoundingRect().contains(pos) or not self.series:
            self.readout.hide()
            return
        point = vb.mapSceneToView(pos)
        lines = []
        for key, s in self.series.items():
            x, y, sm = s.view()
            if s.n == 0 or not self._curves[key][1].isVisible():
                continue
            i = int(np.clip(np.searchsorted(x, point.x()), 0, s.n - 1))
            value = sm[i] if self.smoothing > 0 else y[i]
            lines.append(f"{self._spec[key][2]}: {value:.4g}")
        if not lines:
            self.readout.hide()
            return
        first = next(s for s in self.series.values() if s.n)
        i = int(np.clip(np.searchsorted(first.x[: first.n], point.x()), 0, first.n - 1))
        self.readout.setText(f"iteration {first.x[i]:.2f}\n" + "\n".join(lines))
        self.readout.setPos(point.x(), point.y())
        self.readout.show()


class ScorePlot(MetricPlot):
    """D(x) and D(G(z)) on the probe batch; markers show which network each step updated."""

    def __init__(self, parent=None):
        super().__init__("Discriminator scores on the probe batch", "score")
        self.add_series("d_real", "D(x)", REAL_COLOUR, "d_real_after")
        self.add_series("d_fake", "D(G(z))", G_COLOUR, "d_fake_after")
        self.add_series("d_fake_z1", "D_G_z1: before D update", D_COLOUR, "d_fake_before",
                        phase="D", width=1, style=Qt.DotLine)
        self.add_series("d_fake_z2", "D_G_z2: after D update", D_COLOUR, "d_fake_after",
                        phase="D", width=1, style=Qt.DashLine)
        self.show_d_update_split(False)
        self.d_marks = pg.ScatterPlotItem(symbol="o", size=8, brush=pg.mkBrush(D_COLOUR))
        self.g_marks = pg.ScatterPlotItem(symbol="t1", size=10, brush=pg.mkBrush(G_COLOUR))
        for m in (self.d_marks, self.g_marks):
            self.addItem(m)
        self.set_probability(True)

    def show_d_update_split(self, on: bool):
        """D(G(z)) just before and just after each D update (the DCGAN example's D_G_z1, D_G_z2)."""
        for key in ("d_fake_z1", "d_fake_z2"):
            self.set_visible(key, on)
        self._dirty = True

    def _update_title(self, extra=""):
        super()._update_title("&nbsp;&nbsp;<span style='color:#3478f6'>&#9679; D update</span>"
                              "&nbsp;<span style='color:#eb781e'>&#9650; G update</span>")

    def set_probability(self, probability: bool):
        """Probability objectives sit on a fixed [0, 1] axis with the 0.5 line; critics autoscale."""
        if probability:
            self.fixed_y = (0.0, 1.0)   # least squares scores may leave it: the view then grows
            self.set_reference_lines([0.5], ["equilibrium 0.5"])
            self.setLabel("left", "D(·): probability of real")
        else:
            self.fixed_y = None
            self.set_reference_lines([0.0], ["0"])
            self.setLabel("left", "critic value")

    def redraw(self):
        dirty = self._dirty
        super().redraw()
        if not dirty:
            return
        # Step markers: each update's D(G(z)) after it, shaped by the network it changed.
        s = self.series["d_fake"]
        x, y, _ = s.view()
        phase = self._phases[-len(x):] if len(x) else x
        lo = max(0, len(x) - MAX_MARKERS)
        x, y, phase = x[lo:], y[lo:], phase[lo:]
        show = len(x) > 0 and (x[-1] - x[0]) < 60  # only while the markers stay readable
        self.d_marks.setData(x[phase == 0], y[phase == 0]) if show else self.d_marks.clear()
        self.g_marks.setData(x[phase == 1], y[phase == 1]) if show else self.g_marks.clear()

    _phases = np.empty(0)

    def append(self, rows, phases):
        super().append(rows, phases)
        measured = np.isfinite(rows[:, self._spec["d_fake"][0]])   # the rows d_fake kept
        self._phases = np.concatenate([self._phases[-MAX_MARKERS:], phases[measured]])

    def clear_data(self):
        super().clear_data()
        self._phases = np.empty(0)


class LossPlot(MetricPlot):
    def __init__(self, parent=None):
        super().__init__("Losses", "loss")
        self.add_series("loss_d", "loss_D", D_COLOUR, "loss_d", phase="D")
        self.add_series("loss_d_real", "loss_D on real", D_COLOUR, "loss_d_real", phase="D",
                        width=1, style=Qt.DashLine)
        self.add_series("loss_d_fake", "loss_D on fake", D_COLOUR, "loss_d_fake", phase="D",
                        width=1, style=Qt.DotLine)
        self.add_series("loss_g", "loss_G", G_COLOUR, "loss_g", phase="G")
        self.show_parts(False)

    def show_parts(self, on: bool):
        for key in ("loss_d_real", "loss_d_fake"):
            self.set_visible(key, on)
        self._dirty = True

    def set_objective(self, objective):
        self.set_reference_lines([objective.equilibrium_d, objective.equilibrium_g],
                                 [f"loss_D at equilibrium {objective.equilibrium_d:.3g}"
                                  if objective.equilibrium_d is not None else "",
                                  f"loss_G at equilibrium {objective.equilibrium_g:.3g}"
                                  if objective.equilibrium_g is not None else ""])


class AccuracyPlot(MetricPlot):
    def __init__(self, parent=None):
        super().__init__("Discriminator accuracy on the probe batch", "accuracy")
        self.add_series("acc_real", "on real", REAL_COLOUR, "acc_real")
        self.add_series("acc_fake", "on fake", G_COLOUR, "acc_fake")
        self.fixed_y = (0.0, 1.0)
        self.set_reference_lines([0.5], ["50 %"])
