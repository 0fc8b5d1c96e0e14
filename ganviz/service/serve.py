"""The training service for windows on other machines: TCP, a token, data-only frames.

    window --(wire frames over TCP)--> Server --> Client (one per window) --> Hub --> TrainingService

The service runs as it does for a local window, reading commands from one queue; the Hub is
its channel (transports.QueueChannel over the Hub's inbox, the Hub as its outbox). The Hub
hands each event to every attached window's Client, which sends it on in a thread of its own:

- Throttled per window. The Hub acknowledges each batch to the service at once, so training
  never waits for a slow link; each Client holds back the next batch until its window
  acknowledges the last, merging the batches in between (records add up, samples and field
  weights: latest wins). A window more than MAX_BEHIND records behind is cut off: it reconnects
  and reads the history again (the run store is the truth).
- One window controls. Its commands go to the service; the others watch (their commands are
  answered with a Failed) until one takes control (TakeControl) or the controller leaves.
- Data only (protocol/wire.py), and only the commands in messages.NETWORK_COMMANDS: nothing a
  window sends names a file on this machine or code to run. A window is let in only with the
  token this server printed (compared in constant time); a wrong one is refused and logged.
"""
from __future__ import annotations

import collections
import dataclasses
import hmac
import itertools
import os
import queue
import secrets
import socket
import sys
import threading
import time

from ganviz.protocol import messages as m
from ganviz.protocol import wire
from ganviz.protocol.remote import token_path

HELLO_LIMIT = 4096              # the first frame (the token): bytes at most
COMMAND_LIMIT = 1 << 20         # any later frame from a window: a command is small
HELLO_TIMEOUT = 10.0            # seconds a connection may take to say its token
MAX_BEHIND = 50_000             # records a window may lag behind before it is cut off
MAX_QUEUED = 500                # other events waiting for a window (a Step's few, a run's start)
STARTING_ALLOWANCE = 4          # ... times MAX_BEHIND while its RunStarted is on its way
READ_ONLY = (m.SendAll, m.SendSamples)   # a watcher asks these too (its view moved) ...
READ_ONLY_S = 0.25                        # ... at most once in this many seconds
MAX_GREETING = 32               # connections still to say their token (more are closed at once)


class Hub:
    """The service's channel outward: one TrainingService, any number of windows."""

    def __init__(self, log=None):
        self.inbox: queue.Queue = queue.Queue()   # commands for the service
        self.log = log or (lambda text: print(f"ganviz serve: {text}", file=sys.stderr, flush=True))
        self.lock = threading.Lock()
        self.clients: dict[int, Client] = {}      # in the order they attached
        self.controller: int | None = None
        self.dataset = ""   # the served run's dataset: a Reset may keep it, not name another file
        self._ids = itertools.count(1)

    # ------------------------------------------------ the service's side (QueueChannel's outbox)
    def put(self, event: m.Event):
        inner = event.event if isinstance(event, m.To) else event
        if isinstance(inner, m.RunStarted):
            self.dataset = inner.config.dataset
        if isinstance(event, m.To):
            client = self.clients.get(event.to)
            if client is not None:
                client.offer(event.event, own=True)
            return
        if isinstance(event, m.Batch):
            self.inbox.put(m.Ack())   # training goes on; each window is throttled by its Client
        for client in list(self.clients.values()):
            client.offer(event)

    # ------------------------------------------------ windows
    def attach(self, sock, address) -> "Client":
        with self.lock:   # its Welcome first, before any Control another window's coming may send
            client = Client(self, sock, next(self._ids), address)
            self.clients[client.id] = client
            if self.controller is None:
                self.controller = client.id
            client.offer(wire.Welcome(controls=self.controller == client.id, server=socket.gethostname()),
                         own=True)
        self.inbox.put(m.Describe(client.id))   # the run as it stands, to it alone
        self.tell_control()
        self.log(f"window {client.id} attached from {address}"
                 + (" (controls)" if self.controller == client.id else " (watches)"))
        return client

    def detach(self, client: "Client", why: str):
        with self.lock:
            if self.clients.pop(client.id, None) is None:
                return
            if self.controller == client.id:   # the longest attached window controls next
                self.controller = next(iter(self.clients), None)
        self.log(f"window {client.id} ({client.address}) left: {why}")
        self.tell_control()

    def take_control(self, client: "Client"):
        with self.lock:
            if client.id in self.clients:
                self.controller = client.id
        self.tell_control()

    def tell_control(self):
        with self.lock:
            clients, controller = list(self.clients.values()), self.controller
        for c in clients:
            c.offer(m.Control(c.id == controller, len(clients)), own=True)

    def command(self, client: "Client", command: m.Command):
        """A command a window sent (already checked to be one of NETWORK_COMMANDS)."""
        if isinstance(command, m.Ack):
            client.acknowledged()
        elif isinstance(command, m.TakeControl):
            self.take_control(client)
        elif isinstance(command, m.Stop):   # a window closing: it leaves, training goes on
            client.close("it closed")
        elif client.id != self.controller and isinstance(command, READ_ONLY):
            now = time.monotonic()
            if now - client.asked_at >= READ_ONLY_S:   # each forces a frame and a commit of the store
                client.asked_at = now
                self.inbox.put(command)
        elif client.id != self.controller:
            client.offer(m.Failed("This window is watching: another window controls the run. "
                                  "Server > Take control makes this one control it."), own=True)
        elif isinstance(command, m.Reset) and names_a_file(command.config.dataset) \
                and command.config.dataset != self.dataset:
            client.offer(m.Failed(f"A window cannot name files on the server ({command.config.dataset}): "
                                  "a Reset there keeps the run's data or picks a built-in dataset. "
                                  "Start `ganviz serve --dataset KIND:PATH` on the server for other data."),
                         own=True)
        else:
            self.inbox.put(command)


