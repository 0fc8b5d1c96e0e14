"""`ganviz serve` (service/serve.py, protocol/remote.py) across real sockets on 127.0.0.1:
the token, one window controlling and others watching, throttling per window, leaving and
coming back with nothing lost, and garbage that neither side lets in."""
import os
import random
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from ganviz.protocol import messages as m
from ganviz.protocol import wire
from ganviz.protocol.remote import ConnectError, SocketTransport
from serving import TOKEN, events_until, wait_for


def test_a_wrong_token_gets_a_refusal_and_nothing_else_and_is_logged(served):
    with pytest.raises(ConnectError, match="refused this window: wrong token") as refused:
        SocketTransport.connect(served.address, "not-the-token")
    assert refused.value.refused   # the window stops retrying: only a new token helps
    wait_for(lambda: any("refused" in line and "wrong token" in line for line in served.logs), what="the log line")
    assert not served.hub.clients
    with pytest.raises(ConnectError, match="cannot reach") as unreachable:   # nobody there
        SocketTransport.connect("127.0.0.1:1", TOKEN)
    assert not unreachable.value.refused   # a server restarting: the window retries


def test_a_window_attaches_gets_the_run_so_far_and_steps_exactly_once(served):
    served.hub.inbox.put(m.Play())
    wait_for(lambda: served.updates >= 30, what="30 updates")
    served.hub.inbox.put(m.Pause())
    wait_for(lambda: not served.service.running)
    t = SocketTransport.connect(served.address, TOKEN)
    try:
        assert t.controls
        started = events_until(t, m.RunStarted)[-1]
        assert started.folder is None and served.folder in started.note   # the store is on the server
        kept = served.service.trainer.history.array()
        np.testing.assert_array_equal(started.history, kept)   # every row, bit for bit
        assert started.updates == served.updates == len(kept)
        before = served.updates
        t.send(m.Step())
        stepped = events_until(t, m.Stepped)[-1]
        assert stepped.record.update == before + 1 == served.updates
    finally:
        t.send(m.Stop())   # the window leaves; the service trains on
    wait_for(lambda: not served.hub.clients, what="the window to be gone")
    served.hub.inbox.put(m.Play())
    wait_for(lambda: served.updates > before + 20, what="training after the window left")


def test_one_window_controls_the_others_watch_until_they_take_control(served):
    a = SocketTransport.connect(served.address, TOKEN)
    b = SocketTransport.connect(served.address, TOKEN)
    try:
        assert a.controls and not b.controls
        events_until(b, m.RunStarted)
        updates = served.updates
        b.send(m.Step())
        refused = events_until(b, m.Failed)[-1]
        assert "watching" in refused.message and served.updates == updates
        b.send(m.SendAll())   # what only reads the run, a watcher may ask
        assert events_until(b, m.Batch)[-1].metrics is not None
        b.send(m.TakeControl())
        control = events_until(b, m.Control)[-1]
        while not control.on:   # the Control sent when b attached may come first
            control = events_until(b, m.Control)[-1]
        assert control == m.Control(True, 2)
        wait_for(lambda: served.hub.controller == 2)
        b.send(m.Step())
        events_until(b, m.Stepped)
        assert served.updates == updates + 1
        b.send(m.Stop())   # the controller leaves: the window attached longest controls
        wait_for(lambda: served.hub.controller == 1, what="a to control again")
    finally:
        a.send(m.Stop())


def test_a_window_that_does_not_answer_gets_every_record_in_one_merged_batch(served):
    """Training does not wait for a slow window: its batches merge (records add up, the
    samples are the latest) until it acknowledges."""
    t = SocketTransport.connect(served.address, TOKEN)
    try:
        events_until(t, m.RunStarted)
        first = events_until(t, m.Batch, ack=False)[-1]   # now unacknowledged
        served.hub.inbox.put(m.Play())
        wait_for(lambda: served.updates > first.updates + 200, what="200 updates")
        assert served.updates > first.updates + 200   # training went on meanwhile
        t.send(m.Ack())
        merged = events_until(t, m.Batch, ack=False)[-1]
        updates = [r.update for r in merged.records]
        assert len(updates) >= 150 and updates == list(range(updates[0], updates[0] + len(updates)))
        assert merged.weights is not None   # the 2D field's latest weights came along
    finally:
        t.send(m.Stop())


