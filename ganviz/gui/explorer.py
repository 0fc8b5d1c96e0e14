"""Explore G: a window onto a trained generator's noise space (image runs).

- Walk: G's samples along the slerp path from seed A's noise to seed B's. Click a sample to
  see the training images nearest it and whether it is (nearly) a copy of one.
- Plane: drag the dot over the square spanned by four seeds' noise (StyleGAN3's visualiser
  blends four seeds the same way); G's sample at that point follows the mouse.

The training service answers (service/explorer.py) with G as it is now, between updates; the
answers come back as Explored events. Everything shown is said in numbers beside it.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QComboBox, QDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from ganviz.core.render import tile
from ganviz.protocol import messages as m

TILE = 72          # pixels per sample on screen
STEPS = 9          # samples along the walk


def pixmap(images: np.ndarray, size: int = TILE) -> QPixmap:
    """One image (C, H, W) in [-1, 1] as a pixmap `size` pixels wide, pixels kept square."""
    canvas = np.ascontiguousarray(tile(images[None], cols=1, pad=0))
    h, w = canvas.shape[:2]
    fmt = QImage.Format_Grayscale8 if canvas.ndim == 2 else QImage.Format_RGB888
    image = QImage(canvas.data, w, h, canvas.strides[0], fmt).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.KeepAspectRatio, Qt.FastTransformation)


class Tile(QLabel):
    clicked = Signal(int)

    def __init__(self, index: int):
        super().__init__()
        self.index = index
        self.setFixedSize(TILE + 4, TILE + 4)
        self.setAlignment(Qt.AlignCenter)
        self.setStyleSheet("border: 1px solid #ccc; background: white;")

    def mousePressEvent(self, event):
        self.clicked.emit(self.index)


class PlanePad(QWidget):
    """A square to drag a dot over: (u, v) in [0, 1]^2, corners named by their seeds."""
    moved = Signal(float, float)

    def __init__(self):
        super().__init__()
        self.setFixedSize(160, 160)
        self.u = self.v = 0.5
        self.corners = ("", "", "", "")
        self.setToolTip("Drag: G's sample at this point of the plane through the four seeds' noise")

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(248, 248, 250))
        p.setPen(QPen(QColor(150, 150, 160), 1))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        for text, (x, y) in zip(self.corners, ((4, 14), (self.width() - 34, 14),
                                               (4, self.height() - 6), (self.width() - 34, self.height() - 6))):
            p.drawText(x, y, text)
        p.setBrush(QColor(235, 120, 30))
        p.setPen(Qt.NoPen)
        p.drawEllipse(QPointF(self.u * (self.width() - 1), self.v * (self.height() - 1)), 6, 6)

    def mousePressEvent(self, event):
        self._move(event.position())

    def mouseMoveEvent(self, event):
        self._move(event.position())

    def _move(self, pos):
        self.u = float(np.clip(pos.x() / (self.width() - 1), 0, 1))
        self.v = float(np.clip(pos.y() / (self.height() - 1), 0, 1))
        self.update()
        self.moved.emit(self.u, self.v)


class ExplorerDialog(QDialog):
    def __init__(self, worker, parent=None):
        super().__init__(parent)
        self.setObjectName("explorerDialog")
        self.setWindowTitle("Explore G")
        self.worker = worker
        self._plane_busy = 0.0       # when a plane sample was asked for: the next waits (latest wins)
        self._plane_next = None
        layout = QVBoxLayout(self)

        walk = QHBoxLayout()
        self.seedA, self.seedB = (self._seed(v, name) for v, name in ((1, "seedASpin"), (2, "seedBSpin")))
        go = QPushButton("Walk", objectName="walkButton")
        go.setToolTip("G's samples along the slerp path between the two seeds' noise vectors")
        go.clicked.connect(self.walk)
        # conditional runs: every question asks G for this class
        self.classBox = QComboBox(objectName="explorerClassBox")
        self.classBox.setToolTip("A conditional G draws the class it is asked for: the walk, the "
                                 "plane and the nearest images are all for this class")
        classes = getattr(getattr(parent, "session", None), "run_info", None)
        self.set_classes(getattr(classes, "classes", None))
        for w in (QLabel("Walk from seed"), self.seedA, QLabel("to seed"), self.seedB, self.classBox, go):
            walk.addWidget(w)
        walk.addStretch(1)
        layout.addLayout(walk)
        note = QLabel("Slerp, not a straight line: Gaussian noise vectors all have about the same length, "
                      "and the straight line between two of them passes through shorter ones G never saw. "
                      "Click a sample to find the training images nearest it.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        layout.addWidget(note)
        strip = QHBoxLayout()
        self.tiles = [Tile(i) for i in range(STEPS)]
        for t in self.tiles:
            t.clicked.connect(self.nearest)
            strip.addWidget(t)
        strip.addStretch(1)
        layout.addLayout(strip)
        self.pathLabel = QLabel(objectName="pathLabel")
        layout.addWidget(self.pathLabel)

        near = QHBoxLayout()
        self.nearTiles = [Tile(i) for i in range(5)]
        for t in self.nearTiles:
            near.addWidget(t)
        self.nearLabel = QLabel("", objectName="nearestLabel")
        self.nearLabel.setWordWrap(True)
        near.addWidget(self.nearLabel, 1)
        layout.addLayout(near)

        plane = QGridLayout()
        self.cornerSeeds = [self._seed(v, f"cornerSeed{i}") for i, v in enumerate((1, 2, 3, 4))]
        corners = QHBoxLayout()
        corners.addWidget(QLabel("Plane through seeds"))
        for s in self.cornerSeeds:
            s.valueChanged.connect(self._corners_changed)
            corners.addWidget(s)
        corners.addStretch(1)
        plane.addLayout(corners, 0, 0, 1, 2)
        self.pad = PlanePad()
        self.pad.moved.connect(self.plane_sample)
        plane.addWidget(self.pad, 1, 0)
        self.planeImage = QLabel(objectName="planeImage")
        self.planeImage.setFixedSize(160, 160)
        self.planeImage.setAlignment(Qt.AlignCenter)
        self.planeImage.setStyleSheet("border: 1px solid #ccc; background: white;")
        plane.addWidget(self.planeImage, 1, 1)
        self.planeLabel = QLabel(objectName="planeLabel")
        plane.addWidget(self.planeLabel, 2, 0, 1, 2)
        layout.addLayout(plane)
        self._corners_changed()
        worker.explored.connect(self.show_explored)
        self.path_ts = np.linspace(0, 1, STEPS)
        self.path_seeds = None   # the seeds of the walk on screen
        self.path_label = 0      # ... and its class (conditional runs)

    def set_classes(self, classes):
        """The run's class names (a conditional run), or None: no class to pick."""
        self.classBox.clear()
        if classes:
            self.classBox.addItems([f"class {name}" for name in classes])
        self.classBox.setVisible(bool(classes))

    @property
    def label(self) -> int:
        return max(self.classBox.currentIndex(), 0)

    def _seed(self, value, name):
        box = QSpinBox(objectName=name)
        box.setRange(0, 2 ** 31 - 1)
        box.setValue(value)
        return box

    # ---------------------------------------------------------------- questions
    def walk(self):
        self.worker.send(m.Interpolate(self.seedA.value(), self.seedB.value(), STEPS, self.label))

    def nearest(self, index: int):
        if self.path_seeds is not None:   # the walk on screen, whatever the boxes say now
            self.worker.send(m.NearestReal(*self.path_seeds, float(self.path_ts[index]), label=self.path_label))

    def plane_sample(self, u: float, v: float):
        command = m.PlaneSample(tuple(s.value() for s in self.cornerSeeds), u, v, self.label)
        if time.monotonic() - self._plane_busy < PLANE_WAIT:   # (an answer lost: asked again after a while)
            self._plane_next = command
            return
        self._plane_busy = time.monotonic()
        self.worker.send(command)

    def _corners_changed(self, *_):
        seeds = [s.value() for s in self.cornerSeeds]
        self.pad.corners = tuple(str(s) for s in seeds)
        self.pad.update()

    def _class_words(self, event) -> str:
        label = event.info.get("label")
        return "" if label is None else f", {self.classBox.itemText(label)}"

    # ---------------------------------------------------------------- answers
    def show_explored(self, event: m.Explored):
        if event.what == "path":
            self.path_ts = np.asarray(event.info["t"])
            for t, image in zip(self.tiles, event.images):
                t.setPixmap(pixmap(image))
            a, b = self.path_seeds = tuple(event.info["seeds"])
            self.path_label = event.info.get("label") or 0
            self.pathLabel.setText(f"Seed {a} → seed {b}{self._class_words(event)} at iteration {event.info['iteration']}: "
                                   f"t = {', '.join(f'{t:.2f}' for t in self.path_ts)}")
        elif event.what == "plane":
            self.planeImage.setPixmap(pixmap(event.images[0], 150))
            self.planeLabel.setText(f"u {event.info['u']:.2f}, v {event.info['v']:.2f} between seeds "
                                    f"{', '.join(str(s) for s in event.info['seeds'])}{self._class_words(event)}")
            self._plane_busy = 0.0
            if self._plane_next is not None:
                command, self._plane_next = self._plane_next, None
                self.plane_sample(command.u, command.v)
        elif event.what == "nearest":
            for t, image in zip(self.nearTiles, event.images):
                t.setPixmap(pixmap(image))
            ratio, d = event.info["ratio"], event.info["distances"]
            verdict = ("(nearly) a copy of a training image" if ratio < COPY_RATIO else
                       "closer to a training image than real images are to each other" if ratio < 1 else
                       "no closer to any training image than real images are to each other")
            self.nearLabel.setText(
                f"Left: the sample at t = {event.info['t']:.2f}; then its {len(d)} nearest training images "
                f"(distances {', '.join(f'{x:.2f}' for x in d)}, 8x8 grey pixels). Nearest over the typical "
                f"distance between a real image and its nearest other ({event.info['typical']:.2f}): "
                f"{ratio:.2f}: {verdict}.")


PLANE_WAIT = 2.0   # seconds a plane sample may take before the next is asked for anyway
COPY_RATIO = 0.3   # under this, a sample sits far closer to a training image than real images do to each other
