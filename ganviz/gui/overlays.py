"""Other runs' curves drawn over a metric plot, as TensorBoard compares runs: each run in a
colour of its own, each of the plot's series in a line style, named once in the plot's title.
A mixin of plots.MetricPlot (it uses the plot's series specs, smoothing and log axis)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ganviz.core.history import COLUMNS

from .series import Series

OVERLAY_STYLES = (Qt.SolidLine, Qt.DashLine, Qt.DotLine, Qt.DashDotLine)
OVERLAY_STYLE_NAMES = ("\u2014", "- -", "\u00b7\u00b7", "-\u00b7")


class OverlayMixin:
    # (class-level empties: set_overlays gives each plot its own)
    _overlays: dict = {}          # (run name, series key) -> Series
    _overlay_curves: dict = {}    # (run name, series key) -> the curve drawn
    _overlay_runs: dict = {}      # run name -> colour
    _overlay_keys: list = []      # this plot's series that the runs are drawn for
    _overlay_drawn = None         # (smoothing, log axis) the curves were drawn with
    _overlay_done: dict = {}      # run name -> (rows drawn, the last one's x)

    def set_overlays(self, runs: dict):
        """Other runs' curves over this plot, as TensorBoard compares runs: runs is {name:
        (columns, colour)}, columns as RunReader.columns() gives them (a child's from its branch
        point on). Each run gets its colour; each of this plot's visible series its line style
        (solid, dashed, ...), named once in the title. Replaces the overlays before ({}: none);
        a run sent again with more rows (a live run) only has its new rows added."""
        keys = [k for k in self._spec if self._curves[k][1].isVisible()]
        for name in list(self._overlay_runs):
            columns, colour = runs.get(name, (None, None))
            if keys != self._overlay_keys or colour != self._overlay_runs[name] \
                    or not self._continues(name, columns):
                self._drop_overlay(name)
        self._overlay_keys = keys
        if not self._overlay_runs:    # a fresh dict per plot (the class's stays empty)
            self._overlays, self._overlay_curves, self._overlay_runs, self._overlay_done = {}, {}, {}, {}
        for name, (columns, colour) in runs.items():
            done = self._overlay_done.get(name, (0, None))[0]
            if name not in self._overlay_runs:
                self._add_overlay(name, colour)
            n = len(columns["x"])
            tail = {k: v[done:] for k, v in columns.items()}
            for key in keys:
                column, phase, _ = self._spec[key]
                self._overlays[(name, key)].extend(*_series_of(tail, COLUMNS[column], phase))
            self._overlay_done[name] = (n, columns["x"][n - 1] if n else None)
        self._overlay_runs = {name: colour for name, (_, colour) in runs.items()}   # in the given order
        self._overlay_drawn = None
        self._update_title()
        self._dirty = True
        self.redraw()

    def _continues(self, name, columns) -> bool:
        """Whether `columns` are the run drawn so far, with perhaps more rows after them."""
        if columns is None:
            return False
        n, last = self._overlay_done.get(name, (0, None))
        return len(columns["x"]) >= n and (n == 0 or columns["x"][n - 1] == last)

    def _add_overlay(self, name, colour):
        self._overlay_runs[name] = colour
        for i, key in enumerate(self._overlay_keys):
            curve = self.plot(pen=pg.mkPen(colour, width=1.5, style=OVERLAY_STYLES[i % len(OVERLAY_STYLES)]))
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            curve.setZValue(-5)   # behind this run's own curves
            self._overlays[(name, key)] = Series(keep_all=True)
            self._overlay_curves[(name, key)] = curve

    def _drop_overlay(self, name):
        for key in [k for k in self._overlay_curves if k[0] == name]:
            self.removeItem(self._overlay_curves.pop(key))
            del self._overlays[key]
        del self._overlay_runs[name]
        self._overlay_done.pop(name, None)

    def overlay_curves(self) -> dict:
        """{(run name, series key): (x, y)} as drawn now (smoothed if the plot smooths)."""
        return {k: (c.xData, c.yData) for k, c in self._overlay_curves.items()}

    def _redraw_overlays(self):
        """Redrawn only when smoothing or the log axis changed since (the runs are fixed)."""
        state = (self.smoothing, self.log_y)
        if not self._overlays or self._overlay_drawn == state:
            return
        self._overlay_drawn = state
        for key, s in self._overlays.items():
            if s.weight != self.smoothing:
                s.set_weight(self.smoothing)
            x, y, sm = s.display()
            y = sm if self.smoothing > 0 else y
            if self.log_y:
                y = np.where(y > 0, y, np.nan)
            self._overlay_curves[key].setData(x, y, connect="finite")

    def _overlay_readout(self, x: float) -> tuple[list[str], float]:
        """The hover readout's lines for the overlaid runs at iteration x ("child D(x): 0.53"),
        each run's value nearest x where x is within the run (a child has none before its
        branch point), and the x of the first value given."""
        lines, at = [], None
        for (name, key), s in self._overlays.items():
            xs, y, sm = s.view()
            if s.n == 0 or not xs[0] <= x <= xs[-1]:
                continue
            i = int(np.clip(np.searchsorted(xs, x), 0, s.n - 1))
            value = sm[i] if self.smoothing > 0 and not self.step_view else y[i]
            lines.append(f"{name} {self._spec[key][2]}: {value:.4g}")
            at = xs[i] if at is None else at
        return lines, at

    def _overlay_legend(self) -> list:
        """The runs in their colours, then (with several series) which line style is which."""
        if not self._overlay_runs:
            return []
        # one line: a swatch per run (the Runs tab names them beside the same swatches, and the
        # hover readout names each), so a few runs never squeeze the plot under its title
        swatches = " ".join(f"<span style='color:{_hex(colour)}'>&#9644;</span>"
                            for colour in self._overlay_runs.values())
        entries = [(f"runs {'# ' * len(self._overlay_runs)}(Runs tab)",
                    f"<span style='color:#666'>runs {swatches} (Runs tab)</span>")]
        if len(self._overlay_keys) > 1:
            styles = [f"{OVERLAY_STYLE_NAMES[i % len(OVERLAY_STYLE_NAMES)]} {self._spec[k][2]}"
                      for i, k in enumerate(self._overlay_keys)]
            entries += [(text, f"<span style='color:#666'>{text}</span>") for text in styles]
        return entries


def _series_of(columns: dict, column: str, phase) -> tuple[np.ndarray, np.ndarray]:
    """x and the measured values of `column` (of `phase`'s updates only, if given)."""
    y = np.asarray(columns[column], dtype=np.float64)
    mask = np.isfinite(y)
    if phase is not None:
        mask &= np.asarray(columns["phase"]) == phase
    return np.asarray(columns["x"], dtype=np.float64)[mask], y[mask]


def _hex(colour) -> str:
    return "#%02x%02x%02x" % tuple(colour[:3])