class Client:
    """One attached window: its socket, its reader and writer threads, and what waits for it."""

    def __init__(self, hub: Hub, sock, client_id: int, address: str):
        self.hub, self.sock, self.id, self.address = hub, sock, client_id, address
        self.cond = threading.Condition()
        self.queue: collections.deque = collections.deque()   # events in order, batches aside
        self.batch: m.Batch | None = None   # the batches its window has not taken yet, merged
        self.acked = True
        self.described = False   # it has its RunStarted: broadcasts reach it from now on
        self.starting = False    # its RunStarted (the run's whole history) is being sent
        self.asked_at = 0.0      # when it last asked, watching, for samples (READ_ONLY)
        self.closed = False
        threading.Thread(target=self._write, name=f"ganviz-serve-w{client_id}", daemon=True).start()
        threading.Thread(target=self._read, name=f"ganviz-serve-r{client_id}", daemon=True).start()

    def offer(self, event, own: bool = False):
        """Queue `event` for the window: one of its `own`, or one for every window, which it
        gets once it has its own RunStarted (that holds all that came before)."""
        with self.cond:
            if self.closed or not (own or self.described):
                return
            if isinstance(event, m.RunStarted):
                self.described, self.batch = True, None   # a new run: the old one's records are moot
                self.starting = True
                event = dataclasses.replace(event, folder=None, note=_on_server(event))
            if isinstance(event, m.Batch):
                self.batch = event if self.batch is None else merged(self.batch, event)
                # a long run's history takes a while over a thin link: meanwhile, more may wait
                if len(self.batch.records) > MAX_BEHIND * (STARTING_ALLOWANCE if self.starting else 1):
                    self._close_locked(f"more than {len(self.batch.records) - 1} records behind (a slow link)")
            else:
                if self.batch is not None:   # in order: the batch before what followed it
                    self.queue.append(self.batch)
                    self.batch = None
                self.queue.append(event)
                if len(self.queue) > MAX_QUEUED:
                    self._close_locked(f"{MAX_QUEUED} events waiting for it")
            self.cond.notify()

    def acknowledged(self):
        with self.cond:
            self.acked = True
            self.cond.notify()

    def close(self, why: str):
        with self.cond:
            self._close_locked(why)

    def _close_locked(self, why: str):
        if self.closed:
            return
        self.closed = True
        self.queue.clear()
        self.batch = None
        self.cond.notify()
        _shut(self.sock)   # wakes its reader
        threading.Thread(target=self.hub.detach, args=(self, why), daemon=True).start()

    def _next(self):
        with self.cond:
            self.cond.wait_for(lambda: self.closed or self.queue or (self.batch is not None and self.acked))
            if self.closed:
                return None
            if self.queue:
                event = self.queue.popleft()
            else:
                event, self.batch = self.batch, None
            if isinstance(event, m.Batch):
                self.acked = False
            return event

    def _write(self):
        while True:
            event = self._next()
            if event is None:
                break
            try:
                self.sock.sendall(wire.encode(event))
            except (OSError, wire.WireError) as e:
                self.close(f"cannot send to it ({e})")
            if isinstance(event, m.RunStarted):
                with self.cond:
                    self.starting = False
        self.sock.close()

    def _read(self):
        while not self.closed:
            try:
                command = wire.read_frame(self.sock, COMMAND_LIMIT, wire.CLIENT_MESSAGES)
            except EOFError:
                return self.close("it closed the connection")
            except (OSError, wire.WireError) as e:
                return self.close(f"{e}" if isinstance(e, wire.WireError) else f"the connection broke ({e})")
            if isinstance(command, wire.Hello):
                return self.close("it said hello twice")
            try:
                self.hub.command(self, command)
            except Exception as e:   # noqa: BLE001 - a well-formed command this side cannot take
                return self.close(f"{type(e).__name__}: {e}")


