"""The network's frames (protocol/wire.py): data in, the same data out; anything else refused
with a WireError, never a crash, never memory spent on a size not yet checked."""
import dataclasses
import random
import socket
import struct

import numpy as np
import pytest

from ganviz.core.config import Config
from ganviz.core.history import Record
from ganviz.protocol import messages as m
from ganviz.protocol import wire


def record(update=1, phase="D", loss=0.7):
    return Record(update=update, iteration=1, x=0.5, phase=phase, epoch=0.01, loss_d=loss,
                  loss_d_real=0.3, loss_d_fake=0.4, loss_g=float("nan"), d_real_before=0.5,
                  d_real_after=0.52, d_fake_before=0.5, d_fake_after=0.48, acc_real=0.6, acc_fake=0.55,
                  grad_norm=1.25, lr=2e-4, duration=0.001)


def roundtrip(message, accepted=wire.SERVER_MESSAGES):
    frame = wire.encode(message)
    (length,) = struct.unpack(">Q", frame[:8])
    assert length == len(frame) - 8
    return wire.decode(frame[8:], accepted)


def assert_same(a, b):
    assert type(a) is type(b)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_every_kind_of_event_arrives_as_it_was_sent():
    rng = np.random.default_rng(0)
    config = Config(dataset="ring", batch_size=64, lr_d=3e-4)
    events = [
        m.RunStarted(config=config, device="cpu", dataset_kind="points", dataset_name="ring",
                     dataset_size=1000, sample_shape=(2,), fixed_noise=rng.standard_normal((16, 8)).astype(np.float32),
                     history=rng.standard_normal((50, 19)), next_phase="G", iteration=3, updates=7,
                     real=rng.standard_normal((20, 2)).astype(np.float32), note="a note",
                     recovery=m.RecoveryNote(False, "gone"), classes=("a", "b"),
                     fixed_labels=np.arange(16, dtype=np.int64)),
        m.Batch(records=[record(1), record(2, "G")], next_phase="D", iteration=2, updates=2, epoch=0.1,
                ups=120.5, time=1.5, samples=rng.random((3, 1, 8, 8), dtype=np.float32),
                weights={"G": {"net.0.weight": rng.random((4, 2), dtype=np.float32)}, "D": {}},
                metrics={"modes": 8, "hq": 91.5, "kl": float("inf"), "per_class": [0.1, float("nan")]},
                histogram=(np.linspace(0, 1, 5), np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1]))),
        m.Stepped(record(3)),
        m.Stages(record(4), {"d_real": [0.5, 0.6], "grad": np.ones((2, 2), np.float32), "flag": np.bool_(True)}),
        m.Running(True), m.NonFinite(record(5, loss=float("nan"))), m.Failed("Bad.", "trace"),
        m.SettingsApplied({"lr_d": 0.001}, ["hidden"]), m.Progress(10, 100, "f.npy"),
        m.Explored("path", rng.random((9, 1, 8, 8), dtype=np.float32), {"t": [0.0, 0.5, 1.0]}),
        m.Control(False, 2), wire.Welcome(True, "box"), wire.Refused("wrong token"),
    ]
    for event in events:
        back = roundtrip(event)
        if isinstance(event, m.Stages):   # a numpy bool is sent as a bool
            assert back.values["flag"] is True
            back.values["flag"] = event.values["flag"] = True
        assert_same(event, back)


def test_every_network_command_crosses_and_nothing_else_does():
    commands = [m.Play(), m.Pause(), m.Step(stages=True), m.StepIteration(), m.ChangeSettings({"lr_g": 1e-3}),
                m.Reset(Config(dataset="grid")), m.Restore(), m.FreshNoise(True), m.SendAll(), m.SendSamples(),
                m.Interpolate(1, 2, 5), m.PlaneSample((1, 2, 3, 4), 0.5, 0.25), m.NearestReal(1, 2, 0.5),
                m.Ack(), m.Stop(), m.TakeControl(), wire.Hello("t")]
    for c in commands:
        assert_same(c, roundtrip(c, wire.CLIENT_MESSAGES))
    # a server builds no message that names a file or code, nor an event, from a window's bytes
    for refused in (m.Save("/etc/x"), m.Open("/x.pt"), m.RunsFolder("/"), m.RecoveryFolder("/"),
                    m.ContinueFrom("/r", 3), m.Describe(1), m.Running(True)):
        with pytest.raises(wire.WireError, match="does not accept"):
            roundtrip(refused, wire.CLIENT_MESSAGES)


