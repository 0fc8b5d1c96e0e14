"""Real data for the discriminator: built-in 2D mixtures, 8x8 digits, or the user's own files.

Everything here runs offline: toy sets are generated, the digits ship inside scikit-learn,
and user data is read from disk. A bad file raises DataError with a message a person can
act on (which file, what is wrong), because the GUI shows that message as it is.
"""
from __future__ import annotations

import gzip
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

BUILTIN_DATASETS = ("ring", "grid", "spiral", "moons", "circle", "digits")
USER_KINDS = ("csv", "idx", "folder", "npy")
SUPPORTED_IMAGE_SIZES = (8, 16, 28, 32, 64)  # the sizes the generator/discriminator models build
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dims: N x H x W
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dim: N labels


class DataError(ValueError):
    """Bad user data. The message names the file and the problem, e.g.
    "digits.idx: not an IDX file (magic 0x1234abcd, expected 0x0803 or 0x0801)"."""


@dataclass
class Dataset:
    name: str                 # the spec it came from, e.g. "ring", "digits", "csv:/home/a/pts.csv"
    kind: str                 # "points" (2D) or "images"
    data: torch.Tensor        # float32 on CPU. points: (N, 2); images: (N, C, H, W) in [-1, 1]
    modes: np.ndarray | None = None   # (M, 2) mode centres for known mixtures (ring, grid)
    sigma: float | None = None        # std of each mixture component (ring, grid)
    labels: np.ndarray | None = None  # class labels where known (digits)
    skipped: int = 0                  # unreadable images skipped in a folder

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
            return Dataset(spec, "points", _to_tensor(_read_csv(path)))
        if kind == "idx":
            return Dataset(spec, "images", _fit_size(str(path), _read_idx(path), image_size))
        if kind == "folder":
            images, skipped = _read_folder(path, image_size or 32, grey)
            return Dataset(spec, "images", _to_tensor(images), skipped=skipped)
        array = _read_npy(path)
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
    else:  # circle
        t = rng.uniform(0, 2 * np.pi, n_points)
        points = np.stack([np.cos(t), np.sin(t)], axis=1)
    noise = 0.02 if spec == "circle" else 0.04
    return Dataset(spec, "points", _to_tensor(points + noise * rng.standard_normal(points.shape)))


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
    return Dataset(name, "points", _to_tensor(points), modes=modes, sigma=float(sigma))


def _digits(image_size) -> Dataset:
    from sklearn.datasets import load_digits  # shipped with scikit-learn: no download
    digits = load_digits()
    images = digits.images[:, None].astype(np.float32) / 8.0 - 1.0  # 0..16 -> [-1, 1]
    return Dataset("digits", "images", _fit_size("digits", images, image_size),
                   labels=digits.target.copy())


# ---- user files ---------------------------------------------------------------------------

def _read_csv(path: Path) -> np.ndarray:
    """Two numeric columns (comma, semicolon, tab or space separated); an optional header."""
    _check_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (cannot decode as UTF-8)") from None
    rows, first = [], True
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sep = next((s for s in ",;\t" if s in line), None)  # None: split on any whitespace
        fields = [f.strip() for f in line.split(sep)]
        is_header = first and not all(map(_is_number, fields))
        first = False
        if is_header:
            continue
        if len(fields) != 2:
            raise DataError(f"{path}: line {number} has {len(fields)} columns, expected 2 (x, y)")
        for field in fields:
            if not _is_number(field):
                raise DataError(f"{path}: line {number}: value '{field}' is not a number")
        rows.append((number, float(fields[0]), float(fields[1])))
    if not rows:
        raise DataError(f"{path}: no data rows (only a header)" if text.strip() else
                        f"{path}: file is empty")
    bad = next((r for r in rows if not (math.isfinite(r[1]) and math.isfinite(r[2]))), None)
    if bad:
        raise DataError(f"{path}: line {bad[0]} has a non-finite value ({bad[1]}, {bad[2]})")
    points = np.array([r[1:] for r in rows])
    _check_points(str(path), points)
    return points


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _read_idx(path: Path) -> np.ndarray:
    """MNIST-format IDX images (N x H x W unsigned bytes), raw or gzip-compressed."""
    _check_file(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip by its magic bytes: extensions lie
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic == IDX_LABELS_MAGIC:
        raise DataError(f"{path}: this is an IDX labels file (magic 0x{magic:08x}); "
                        "an images file (e.g. train-images-idx3-ubyte) is needed")
    if magic != IDX_IMAGES_MAGIC:
        raise DataError(f"{path}: not an IDX images file (magic 0x{magic:08x}, "
                        f"expected 0x{IDX_IMAGES_MAGIC:08x}; "
                        f"labels files have 0x{IDX_LABELS_MAGIC:08x})")
    if len(raw) < 16:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, expected 16)")
    n, h, w = struct.unpack(">III", raw[4:16])
    expected = 16 + n * h * w
    if len(raw) < expected:
        raise DataError(f"{path}: truncated: header dims {n}x{h}x{w} say {expected} bytes, "
                        f"file has {len(raw)}")
    if n * h * w == 0:
        raise DataError(f"{path}: no images (header dims {n}x{h}x{w})")
    images = np.frombuffer(raw, np.uint8, count=n * h * w, offset=16).reshape(n, 1, h, w)
    return images.astype(np.float32) / 127.5 - 1.0


def _read_folder(path: Path, size: int, grey: bool) -> tuple[np.ndarray, int]:
    """Every PNG/JPEG/BMP below `path`, resized (short side = size) and centre-cropped."""
    from PIL import Image, ImageOps
    if not path.exists():
        raise DataError(f"{path}: no such folder")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder (use csv:, idx: or npy: for a single file)")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{path}: no image files (looked for {', '.join(IMAGE_SUFFIXES)})")
    mode = "L" if grey else "RGB"
    images, first_error = [], None
    for file in files:
        try:
            with Image.open(file) as image:
                image.draft(mode, (size, size))  # JPEG decodes at reduced size: much faster
                image = ImageOps.fit(image.convert(mode), (size, size),
                                     method=Image.Resampling.BILINEAR)
                images.append(np.asarray(image, dtype=np.uint8))
        except Exception as error:  # Pillow raises many types (OSError, SyntaxError, ...)
            first_error = first_error or f"{file.name}: {error}"
    if not images:
        raise DataError(f"{path}: all {len(files)} image files are unreadable "
                        f"(first: {first_error})")
    array = np.stack(images).astype(np.float32) / 127.5 - 1.0
    array = array[:, None] if grey else array.transpose(0, 3, 1, 2)
    return array, len(files) - len(images)


def _read_npy(path: Path) -> np.ndarray:
    """(N, 2) points, or images as (N, H, W), (N, C, H, W) or (N, H, W, C) with C in {1, 3}."""
    _check_file(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a valid .npy file ({error})") from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataError(f"{path}: an .npz archive; save a single array with np.save")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise DataError(f"{path}: dtype {array.dtype} is not a real number type")
    if array.size == 0:
        raise DataError(f"{path}: empty array (shape {array.shape})")
    if not np.isfinite(array).all():
        raise DataError(f"{path}: contains non-finite values (NaN or inf)")
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

def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file (use folder:PATH for a folder of images)")


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
