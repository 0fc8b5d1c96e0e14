"""The door's messages as bytes, for a socket (service/serve.py, remote.py): data only.

No pickle crosses the network: unpickling runs whatever the sender chose. A frame is

    8 bytes   the body's length (big-endian), checked against the reader's limit BEFORE any
              memory is spent on the body
    4 bytes   the header's length
    header    JSON: {"type": message class name, "fields": {...}, "arrays": [[dtype, shape], ...]}
    buffers   each array's raw bytes, in order (or, for [dtype, shape, n], n bytes of zlib: big
              float64 arrays, the history's rows, are sent packed, inflated no further than
              their shape says and the reader's limit allows)

Field values are JSON (None, bools, numbers, NaN and infinities included, strings, lists and
dicts with string keys) plus tagged kinds: {"$a": i} the i-th array (a dtype from ARRAY_DTYPES,
its shape checked against its bytes), {"$t": [...]} a tuple, {"$config": {...}} a Config
(validated as any Config is), {"$record": {...}} a Record, {"$records": {"$a": i}} a list of
Records as one array of history rows (a batch's records: 144 bytes each instead of ~600 in JSON),
{"$note": {...}} a RecoveryNote. The type must be one of the
messages the receiver accepts, and the fields exactly that message's fields. Anything else is
a WireError, which the receiver treats as a broken connection: it never guesses.
"""
from __future__ import annotations

import dataclasses
import json
import math
import struct
import zlib

import numpy as np

from . import messages as m

ARRAY_DTYPES = ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")
MAX_DIMS = 8           # an array's dimensions, each at most MAX_SIDE
MAX_SIDE = 1 << 40
MAX_HEADER = 4 << 20   # the JSON part of any frame
PACK_BYTES = 16 << 10  # float64 arrays this big or bigger are sent zlib-packed when that saves a quarter
_LENGTH = struct.Struct(">Q")
_HEADER = struct.Struct(">I")


class WireError(ValueError):
    """Bytes that are not a frame this side accepts (garbled, too big, of a refused type)."""


# ---------------------------------------------------------------- handshake messages
@dataclasses.dataclass(frozen=True)
class Hello:
    """Client -> server, first frame: the token the server printed, and the wire's version."""
    token: str
    version: int = 1


@dataclasses.dataclass(frozen=True)
class Welcome:
    """Server -> client: accepted. controls: this client's commands are obeyed (else it watches)."""
    controls: bool
    server: str = ""


@dataclasses.dataclass(frozen=True)
class Refused:
    """Server -> client, then the connection closes: why, in words."""
    reason: str


VERSION = 1
# what each side accepts: a server never builds anything else from a client's bytes
CLIENT_MESSAGES = {c.__name__: c for c in (Hello, *m.NETWORK_COMMANDS)}
SERVER_MESSAGES = {c.__name__: c for c in (Welcome, Refused, *m.EVENTS, m.Control) if c is not m.To}


# ---------------------------------------------------------------- encoding
def encode(message) -> bytes:
    """One frame for `message` (a dataclass of the door). Raises WireError for a value that
    is not data (a function, a Dataset object, a tensor)."""
    arrays: list[np.ndarray] = []
    fields = {f.name: _value(getattr(message, f.name), arrays) for f in dataclasses.fields(message)}
    specs, buffers = [], []
    for a in arrays:
        data = a.tobytes()
        packed = zlib.compress(data, 1) if a.dtype == np.float64 and len(data) >= PACK_BYTES else None
        if packed is not None and len(packed) < 0.75 * len(data):   # history rows: 4-5 times smaller
            specs.append([a.dtype.name, list(a.shape), len(packed)])
            buffers.append(packed)
        else:
            specs.append([a.dtype.name, list(a.shape)])
            buffers.append(data)
    header = json.dumps({"type": type(message).__name__, "fields": fields, "arrays": specs},
                        separators=(",", ":")).encode()
    body_length = _HEADER.size + len(header) + sum(len(b) for b in buffers)
    return b"".join([_LENGTH.pack(body_length), _HEADER.pack(len(header)), header, *buffers])


