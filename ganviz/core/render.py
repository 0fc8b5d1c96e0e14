"""Pictures of a run without a plotting library: a tiled grid of images and a scatter of
real vs generated points, rasterised with numpy and written as PNG with Pillow."""
from __future__ import annotations

import math

import numpy as np

from .atomic import atomic_write

REAL_COLOUR = (150, 160, 175)
FAKE_COLOUR = (230, 90, 20)
MODE_COLOUR = (70, 70, 70)
MIN_TILE = 48  # pixels: tiny images (8x8 digits) are scaled up by whole pixels to this


def tile(images, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) images in [-1, 1] -> one uint8 image, (H', W') for grey or (H', W', 3)
    for colour, in a near-square grid with `pad` white pixels between tiles. NaN is black."""
    x = np.nan_to_num(np.asarray(images, dtype=np.float32), nan=-1.0)
    n, c, h, w = x.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    pixels = ((np.clip(x, -1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 1)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        canvas[top: top + h, left: left + w] = pixels[i]
    return canvas[..., 0] if c == 1 else canvas


def grid_png(images, path, min_tile: int = MIN_TILE, cols: int | None = None) -> None:
    """Write a tiled grid of images as PNG (cols: as tile()); small images are enlarged by
    whole pixels."""
    scale = max(1, math.ceil(min_tile / np.asarray(images).shape[-1]))
    canvas = tile(images, cols=cols, pad=1)
    canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    _write_png(canvas, path)


def scatter(real, fake, size: int = 512, modes=None, radius: int = 1) -> np.ndarray:
    """(size, size, 3) uint8: real points in grey, generated points in orange on top, mode
    centres as black crosses. The view is square (equal aspect), fitted to the real data
    plus a margin, so a generator that wanders off shows as points leaving the frame."""
    real = _finite(real)
    fake = _finite(fake)
    ref = real if len(real) else fake
    if len(ref):
        lo, hi = np.percentile(ref, 0.5, axis=0), np.percentile(ref, 99.5, axis=0)
    else:
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * 1.25
    image = np.full((size, size, 3), 255, np.uint8)
    image[[0, -1], :] = image[:, [0, -1]] = 200  # frame

    def paint(points, offsets, colour):
        # far-off points (a diverged G's 1e19) land off the image, not in an invalid int cast
        p = np.clip((points - (centre - half)) / (2 * half) * (size - 1), -size, 2 * size)
        col, row = np.round(p[:, 0]).astype(int), np.round(size - 1 - p[:, 1]).astype(int)
        for dr, dc in offsets:
            rr, cc = row + dr, col + dc
            inside = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
            image[rr[inside], cc[inside]] = colour

    if modes is not None:  # under the points: a "+" whose arms show around the real cluster
        cross = [(d, 0) for d in range(-9, 10)] + [(0, d) for d in range(-9, 10)]
        paint(np.asarray(modes, dtype=np.float64), cross, MODE_COLOUR)
    square = [(dr, dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1)]
    paint(real, square, REAL_COLOUR)
    paint(fake, square, FAKE_COLOUR)
    return image


def scatter_png(real, fake, path, size: int = 512, modes=None) -> None:
    image = scatter(real, fake, size=size, modes=modes)
    _legend(image)
    _write_png(image, path)


def _legend(image):
    """'real' and 'generated' in their colours, top left (Pillow's built-in font: offline)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    for i, (label, colour) in enumerate((("real", REAL_COLOUR), ("generated", FAKE_COLOUR))):
        y = 8 + 14 * i
        draw.rectangle((8, y + 2, 16, y + 10), fill=colour)
        draw.text((22, y), label, fill=(40, 40, 40))
    image[...] = np.asarray(pil)


def _finite(points) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return p[np.isfinite(p).all(axis=1)]


def _write_png(array: np.ndarray, path) -> None:
    from PIL import Image

    with atomic_write(path, "wb") as f:
        Image.fromarray(array).save(f, format="PNG")