def test_a_dropped_connection_comes_back_with_nothing_lost(served):
    served.hub.inbox.put(m.Play())
    t = SocketTransport.connect(served.address, TOKEN)
    rows = events_until(t, m.RunStarted)[-1].history.shape[0]
    received = []
    for event in events_until(t, m.Batch):
        received += getattr(event, "records", [])
    t.sock.shutdown(socket.SHUT_RDWR)   # the link drops
    with pytest.raises(EOFError):
        while True:
            t.receive()
    wait_for(lambda: served.updates > rows + len(received) + 50, what="training while the window was away")
    again = t.reconnect()
    try:
        history = events_until(again, m.RunStarted)[-1].history
        assert len(history) > rows + len(received)
        np.testing.assert_array_equal(history[:, 0], np.arange(1, len(history) + 1))   # no update missing
        following = [r.update for e in events_until(again, m.Batch) for r in getattr(e, "records", [])]
        if following:   # the live records pick up right after the history it sent
            assert following[0] == len(history) + 1
    finally:
        again.send(m.Stop())


def garbage_connections(address):
    """Bytes no window sends: each on a connection of its own."""
    host, port = address.split(":")
    rng = random.Random(3)
    hello = wire.encode(wire.Hello(TOKEN))
    yield b""                                          # connects, says nothing, leaves
    yield bytes(rng.randrange(256) for _ in range(3000))   # noise
    yield struct.pack(">Q", 1 << 40)                   # a terabyte announced
    yield hello[:20]                                   # a hello cut short
    yield wire.encode(m.Step())                        # a command before the hello
    yield hello + struct.pack(">Q", 1 << 30)           # a gigabyte command announced
    yield hello + wire.encode(m.Step())[:15]           # a command cut short
    yield hello + b"\x00" * 8                          # an empty frame
    yield hello + hello                                # hello twice (out of order)
    yield hello + wire.encode(m.Running(True))         # an event, which no window sends
    yield hello + wire.encode(m.Step()).replace(b"Step", b"Save")   # a refused type
    yield wire.encode(wire.Hello("x")).replace(b'"x"', b'"\\ud800"')   # a token that is no text
    yield hello + wire.encode(m.Interpolate(1, 2, 10 ** 30))       # a number too big to use


def test_fuzz_garbage_neither_crashes_the_server_nor_stays_with_it(served):
    threads_before = threading.active_count()
    host, port = served.address.split(":")
    for payload in garbage_connections(served.address):
        with socket.create_connection((host, int(port))) as sock:
            sock.settimeout(15)
            try:   # the server may have hung up already: what it does is the test, not this side
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):   # the server answers (or not) and closes
                    pass
            except OSError:
                pass
    wait_for(lambda: not served.hub.clients, what="every garbage connection to be dropped")
    wait_for(lambda: threading.active_count() <= threads_before + 1, what="their threads to end")
    assert served.thread.is_alive()
    t = SocketTransport.connect(served.address, TOKEN)   # the server still serves
    try:
        events_until(t, m.RunStarted)
        before = served.updates
        t.send(m.Step())
        events_until(t, m.Stepped)
        assert served.updates == before + 1
    finally:
        t.send(m.Stop())
    refusals = [line for line in served.logs if "refused" in line or "left" in line]
    assert len(refusals) >= 8, served.logs


def test_a_client_that_says_nothing_or_dribbles_is_dropped_after_the_hello_timeout(served, monkeypatch):
    from ganviz.service import serve
    monkeypatch.setattr(serve, "HELLO_TIMEOUT", 0.5)
    host, port = served.address.split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.settimeout(10)
        started = time.monotonic()
        while sock.recv(65536):   # a refusal, if it still gets through, then the close
            pass
        assert time.monotonic() - started < 3.0
    wait_for(lambda: any("no valid hello" in line for line in served.logs))
    hello = wire.encode(wire.Hello(TOKEN))
    started = time.monotonic()
    with socket.create_connection((host, int(port))) as sock:   # a byte every 0.2 s: never done
        try:
            for byte in hello:
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
    assert time.monotonic() - started < 3.0   # cut off at the deadline for the whole hello
    assert not served.hub.clients


