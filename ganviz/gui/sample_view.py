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

    def reset(self):
        self.image.clear()
        self._ranged = False

    def show_samples(self, samples: np.ndarray):
        self.last_tiled = tile(samples)   # the same grid `ganviz train` writes to samples.png
        # Fixed levels: the grey value of a pixel means the same thing in every frame.
        self.image.setImage(self.last_tiled.copy(), levels=(0, 255), autoLevels=False)
        if not self._ranged:  # frame the grid once; after that the user's zoom is kept
            self.plot.autoRange()
            self._ranged = True
