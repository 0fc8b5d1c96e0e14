"""Live metric plots: scores, losses, D accuracy. Each curve keeps its newest points and a
bounded envelope of the rest (series.py); the screen gets at most DISPLAY_BINS min/max pairs
per curve. Curves are updated with setData, never
re-created."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ganviz.core.history import COLUMNS

from .overlays import OverlayMixin
from .series import Series

D_COLOUR = (52, 120, 246)      # the discriminator's colour everywhere
G_COLOUR = (235, 120, 30)      # the generator's
REAL_COLOUR = (40, 160, 90)
# one colour per class in conditional runs (Tableau's ten; more classes get evenly spaced hues)
TEN_CLASSES = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def class_colours(classes: int) -> list[tuple]:
    """An RGB colour for each of `classes` classes, all distinct."""
    if classes <= len(TEN_CLASSES):
        return list(TEN_CLASSES[:classes])
    return [pg.intColor(i, hues=classes, values=1, maxValue=220).getRgb()[:3] for i in range(classes)]
GREY = (130, 130, 130)
STEP_VIEW_UPDATES = 24         # the step view shows this many recent updates ...
STEP_VIEW_MIN_SPAN = 0.01      # ... on a y span of at least this, so one step's change shows
STEP_MARKER_SIZE = 11
TITLE_LINE_HEIGHT = 15         # pixels per title line at 9 pt
TITLE_CHARS = 30               # a title line's least length budget: fits a 260-pixel-wide plot
TITLE_CHAR_WIDTH = 8.0         # pixels per character at 9 pt, with room to spare (wider plots: longer lines)


class MetricPlot(OverlayMixin, pg.PlotWidget):
    """One plot of several named series taken from record columns, with smoothing (raw curve
    faint behind), a log-axis option, dashed reference lines labelled on the right axis
    (outside the data), a hover readout, and a step view that zooms onto the last few updates
    with a large marker per update (● D update, ▲ G update). Other runs' curves can be drawn
    over it (overlays.py: set_overlays)."""

    step_legend = False   # the step view's "● D ▲ G" key: in the top plot only (the same in all)

    def __init__(self, title: str, y_label: str, parent=None, x_label: bool = True):
        super().__init__(parent=parent, background="w")
        self.base_title = title
        self.setLabel("bottom", "iteration")
        self.getAxis("bottom").showLabel(x_label)   # stacked plots: only the lowest names its axis
        self.setLabel("left", y_label)
        self.series: dict[str, Series] = {}
        self._curves: dict[str, tuple] = {}
        self._marks: dict[str, pg.ScatterPlotItem] = {}
        self._spec: dict[str, tuple] = {}
        self._lines: list[pg.InfiniteLine] = []
        self._refs: list[tuple] = []          # (value, right-axis label, colour)
        self.ref_note = ""                    # what the dashed lines mean, for the legend
        self._dirty = False
        self.smoothing = 0.0
        self.step_view = False
        self._recent_x = np.empty(0)          # x of the last STEP_VIEW_UPDATES updates, every phase
        self.readout = pg.TextItem(color="#222", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 210))
        self.readout.setZValue(100)
        self.addItem(self.readout, ignoreBounds=True)
        self.readout.hide()
        self.showAxis("right")
        right = self.getAxis("right")
        right.setTextPen("#555")
        right.setPen(pg.mkPen(GREY))
        right.setTicks([[], []])
        self.getAxis("left").enableAutoSIPrefix(False)   # "(x0.001)" and 495..505 confuse a learner
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
        # the timeline's moment: a vertical line at its iteration (hidden while live)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(90, 90, 90, 200, width=1.5))
        self.cursor.setZValue(50)
        self.addItem(self.cursor, ignoreBounds=True)
        self.cursor.hide()
        self.pinCursor = pg.InfiniteLine(angle=90, movable=False,   # A/B: A's moment, dashed
                                         pen=pg.mkPen(90, 90, 90, 200, width=1.5, style=Qt.DashLine))
        self.pinCursor.setZValue(50)
        self.addItem(self.pinCursor, ignoreBounds=True)
        self.pinCursor.hide()
        self._update_title()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if event is not None and abs(event.size().width() - event.oldSize().width()) > 4 \
                and hasattr(self, "base_title") and not getattr(self, "closed", False):   # closing: items gone
            self._update_title()

    @property
    def log_y(self) -> bool:
        return self.getPlotItem().ctrl.logYCheck.isChecked()

    def add_series(self, key, label, colour, column, phase=None, width=1, style=Qt.SolidLine):
        """Plot `column` of the records (only those of `phase` if given) as `label`."""
        s = Series()
        raw = self.plot(pen=pg.mkPen(colour + (60,), width=1))
        smooth = self.plot(pen=pg.mkPen(colour, width=width, style=style), name=label)
        for c in (raw, smooth):
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
        marks = pg.ScatterPlotItem(size=STEP_MARKER_SIZE, pen=pg.mkPen(colour, width=2))
        marks.setZValue(10)
        self.addItem(marks)
        self.series[key] = s
        self._curves[key] = (raw, smooth)
        self._marks[key] = marks
        self._spec[key] = (COLUMNS.index(column), phase, label)
        self._update_title()

    def set_visible(self, key, visible: bool):
        for c in self._curves[key]:
            c.setVisible(visible)
        self._marks[key].setVisible(visible)
        self._update_title()

    def _update_title(self):
        """The title names each visible curve in its colour: a legend that never covers data.
        Lines are kept as short as the plot is wide (TITLE_CHARS at least) so the title never
        widens the plot past its column; a resize lays them out again."""
        entries = []     # (plain text for the width budget, html)
        for key, (raw, smooth) in self._curves.items():
            if smooth.isVisible():
                pen = smooth.opts["pen"]
                label = self._spec[key][2] + (" (dashed)" if pen.style() != Qt.SolidLine else "")
                entries.append((label, f"<span style='color:{pen.color().name()}'>&#9644; {label}</span>"))
        if self.ref_note:
            entries.append((self.ref_note, f"<span style='color:#666'>- - {self.ref_note}</span>"))
        entries += self._overlay_legend()
        if self.step_view and self.step_legend:
            text = f"last {STEP_VIEW_UPDATES} updates: ● D ▲ G"
            entries.append((text, f"last {STEP_VIEW_UPDATES} updates: "
                                  f"<span style='color:{_hex(D_COLOUR)}'>&#9679; D</span>&nbsp;"
                                  f"<span style='color:{_hex(G_COLOUR)}'>&#9650; G</span>"))
        budget = max(TITLE_CHARS, int((self.width() - 20) / TITLE_CHAR_WIDTH))   # a wide plot: fewer lines
        lines, line, used = [], [], 0
        for text, html in entries:
            if line and used + len(text) + 3 > budget:
                lines.append("&nbsp;&nbsp;".join(line))
                line, used = [], 0
            line.append(html)
            used += len(text) + 3
        lines.append("&nbsp;&nbsp;".join(line))
        lines = [f"<b>{self.base_title}</b>"] + lines
        self.setTitle("<br>".join(lines), color="#222", size="9pt")
        # pyqtgraph gives a title one 30-pixel row: a longer legend would be cut at its top
        height = 6 + TITLE_LINE_HEIGHT * len(lines)
        item = self.getPlotItem()
        item.titleLabel.setMaximumHeight(height)
        item.layout.setRowFixedHeight(0, height)

    def set_reference_lines(self, values, labels=(), colours=()):
        """Dashed horizontal lines at `values`, labelled on the right axis, outside the curves."""
        labels, colours = list(labels) + [""] * len(values), list(colours) + [GREY] * len(values)
        self._refs = [(v, t, c) for v, t, c in zip(values, labels, colours) if v is not None]
        self._place_reference_lines()

    def _place_reference_lines(self):
        for line in self._lines:
            self.removeItem(line)
        self._lines, ticks = [], []
        for v, text, colour in self._refs:
            if self.log_y and v <= 0:
                continue          # a log axis has no place for it
            pos = float(np.log10(v)) if self.log_y else v   # log mode: the view is in log10 units
            line = pg.InfiniteLine(pos=pos, angle=0, pen=pg.mkPen(colour, width=1, style=Qt.DashLine))
            self.addItem(line)
            self._lines.append(line)
            ticks.append((pos, text))
        self.getAxis("right").setTicks([ticks, []])

    def set_cursor(self, x: float | None, pinned: float | None = None):
        """Mark iteration x (a recorded moment the timeline shows), or nothing (None: live);
        in A/B also `pinned`, A's moment (dashed)."""
        for line, at in ((self.cursor, x), (self.pinCursor, pinned)):
            line.setVisible(at is not None)
            if at is not None:
                line.setPos(float(at))

    def clear_data(self):
        for s in self.series.values():
            s.clear()
        self._recent_x = np.empty(0)
        self._dirty = True
        self.follow = True
        self._fit(force=True)

    def set_step_view(self, on: bool):
        """Zoom onto the last STEP_VIEW_UPDATES updates with a large marker per update (while
        the user steps), or show the whole history again."""
        if on == self.step_view:
            return
        self.step_view = on
        self.follow = True
        self._update_title()
        self._dirty = True
        self.redraw()

    def _stop_following(self, *_):
        self.follow = False

    def _follow_again(self):
        self.follow = True
        self.getPlotItem().vb.disableAutoRange()
        self._fit(force=True)

    def _shown(self):
        return [(k, s) for k, s in self.series.items() if s.n and self._curves[k][1].isVisible()] \
            + [(k, s) for k, s in self._overlays.items() if s.n]

    def _fit(self, force=False):
        """Grow the view to contain every visible point, with headroom; never hide data. In
        the step view: the last few updates, zoomed so a single update's change is visible."""
        if not self.follow or self.log_y:
            return
        if self.step_view and len(self._recent_x):
            self._fit_steps()
            return
        shown = [s for _, s in self._shown()]
        xmax = max((s.last_x() for s in shown), default=1.0)
        (x0, x1), (y0, y1) = self.getPlotItem().vb.viewRange()
        if force or xmax > x1 or x1 > 4 * max(xmax, 10) or x0 > 0:
            self.setXRange(0, max(10.0, xmax * 1.3), padding=0.02)
        if self.fixed_y is not None:
            lo, hi = self.fixed_y
            lo = min([lo] + [s.lo for s in shown])
            hi = max([hi] + [s.hi for s in shown])
            if force or (lo, hi) != (y0, y1) and (lo < y0 or hi > y1) or y1 - y0 < 0.9 * (hi - lo):
                self.setYRange(lo, hi, padding=0.02)
            return
        lo = min((s.lo for s in shown), default=0.0)
        hi = max((s.hi for s in shown), default=1.0)
        if force or lo < y0 or hi > y1 or (hi - lo) < 0.25 * (y1 - y0):
            span = max(hi - lo, 1e-3)
            self.setYRange(lo - 0.15 * span, hi + 0.15 * span, padding=0)

    def _fit_steps(self):
        x0, x1 = float(self._recent_x[0]), float(self._recent_x[-1])
        span = max(x1 - x0, 1.0)
        x0, x1 = x0 - 0.06 * span, x1 + 0.12 * span
        values = [s.view()[1][np.searchsorted(s.view()[0], x0):] for _, s in self._shown()]
        values = np.concatenate(values) if values else np.empty(0)
        values = values[np.isfinite(values)]
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        pad = max(hi - lo, STEP_VIEW_MIN_SPAN) * 0.25
        mid = 0.5 * (lo + hi)
        half = max(hi - lo, STEP_VIEW_MIN_SPAN) / 2 + pad
        self.setXRange(x0, x1, padding=0)
        self.setYRange(mid - half, mid + half, padding=0)

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
        self._recent_x = np.concatenate([self._recent_x, x])[-STEP_VIEW_UPDATES:]
        self._dirty = True

    def set_smoothing(self, weight: float) -> bool:
        """Smooth every curve with `weight`. False when a long run's old points were folded
        into bins: the curves are then emptied (smoothing kept) for the caller to append the
        run's stored rows again (main_window: from the session's history)."""
        self.smoothing = weight
        self._dirty = True
        if all([s.set_weight(weight) for s in self.series.values()]):
            return True
        for s in self.series.values():
            s.clear()
        return False

    def append_again(self, chunks):
        """The whole history again, chunk by chunk (after set_smoothing returned False); the
        step view's recent updates stay as they were."""
        recent = self._recent_x
        for rows in chunks:
            self.append(rows, rows[:, COLUMNS.index("phase")])
        self._recent_x = recent

    def redraw(self):
        if not self._dirty:
            return
        self._dirty = False
        log = self.log_y
        smoothed = self.smoothing > 0 and not self.step_view   # a step's own value, unsmoothed
        for key, s in self.series.items():
            x, y, sm = s.display()
            raw, smooth = self._curves[key]
            if log:  # non-positive values cannot sit on a log axis: leave gaps, not errors
                y, sm = np.where(y > 0, y, np.nan), np.where(sm > 0, sm, np.nan)
            raw.setData(x, y, connect="finite")
            smooth.setData(x, sm if smoothed else y, connect="finite")
            raw.setVisible(smoothed and smooth.isVisible())
            self._draw_marks(key, s)
        self._redraw_overlays()
        self._fit()

    def _draw_marks(self, key, s):
        """Step view: one large marker per update in the window, shaped by the network it
        changed. G updates sit on whole iterations, D updates between them (x = i + j/(k+1))."""
        marks = self._marks[key]
        if not self.step_view or s.n == 0 or not len(self._recent_x):
            marks.clear()
            return
        x, y, _ = s.view()
        start = np.searchsorted(x, self._recent_x[0])
        x, y = x[start:], y[start:]
        if self.log_y:
            x, y = x[y > 0], np.log10(y[y > 0])
        is_g = x == np.round(x)
        marks.setData(x=x, y=y, symbol=np.where(is_g, "t1", "o").tolist(),
                      brush=[pg.mkBrush(G_COLOUR if g else D_COLOUR) for g in is_g])

    def set_log_y(self, on: bool):
        self.getPlotItem().ctrl.logYCheck.setChecked(on)
        self.setLogMode(y=on)
        self._place_reference_lines()
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
            smoothed = self.smoothing > 0 and not self.step_view
            if not s.complete and point.x() < x[0]:   # folded into a bin: say its range
                y0, y1, s0, s1 = s.bin_at(point.x())
                lo, hi = (s0, s1) if smoothed else (y0, y1)
                lines.append(f"{self._spec[key][2]}: {lo:.4g} to {hi:.4g}")
                continue
            i = int(np.clip(np.searchsorted(x, point.x()), 0, s.r - 1))
            value = sm[i] if smoothed else y[i]
            lines.append(f"{self._spec[key][2]}: {value:.4g}")
        overlaid, at = self._overlay_readout(point.x())
        if not lines and not overlaid:
            self.readout.hide()
            return
        first = next((s for s in self.series.values() if s.n), None)
        if first is not None:
            x = first.view()[0]
            i = int(np.clip(np.searchsorted(x, point.x()), 0, first.r - 1))
            at = x[i] if first.complete or point.x() >= x[0] else point.x()
        self.readout.setText(f"iteration {at:.2f}\n" + "\n".join(lines + overlaid))
        self.readout.setPos(point.x(), point.y())
        self.readout.show()


