"""A folder of the user's images, each read as it is meant to look: 16-bit values kept (not
clipped to white), palettes and CMYK converted, transparency composited on white, and the
EXIF orientation applied, before it is resized (short side = size) and centre-cropped."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from .inputs import DataError, check_folder, check_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
# A 64-megapixel RGB image decodes to 192 MB, for a training image of at most 64x64 pixels;
# cameras up to 61 MP still fit. PIL's own guard only warns from 89 MP and refuses at 179 MP.
MAX_IMAGE_PIXELS = 64_000_000
# Transparent pixels are composited on white, the background viewers show them on.
BACKGROUND = (255, 255, 255)
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def read_folder(path: Path, size: int, grey: bool):
    """(images in [-1, 1] as float32 (N, C, size, size), how many files were skipped, the
    first skipped file's name and reason, class labels (int64, N) or None, class names or
    None). A folder whose images all sit in two or more subfolders is labelled: one class per
    subfolder (sorted by name), as torchvision's ImageFolder reads it."""
    check_folder(path)
    files, unreadable, first_error = [], 0, ""
    for file in sorted(path.rglob("*")):
        if file.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            mode = os.stat(file).st_mode
        except OSError as e:  # e.g. a link to nowhere
            mode, reason = None, e.strerror or str(e)
        if mode is not None and stat.S_ISREG(mode):
            files.append(file)
        elif mode is None or not stat.S_ISDIR(mode):  # a pipe or device named like an image
            unreadable += 1
            first_error = first_error or f"{file.name}: {reason if mode is None else 'not a regular file'}"
    if not files and not unreadable:
        raise DataError(f"{path}: no image files (looked for {', '.join(IMAGE_SUFFIXES)})")
    channels = 1 if grey else 3
    check_size(path, f"{len(files)} images of {channels}x{size}x{size}",
               len(files) * channels * size * size * 4)
    images = np.empty((len(files), channels, size, size), np.float32)
    n = 0
    top = [file.relative_to(path).parts for file in files]
    classes = sorted({parts[0] for parts in top}) if all(len(p) > 1 for p in top) else []
    labels = np.empty(len(files), np.int64) if len(classes) > 1 else None
    index = {name: i for i, name in enumerate(classes)}
    for file, parts in zip(files, top):
        try:
            images[n] = load_image(file, size, grey)
            if labels is not None:
                labels[n] = index[parts[0]]
            n += 1
        except Exception as error:  # Pillow raises many types (OSError, SyntaxError, ...)
            unreadable += 1
            first_error = first_error or f"{file.name}: {error}"
    if n == 0:
        raise DataError(f"{path}: all {unreadable} image files are unreadable (first: {first_error})")
    images = images[:n]
    images *= 2
    images -= 1
    if labels is None:
        return images, unreadable, first_error, None, None
    held, labels = np.unique(labels[:n], return_inverse=True)   # a class whose every file failed goes
    return images, unreadable, first_error, labels, tuple(classes[k] for k in held)


def load_image(file: Path, size: int, grey: bool) -> np.ndarray:
    """One image as float32 (C, size, size) in [0, 1]."""
    from PIL import Image
    with Image.open(file) as image:
        w, h = image.size
        if w * h > MAX_IMAGE_PIXELS:  # checked from the header, before decoding
            raise DataError(f"{w}x{h} pixels, over ganviz's limit of "
                            f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels")
        image.draft("L" if grey else "RGB", (size, size))  # JPEG decodes at reduced size
        return image_values(image, size, grey)


def image_values(image, size: int, grey: bool) -> np.ndarray:
    """An open PIL image as float32 (C, size, size) in [0, 1], as it looks on screen."""
    from PIL import Image, ImageOps
    image = ImageOps.exif_transpose(image)  # a phone's portrait photo stands upright
    if image.mode in SIXTEEN_BIT_MODES or image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode != "F" else max(float(values.max()), 1.0)
        fitted = ImageOps.fit(Image.fromarray(values / top, mode="F"), (size, size),
                              method=Image.Resampling.BILINEAR)
        plane = np.clip(np.asarray(fitted, dtype=np.float32), 0.0, 1.0)
        return np.repeat(plane[None], 1 if grey else 3, axis=0)
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND + (255,)), rgba)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # palette, CMYK, YCbCr, bilevel: through RGB first
    image = image.convert("L" if grey else "RGB")
    fitted = np.asarray(ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR),
                        dtype=np.float32) / 255.0
    return fitted[None] if grey else fitted.transpose(2, 0, 1)


def _has_alpha(image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
