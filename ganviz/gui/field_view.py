"""The 2D field: real and generated points, D's output over the plane as a heatmap, the move
G's loss asks of each fake (arrows), and G's warped noise grid (manifold). Each layer can be
toggled; the view follows the data until the user zooms or pans. In Draw mode, dragging the
mouse paints a distribution that can become the training data."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QApplication, QCheckBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from .plots import G_COLOUR, REAL_COLOUR

LAYERS = ("heatmap", "real", "fake", "arrows", "manifold")


class FieldView(QWidget):
    boundsChanged = Signal(tuple)        # the visible plane (x0, x1, y0, y1), for the heatmap
    drawingSubmitted = Signal(object)    # (N, 2) points sampled from the drawn strokes

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("fieldView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plotWidget = pg.PlotWidget(background="w", objectName="fieldPlot")
        self.plot = self.plotWidget.getPlotItem()
        self.plot.setTitle("2D field: D's belief, G's samples and the pull of G's loss", color="#222", size="10pt")
        self.plot.setAspectLocked(True)
        self.vb = self.plot.getViewBox()

        self.heatmap = pg.ImageItem(axisOrder="row-major")
        self.heatmap.setZValue(-10)
        self.colorBar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("CET-D1A"),
                                        interactive=False, width=12)
        self.colorBar.setImageItem(self.heatmap, insert_in=self.plot)
        self.manifold = pg.PlotCurveItem(pen=pg.mkPen(120, 120, 120, 110, width=1), connect="finite")
        self.real = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(REAL_COLOUR + (110,)))
        self.fake = pg.ScatterPlotItem(size=6, pen=pg.mkPen(90, 40, 0, 160), brush=pg.mkBrush(G_COLOUR + (220,)))
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen(60, 60, 60, 200, width=1.2), connect="pairs")
        self.strokes = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(30, 30, 200, 150))
        for item in (self.heatmap, self.manifold, self.real, self.arrows, self.fake, self.strokes):
            self.plot.addItem(item)
        self.items = {"heatmap": self.heatmap, "real": self.real, "fake": self.fake,
                      "arrows": self.arrows, "manifold": self.manifold}
        layout.addWidget(self.plotWidget, 1)

        bar = QHBoxLayout()
        self.layerChecks = {}
        for name, label, tip in (
                ("heatmap", "D heatmap", "D's output at every point of the visible plane"),
                ("real", "Real", "Samples of the real data"),
                ("fake", "Generated", "G(z) for the fixed noise: the same latent points, so you can follow them"),
                ("arrows", "G gradient", "For each fake: the direction and relative size of the move G's loss asks for"),
                ("manifold", "G manifold", "How G warps a regular grid of its noise space")):
            check = QCheckBox(label, objectName=f"{name}LayerCheck", checked=True)
            check.setToolTip(tip)
            check.toggled.connect(lambda on, n=name: self.items[n].setVisible(on))
            bar.addWidget(check)
            self.layerChecks[name] = check
        bar.addStretch(1)
        self.drawButton = QPushButton("Draw", objectName="drawButton", checkable=True)
        self.drawButton.setToolTip("Drag on the field to paint a distribution; then 'Use drawing'")
        self.drawButton.toggled.connect(self._set_drawing)
        self.useDrawingButton = QPushButton("Use drawing", objectName="useDrawingButton", enabled=False)
        self.useDrawingButton.clicked.connect(self.submit_drawing)
        self.clearDrawingButton = QPushButton("Clear", objectName="clearDrawingButton")
        self.clearDrawingButton.clicked.connect(self.clear_drawing)
        for b in (self.drawButton, self.useDrawingButton, self.clearDrawingButton):
            bar.addWidget(b)
        layout.addLayout(bar)

        self.follow = True
        self._levels = self._label = None
        self.stroke_points: list = []
        self.frames = 0
        self._extent = None
        self.vb.sigRangeChangedManually.connect(self._stop_following)
        self.vb.sigRangeChanged.connect(lambda *_: self.boundsChanged.emit(self.bounds()))
        self.plot.autoBtn.clicked.connect(self._follow_again)
        self.plotWidget.scene().sigMouseMoved.connect(self._mouse_moved)

    # ---------------------------------------------------------------- data in
    def bounds(self) -> tuple:
        (x0, x1), (y0, y1) = self.vb.viewRange()
        return (x0, x1, y0, y1)

    def reset(self):
        self.follow = True
        self._extent = None
        for item in (self.real, self.fake, self.strokes):
            item.clear()
        self.arrows.setData([], [])
        self.manifold.setData([], [])
        self.heatmap.clear()

    def show_real(self, real: np.ndarray):
        self.real.setData(real[:, 0], real[:, 1])
        self._follow_data(real)

    def show_field(self, field):
        self.frames += 1
        x0, x1, y0, y1 = field.bounds
        self.heatmap.setImage(field.heatmap, autoLevels=False)
        self.heatmap.setRect(x0, y0, x1 - x0, y1 - y0)
        if field.probability:
            levels, label = (0.0, 1.0), "D(x): probability of real"
        else:
            lo, hi = np.nanpercentile(field.heatmap, [2, 98]) if np.isfinite(field.heatmap).any() else (-1, 1)
            levels, label = (float(lo), float(hi) if hi > lo else float(lo) + 1), "D(x): critic value"
        if levels != self._levels:   # the colour bar repaints and re-lays-out on every change
            self.colorBar.setLevels(levels)
            self._levels = levels
        if label != self._label:
            self.colorBar.axis.setLabel(label)
            self._label = label
        self.fake.setData(field.fake[:, 0], field.fake[:, 1])
        self._draw_arrows(field.fake, field.push)
        self._draw_manifold(field.manifold)

    def _draw_arrows(self, fake, push):
        norms = np.linalg.norm(push, axis=1)
        top = np.nanmax(norms) if len(norms) and np.isfinite(norms).any() else 0.0
        if top <= 0:
            self.arrows.setData([], [])
            return
        (x0, x1), _ = self.vb.viewRange()
        v = push / top * 0.08 * (x1 - x0)        # the longest arrow is 8 % of the view's width
        tip = fake + v
        # a small head: two short strokes back from the tip at +-25 degrees
        back = -v * 0.3
        c, s = np.cos(0.44), np.sin(0.44)
        left = tip + np.stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]], 1)
        right = tip + np.stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]], 1)
        segments = np.stack([fake, tip, tip, left, tip, right], 1).reshape(-1, 2)
        self.arrows.setData(segments[:, 0], segments[:, 1])

    def _draw_manifold(self, grid):
        rows, cols, _ = grid.shape
        gap = np.full((1, 2), np.nan)
        lines = [np.vstack([grid[i], gap]) for i in range(rows)]
        if rows > 1:
            lines += [np.vstack([grid[:, j], gap]) for j in range(cols)]
        pts = np.vstack(lines)
        self.manifold.setData(pts[:, 0], pts[:, 1])

    # ---------------------------------------------------------------- view
    def _follow_data(self, real):
        """Frame the real data (with a margin) unless the user has moved the view."""
        finite = real[np.isfinite(real).all(1)]
        if not self.follow or len(finite) == 0:
            return
        lo, hi = finite.min(0).astype(float), finite.max(0).astype(float)
        pad = 0.25 * max(float((hi - lo).max()), 1e-3)
        extent = tuple(float(v) for v in (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad))
        if self._extent is None or not np.allclose(extent, self._extent, rtol=0.05, atol=0.05 * pad):
            self._extent = extent
            self.vb.setRange(xRange=extent[:2], yRange=extent[2:], padding=0)

    def _stop_following(self, *_):
        self.follow = False

    def _follow_again(self):
        self.follow = True
        self._extent = None
        self.vb.disableAutoRange()

    # ---------------------------------------------------------------- drawing
    def _set_drawing(self, on):
        self.vb.setMouseEnabled(not on, not on)
        self.plotWidget.setCursor(Qt.CrossCursor if on else Qt.ArrowCursor)

    def _mouse_moved(self, pos):
        if not self.drawButton.isChecked() or not (QApplication.mouseButtons() & Qt.LeftButton):
            return
        p = self.vb.mapSceneToView(pos)
        self.add_stroke([(p.x(), p.y())])

    def add_stroke(self, points):
        self.stroke_points.extend((float(x), float(y)) for x, y in points)
        pts = np.array(self.stroke_points)
        self.strokes.setData(pts[:, 0], pts[:, 1])
        self.useDrawingButton.setEnabled(len(self.stroke_points) >= 2)

    def clear_drawing(self):
        self.stroke_points.clear()
        self.strokes.clear()
        self.useDrawingButton.setEnabled(False)

    def drawing_samples(self, n: int = 20000, seed: int = 0) -> np.ndarray:
        """Sample the drawn density: every stroke point is a small Gaussian bump."""
        pts = np.array(self.stroke_points)
        (x0, x1), _ = self.vb.viewRange()
        rng = np.random.default_rng(seed)
        centres = pts[rng.integers(len(pts), size=n)]
        return (centres + rng.normal(scale=0.01 * (x1 - x0), size=(n, 2))).astype(np.float32)

    def submit_drawing(self):
        if len(self.stroke_points) < 2:
            return
        self.drawingSubmitted.emit(self.drawing_samples())
        self.drawButton.setChecked(False)
        self.clear_drawing()
