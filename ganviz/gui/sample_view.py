"""The generated images: ONE tiled image of G's output on the fixed noise, with fixed levels,
so the same latent points evolve in place. (2D data is shown by the field view.)"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ganviz.core.render import tile


class SampleView(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent=parent)
        self.setBackground("w")
        self.plot = self.addPlot(title="Generated samples (fixed noise)")
        self.plot.setAspectLocked(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.getViewBox().invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.last_tiled = None
        self._ranged = False
        self.columns = None   # conditional runs: one row per class, these many columns
        self._names = []      # ... and the class names beside the rows

    def reset(self):
        self.image.clear()
        self._ranged = False

    def set_classes(self, classes, columns: int | None):
        """A conditional run's grid: one row per class (named at its left), the same noise
        down each column; None: an unconditional run's near-square grid."""
        for item in self._names:
            self.plot.removeItem(item)
        self._names = []
        self.columns = columns if classes else None
        if not classes:
            self.plot.setTitle("Generated samples (fixed noise)")
            return
        self.plot.setTitle("Samples: a row per class, the same noise down each column")
        for name in classes:
            item = pg.TextItem(str(name), color=(60, 60, 60), anchor=(1, 0.5))
            self.plot.addItem(item)
            self._names.append(item)

    def _name_rows(self, shape):
        """Each class name beside the centre of its row of the tiled grid (pad 1 pixel)."""
        if not self._names:
            return
        step = (shape[0] - 1) / len(self._names)
        for i, item in enumerate(self._names):
            item.setPos(-1, 1 + step * (i + 0.5))

    def show_samples(self, samples: np.ndarray):
        self.last_tiled = tile(samples, cols=self.columns)   # the same grid `ganviz train` writes to samples.png
        self._name_rows(self.last_tiled.shape)
        # Fixed levels: the grey value of a pixel means the same thing in every frame.
        self.image.setImage(self.last_tiled.copy(), levels=(0, 255), autoLevels=False)
        if not self._ranged:  # frame the grid once; after that the user's zoom is kept
            self.plot.autoRange(items=[self.image])   # the grid, not the class names beside it
            if self._names:   # room on the left for the names (they are drawn at the grid's edge)
                width = self.last_tiled.shape[1]
                self.plot.setXRange(-0.35 * width, width, padding=0.02)
            self._ranged = True
