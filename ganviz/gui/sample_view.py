"""The generated samples: images as ONE tiled image with fixed levels; 2D data as real and
fake points. Shows G's output on the fixed noise, so the same latent points evolve."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from .plots import G_COLOUR, REAL_COLOUR


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
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextColor="#222")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.real = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(REAL_COLOUR + (90,)))
        self.fake = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(G_COLOUR + (200,)))
        for item in (self.image, self.real, self.fake):
            self.plot.addItem(item)
        self.legend.addItem(self.real, "real data")
        self.legend.addItem(self.fake, "generated G(z)")
        self.kind = None
        self.last_tiled = None
        self._ranged = False

    def set_kind(self, kind: str):
        """'points' or 'images': a new run starts."""
        self.kind = kind
        images = kind == "images"
        self.image.setVisible(images)
        self.real.setVisible(not images)
        self.fake.setVisible(not images)
        self.legend.setVisible(not images)
        self.plot.showAxis("left", not images)
        self.plot.showAxis("bottom", not images)
        self.plot.getViewBox().invertY(images)
        self.real.clear()
        self.fake.clear()
        self._ranged = False

    def show_samples(self, samples: np.ndarray, real: np.ndarray | None = None):
        if self.kind == "images":
            self.last_tiled = tile_images(samples)
            # Fixed levels: the grey value of a pixel means the same thing in every frame.
            self.image.setImage(self.last_tiled.copy(), levels=(-1.0, 1.0), autoLevels=False)
        else:
            if real is not None:
                self.real.setData(real[:, 0], real[:, 1])
            self.fake.setData(samples[:, 0], samples[:, 1])
        if not self._ranged:  # frame the data once; after that the user's zoom is kept
            self.plot.autoRange()
            self._ranged = True
