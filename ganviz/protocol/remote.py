"""A window's end of `ganviz serve` (service/serve.py): the Transport over TCP.

connect("HOST:PORT", token) says the token, waits for the server's Welcome and returns the
transport; after that it is used as the local ones are (the worker sends commands, reads events).
receive() raises EOFError when the connection ends, and exit_reason() says why; the worker then
connects again (reconnect()), and the server sends the run as its store has it: nothing is lost.
Stop, from a window closing, only closes this connection: training goes on on the server.
"""
from __future__ import annotations

import os
import socket
import threading

from . import messages as m
from . import wire
from .transports import Transport

DEFAULT_PORT = 8765
EVENT_LIMIT = 1 << 30       # bytes in one frame from the server: a run's start carries its whole
                            # history (a million updates: about 150 MB)
CONNECT_TIMEOUT = 10.0


class ConnectError(OSError):
    """Cannot attach: no server there, a wrong token, not a ganviz server. Words for a person;
    refused: the server answered, and said no (trying again with the same token will not help)."""

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused


def parse_address(text: str) -> tuple[str, int]:
    """"HOST:PORT", "HOST" (port 8765) or ":PORT" (this machine) -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = port, str(DEFAULT_PORT)
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not an address like HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT})")
    return host, int(port)


def find_token(port: int, given: str | None = None) -> str | None:
    """The token given, else $GANVIZ_TOKEN, else the one a server on this machine wrote for
    `port` (an SSH tunnel's far end is not this machine: there, pass it or set the variable)."""
    if given:
        return given.strip()
    if os.environ.get("GANVIZ_TOKEN"):
        return os.environ["GANVIZ_TOKEN"].strip()
    return read_token(port)


def token_path(port: int) -> str:
    """Where the token of the server on `port` is kept (readable by its owner alone)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "ganviz", "tokens", f"serve-{port}")


def read_token(port: int) -> str | None:
    """The token of a server on this machine's `port`, if this user can read it."""
    try:
        with open(token_path(port)) as f:
            return f.read().strip() or None
    except OSError:
        return None


class SocketTransport(Transport):
    kind = "socket"
    remote = True

    def __init__(self, sock, host: str, port: int, token: str, welcome: wire.Welcome, given: str | None = None):
        self.sock, self.host, self.port, self.token = sock, host, port, token
        self.given = given    # the token as the person gave it (None: found, and looked for again)
        self.controls = welcome.controls
        self.server = welcome.server
        self._lock = threading.Lock()          # one frame at a time onto the socket
        self._close_lock = threading.Lock()
        self._closed = False
        self._reason = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def connect(cls, address: str, token: str | None = None, timeout: float | None = None) -> "SocketTransport":
        host, port = parse_address(address)
        timeout = timeout or CONNECT_TIMEOUT
        given, token = token, find_token(port, token)
        if not token:
            raise ConnectError(f"no token for {host}:{port}: `ganviz serve` printed one when it started "
                               "(also in ~/.config/ganviz/tokens/ on the server); give it, or set GANVIZ_TOKEN")
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise ConnectError(f"cannot reach {host}:{port} ({e.strerror or e}); is `ganviz serve` "
                               "running there (or the SSH tunnel to it open)?") from None
        try:
            sock.sendall(wire.encode(wire.Hello(token, wire.VERSION)))
            answer = wire.read_frame(sock, 1 << 16, {"Welcome": wire.Welcome, "Refused": wire.Refused})
        except (EOFError, OSError, wire.WireError) as e:
            sock.close()
            raise ConnectError(f"{host}:{port} did not answer as a ganviz server ({e})") from None
        if isinstance(answer, wire.Refused):
            sock.close()
            raise ConnectError(f"{host}:{port} refused this window: {answer.reason}", refused=True)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, host, port, token, answer, given)

    def reconnect(self) -> "SocketTransport":
        """The same server again (a server started again on this machine has a new token in
        its file: it is read again, unless the token was given)."""
        return SocketTransport.connect(self.address, self.given)

    def refuses(self, command: m.Command) -> str | None:
        """Why `command` cannot go to a server (None: it can)."""
        if isinstance(command, m.NETWORK_COMMANDS):
            return None
        if isinstance(command, (m.Save, m.Open)):
            return ("Saving and opening checkpoints is done on the server: it keeps this run in its "
                    "run folder (snapshots, checkpoint.pt when it stops). Server > Detach to open files here.")
        if isinstance(command, m.ContinueFrom):
            return ("Continuing from a recorded moment is done on the server, where the run is kept: "
                    "ganviz train --from RUN_DIR --at UPDATE there.")
        return (f"A window attached to a server does not send {type(command).__name__}: it names files "
                "or code on the server's machine.")

    def send(self, command):
        if isinstance(command, m.Stop):   # this window leaves; the server trains on
            with self._lock:
                try:
                    self.sock.sendall(wire.encode(command))
                except OSError:
                    pass
            self.close("this window detached")
            return
        data = wire.encode(command)   # WireError (a ValueError) for what is not data
        with self._lock:
            if self._closed:
                raise ValueError("the connection to the server is closed")
            self.sock.sendall(data)

    def receive(self):
        try:
            event = wire.read_frame(self.sock, EVENT_LIMIT, wire.SERVER_MESSAGES)
            if isinstance(event, (wire.Welcome, wire.Refused)):   # only ever the first frame
                raise wire.WireError(f"a {type(event).__name__} out of order")
            return event
        except (EOFError, OSError, wire.WireError) as e:
            self.close(self._reason or (f"the server sent something unreadable ({e})"
                                        if isinstance(e, wire.WireError) else "the connection was lost"))
            raise EOFError(self._reason) from None

    def close(self, reason: str):
        with self._close_lock:
            if self._closed:
                return
            self._closed, self._reason = True, reason
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def alive(self):
        return not self._closed

    def join(self, timeout=3.0):
        self.close(self._reason or "this window detached")

    def exit_reason(self):
        return self._reason or "the connection was lost"