def names_a_file(dataset: str) -> bool:
    """KIND:PATH data (csv:, npy:, idx:, folder:), as opposed to a built-in dataset's name."""
    from ganviz.core.data import USER_KINDS
    return dataset.partition(":")[0] in USER_KINDS


def merged(older: m.Batch, newer: m.Batch) -> m.Batch:
    """Two batches as one: every record of both; the newer samples, field weights, metrics and
    histogram where it has them (latest wins), else the older's."""
    keep = {name: getattr(older, name) for name in ("samples", "weights", "metrics", "histogram")
            if getattr(newer, name) is None}
    return dataclasses.replace(newer, records=older.records + newer.records, **keep)


def _on_server(event: m.RunStarted) -> str:
    """A remote window cannot read the run's store: say where it is (on the server)."""
    if not event.folder:
        return event.note
    where = f"The run is kept on the server in {event.folder}"
    return f"{event.note}. {where}" if event.note else where


# ---------------------------------------------------------------- the listening socket
class Server:
    def __init__(self, hub: Hub, token: str, host: str = "127.0.0.1", port: int = 0):
        self.hub, self.token = hub, token
        self.sock = socket.create_server((host, port))
        self.address = self.sock.getsockname()[:2]
        self.closed = False
        self.greeting = threading.BoundedSemaphore(MAX_GREETING)
        self.thread = threading.Thread(target=self._accept, name="ganviz-serve", daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closed:
            try:
                sock, address = self.sock.accept()
            except OSError:
                if self.closed:
                    return
                time.sleep(0.1)   # out of file descriptors (or the like): try again, do not stop serving
                continue
            if not self.greeting.acquire(blocking=False):
                sock.close()   # MAX_GREETING connections are still to say their token
                continue
            threading.Thread(target=self._greet, args=(sock, f"{address[0]}:{address[1]}"),
                             daemon=True).start()

    def _greet(self, sock, address: str):
        """The token first, within HELLO_TIMEOUT seconds in all and HELLO_LIMIT bytes, or the
        door stays shut."""
        deadline = threading.Timer(HELLO_TIMEOUT, _shut, args=(sock,))
        deadline.start()
        try:
            sock.settimeout(HELLO_TIMEOUT)
            hello = wire.read_frame(sock, HELLO_LIMIT, {"Hello": wire.Hello})
            if not hmac.compare_digest(hello.token.encode("utf-8", "replace"), self.token.encode()):
                return self._refuse(sock, address, "wrong token")
            if hello.version != wire.VERSION:
                return self._refuse(sock, address, f"wire version {hello.version}, this server speaks {wire.VERSION}")
        except (EOFError, OSError, wire.WireError) as e:
            return self._refuse(sock, address, f"no valid hello ({e})")
        except Exception as e:   # noqa: BLE001 - whatever it sent, it is not let in
            return self._refuse(sock, address, f"no valid hello ({type(e).__name__})")
        finally:
            deadline.cancel()
            self.greeting.release()
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.hub.attach(sock, address)

    def _refuse(self, sock, address, why):
        self.hub.log(f"refused {address}: {why}")
        try:
            sock.sendall(wire.encode(wire.Refused("wrong token" if why == "wrong token" else why)))
        except OSError:
            pass
        sock.close()

    def close(self):
        self.closed = True
        _shut(self.sock)   # wakes the accept()
        self.sock.close()
        for client in list(self.hub.clients.values()):
            client.close("the server stopped")


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


# ---------------------------------------------------------------- tokens
def new_token() -> str:
    return secrets.token_urlsafe(24)


def write_token(token: str, port: int) -> str:
    """Write the token with mode 0600 (created so: never readable by others, not even briefly)."""
    path = token_path(port)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return path
