"""Real data for the discriminator: built-in 2D mixtures, 8x8 digits, or the user's own files.

Everything here runs offline: toy sets are generated, the digits ship inside scikit-learn,
and user data is read from disk. A bad file raises DataError with a message a person can
act on (which file, what is wrong), because the GUI shows that message as it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .images import IMAGE_SUFFIXES, read_folder
from .inputs import DataError, report_note
from .readers import labels_file_for, read_csv, read_idx, read_idx_labels, read_npy

__all__ = ["BUILTIN_DATASETS", "USER_KINDS", "SUPPORTED_IMAGE_SIZES", "IMAGE_SUFFIXES", "DataError",
           "Dataset", "load_dataset", "points_dataset"]

BUILTIN_DATASETS = ("ring", "grid", "spiral", "moons", "circle", "digits")
USER_KINDS = ("csv", "idx", "folder", "npy")
SUPPORTED_IMAGE_SIZES = (8, 16, 28, 32, 64)  # the sizes the generator/discriminator models build

@dataclass
class Dataset:
    name: str                 # the spec it came from, e.g. "ring", "digits", "csv:/home/a/pts.csv"
    kind: str                 # "points" (2D) or "images"
    data: torch.Tensor        # float32 on CPU. points: (N, 2); images: (N, C, H, W) in [-1, 1]
    modes: np.ndarray | None = None   # (M, 2) mode centres for known mixtures (ring, grid)
    sigma: float | None = None        # std of each mixture component (ring, grid)
    labels: np.ndarray | None = None  # class of each sample (int64, 0..C-1) where known
    classes: tuple | None = None      # the C class names, with labels
    skipped: int = 0                  # unreadable images skipped in a folder
    skipped_example: str = ""         # the first of them, "name: reason"

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.data.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.kind == "images"

    @property
    def channels(self) -> int | None:
        return int(self.data.shape[1]) if self.is_image else None

    @property
    def image_size(self) -> int | None:
        return int(self.data.shape[2]) if self.is_image else None

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def labelled(self) -> bool:
        return self.labels is not None and bool(self.classes) and len(self.classes) > 1


def load_dataset(spec: str, *, seed: int = 0, n_points: int = 50_000,
                 ring_modes: int = 8, ring_radius: float = 1.0, ring_sigma: float = 0.01,
                 image_size: int | None = None, grey: bool = True) -> Dataset:
    """Load a built-in dataset by name, or the user's data as "KIND:PATH" (KIND in USER_KINDS).

    Generated sets are deterministic given `seed`. `image_size` resizes image data (folder:
    defaults to 32); `grey` picks one channel ("L") or three (RGB) for folder: only, since
    idx is always grey and npy keeps the channels it was saved with. Points are returned in
    their own coordinates, never rescaled.
    """
    spec = spec.strip()
    if image_size is not None and image_size not in SUPPORTED_IMAGE_SIZES:
        raise DataError(f"image size {image_size} is not supported: use one of {_sizes()}")
    kind, sep, path = spec.partition(":")
    if sep and kind in USER_KINDS:
        if not path.strip():
            raise DataError(f"'{spec}' needs a path after '{kind}:', e.g. {kind}:/data/my_file")
        path = Path(path.strip()).expanduser()
        if kind == "csv":
            points = read_csv(path)
            _check_points(str(path), points)
            return Dataset(spec, "points", _to_tensor(points))
        if kind == "idx":
            images = read_idx(path)
            labels_path = labels_file_for(path)
            labels, classes = None, None
            if labels_path is not None:   # train-labels-idx1-ubyte beside train-images-idx3-ubyte
                try:
                    values, labels = np.unique(read_idx_labels(labels_path, len(images)), return_inverse=True)
                    classes = tuple(str(v) for v in values)
                except DataError as e:   # the images still train (unconditionally): say why without labels
                    report_note(f"{e}; the images are read without class labels")
            return Dataset(spec, "images", _fit_size(str(path), images, image_size),
                           labels=labels, classes=classes)
        if kind == "folder":
            images, skipped, example, labels, classes = read_folder(path, image_size or 32, grey)
            if skipped:
                report_note(f"{path}: skipped {skipped} of {skipped + len(images)} image files "
                            f"that could not be read (e.g. {example})")
            return Dataset(spec, "images", _to_tensor(images), skipped=skipped,
                           skipped_example=example, labels=labels, classes=classes)
        array = _npy_layout(path, read_npy(path))
        if array.ndim == 2:
            return Dataset(spec, "points", _to_tensor(array))
        return Dataset(spec, "images", _fit_size(str(path), array, image_size))
    if spec not in BUILTIN_DATASETS:
        raise DataError(f"unknown dataset '{spec}': use one of {', '.join(BUILTIN_DATASETS)}, "
                        f"or KIND:PATH with KIND one of {', '.join(USER_KINDS)}")
    if spec == "digits":
        return _digits(image_size)
    if n_points < 2:
        raise DataError(f"{spec}: n_points is {n_points}; need at least 2")
    rng = np.random.default_rng(seed)
    if spec == "ring":
        if ring_modes < 1:
            raise DataError(f"ring: ring_modes is {ring_modes}; need at least 1")
        # M distinct angles: linspace(0, 2*pi, M) with its end point would repeat angle 0.
        angles = 2 * np.pi * np.arange(ring_modes) / ring_modes
        modes = ring_radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return _mixture(spec, modes, ring_sigma, n_points, rng)
    if spec == "grid":
        modes = np.array([(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)], float)
        return _mixture(spec, modes, 0.05, n_points, rng)
    labels = classes = None   # the moons are two classes; the spiral and circle have none
    if spec == "spiral":
        # sqrt spreads points evenly along the arc instead of crowding the centre.
        t = np.sqrt(rng.uniform(0.05, 1.0, n_points)) * 3 * np.pi
        points = 1.8 * (t / (3 * np.pi))[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    elif spec == "moons":
        t = rng.uniform(0, np.pi, n_points)
        upper = rng.random(n_points) < 0.5
        x = np.where(upper, np.cos(t), 1 - np.cos(t)) - 0.5
        y = np.where(upper, np.sin(t), 0.5 - np.sin(t)) - 0.25
        points = 1.2 * np.stack([x, y], axis=1)
        labels, classes = (~upper).astype(np.int64), ("upper moon", "lower moon")
    else:  # circle
        t = rng.uniform(0, 2 * np.pi, n_points)
        points = np.stack([np.cos(t), np.sin(t)], axis=1)
    noise = 0.02 if spec == "circle" else 0.04
    return Dataset(spec, "points", _to_tensor(points + noise * rng.standard_normal(points.shape)),
                   labels=labels, classes=classes)


def points_dataset(points: np.ndarray, name: str = "drawn") -> Dataset:
    """Wrap user points (e.g. drawn with the mouse) as a points dataset."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise DataError(f"{name}: expected points of shape (N, 2), got {array.shape}")
    _check_points(name, array)
    return Dataset(name, "points", _to_tensor(array))


