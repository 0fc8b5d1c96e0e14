"""Two ways to reach the training service, behind one small interface (Transport).

- ProcessTransport: the service in a spawned process (service/process.py), messages pickled
  over a pipe. The window uses it: training keeps a core of its own, away from the painting.
- InProcessTransport: the service in a thread of this process, the same message objects over
  two queue.Queues. Tests use it: no process to start (8-17 s each on a shared machine).

Either way the client sends Commands and receives Events (messages.py); receive() raises
EOFError once the service has ended (stopped, or died), and exit_reason() then says how.
Neither Qt nor torch is imported here: the in-process service imports torch when it starts.
"""
from __future__ import annotations

import queue
import signal
import threading
import traceback

from . import messages as m


class Transport:
    """The client's end of a training service."""
    kind = ""

    def send(self, command: m.Command) -> None:
        """Raises OSError or ValueError where the service is gone."""
        raise NotImplementedError

    def receive(self) -> m.Event:
        """The next event; blocks. Raises EOFError (or OSError) once the service has ended."""
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def join(self, timeout: float = 3.0) -> None:
        """After Stop: wait for the service to end; end it by force if it does not."""
        raise NotImplementedError

    def exit_reason(self) -> str:
        """How the service ended, in a few words ("killed by signal 9, SIGKILL")."""
        raise NotImplementedError


class ProcessTransport(Transport):
    kind = "process"

    def __init__(self, process, conn):
        self.process, self.conn = process, conn

    @classmethod
    def start(cls, threads: int | None = None) -> "ProcessTransport":
        from ganviz.service import process   # no torch: the child imports it, not this process
        return cls(*process.start(threads))

    def send(self, command):
        self.conn.send(command)

    def receive(self):
        return self.conn.recv()

    def alive(self):
        return self.process.is_alive()

    def join(self, timeout=3.0):
        """A kill loses nothing: checkpoints are written atomically. The process may still be
        importing torch when asked to stop."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def exit_reason(self):
        self.process.join(5)
        return describe_exit(self.process.exitcode)


_CLOSED = object()   # put on a queue when its sender is gone: the reader's EOF


class QueueChannel:
    """The service's end in-process: the send / poll / recv of a multiprocessing Connection,
    over two queues."""

    def __init__(self, inbox: queue.Queue, outbox: queue.Queue):
        self.inbox, self.outbox = inbox, outbox
        self._next = None   # a command poll() took off the queue, for recv()

    def send(self, event):
        self.outbox.put(event)

    def poll(self, timeout: float = 0.0) -> bool:
        if self._next is None:
            try:
                self._next = self.inbox.get(timeout=timeout) if timeout else self.inbox.get_nowait()
            except queue.Empty:
                return False
        return True

    def recv(self):
        item, self._next = (self._next, None) if self._next is not None else (self.inbox.get(), None)
        if item is _CLOSED:
            raise EOFError("the client closed the channel")
        return item


class InProcessTransport(Transport):
    kind = "inprocess"

    def __init__(self):
        self.commands: queue.Queue = queue.Queue()
        self.events: queue.Queue = queue.Queue()
        self._error = None   # the exception that ended the service, if one did
        self._ended = False
        self.thread = threading.Thread(target=self._serve, name="ganviz-training", daemon=True)

    @classmethod
    def start(cls, threads: int | None = None) -> "InProcessTransport":
        transport = cls()
        transport.thread.start()
        return transport

    def _serve(self):
        from ganviz.service.training import TrainingService
        try:
            TrainingService(QueueChannel(self.commands, self.events)).run()
        except EOFError:
            pass
        except BaseException as e:   # noqa: BLE001 - said by exit_reason(), as a process's exit code
            self._error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
        finally:
            self.events.put(_CLOSED)

    def send(self, command):
        if self._ended:
            raise ValueError("the training service has ended")
        self.commands.put(command)

    def receive(self):
        event = self.events.get()
        if event is _CLOSED:
            self._ended = True
            raise EOFError("the training service has ended")
        return event

    def alive(self):
        return self.thread.is_alive()

    def join(self, timeout=3.0):
        """A thread cannot be killed: the service ends at its next read of a command (within
        one update); a daemon thread never holds the interpreter open."""
        self.commands.put(_CLOSED)   # a service that missed Stop ends on EOF
        self.thread.join(timeout)

    def exit_reason(self):
        self.thread.join(5)
        if self._error is not None:
            return f"it raised {self._error.splitlines()[0]}"
        return "it stopped answering" if self.thread.is_alive() else "it ended"


TRANSPORTS = {ProcessTransport.kind: ProcessTransport, InProcessTransport.kind: InProcessTransport}


def start(kind: str = "process") -> Transport:
    """A new training service reached through `kind` ("process" or "inprocess")."""
    if kind not in TRANSPORTS:
        raise ValueError(f"unknown transport {kind!r}: choose {' or '.join(map(repr, TRANSPORTS))}")
    return TRANSPORTS[kind].start()


def describe_exit(exitcode) -> str:
    """How a process ended, in a few words: "killed by signal 9 (SIGKILL)", "exit code 1"."""
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-exitcode}, {name}"
    return f"exit code {exitcode}"