def _value(v, arrays):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, np.ndarray):
        if v.dtype.name not in ARRAY_DTYPES:
            raise WireError(f"an array of {v.dtype} cannot be sent (only {', '.join(ARRAY_DTYPES)})")
        arrays.append(np.ascontiguousarray(v))
        return {"$a": len(arrays) - 1}
    if isinstance(v, tuple):
        return {"$t": [_value(x, arrays) for x in v]}
    if isinstance(v, list):
        from ganviz.core.history import Record, as_rows
        if v and all(type(x) is Record for x in v):   # a batch's records: one array, 144 bytes each
            return {"$records": _value(as_rows(v), arrays)}
        return [_value(x, arrays) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) and not k.startswith("$") for k in v):
            raise WireError("only dicts with plain string keys can be sent")
        return {k: _value(x, arrays) for k, x in v.items()}
    from ganviz.core.config import Config
    from ganviz.core.history import Record
    if isinstance(v, Config):
        return {"$config": _value(v.to_dict(), arrays)}
    if isinstance(v, Record):
        return {"$record": _value(dataclasses.asdict(v), arrays)}
    if isinstance(v, m.RecoveryNote):
        return {"$note": _value(dataclasses.asdict(v), arrays)}
    raise WireError(f"a {type(v).__name__} cannot be sent over the network (only data)")


