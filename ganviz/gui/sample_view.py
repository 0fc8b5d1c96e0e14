"""The generated images: ONE tiled image of G's output on the fixed noise, with fixed levels,
so the same latent points evolve in place. (2D data is shown by the field view.)"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg


def tile_images(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> one (rows*H, cols*W[, C]) image, padding at -1 (black)."""
    n, c, h, w = images.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), -1.0, dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        out[y: y + h, x: x + w] = images[i].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out


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
        self.last_tiled = tile_images(samples)
        # Fixed levels: the grey value of a pixel means the same thing in every frame.
        self.image.setImage(self.last_tiled.copy(), levels=(-1.0, 1.0), autoLevels=False)
        if not self._ranged:  # frame the grid once; after that the user's zoom is kept
            self.plot.autoRange()
            self._ranged = True