def test_what_is_not_data_is_not_sent():
    with pytest.raises(wire.WireError, match="function"):
        wire.encode(m.Call(1, print))
    with pytest.raises(wire.WireError, match="object"):
        wire.encode(m.Batch([], "D", 0, 0, 0.0, 0.0, 0.0, samples=np.array([object()])))
    with pytest.raises(wire.WireError, match="string keys"):
        wire.encode(m.ChangeSettings({1: 2}))


def frame_with(header: dict, buffers: bytes = b"") -> bytes:
    h = json_bytes(header)
    return struct.pack(">I", len(h)) + h + buffers


def json_bytes(d):
    import json
    return json.dumps(d).encode()


@pytest.mark.parametrize("body, says", [
    (b"", "shorter"),
    (struct.pack(">I", 999) + b"{}", "header of 999"),
    (struct.pack(">I", 5) + b"nope!", "not the JSON"),
    (frame_with({"type": "Step", "fields": {}, "arrays": []}), "does not accept"),   # a command, to a window
    (frame_with({"type": "Running", "fields": {"on": True, "x": 1}, "arrays": []}), "not its own"),
    (frame_with({"type": "Running", "fields": {}, "arrays": []}), "Running"),        # a missing field
    (frame_with({"type": "Running", "fields": {"on": {"$a": 0}}, "arrays": [["object", [1]]]}), "described"),
    (frame_with({"type": "Running", "fields": {"on": {"$a": 0}}, "arrays": [["float64", [4]]]}, b"\0" * 8), "past"),
    (frame_with({"type": "Running", "fields": {"on": {"$a": 3}}, "arrays": [["float64", [1]]]}, b"\0" * 8), "reference"),
    (frame_with({"type": "Running", "fields": {"on": True}, "arrays": []}, b"extra"), "after"),
    (frame_with({"type": "Running", "fields": {"on": {"$eval": "x"}}, "arrays": []}), "unknown tagged"),
    (frame_with({"type": "Reset", "fields": {"config": {"$config": {"lr_d": -1}}}, "arrays": []}), "Reset"),
    (frame_with({"type": "Stepped", "fields": {"record": {"$record": {"update": 1}}}, "arrays": []}), "Record"),
    (struct.pack(">I", 200_000) + b"[" * 100_000 + b"]" * 100_000, "not the JSON"),    # nested past the stack
    (frame_with({"type": "Running", "fields": {"on": {"$a": 0}}, "arrays": [["uint8", [1] * 65]]}, b"\0"), "described"),
    (frame_with({"type": "Running", "fields": {"on": {"$a": 0}}, "arrays": [["uint8", [0, 2 ** 64]]]}), "described"),
    (frame_with({"type": "Running", "fields": {"on": {"$a": 0}}, "arrays": [["uint8", [1.5]]]}), "described"),
    (frame_with({"type": "Reset", "fields": {"config": {"$config": {"lr_d": 10 ** 400}}}, "arrays": []}), "Reset"),
    (frame_with({"type": "Running", "fields": {"on": "yes"}, "arrays": []}), "Running.on is a str"),
    (frame_with({"type": "Batch", "fields": {"records": [1], "next_phase": "D", "iteration": 0, "updates": 0,
                                             "epoch": 0, "ups": 0, "time": 0}, "arrays": []}), "records"),
    (frame_with({"type": "Batch", "fields": {"records": [], "next_phase": "D", "iteration": 0, "updates": 0,
                                             "epoch": 0, "ups": 0, "time": 0, "field": {"x": 1}},
                 "arrays": []}), "field"),   # what the window computes itself is never taken from the wire
])
def test_a_frame_that_is_not_a_message_is_refused_in_words(body, says):
    accepted = {**wire.SERVER_MESSAGES, "Reset": m.Reset}
    with pytest.raises(wire.WireError, match=says):
        wire.decode(body, accepted)


def test_an_oversized_frame_is_refused_before_its_body_is_read():
    """Only the length arrives (no body follows): the reader refuses at once instead of
    allocating 2**60 bytes or waiting for them."""
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">Q", 1 << 60))
        b.settimeout(5)
        with pytest.raises(wire.WireError, match="at most 1024"):
            wire.read_frame(b, 1024, wire.SERVER_MESSAGES)