# ---- built-in data ------------------------------------------------------------------------

def _mixture(name, modes, sigma, n_points, rng) -> Dataset:
    component = rng.integers(len(modes), size=n_points)  # equal mixture weights
    points = modes[component] + sigma * rng.standard_normal((n_points, 2))
    return Dataset(name, "points", _to_tensor(points), modes=modes, sigma=float(sigma),
                   labels=component.astype(np.int64),
                   classes=tuple(f"mode {i + 1}" for i in range(len(modes))))


def _digits(image_size) -> Dataset:
    from sklearn.datasets import load_digits  # shipped with scikit-learn: no download
    digits = load_digits()
    images = digits.images[:, None].astype(np.float32) / 8.0 - 1.0  # 0..16 -> [-1, 1]
    return Dataset("digits", "images", _fit_size("digits", images, image_size),
                   labels=digits.target.astype(np.int64), classes=tuple(str(d) for d in range(10)))


# ---- user files ---------------------------------------------------------------------------

def _npy_layout(path: Path, array: np.ndarray) -> np.ndarray:
    """(N, 2) points, or images as (N, H, W), (N, C, H, W) or (N, H, W, C) with C in {1, 3}."""
    shape_help = ("expected (N, 2) points, or images (N, H, W), (N, C, H, W) or (N, H, W, C) "
                  "with C = 1 or 3")
    if array.ndim == 2:
        if array.shape[1] != 2:
            raise DataError(f"{path}: shape {array.shape}: {shape_help}")
        _check_points(str(path), array)
        return array.astype(np.float64)
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[1] not in (1, 3):
        if array.shape[3] not in (1, 3):
            raise DataError(f"{path}: shape {array.shape}: {shape_help}")
        array = array.transpose(0, 3, 1, 2)
    elif array.ndim != 4:
        raise DataError(f"{path}: shape {array.shape}: {shape_help}")
    return _scale_images(array)


def _scale_images(array: np.ndarray) -> np.ndarray:
    """Map pixel values to [-1, 1], the range of the generator's tanh output."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 127.5 - 1.0
    x = array.astype(np.float32)
    low, high = float(x.min()), float(x.max())
    if low >= 0 and high <= 1:
        return x * 2 - 1
    if low >= -1 and high <= 1:
        return x
    if high == low:  # a constant array carries no contrast: map it to mid-grey
        return np.zeros_like(x)
    return (x - low) / (high - low) * 2 - 1


# ---- shared checks ------------------------------------------------------------------------

def _check_points(name: str, points: np.ndarray) -> None:
    if len(points) < 2:
        raise DataError(f"{name}: only {len(points)} point(s); need at least 2")
    if not np.isfinite(points).all():
        raise DataError(f"{name}: contains non-finite values (NaN or inf)")


def _fit_size(name: str, images: np.ndarray, image_size: int | None) -> torch.Tensor:
    """Resize square images to `image_size`, or check their own size is one the models build."""
    n, channels, h, w = images.shape
    if h != w:
        raise DataError(f"{name}: images are {h}x{w}, not square; the models need square images "
                        "(save them as PNGs and use folder:PATH, which centre-crops)")
    data = _to_tensor(images)
    if image_size is None:
        if h not in SUPPORTED_IMAGE_SIZES:
            raise DataError(f"{name}: images are {h}x{w}; supported sizes are {_sizes()} "
                            "(pass an image size to resize)")
        return data
    if image_size != h:
        # antialias keeps thin strokes when shrinking instead of aliasing them away
        data = F.interpolate(data, size=(image_size, image_size), mode="bilinear",
                             align_corners=False, antialias=image_size < h).clamp_(-1, 1)
    return data


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _sizes() -> str:
    return ", ".join(map(str, SUPPORTED_IMAGE_SIZES))