def _hex(colour) -> str:
    return "#%02x%02x%02x" % colour[:3]


class ScorePlot(MetricPlot):
    """D(x) and D(G(z)) on the probe batch. In the step view each update is the segment that
    ends at its marker: from the value before it (the previous marker) to the value after."""

    step_legend = True

    def __init__(self, parent=None):
        super().__init__("D's scores (probe batch)", "score", x_label=False)
        self.add_series("d_real", "D(x)", REAL_COLOUR, "d_real_after")
        self.add_series("d_fake", "D(G(z))", G_COLOUR, "d_fake_after")
        self.add_series("d_fake_z1", "D_G_z1: before D update", D_COLOUR, "d_fake_before",
                        phase="D", width=1, style=Qt.DotLine)
        self.add_series("d_fake_z2", "D_G_z2: after D update", D_COLOUR, "d_fake_after",
                        phase="D", width=1, style=Qt.DashLine)
        self.show_d_update_split(False)
        self.set_probability(True)

    def show_d_update_split(self, on: bool):
        """D(G(z)) just before and just after each D update (the DCGAN example's D_G_z1, D_G_z2)."""
        for key in ("d_fake_z1", "d_fake_z2"):
            self.set_visible(key, on)
        self._dirty = True

    def set_probability(self, probability: bool):
        """Probability objectives sit on a fixed [0, 1] axis with the 0.5 line; critics autoscale."""
        if probability:
            self.fixed_y = (0.0, 1.0)   # least squares scores may leave it: the view then grows
            self.ref_note = "equilibrium 0.5"
            self.set_reference_lines([0.5], ["0.5"])
            self.setLabel("left", "D(·) = P(real)")
        else:
            self.fixed_y = None
            self.ref_note = "critic 0"
            self.set_reference_lines([0.0], ["0"])
            self.setLabel("left", "critic value")
        self._update_title()


class LossPlot(MetricPlot):
    def __init__(self, parent=None):
        super().__init__("Losses (training batch)", "loss", x_label=False)
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

    def set_objective(self, objective, conditional: str = "none"):
        """Dashed lines in each network's colour at its loss where D cannot tell real from fake
        (for AC-GAN, of the losses' adversarial part: its class terms add to both)."""
        d, g = objective.equilibrium_d, objective.equilibrium_g
        self.ref_note = "equilibrium" if conditional != "acgan" else "equilibrium without AC-GAN's class terms"
        self.set_reference_lines([d, g], [f"{d:.3g}" if d is not None else "", f"{g:.3g}" if g is not None else ""],
                                 [D_COLOUR, G_COLOUR])
        self._update_title()


class AccuracyPlot(MetricPlot):
    def __init__(self, parent=None):
        super().__init__("D's accuracy (probe batch)", "fraction correct")
        self.add_series("acc_real", "on real", REAL_COLOUR, "acc_real")
        self.add_series("acc_fake", "on fake", G_COLOUR, "acc_fake")
        self.fixed_y = (0.0, 1.0)
        self.ref_note = "0.5: D is guessing"
        self.set_reference_lines([0.5], ["0.5"])
        self._update_title()
