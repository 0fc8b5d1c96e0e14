"""The 2D field: real and generated points, D's output over the plane as a heatmap, the move
G's loss asks of some fakes (arrows), G's warped noise grid (manifold) and, on request, how
D's output changed in its last update. Each layer can be toggled; the view follows the real
data and the fakes until the user zooms or pans. In Draw mode, dragging the mouse paints a
distribution that can become the training data."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QGridLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from ganviz.core.field import ARROW_COUNT, ARROW_FRACTION, arrow_segments, follow_extent

from .plots import G_COLOUR, REAL_COLOUR, class_colours

TITLE = "2D field: D's belief, G's samples and the pull of G's loss"

LAYERS = ("heatmap", "change", "real", "fake", "arrows", "manifold")
HEAT_MAP = "CET-D1A"      # D's belief: blue (fake) - white - red (real)
CHANGE_MAP = "CET-D10"    # its change: cyan (fell) - white - magenta (rose); not to be read as D itself
# Drawing order, back to front: the real data on top, so the fakes never hide it.
Z = {"heatmap": -10, "change": -9, "manifold": 0, "fake": 1, "arrows": 2, "real": 3, "strokes": 4}


class FieldView(QWidget):
    boundsChanged = Signal(tuple)        # the visible plane (x0, x1, y0, y1), for the heatmap
    drawingSubmitted = Signal(object)    # (N, 2) points sampled from the drawn strokes
    heatClassChanged = Signal(int)       # conditional runs: the class D's heatmap is to show

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("fieldView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.plotWidget = pg.PlotWidget(background="w", objectName="fieldPlot")
        self.plot = self.plotWidget.getPlotItem()
        self.plot.setTitle(TITLE, color="#222", size="10pt")
        self.plot.setAspectLocked(True)
        self.vb = self.plot.getViewBox()

        self.heatmap = pg.ImageItem(axisOrder="row-major", colorMap=pg.colormap.get(HEAT_MAP))
        self.change = pg.ImageItem(axisOrder="row-major", colorMap=pg.colormap.get(CHANGE_MAP))
        self.change.setVisible(False)
        # One colour bar for whichever of the two images is in front; no image is linked to
        # it, so each keeps its own colour map and levels.
        self.colorBar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(HEAT_MAP),
                                        interactive=False, width=12)
        self.colorBar.setImageItem([], insert_in=self.plot)
        self.colorBar.axis.enableAutoSIPrefix(False)   # "0.002", not "2 (x0.001)"
        self.colorBar.axis.setWidth(62)                # room for "-0.015" beside the label
        self.manifold = pg.PlotCurveItem(pen=pg.mkPen(80, 80, 80, 85, width=1), connect="finite")
        self.fake = pg.ScatterPlotItem(size=5, pen=pg.mkPen(150, 70, 0, 110), brush=pg.mkBrush(G_COLOUR + (170,)))
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen(30, 30, 30, 150, width=1), connect="pairs")
        self.real = pg.ScatterPlotItem(size=7, pen=pg.mkPen(255, 255, 255, 230, width=1),
                                       brush=pg.mkBrush(REAL_COLOUR + (235,)))
        self.strokes = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(30, 30, 200, 150))
        self.items = {"heatmap": self.heatmap, "change": self.change, "real": self.real, "fake": self.fake,
                      "arrows": self.arrows, "manifold": self.manifold, "strokes": self.strokes}
        for name, item in self.items.items():
            item.setZValue(Z[name])
            self.plot.addItem(item)
        layout.addWidget(self.plotWidget, 1)
        # What the manifold and the change layer show, in words (true to this run's numbers).
        self.note = QLabel(objectName="fieldNote", wordWrap=True)
        self.note.setStyleSheet("color: #555;")
        # two lines always: a note that grows would shrink the plot, and the view would move
        self.note.setFixedHeight(2 * self.note.fontMetrics().lineSpacing() + 2)
        layout.addWidget(self.note)

        bar = QGridLayout()   # two rows, so a 1024-pixel window still fits the field beside the plots
        bar.setContentsMargins(0, 0, 0, 0)
        self.layerChecks = {}
        for name, label, tip, on in (
                ("heatmap", "D heatmap", "D's output at every point of the visible plane", True),
                ("real", "Real", "Samples of the real data (green, drawn on top)", True),
                ("fake", "Generated", "G(z) for the fixed noise: the same latent points, so you can follow them",
                 True),
                ("arrows", "G gradient",
                 f"For up to {ARROW_COUNT} fakes, spread out (the same ones every frame): the direction of the "
                 "move G's loss asks for, −∂loss_G/∂G(z) with D held fixed.\nThe length shows its size "
                 "relative to the largest drawn (square-root scale, so small ones stay visible): the longest is "
                 f"{ARROW_FRACTION:.0%} of the view.", True),
                ("manifold", "G manifold", "How G warps a regular grid of its noise space (the words under the "
                 "plot say which grid)", True),
                ("change", "Change in D",
                 "Where D's belief moved: D's output now minus before its last update (or the updates "
                 "since the previous frame while training), drawn over the D heatmap with its own scale: "
                 "magenta rose, cyan fell", False)):
            check = QCheckBox(label, objectName=f"{name}LayerCheck", checked=on)
            check.setToolTip(tip)
            check.toggled.connect(lambda on, n=name: self._set_layer(n, on))
            bar.addWidget(check, len(self.layerChecks) // 3, len(self.layerChecks) % 3)
            self.layerChecks[name] = check
        bar.setColumnStretch(3, 1)
        self.drawButton = QPushButton("Draw", objectName="drawButton", checkable=True)
        self.drawButton.setToolTip("Drag on the field to paint a distribution; then 'Use drawing'")
        self.drawButton.toggled.connect(self._set_drawing)
        self.useDrawingButton = QPushButton("Use drawing", objectName="useDrawingButton", enabled=False)
        self.useDrawingButton.clicked.connect(self.submit_drawing)
        self.clearDrawingButton = QPushButton("Clear", objectName="clearDrawingButton")
        self.clearDrawingButton.clicked.connect(self.clear_drawing)
        # conditional runs: which class D's heatmap (and G's manifold) is drawn for
        self.heatClassBox = QComboBox(objectName="heatClassBox", visible=False)
        self.heatClassBox.currentIndexChanged.connect(self._heat_class_picked)
        # in the drawing buttons' place: drawn points have no labels for a conditional run
        bar.addWidget(self.heatClassBox, 0, 4, 1, 2)
        bar.addWidget(self.drawButton, 0, 4)
        bar.addWidget(self.clearDrawingButton, 0, 5)
        bar.addWidget(self.useDrawingButton, 1, 4, 1, 2)
        layout.addLayout(bar)

        self.follow = True
        self._framed = False           # the view has been framed on this run's points
        self._real = self._fake = None
        self.current_field = None      # the Field last shown
        self._bar = None               # what the colour bar shows: (colour map, levels, label)
        self.stroke_points: list = []
        self.frames = 0
        self.classes = None            # conditional runs: the class names
        self._d_ignores_label = False  # AC-GAN: D's heatmap is the same for every class
        self._recorded = False         # a recorded moment's view: no drawing
        self._real_labels = None
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
        self._framed = False
        self._real = self._fake = self.current_field = None
        for item in (self.real, self.fake, self.strokes):
            item.clear()
        self.arrows.setData([], [])
        self.manifold.setData([], [])
        self.heatmap.clear()
        self.change.clear()
        self._show_notes()

    def set_classes(self, classes, real_labels=None, conditional: str = "concat"):
        """A conditional run's class names (None: unconditional), the classes of the real
        points about to be shown, and how D takes the label: an AC-GAN's D scores a point
        the same for every class (it only guesses the class), so there the picked class sets
        G's manifold alone."""
        self.classes, self._real_labels = (tuple(classes), real_labels) if classes else (None, None)
        self._d_ignores_label = conditional == "acgan"
        self.heatClassBox.blockSignals(True)
        self.heatClassBox.clear()
        if self.classes:
            what = "G manifold for class" if self._d_ignores_label else "D(x, y) for class"
            self.heatClassBox.setToolTip(
                "An AC-GAN's D scores a point the same for every class (it only guesses the class): "
                "the picked class sets G's manifold; every point is coloured by its class"
                if self._d_ignores_label else
                "A conditional D scores a point for a class: D(x, y). Its heatmap and G's manifold are "
                "drawn for this class; every point is coloured by its class (real: the class it has; "
                "generated: the class G was asked for)")
            self.heatClassBox.addItems([f"{what} {name}" for name in self.classes])
            self._brushes = [pg.mkBrush(*c, 235) for c in class_colours(len(self.classes))]
            self._fake_brushes = [pg.mkBrush(*c, 150) for c in class_colours(len(self.classes))]
        self.heatClassBox.blockSignals(False)
        self.heatClassBox.setVisible(bool(self.classes))
        if self.classes:
            self.drawButton.setChecked(False)
        for button in (self.drawButton, self.clearDrawingButton, self.useDrawingButton):
            button.setVisible(not self.classes and not self._recorded)
        self._set_title()

    def _heat_class_picked(self, index: int):
        if index >= 0:
            self._set_title()
            self.heatClassChanged.emit(index)

    def _set_title(self, field=None):
        """The title says whose heatmap it is: a conditional D's is for one class."""
        title = "2D field, recorded" if self._recorded else TITLE   # a recorded pane is half as wide
        if self.classes:
            shown = field.heat_class if field is not None and field.heat_class is not None \
                else self.heatClassBox.currentIndex()
            d = ("D(x), the same for every class (AC-GAN); G manifold for class" if self._d_ignores_label
                 else "D(x, y) for class")
            title = (f"{'2D field, recorded' if self._recorded else '2D field'}: {d} "
                     f"{self.classes[shown]}; points coloured by class")
        self.plot.setTitle(title, color="#222", size="10pt")

    def show_real(self, real: np.ndarray):
        self._real = real
        if self._real_labels is not None:
            self.real.setData(real[:, 0], real[:, 1], brush=[self._brushes[k] for k in self._real_labels])
        else:
            self.real.setData(real[:, 0], real[:, 1])
        self._follow()

    def show_field(self, field):
        self.frames += 1
        self.current_field = field
        x0, x1, y0, y1 = field.bounds
        self.heatmap.setImage(field.heatmap, autoLevels=False, levels=self._heat_levels(field))
        self.heatmap.setRect(x0, y0, x1 - x0, y1 - y0)
        if field.change is not None:
            top = float(np.nanmax(np.abs(field.change))) if np.isfinite(field.change).any() else 0.0
            top = top if top > 0 else 1e-6    # no change at all: white, on a tiny scale
            self.change.setImage(field.change, autoLevels=False, levels=(-top, top))
            self.change.setRect(x0, y0, x1 - x0, y1 - y0)
        else:
            self.change.clear()
        if field.fake_labels is not None and self.classes:
            self.fake.setData(field.fake[:, 0], field.fake[:, 1],
                              brush=[self._fake_brushes[k] for k in field.fake_labels])
            self._set_title(field)
        else:
            self.fake.setData(field.fake[:, 0], field.fake[:, 1])
        self._fake = field.fake
        self._draw_arrows(field.fake, field.push)
        self._draw_manifold(field.manifold)
        self._update_colour_bar()
        self._show_notes()
        self._follow()

    def _heat_levels(self, field):
        if field.probability:
            return (0.0, 1.0)
        finite = field.heatmap[np.isfinite(field.heatmap)]
        lo, hi = np.percentile(finite, [2, 98]) if len(finite) else (-1.0, 1.0)
        return (float(lo), float(hi) if hi > lo else float(lo) + 1)

    def _showing_change(self) -> bool:
        return self.layerChecks["change"].isChecked() and self.current_field is not None \
            and self.current_field.change is not None

    def _update_colour_bar(self):
        if self._showing_change():
            levels = self.change.getLevels()
            bar = (CHANGE_MAP, (float(levels[0]), float(levels[1])),
                   "change in D(x)" if self.current_field.probability else "change in critic value")
        elif self.current_field is not None:
            bar = (HEAT_MAP, tuple(float(v) for v in self.heatmap.getLevels()),
                   "D(x) = P(real)" if self.current_field.probability else "D(x): critic value")
        else:
            return
        if bar != self._bar:   # the colour bar repaints and re-lays-out on every change
            if self._bar is None or bar[0] != self._bar[0]:
                self.colorBar.setColorMap(pg.colormap.get(bar[0]))
            self.colorBar.setLevels(bar[1])
            self.colorBar.axis.setLabel(bar[2])
            self._bar = bar

    def _show_notes(self):
        f, notes = self.current_field, []
        if f is not None and self.layerChecks["manifold"].isChecked() and f.manifold_label:
            notes.append(f.manifold_label)
        if f is not None and self.layerChecks["change"].isChecked():
            notes.append(f.change_label or "change in D: not computed")
        self.note.setText("\n".join(notes))

    def _set_layer(self, name, on):
        self.items[name].setVisible(on)
        if name == "change":
            self._update_colour_bar()
        self._show_notes()

    def _draw_arrows(self, fake, push):
        (x0, x1), (y0, y1) = self.vb.viewRange()
        segments = arrow_segments(fake, push, min(x1 - x0, y1 - y0))
        if len(segments) == 0:
            self.arrows.setData([], [])
        else:
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
    def _follow(self):
        """Keep the real data and the fakes in view, unless the user has moved the view (or is
        drawing on it)."""
        if not self.follow or self.drawButton.isChecked():
            return
        extent = follow_extent(self._real, self._fake, self.bounds() if self._framed else None)
        if extent is not None:
            self._framed = True
            self.vb.setRange(xRange=extent[:2], yRange=extent[2:], padding=0)

    def _stop_following(self, *_):
        self.follow = False

    def _follow_again(self):
        """The "A" button: follow the points again, from now."""
        self.vb.disableAutoRange()   # the button also turned pyqtgraph's own autorange on
        self.follow = True
        self._framed = False
        self._follow()

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