def test_a_frame_cut_short_is_an_error_and_a_clean_close_is_the_end():
    frame = wire.encode(m.Running(True))
    a, b = socket.socketpair()
    with b:
        a.sendall(frame[:-3])
        a.close()
        with pytest.raises(wire.WireError, match="inside a frame"):
            wire.read_frame(b, 1 << 20, wire.SERVER_MESSAGES)
    a, b = socket.socketpair()
    with b:
        a.sendall(frame)
        a.close()
        assert wire.read_frame(b, 1 << 20, wire.SERVER_MESSAGES) == m.Running(True)
        with pytest.raises(EOFError):
            wire.read_frame(b, 1 << 20, wire.SERVER_MESSAGES)


def test_fuzz_mutated_frames_decode_or_raise_wire_error_only():
    """5000 random corruptions of real frames (flipped bytes, cuts, splices): every one decodes
    to a message or raises WireError; nothing else escapes (no KeyError, no MemoryError)."""
    rng = random.Random(12)
    seeds = [wire.encode(e)[8:] for e in (
        m.Batch([record(1), record(2, "G")], "D", 2, 2, 0.1, 1.0, 1.0, samples=np.zeros((2, 1, 4, 4), np.float32),
                metrics={"modes": 3}),
        m.RunStarted(Config(dataset="ring"), "cpu", "points", "ring", 10, (2,), np.zeros((4, 8), np.float32),
                     np.zeros((3, 19)), "D", 0, 0),
        m.Control(True, 1), m.Failed("x", "y"))]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(5000):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            how = rng.random()
            if how < 0.5 and body:
                body[rng.randrange(len(body))] = rng.randrange(256)
            elif how < 0.7:
                body = body[: rng.randrange(len(body) + 1)]
            elif how < 0.85:
                i = rng.randrange(len(body) + 1)
                body[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            else:   # a digit in the header changed: shapes, counts and indices go wrong
                digits = [i for i, c in enumerate(body[:200]) if chr(c).isdigit()]
                if digits:
                    body[rng.choice(digits)] = ord(str(rng.randrange(10)))
        try:
            wire.decode(bytes(body), wire.SERVER_MESSAGES)
            outcomes["ok"] += 1
        except wire.WireError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 2500 and sum(outcomes.values()) == 5000


def test_a_long_history_crosses_packed_and_comes_out_bit_for_bit():
    rng = np.random.default_rng(1)
    history = np.zeros((20_000, 18))
    history[:, 0] = np.arange(1, 20_001)                         # the update column, and a few
    history[:, 4] = np.round(rng.random(20_000), 3)              # columns that vary, as a run's do
    history[::20, 5] = rng.standard_normal(1000)
    history[1::20, 5] = np.nan
    started = m.RunStarted(Config(dataset="ring"), "cpu", "points", "ring", 10, (2,), np.zeros((4, 8), np.float32),
                           history, "D", 0, 20_000)
    frame = wire.encode(started)
    assert len(frame) < history.nbytes / 3   # packed
    assert_same(started, wire.decode(frame[8:], wire.SERVER_MESSAGES))


def packed_frame(data: bytes, shape, stored=None):
    import zlib
    packed = zlib.compress(data)
    return frame_with({"type": "Running", "fields": {"on": {"$a": 0}},
                       "arrays": [["float64", shape, len(packed) if stored is None else stored]]}, packed)


@pytest.mark.parametrize("body, limit, says", [
    (packed_frame(b"\0" * (1 << 24), [16]), 1 << 30, "not the 128 bytes"),       # a zip bomb: 16 MB for 128 bytes
    (packed_frame(b"\0" * 800, [1 << 20]), 1 << 20, "unpacked"),                 # more than the reader takes
    (packed_frame(b"\0" * 800, [100], stored=3), 1 << 30, "inflate|not the"),     # cut short
    (frame_with({"type": "Running", "fields": {"on": {"$a": 0}}, "arrays": [["float64", [4], 5]]}, b"junk!"),
     1 << 30, "inflate"),
    (frame_with({"type": "Running", "fields": {"on": {"$a": 0}}, "arrays": [["float64", [4], -1]]}), 1 << 30, "described"),
])
def test_a_packed_array_inflates_to_its_shape_and_the_limit_at_most(body, limit, says):
    with pytest.raises(wire.WireError, match=says):
        wire.decode(body, wire.SERVER_MESSAGES, limit)
