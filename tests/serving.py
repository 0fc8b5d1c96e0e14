"""A `ganviz serve` inside the test process: the service in a thread, a real socket on
127.0.0.1 (any free port), as cli_serve.py sets it up."""
from __future__ import annotations

import os
import threading
import time

from ganviz.core.config import Config
from ganviz.core.trainer import Trainer
from ganviz.protocol import messages as m
from ganviz.protocol.transports import QueueChannel
from ganviz.service.serve import Hub, Server
from ganviz.service.training import TrainingService

TOKEN = "test-token-123"
SMALL_RING = dict(dataset="ring", batch_size=64, hidden=32, probe_size=64, decay_steps=0)


class Served:
    def __init__(self, folder: str, play: bool = False, config: Config | None = None):
        self.logs: list[str] = []
        self.hub = Hub(log=self.logs.append)
        self.server = Server(self.hub, TOKEN, "127.0.0.1", 0)
        self.address = f"127.0.0.1:{self.server.address[1]}"
        self.service = TrainingService(QueueChannel(self.hub.inbox, self.hub))
        self.service.runs_root = folder
        self.folder = os.path.join(folder, "served")
        config = config or Config(**SMALL_RING)
        started = threading.Event()

        def serve():
            self.service.start(Trainer(config), folder=self.folder)
            if play:
                self.service.set_running(True)
            started.set()
            self.service.run()

        self.thread = threading.Thread(target=serve, name="test-served", daemon=True)
        self.thread.start()
        assert started.wait(60), "the served run did not start"

    @property
    def updates(self) -> int:
        return self.service.trainer.updates

    def close(self):
        self.hub.inbox.put(m.Stop())
        self.thread.join(10)
        self.server.close()


def wait_for(predicate, timeout: float = 20.0, what: str = "the condition"):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


class SlowLink:
    """A relay to `target` ("HOST:PORT") that delays every byte by `delay` seconds each way and
    carries at most `rate` bytes a second each way: a far-away server over a thin link."""

    def __init__(self, target: str, delay: float = 0.2, rate: float = 250_000):
        import socket
        self.target, self.delay, self.rate = target, delay, rate
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.carried = 0   # bytes from the server to the window
        self.links = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while True:
            try:
                near, _ = self.sock.accept()
            except OSError:
                return
            host, port = self.target.split(":")
            far = socket.create_connection((host, int(port)))
            self.links.append((near, far))
            self._pump(near, far, count=False)
            self._pump(far, near, count=True)

    def _pump(self, src, dst, count: bool):
        import queue
        chunks: queue.Queue = queue.Queue()

        def read():
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                chunks.put((time.monotonic() + self.delay, data))
                if not data:
                    return

        def write():
            while True:
                due, data = chunks.get()
                time.sleep(max(0.0, due - time.monotonic()))
                if not data:
                    break
                try:
                    for i in range(0, len(data), 8192):
                        piece = data[i: i + 8192]
                        dst.sendall(piece)
                        if count:
                            self.carried += len(piece)
                        time.sleep(len(piece) / self.rate)
                except OSError:
                    break
            for s in (src, dst):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()

    def close(self):
        self.sock.close()
        for near, far in self.links:
            near.close()
            far.close()


def events_until(transport, kind, ack=True, timeout=20.0):
    """The events received up to and including the first of `kind` (Batches acknowledged)."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        event = transport.receive()
        seen.append(event)
        if isinstance(event, m.Batch) and ack:
            transport.send(m.Ack())
        if isinstance(event, kind):
            return seen
    raise AssertionError(f"no {kind.__name__} within {timeout} s: {[type(e).__name__ for e in seen]}")