def test_a_window_cannot_name_a_file_on_the_server(served, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("1,2\n3,4\n")
    t = SocketTransport.connect(served.address, TOKEN)
    try:
        events_until(t, m.RunStarted)
        from ganviz.core.config import Config
        t.send(m.Reset(Config(dataset=f"csv:{secret}")))
        refused = events_until(t, m.Failed)[-1]
        assert "cannot name files on the server" in refused.message
        t.send(m.Reset(Config(dataset="grid", batch_size=64, hidden=32)))   # a built-in one: a new run
        assert events_until(t, m.RunStarted)[-1].dataset_name == "grid"
    finally:
        t.send(m.Stop())


@pytest.mark.slow(seconds=12)
def test_cli_serve_prints_a_private_token_serves_and_saves_on_ctrl_c(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "ganviz", "serve", "--dataset", "ring", "--port", "0",
                             "--out", str(out), "--batch-size", "64", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        token_line = proc.stdout.readline()
        address = first.split("listening on ")[1].split(";")[0]
        token = token_line.split()[1]
        path = tmp_path / "config" / "ganviz" / "tokens" / f"serve-{address.split(':')[1]}"
        assert path.read_text().strip() == token
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        t = SocketTransport.connect(address, token)
        started = events_until(t, m.RunStarted)[-1]
        assert started.config.dataset == "ring"
        events_until(t, m.Batch)
        t.send(m.Stop())
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert (out / "checkpoint.pt").exists() and (out / "run.db").exists()
    assert "checkpoint saved" in err and "window 1 attached" in err


def test_cli_serve_refuses_to_listen_beyond_this_machine_without_the_flag(capsys):
    from ganviz.cli import main
    assert main(["serve", "--dataset", "ring", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-remote" in err and "SSH tunnel" in err


@pytest.mark.slow(seconds=8)
def test_cli_train_serve_ends_after_its_steps(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-m", "ganviz", "train", "--serve", "--dataset", "ring", "--port", "0",
                           "--steps", "40", "--out", str(out), "--batch-size", "64", "--threads", "1"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "iteration 40; checkpoint saved" in done.stderr


def test_the_window_command_says_in_one_line_when_no_server_answers(capsys):
    from ganviz.cli import main
    assert main(["--connect", "127.0.0.1:1", "--token", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach 127.0.0.1:1" in err


def fake_server(payloads):
    """A listener that says Welcome to each connection, then sends it one payload and closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        for payload in payloads:
            conn, _ = listener.accept()
            with conn:
                try:   # the window may hang up (even reset) before all of it is sent
                    wire.read_frame(conn, 4096, {"Hello": wire.Hello})
                    conn.sendall(wire.encode(wire.Welcome(True)) + payload)
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass
        listener.close()
    threading.Thread(target=serve, daemon=True).start()
    return f"127.0.0.1:{listener.getsockname()[1]}"


def test_fuzz_a_window_takes_no_garbage_from_a_server():
    """A server (or whatever answers on its port) sending garbage, truncated, oversized or
    out-of-order frames: the window's transport ends the connection with EOFError (the worker
    then reconnects), never with another exception and never allocating what a frame announces."""
    rng = random.Random(5)
    good = wire.encode(m.Running(True))
    payloads = [bytes(rng.randrange(256) for _ in range(5000)), good[:-4], struct.pack(">Q", 1 << 62),
                wire.encode(m.Step()), wire.encode(wire.Hello("x")), good + wire.encode(wire.Welcome(True))[:-1],
                good.replace(b"Running", b"Running2"), b""]
    address = fake_server(payloads)
    for payload in payloads:
        t = SocketTransport.connect(address, "any")
        received = []
        with pytest.raises(EOFError):
            while True:
                received.append(t.receive())
        assert all(isinstance(e, m.Running) for e in received)
        assert not t.alive()
