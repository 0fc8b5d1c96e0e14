"""Readers for the user's single files: CSV points, IDX images (raw or gzip) and .npy arrays.

Each checks what the file declares (its size, its header) before allocating for it, and
reads large files in bounded pieces: a 190 MB CSV is parsed block by block into one float32
array, never into a Python float per value.
"""
from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .inputs import (DataError, check_regular_file, check_size, human_bytes, report_progress)

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dims: N x H x W
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dim: N labels
CSV_BLOCK_BYTES = 4 << 20      # parsed at a time: bounded memory, progress every block
CSV_MAX_LINE = 1 << 20         # a "line" longer than this is not a row of two numbers
FLOAT32_MAX = float(np.finfo(np.float32).max)


# ---- csv ----------------------------------------------------------------------------------

def read_csv(path: Path) -> np.ndarray:
    """Two numeric columns (comma, semicolon, tab or space separated); an optional header.
    Returns float32 (N, 2)."""
    size = check_regular_file(path)
    rows = _GrowingRows(path, size)
    parser = _CsvParser(path)
    done, carry, first = 0, b"", True
    with open(path, "rb") as f:
        while True:
            block = f.read(CSV_BLOCK_BYTES)
            done += len(block)
            at_end = not block
            data = carry + block
            cut = len(data) if at_end else data.rfind(b"\n") + 1
            carry, data = data[cut:], data[:cut]
            if len(carry) > CSV_MAX_LINE:
                raise DataError(f"{path}: line {parser.line + 1} is longer than "
                                f"{human_bytes(CSV_MAX_LINE)}; expected rows of two numbers")
            if data:
                try:
                    text = data.decode("utf-8-sig" if first else "utf-8")
                except UnicodeDecodeError:
                    raise DataError(f"{path}: not a text file (cannot decode as UTF-8)") from None
                first = False
                rows.append(parser.parse(text))
                report_progress(done, size, str(path))
            if at_end:
                break
    if not len(rows):
        raise DataError(f"{path}: no data rows (only a header)" if parser.saw_text else
                        f"{path}: file is empty")
    return rows.array()


class _CsvParser:
    """Parses blocks of whole lines; remembers the line count and whether the header (the
    first non-comment line, when not all numbers) has been seen."""

    def __init__(self, path):
        self.path, self.line, self.saw_text, self.header_done = path, 0, False, False

    def parse(self, text: str) -> np.ndarray:
        parts = []
        while not self.header_done and text:  # up to the first row, line by line
            end = text.find("\n") + 1 or len(text)
            parts.append(self._part(text[:end]))
            text = text[end:]
        if text:
            parts.append(self._part(text))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _part(self, text: str) -> np.ndarray:
        first_line = self.line + 1
        values = self._fast(text) if self.header_done else None
        lines = None
        if values is None:
            values, lines = self._exact(text)
        else:
            self.line += text.count("\n") + (not text.endswith("\n"))
        self._check_finite(values, lines, first_line)
        return values

    def _fast(self, text: str) -> np.ndarray | None:
        """The common case in one pass: every line "x<sep>y" with the same separator. Any
        other block (comments, blank lines, a bad value) goes to _exact, which names the line."""
        sep = next((s for s in ",;\t" if s in text[:200]), None)
        if sep is None or any(s in text for s in ",;\t" if s != sep) or "#" in text:
            return None
        body = text[:-1] if text.endswith("\n") else text
        n_lines = body.count("\n") + 1
        if body.count(sep) != n_lines:
            return None
        # one separator per line (not two on one, none on another): count them line by line
        raw = np.frombuffer(body.encode(), np.uint8)
        line_of_sep = np.searchsorted(np.flatnonzero(raw == 10), np.flatnonzero(raw == ord(sep)))
        if len(line_of_sep) != n_lines or np.any(np.diff(line_of_sep) != 1):
            return None
        try:
            values = np.array(body.replace("\n", sep).split(sep), dtype=np.float64)
        except ValueError:
            return None
        return values.reshape(n_lines, 2)

    def _exact(self, text: str):
        """Line by line, as a person reads the file; returns (values, line numbers)."""
        values, numbers = [], []
        for raw_line in text.splitlines():
            self.line += 1
            line = raw_line.strip()
            self.saw_text = self.saw_text or bool(line)
            if not line or line.startswith("#"):
                continue
            sep = next((s for s in ",;\t" if s in line), None)  # None: split on any whitespace
            fields = [f.strip() for f in line.split(sep)]
            if not self.header_done:
                self.header_done = True
                if not all(map(_is_number, fields)):
                    continue
            if len(fields) != 2:
                raise DataError(f"{self.path}: line {self.line} has {len(fields)} columns, "
                                "expected 2 (x, y)")
            for field in fields:
                if not _is_number(field):
                    raise DataError(f"{self.path}: line {self.line}: value '{field}' is not a number")
            values.append((float(fields[0]), float(fields[1])))
            numbers.append(self.line)
        return np.array(values, dtype=np.float64).reshape(-1, 2), numbers

    def _check_finite(self, values, lines, first_line):
        bad = ~np.isfinite(values).all(axis=1)
        big = ~bad & (np.abs(values) > FLOAT32_MAX).any(axis=1)
        for mask, problem in ((bad, "a non-finite value"), (big, "a value too large for float32")):
            if mask.any():
                i = int(np.argmax(mask))
                number = lines[i] if lines is not None else first_line + i
                x, y = values[i]
                raise DataError(f"{self.path}: line {number} has {problem} ({x}, {y})")