# ---------------------------------------------------------------- decoding
def decode(body: bytes | memoryview, accepted: dict, limit: int = 1 << 30):
    """The message in one frame's body (the bytes after its length), if its type is in
    `accepted` (CLIENT_MESSAGES or SERVER_MESSAGES); packed arrays inflate to `limit` bytes at most."""
    body = memoryview(body)
    if len(body) < _HEADER.size:
        raise WireError("a frame shorter than its header's length")
    (n,) = _HEADER.unpack_from(body)
    if n > MAX_HEADER or _HEADER.size + n > len(body):
        raise WireError(f"a header of {n} bytes in a frame of {len(body)}")
    try:
        header = json.loads(bytes(body[_HEADER.size: _HEADER.size + n]))
        kind, fields, specs = header["type"], header["fields"], header["arrays"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise WireError("a frame whose header is not the JSON of a message") from None
    cls = accepted.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise WireError(f"a message of type {str(kind)[:40]!r}, which this side does not accept")
    arrays = _arrays(body[_HEADER.size + n:], specs, limit)
    declared = {f.name: f.type for f in dataclasses.fields(cls)}
    if not isinstance(fields, dict) or not set(fields) <= set(declared):
        raise WireError(f"{kind} with fields that are not its own")
    try:
        values = {k: _from(v, arrays) for k, v in fields.items()}
        for name, value in values.items():
            if not _fits(value, declared[name]):
                raise WireError(f"{kind}.{name} is a {type(value).__name__}, not {declared[name]}")
        return cls(**values)
    except WireError:
        raise
    except RecursionError:
        raise WireError(f"{kind} nested too deeply") from None
    except Exception as e:   # noqa: BLE001 - a missing field, a Config that does not validate (a
        # number too big for a float): whatever it is, the bytes are not a message this side takes
        raise WireError(f"{kind}: {type(e).__name__}: {str(e)[:200]}") from None


def _fits(value, annotation: str) -> bool:
    """`value` is of the type a message's field declares ("int", "np.ndarray | None",
    "list[Record]", ...). "Any" and "Callable" fields take None only: what is sent is data."""
    from ganviz.core.config import Config
    from ganviz.core.history import Record
    kinds = {"bool": bool, "int": int, "float": (int, float), "str": str, "dict": dict, "tuple": tuple,
             "np.ndarray": np.ndarray, "Config": Config, "Record": Record, "RecoveryNote": m.RecoveryNote,
             "None": type(None)}
    for part in str(annotation).replace("Any", "None").replace("Callable", "None").split("|"):
        part = part.strip()
        if part.startswith("list[") and isinstance(value, list):
            if all(_fits(x, part[5:-1]) for x in value):
                return True
        elif part in kinds and isinstance(value, kinds[part]):
            return True
    return False


def _arrays(data: memoryview, specs, limit: int) -> list[np.ndarray]:
    """The arrays `specs` describe, from `data`: [dtype, shape] raw, or [dtype, shape, n] n bytes
    of zlib, inflated no further than the shape says (and `limit` bytes in all allows)."""
    if not isinstance(specs, list):
        raise WireError("a frame's array list is not a list")
    arrays, at, inflated = [], 0, 0
    for spec in specs:
        try:
            dtype, shape, *packed = spec
            if dtype not in ARRAY_DTYPES or not isinstance(shape, list) or len(shape) > MAX_DIMS \
                    or not all(type(s) is int and 0 <= s <= MAX_SIDE for s in shape) \
                    or not (packed == [] or (len(packed) == 1 and type(packed[0]) is int and packed[0] >= 0)):
                raise TypeError
            count = math.prod(shape)
        except (TypeError, ValueError):
            raise WireError(f"an array described as {str(spec)[:60]}") from None
        size = count * np.dtype(dtype).itemsize
        stored = packed[0] if packed else size
        if at + stored > len(data):
            raise WireError(f"an array of {stored} bytes past the frame's end")
        raw = data[at: at + stored]
        if packed:
            if size == 0:   # zlib reads a limit of 0 as none
                raise WireError("a packed array of no bytes")
            inflated += size
            if inflated > limit:
                raise WireError(f"arrays of {inflated} bytes unpacked (at most {limit} accepted)")
            raw = _inflate(raw, size)
        arrays.append(np.frombuffer(raw, dtype=dtype).reshape(shape).copy())
        at += stored
    if at != len(data):
        raise WireError(f"{len(data) - at} bytes after the frame's arrays")
    return arrays


def _inflate(packed, size: int) -> bytes:
    """zlib data that must inflate to exactly `size` bytes (never more is produced)."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, size)
    except zlib.error as e:
        raise WireError(f"a packed array that does not inflate ({e})") from None
    if len(raw) != size or inflater.unconsumed_tail or not inflater.eof:
        raise WireError(f"a packed array that is not the {size} bytes its shape says")
    return raw


def _from(v, arrays):
    if isinstance(v, list):
        return [_from(x, arrays) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        (tag, inner), = v.items()
        if tag == "$a":
            if not isinstance(inner, int) or not 0 <= inner < len(arrays):
                raise WireError(f"a reference to array {str(inner)[:20]} of {len(arrays)}")
            return arrays[inner]
        if tag == "$t" and isinstance(inner, list):
            return tuple(_from(x, arrays) for x in inner)
        if tag in ("$config", "$record", "$note") and isinstance(inner, dict):
            return _typed(tag, _from(inner, arrays))
        if tag == "$records":
            from ganviz.core.history import COLUMNS, as_records
            rows = _from(inner, arrays)
            if not (isinstance(rows, np.ndarray) and rows.dtype == np.float64 and rows.ndim == 2
                    and rows.shape[1] == len(COLUMNS)):
                raise WireError("records that are not rows of the history's columns")
            return as_records(rows)
    if any(k.startswith("$") for k in v):
        raise WireError(f"an unknown tagged value {str(list(v))[:40]}")
    return {k: _from(x, arrays) for k, x in v.items()}


def _typed(tag, d: dict):
    from ganviz.core.config import Config
    from ganviz.core.history import Record
    if tag == "$config":
        return Config.from_dict(d)   # ConfigError (a ValueError) for a setting out of range
    cls = Record if tag == "$record" else m.RecoveryNote
    if set(d) != {f.name for f in dataclasses.fields(cls)}:
        raise WireError(f"a {cls.__name__} with fields that are not its own")
    return cls(**d)


# ---------------------------------------------------------------- reading from a socket
def read_frame(sock, limit: int, accepted: dict):
    """The next message on `sock`: EOFError when the peer closed cleanly between frames,
    WireError for a frame over `limit` bytes (refused before reading it) or garbled."""
    head = _read_exactly(sock, _LENGTH.size, at_start=True)
    (length,) = _LENGTH.unpack(head)
    if length > limit:
        raise WireError(f"a frame of {length} bytes (at most {limit} accepted)")
    return decode(_read_exactly(sock, length), accepted, limit)


def _read_exactly(sock, n: int, at_start: bool = False) -> memoryview:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            if at_start and got == 0:
                raise EOFError("the connection closed")
            raise WireError(f"the connection closed inside a frame ({got} of {n} bytes)")
        got += k
    return view
