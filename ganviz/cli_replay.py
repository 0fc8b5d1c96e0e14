"""`ganviz replay RUN_DIR`: the frames a run stored (core/store.py) as an animated GIF or as
PNG pictures, one per frame, each captioned with its iteration. Images: the sample grid; 2D
points: D's heatmap over the frame's extent, the real data and G's samples, drawn with numpy
and Pillow (no window, no Qt)."""
from __future__ import annotations

import functools
import io
import math
import os
import sys

import numpy as np
import torch

from .cli import UserError
from .core.atomic import atomic_write, check_folder, write_bytes
from .core.field import FieldMirror, compute_field, follow_extent
from .core.render import tile
from .core.store import RunReader

FIELD_PIXELS = 400       # a 2D frame's plot is this many pixels square
FIELD_RESOLUTION = 100   # D's heatmap is computed on this grid, then enlarged
MIN_GRID_PIXELS = 320    # small image grids (8x8 digits) are enlarged by whole pixels to at least this
CAPTION = 22             # pixels of the caption strip under each picture
REAL = (40, 160, 90)     # the window's colours (gui/plots.py): real data green, G orange
FAKE = (235, 120, 30)
# D's belief: blue (fake) - white - red (real), like the window's CET-D1A
HEAT_STOPS = np.array([[58, 76, 192], [242, 242, 242], [180, 4, 38]], dtype=np.float64)


def replay_command(args) -> int:
    reader = RunReader(args.run)
    every = args.every
    updates = reader.frame_updates()
    if len(updates) == 0:
        raise UserError(f"{args.run} has no frames yet (the run stored none; train it a little first)")
    chosen = updates[::every]
    if args.fps <= 0 or not math.isfinite(args.fps):
        raise UserError(f"--fps must be a positive number (got {args.fps:g})")
    to_png, target = _target(args)
    painter = _painter(reader)
    pictures = []
    for i, update in enumerate(chosen):
        found, payload = reader.frame(int(update))
        picture = painter(payload)
        if to_png:
            _write_png(picture, os.path.join(target, f"frame-{i:05d}.png"))
        else:   # a palette frame holds a third of the RGB picture's memory
            pictures.append(_gif_frame(picture, fixed=reader.dataset_kind != "images"))
        _progress(i + 1, len(chosen))
    if not to_png:
        _write_gif(pictures, target, args.fps)
    first, last = reader.frame(int(chosen[0]))[1], reader.frame(int(chosen[-1]))[1]
    what = "PNG frames" if to_png else "frames"
    print(f"wrote {len(chosen)} {what} (iterations {first['iteration']} to {last['iteration']}) to {target}")
    return 0


def _target(args) -> tuple[bool, str]:
    """(PNG frames?, path), checked writable before any frame is drawn."""
    if args.png:
        folder = args.png
    elif args.out.endswith(os.sep) or os.path.isdir(args.out):
        folder = args.out
    elif args.out.lower().endswith(".gif"):
        check_folder(args.out)
        return False, args.out
    else:
        raise UserError(f"--out {args.out}: give a .gif file, or a folder (ending in /) for PNG frames")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"{folder} is a file, not a folder for PNG frames")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create folder {folder}: {e.strerror or e}") from None
    check_folder(os.path.join(folder, "frame-00000.png"))
    return True, folder.rstrip(os.sep) or folder


def _painter(reader):
    if reader.dataset_kind == "images":
        return lambda payload: _paint_grid(payload, reader.grid_columns)
    return FieldPainter(reader)


def _paint_grid(payload, columns: int | None = None) -> np.ndarray:
    """columns: a conditional run's (one row per class), else a near-square grid."""
    samples = payload["samples"]
    grid = tile(samples, cols=columns, pad=1)
    scale = max(1, math.ceil(MIN_GRID_PIXELS / grid.shape[1]))
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    if grid.ndim == 2:
        grid = np.repeat(grid[..., None], 3, axis=2)
    return _captioned(grid, payload)