class _GrowingRows:
    """A float32 (N, 2) buffer sized from the file's length and grown by half when the guess
    was short: memory stays near 8 bytes per point instead of a Python tuple per row."""

    def __init__(self, path, file_size: int):
        self.path, self.size, self.n, self.buf = path, file_size, 0, None

    def append(self, values: np.ndarray):
        if not len(values):
            return
        if self.buf is None:  # first block: guess the row count from its bytes per row
            guess = int(self.size / CSV_BLOCK_BYTES * len(values) * 1.1) + len(values) + 1024
            check_size(self.path, f"about {guess} rows of points", guess * 8)
            self.buf = np.empty((guess, 2), np.float32)
        if self.n + len(values) > len(self.buf):
            grown = np.empty((max(int(len(self.buf) * 1.5), self.n + len(values)), 2), np.float32)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n: self.n + len(values)] = values
        self.n += len(values)

    def __len__(self):
        return self.n

    def array(self) -> np.ndarray:
        try:  # shrinks in place (realloc) where it can, without a second copy
            self.buf.resize((self.n, 2), refcheck=False)
            return self.buf
        except ValueError:
            return self.buf[: self.n].copy()


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


# ---- idx ----------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """MNIST-format IDX images (N x H x W unsigned bytes), raw or gzip-compressed. The
    header's dims are checked before the images are read; gzip data is inflated only as far
    as the header declares, so a compression bomb never unpacks."""
    size = check_regular_file(path)
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"  # gzip by its magic bytes: extensions lie
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f, mode="rb") if compressed else f
        try:
            return _read_idx_stream(path, stream, None if compressed else size)
        except (OSError, EOFError, zlib.error) as error:
            if not compressed:
                raise
            raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from None


def _read_idx_stream(path, stream, file_size) -> np.ndarray:
    head = stream.read(16)
    if len(head) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(head)} bytes)")
    magic = int.from_bytes(head[:4], "big")
    if magic == IDX_LABELS_MAGIC:
        raise DataError(f"{path}: this is an IDX labels file (magic 0x{magic:08x}); "
                        "an images file (e.g. train-images-idx3-ubyte) is needed")
    if magic != IDX_IMAGES_MAGIC:
        raise DataError(f"{path}: not an IDX images file (magic 0x{magic:08x}, "
                        f"expected 0x{IDX_IMAGES_MAGIC:08x}; "
                        f"labels files have 0x{IDX_LABELS_MAGIC:08x})")
    if len(head) < 16:
        raise DataError(f"{path}: truncated IDX header ({len(head)} bytes, expected 16)")
    n, h, w = (int.from_bytes(head[i: i + 4], "big") for i in (4, 8, 12))
    count = n * h * w
    if count == 0:
        raise DataError(f"{path}: no images (header dims {n}x{h}x{w})")
    # the bytes, then their float32 copy
    check_size(path, f"header declares {n} images of {h}x{w} pixels", count, count * 5)
    if file_size is not None and file_size < 16 + count:
        raise DataError(f"{path}: truncated: header dims {n}x{h}x{w} say {16 + count} bytes, "
                        f"file has {file_size}")
    images = np.empty(count, np.uint8)
    view, got = memoryview(images), 0
    while got < count:
        k = stream.readinto(view[got:])
        if not k:
            raise DataError(f"{path}: truncated: header dims {n}x{h}x{w} say {16 + count} "
                            f"bytes, data has {16 + got}")
        got += k
    scaled = images.astype(np.float32)
    del images
    scaled /= 127.5
    scaled -= 1.0
    return scaled.reshape(n, 1, h, w)


def labels_file_for(images: Path) -> Path | None:
    """The IDX labels file that sits next to an IDX images file, named as MNIST names them
    (train-images-idx3-ubyte -> train-labels-idx1-ubyte, .gz kept), or None."""
    name = images.name
    guess = name.replace("images", "labels").replace("idx3", "idx1")
    if guess == name:
        return None
    candidate = images.with_name(guess)
    return candidate if candidate.is_file() else None


def read_idx_labels(path: Path, count: int) -> np.ndarray:
    """The class labels (int64, N) of an IDX labels file, raw or gzip-compressed; N must be
    `count`, the number of images they label."""
    check_regular_file(path)
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f, mode="rb") if compressed else f
        try:
            head = stream.read(8)
            if len(head) < 8 or int.from_bytes(head[:4], "big") != IDX_LABELS_MAGIC:
                raise DataError(f"{path}: not an IDX labels file (expected magic "
                                f"0x{IDX_LABELS_MAGIC:08x})")
            n = int.from_bytes(head[4:8], "big")
            if n != count:
                raise DataError(f"{path}: {n} labels for {count} images; the labels file must "
                                "label every image, in order")
            labels = np.frombuffer(stream.read(n), np.uint8)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: corrupt or truncated labels file ({error})") from None
    if len(labels) != n:
        raise DataError(f"{path}: truncated: the header says {n} labels, the file holds {len(labels)}")
    return labels.astype(np.int64)


# ---- npy ----------------------------------------------------------------------------------

def read_npy(path: Path) -> np.ndarray:
    """The array in a .npy file, its header (shape, dtype) checked before the data is read."""
    size = check_regular_file(path)
    fmt = np.lib.format
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise DataError(f"{path}: an .npz archive; save a single array with np.save")
        f.seek(0)
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
            else:
                shape, fortran, dtype = fmt._read_array_header(f, version)
        except (ValueError, OSError, EOFError, SyntaxError) as error:
            raise DataError(f"{path}: not a valid .npy file ({error})") from None
        data_start = f.tell()
    if dtype.hasobject or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise DataError(f"{path}: dtype {dtype} is not a real number type")
    count = math.prod(shape)
    if count == 0:
        raise DataError(f"{path}: empty array (shape {shape})")
    # the file's values, then their float32 copy
    check_size(path, f"header declares shape {shape} of {dtype}", count * dtype.itemsize,
               count * (dtype.itemsize + 4))
    if size - data_start < count * dtype.itemsize:
        raise DataError(f"{path}: truncated: header declares shape {shape} of {dtype}, "
                        f"{count * dtype.itemsize} bytes of data; the file holds {size - data_start}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a valid .npy file ({error})") from None
    if not np.isfinite(array).all():
        raise DataError(f"{path}: contains non-finite values (NaN or inf)")
    return array
