"""A frame: what the window renders of one moment of training, packed into bytes for the run
store (store.py) and unpacked again.

Payloads are the ones the training process already sends the window (loop.py flush()):
- images: {"samples": float32 (N, C, H, W) in [-1, 1], "iteration", "updates"}; the samples are
  kept as uint8 (255 levels over [-1, 1], NaN as -1, as render.tile draws it) and come back as
  float32, a quarter of the bytes and no visible change;
- 2D points: {"weights": {"G": {name: array}, "D": {name: array}}, "iteration", "updates"}
  (field.network_weights), kept exactly (float32), since the window recomputes D's heatmap,
  the fakes and the arrows from them.

The bytes are a small JSON header (names, dtypes, shapes) and the raw arrays. Samples are
zlib-compressed (level 1: 4 KB of digits shrink to about 2 KB in 0.1 ms); weights are not:
float weights shrink by only 8 % and zlib took 5.3 ms of a 5.8 ms frame (the 2D default's
169 KB). No pickle, so opening someone else's run folder cannot run code.
"""
from __future__ import annotations

import json
import struct
import zlib

import numpy as np

MAGIC = b"GVF1"
LEVEL = 1          # zlib, for samples


class FrameError(ValueError):
    """Bytes that are not a frame (a damaged store); the store names the folder."""


def samples_to_uint8(samples: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=-1.0, posinf=1.0, neginf=-1.0)
    return np.round((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def uint8_to_samples(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def encode_frame(payload: dict) -> bytes:
    """Bytes for a frame payload (see the module docstring)."""
    arrays: list[tuple[str, np.ndarray]] = []
    if "samples" in payload:
        kind = "samples"
        arrays.append(("samples", samples_to_uint8(payload["samples"])))
    elif "weights" in payload:
        kind = "weights"
        for net in ("G", "D"):
            for name, value in payload["weights"][net].items():
                arrays.append((f"{net}/{name}", np.ascontiguousarray(value)))
    else:
        raise ValueError("a frame needs 'samples' (images) or 'weights' (2D points)")
    header = {"kind": kind, "iteration": int(payload["iteration"]), "updates": int(payload["updates"]),
              "arrays": [[name, a.dtype.str, list(a.shape)] for name, a in arrays]}
    head = json.dumps(header, separators=(",", ":")).encode()
    body = b"".join([MAGIC, struct.pack("<I", len(head)), head] + [a.tobytes() for _, a in arrays])
    return zlib.compress(body, LEVEL) if kind == "samples" else body   # a zlib stream never starts with MAGIC


def decode_frame(data: bytes) -> dict:
    """The payload encode_frame() packed; samples come back as float32 in [-1, 1]."""
    try:
        body = bytes(data) if bytes(data[:4]) == MAGIC else zlib.decompress(data)
        if body[:4] != MAGIC:
            raise FrameError("not a ganviz frame")
        (n,) = struct.unpack_from("<I", body, 4)
        header = json.loads(body[8: 8 + n])
        pos, out = 8 + n, {}
        for name, dtype, shape in header["arrays"]:
            dt = np.dtype(dtype)
            size = dt.itemsize * int(np.prod(shape, dtype=np.int64))
            if pos + size > len(body):
                raise FrameError("frame is cut short")
            out[name] = np.frombuffer(body, dt, count=size // dt.itemsize, offset=pos).reshape(shape).copy()
            pos += size
    except (zlib.error, struct.error, ValueError, KeyError, TypeError) as e:
        raise FrameError(f"damaged frame ({e})") from None
    payload = {"iteration": int(header["iteration"]), "updates": int(header["updates"])}
    if header["kind"] == "samples":
        payload["samples"] = uint8_to_samples(out["samples"])
    else:
        weights = {"G": {}, "D": {}}
        for name, value in out.items():
            net, _, key = name.partition("/")
            weights[net][key] = value
        payload["weights"] = weights
    return payload