class FieldPainter:
    """A 2D frame as the window's field shows it: D's heatmap, the real data and G's samples
    on the fixed noise, over an extent that follows them (it moves only when they leave it)."""

    def __init__(self, reader):
        if reader.fixed_noise is None:
            raise UserError(f"{reader.folder}: the run stored no fixed noise to draw its samples from")
        self.mirror = FieldMirror.of_run(reader)
        self.real = reader.real
        # a conditional run: D's heatmap is for its first class (an AC-GAN's D: for every class)
        classes = getattr(reader, "classes", None)
        self.for_class = "" if not classes else (
            " (any class)" if reader.config.conditional == "acgan" else f" for class {classes[0]}")
        self.extent = None

    def __call__(self, payload) -> np.ndarray:
        self.mirror.load(payload["weights"])
        with torch.no_grad():
            fake = self.mirror.generator(self.mirror.fixed_noise, self.mirror.fixed_labels).numpy()
        self.extent = follow_extent(self.real, fake, self.extent) or self.extent
        if self.extent is None:   # nothing finite to fit: the data's usual square
            self.extent = (-2.0, 2.0, -2.0, 2.0)
        field = compute_field(self.mirror, self.extent, resolution=FIELD_RESOLUTION)
        return _captioned(self._draw(field), payload)

    def _draw(self, field) -> np.ndarray:
        from PIL import Image, ImageDraw

        heat = field.heatmap
        if field.probability:
            lo, hi = 0.0, 1.0
        else:   # a critic's values: the same percentiles the window's colour bar uses
            finite = heat[np.isfinite(heat)]
            lo, hi = np.percentile(finite, [2, 98]) if len(finite) else (-1.0, 1.0)
            hi = hi if hi > lo else lo + 1
        t = np.clip((np.nan_to_num(heat, nan=(lo + hi) / 2) - lo) / (hi - lo), 0, 1)[::-1]  # row 0 = top
        pos = t * 2
        k = np.minimum(pos.astype(int), 1)
        frac = (pos - k)[..., None]
        rgb = (HEAT_STOPS[k] * (1 - frac) + HEAT_STOPS[k + 1] * frac).round().astype(np.uint8)
        image = Image.fromarray(rgb).resize((FIELD_PIXELS, FIELD_PIXELS), Image.BILINEAR)
        draw = ImageDraw.Draw(image)
        x0, x1, y0, y1 = field.bounds

        def pixels(points):
            p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
            p = p[np.isfinite(p).all(1)]
            col = (p[:, 0] - x0) / (x1 - x0) * (FIELD_PIXELS - 1)
            row = (y1 - p[:, 1]) / (y1 - y0) * (FIELD_PIXELS - 1)
            return zip(col.tolist(), row.tolist())

        for c, r in pixels(field.fake):   # under the real data, as in the window
            draw.ellipse((c - 2.5, r - 2.5, c + 2.5, r + 2.5), fill=FAKE, outline=(150, 70, 0))
        if self.real is not None:
            for c, r in pixels(self.real):
                draw.ellipse((c - 3, r - 3, c + 3, r + 3), fill=REAL, outline=(255, 255, 255))
        what = ("D(x)" if field.probability else "D's critic value") + self.for_class
        draw.text((6, 4), f"{what}: blue {lo:.3g} (fake) to red {hi:.3g} (real)", fill=(20, 20, 20))
        draw.text((6, 18), "green: real data, orange: G's samples" + (", every class" if self.for_class else ""),
                  fill=(20, 20, 20))
        return np.asarray(image)


def _captioned(picture: np.ndarray, payload) -> np.ndarray:
    from PIL import Image, ImageDraw

    h, w = picture.shape[:2]
    canvas = Image.new("RGB", (w, h + CAPTION), (255, 255, 255))
    canvas.paste(Image.fromarray(picture), (0, 0))
    ImageDraw.Draw(canvas).text((6, h + 5), f"iteration {payload['iteration']}   update {payload['updates']}",
                                fill=(20, 20, 20))
    return np.asarray(canvas)


def _write_png(picture, path) -> None:
    from PIL import Image

    with atomic_write(path, "wb") as f:
        Image.fromarray(picture).save(f, format="PNG")


def _gif_frame(picture, fixed: bool):
    """A GIF holds 256 colours a frame. Fields get one fixed palette (the heat ramp, the
    points' colours, greys for the text): an adaptive one keeps the large areas and loses the
    few pixels of the real data. Image grids keep their own (grey digits have few levels)."""
    from PIL import Image

    if fixed:
        return Image.fromarray(picture).quantize(palette=_field_palette(), dither=Image.Dither.NONE)
    return Image.fromarray(picture).convert("P", palette=Image.ADAPTIVE, colors=255)


def _write_gif(frames, path, fps: float) -> None:
    """All frames, written at once (atomically) when all are drawn. Pillow folds a frame
    identical to the one before into it; the captions (each frame's own update) keep every
    stored frame a frame of the GIF."""
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=max(20, round(1000 / fps)), optimize=False, disposal=1)
    write_bytes(path, buffer.getvalue())


@functools.lru_cache(maxsize=1)
def _field_palette():
    from PIL import Image

    t = np.linspace(0, 1, 160)[:, None] * 2
    k = np.minimum(t.astype(int), 1)
    ramp = HEAT_STOPS[k[:, 0]] * (1 - (t - k)) + HEAT_STOPS[k[:, 0] + 1] * (t - k)
    greys = np.repeat(np.linspace(0, 255, 64)[:, None], 3, axis=1)
    points = [REAL, FAKE, (150, 70, 0), (255, 255, 255), (20, 20, 20)]
    # the points' edges blend with the heat underneath: a few mixes of each point colour
    mixes = [np.array(c) * a + np.array(w) * (1 - a) for c in (REAL, FAKE) for w in ((255, 255, 255), (242, 242, 242))
             for a in (0.25, 0.5, 0.75)]
    colours = np.vstack([ramp, greys, points, mixes])[:256].round().astype(np.uint8)
    image = Image.new("P", (1, 1))
    image.putpalette(colours.reshape(-1).tolist() + [0] * (768 - colours.size))
    return image


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rdrawing frame {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)
