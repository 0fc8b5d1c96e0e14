"""The window's side of training: starts the training service and relays.

The service (service/training.py) runs in a process of its own, or for tests in a thread
(protocol/transports.py); the window picks which. Commands (protocol/messages.py) go out through
the transport (any thread may send them). A QObject living in its own QThread (Qt's
worker-object pattern) reads the events that come back and re-emits them as signals, which Qt
queues to the GUI thread. In the process transport the trainer lives in the other process:
painting here never competes with it for Python's interpreter lock.

If the training process dies (killed, out of memory, a native crash), the reader starts a new
one and asks it to reopen the run from the recovery folder (core/recovery.py), unless it died
MAX_DEATHS times within DEATH_WINDOW seconds: then it waits for a Reset or an Open to try again.
"""
from __future__ import annotations

import ctypes
import itertools
import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from ganviz.core.field import FieldMirror
from ganviz.protocol import messages as m
from ganviz.protocol import transports
from ganviz.protocol.remote import ConnectError, SocketTransport
from ganviz.protocol.transports import Transport
from ganviz.protocol.wire import WireError


MAX_DEATHS = 3        # deaths within DEATH_WINDOW seconds after which no new process is started
DEATH_WINDOW = 30.0
TRIM_S = 10.0         # how often freed memory goes back to the system (see _trim)
RECONNECT_S = 1.0     # attached to a server: how often a lost connection is tried again


def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (macOS, Windows, musl)."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class WorkerError(RuntimeError):
    pass


class TrainingWorker(QObject):
    batchReady = Signal(object)      # messages.Batch: records, samples or field, next_phase, metrics, ups, ...
    stepDone = Signal(object)        # the Record of a single Step (for the readout)
    stagesReady = Signal(object)     # (Record, stages dict) of a slow-motion Step, after stepDone
    runStarted = Signal(object)      # messages.RunStarted: a new run (after reset or load)
    runningChanged = Signal(bool)
    nonFinite = Signal(object)       # the Record whose loss or score became NaN/inf
    failed = Signal(str, str)        # one sentence for a dialog, and details (a traceback) behind
                                     # its Details button; training keeps serving
    saved = Signal(str)
    settingsApplied = Signal(object) # messages.SettingsApplied: the answer to update_config()
    explored = Signal(object)        # messages.Explored: the generator explorer's answers
    loadProgress = Signal(object)    # (bytes read, file size, file name) while a big file loads
    processDied = Signal(str, bool)  # how it ended; True: a new one is reopening the run,
                                     # False: it died too often, Reset or Open starts one
    controlChanged = Signal(bool, int)   # attached to a server: this window controls, windows attached
    connectionChanged = Signal(str)  # attached to a server: the connection was lost / is back ("")

    def __init__(self, transport: str | Transport = "process"):
        """transport: "process" or "inprocess" (a new training service reached that way), or
        one already started (the app starts the process first thing)."""
        super().__init__()
        self.transport = transports.start(transport) if isinstance(transport, str) else transport
        self._send_lock = threading.Lock()
        self._stopping = False
        self._calls = itertools.count()
        self._results: dict = {}
        self._result_ready = threading.Condition()
        self._mirror = None          # 2D runs: G and D copied here to draw the field
        self._field_bounds = None    # the 2D view's visible plane
        self._heat_class = 0         # conditional 2D runs: the class D's heatmap is drawn for
        self._fresh_noise = False
        self._recovery_folder = None
        self._config = None          # the current run's config: a fresh start if recovery fails
        self._runs_folder = None     # where each run's store goes (set_runs_folder)
        self._run_folder = None      # the current run's store: a recovered run goes on in it
        self._deaths: list[float] = []
        self._dead = False           # gave up restarting; reset() / load() start a new process
        self.deaths_before_giving_up = 0
        self._revived = threading.Event()
        self._revive_lock = threading.Lock()
        self._malloc_trim = _malloc_trim()
        self._trimmed_at = time.monotonic()
        self._relay = {   # each event as the signal the window connects to
            m.RunStarted: self.runStarted.emit,
            m.Batch: self.batchReady.emit,
            m.Stepped: lambda e: self.stepDone.emit(e.record),
            m.Stages: lambda e: self.stagesReady.emit((e.record, e.values)),
            m.Running: lambda e: self.runningChanged.emit(e.on),
            m.NonFinite: lambda e: self.nonFinite.emit(e.record),
            m.Failed: lambda e: self.failed.emit(e.message, e.details),
            m.Saved: lambda e: self.saved.emit(e.path),
            m.Progress: lambda e: self.loadProgress.emit((e.done, e.total, e.name)),
            m.SettingsApplied: self.settingsApplied.emit,
            m.Explored: self.explored.emit,
            m.Control: lambda e: self.controlChanged.emit(e.on, e.windows),
        }

    @property
    def remote(self) -> bool:
        """Attached to `ganviz serve` (protocol/remote.py), not a service of this window's own."""
        return getattr(self.transport, "remote", False)

    @property
    def process(self):
        """The training process (process transport only): tests kill it to see what follows."""
        return self.transport.process

    # ---------------------------------------------------------------- commands (any thread)
    def send(self, command: m.Command):
        refused = getattr(self.transport, "refuses", lambda c: None)(command)
        if refused:
            self.failed.emit(refused, "")
            return
        try:
            with self._send_lock:
                self.transport.send(command)
        except WireError as e:   # a server gets data only (drawn points are a Dataset object)
            self.failed.emit(f"This cannot be sent to the server: {e}.", "")
        except (OSError, ValueError):
            pass   # the training service is gone; run() has already said so

    def detach(self, kind: str = "process"):
        """Leave the server's run training there: a service of this window's own again."""
        self.switch(transports.start(kind), folders=True)

    def switch(self, transport: Transport, folders: bool) -> bool:
        """Go on with another training service (attach to a server, or detach from one to a
        service of this window's own); the old one is left: a server trains on, a local service
        stops. folders: give the new one the recovery and runs folders (a local service).
        False: the window is closing, and `transport` was closed instead."""
        with self._send_lock:
            if self._stopping:
                transport.join(0)
                return False
            old, self.transport = self.transport, transport
            self._dead = False
            self._mirror = None
            if folders:
                for command in ((m.RecoveryFolder(self._recovery_folder) if self._recovery_folder else None),
                                (m.RunsFolder(self._runs_folder) if self._runs_folder else None),
                                (m.FreshNoise(True) if self._fresh_noise else None)):
                    if command is not None:
                        transport.send(command)
        try:
            old.send(m.Stop())
        except (OSError, ValueError):
            pass
        # its end (a local service closing its store) is waited for off the GUI thread; the
        # reader sees it end and goes on with the new one
        threading.Thread(target=old.join, args=(10.0,), name="ganviz-left-service", daemon=True).start()
        self._revived.set()
        return True

    def play(self):
        self.send(m.Play())

    def pause(self):
        self.send(m.Pause())

    def step(self):
        self.send(m.Step())

    def step_stages(self):
        """One Step whose stages come back too (slow motion); the update is a plain Step's."""
        self.send(m.Step(stages=True))

    def step_iteration(self):
        self.send(m.StepIteration())

    def update_config(self, **changes):
        """Answered by settingsApplied: what applied, and what waits for a Reset."""
        self.send(m.ChangeSettings(changes))

    def reset(self, config, dataset=None):
        self._revive()
        self.send(m.Reset(config, dataset))

    def save(self, path):
        self.send(m.Save(path))

    def load(self, path):
        self._revive()
        self.send(m.Open(path))

    @property
    def serving(self) -> bool:
        """False once the training process died too often and none was started again."""
        return not self._dead

    def set_recovery_folder(self, folder):
        """Keep the run's state in this folder, for a new process to reopen after a death
        (attached to a server, which keeps its own: for a service of this window's own, later)."""
        self._recovery_folder = folder
        if not self.remote:
            self.send(m.RecoveryFolder(folder))

    def set_runs_folder(self, folder):
        """Keep every run from now on as a folder under this one (its timeline's store); as
        set_recovery_folder, later when attached to a server."""
        self._runs_folder = folder
        if not self.remote:
            self.send(m.RunsFolder(folder))

    def continue_from(self, folder, update, changes):
        """A child run of the stored run in `folder` from its snapshot at or before `update`."""
        self._revive()
        self.send(m.ContinueFrom(folder, update, changes))

    def restore_snapshot(self):
        self.send(m.Restore())

    def set_fresh_noise(self, fresh: bool):
        self._fresh_noise = fresh
        self.send(m.FreshNoise(fresh))

    def set_field_bounds(self, bounds):
        """The 2D view moved: draw the field over this plane from now on (and now, if paused)."""
        changed = bounds != self._field_bounds
        self._field_bounds = bounds
        if changed and bounds is not None:
            self.send(m.SendSamples())

    def set_heat_class(self, label: int):
        """Conditional 2D runs: draw D's heatmap and G's manifold for class `label` (from the
        next field on, computed in the worker thread; now, if paused)."""
        if label != self._heat_class:
            self._heat_class = label
            self.send(m.SendSamples())

    def refresh(self):
        """Ask for a batch with samples and quality metrics now."""
        self.send(m.SendAll())

    def take_control(self):
        """Attached to a server: this window's commands are obeyed from now on."""
        self.send(m.TakeControl())

    def ack(self):
        """The window took the last batch; the next one may be sent."""
        self.send(m.Ack())

    def stop(self):
        with self._send_lock:
            self._stopping = True
        self.send(m.Stop())
        self._revived.set()   # a reader waiting for a Reset ends

    # ---------------------------------------------------------------- a new process
    def _start_process(self, recover: bool):
        """A new training process in place of the dead one (under the send lock, so a command
        goes to one or the other, and never after stop())."""
        with self._send_lock:
            if self._stopping or self.remote:   # attached to a server meanwhile: nothing to restart
                return False
            self.transport = transports.start(self.transport.kind)
            if self._recovery_folder:
                self.transport.send(m.RecoveryFolder(self._recovery_folder))
            if self._runs_folder:
                self.transport.send(m.RunsFolder(self._runs_folder))
            if self._fresh_noise:
                self.transport.send(m.FreshNoise(True))
            if recover:
                self.transport.send(m.Recover(self._config, self._run_folder))
        return True

    def _revive(self):
        """After giving up on a dying process: start a new one for a Reset or Open."""
        with self._revive_lock:   # two quick Resets start one process
            if self._dead and self._start_process(recover=False):
                self._dead = False
                self._revived.set()

    def _on_process_died(self):
        """The pipe closed without a stop(): start a new process that reopens the run, unless
        processes keep dying (then wait until a Reset or Open starts one, or stop())."""
        reason = self.transport.exit_reason()
        self._mirror = None
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < DEATH_WINDOW] + [now]
        self.runningChanged.emit(False)
        if len(self._deaths) < MAX_DEATHS and self._config is not None:
            self.processDied.emit(reason, True)
            self._start_process(recover=True)
            return
        self._revived.clear()   # before _dead: a Reset from now on wakes this thread
        self.deaths_before_giving_up = len(self._deaths)   # fewer than MAX_DEATHS: it died before any run
        self._dead = True
        self._deaths.clear()
        self.processDied.emit(reason, False)
        self._revived.wait()

    def _reconnect(self):
        """The connection to the server was lost: try again (every RECONNECT_S seconds) until
        it answers, this window stops, or switches; the server then sends the run as its store
        has it, so nothing is lost. A refused window (a new token: another server) stops trying."""
        lost = self.transport
        self.runningChanged.emit(False)
        self.connectionChanged.emit(f"Lost the connection to {lost.address} ({lost.exit_reason()}); reconnecting…")
        refused = False
        while not self._stopping and self.transport is lost:
            if refused:   # wait for a switch (Connect… with the new token, Detach) or stop
                time.sleep(0.2)
                continue
            try:
                transport = lost.reconnect()
            except ConnectError as e:
                refused = e.refused
                if refused:
                    self.connectionChanged.emit(f"{e}. Connect again with the server's token.")
                time.sleep(RECONNECT_S)
                continue
            with self._send_lock:
                if self._stopping or self.transport is not lost:
                    transport.join()
                    return
                self.transport = transport
            self.connectionChanged.emit("")
            self.controlChanged.emit(transport.controls, 0)

    def call(self, fn, *args, timeout: float = 30.0):
        """fn(trainer, *args) run in the training process between updates; returns its result.
        fn must be importable there (a module-level function). For tests and scripts."""
        call_id = next(self._calls)
        self.send(m.Call(call_id, fn, args))
        with self._result_ready:
            if not self._result_ready.wait_for(lambda: call_id in self._results, timeout):
                raise WorkerError(f"the training process did not answer within {timeout} s")
            ok, value = self._results.pop(call_id)
        if not ok:
            raise WorkerError(value)
        return value

    # ---------------------------------------------------------------- the reader (worker thread)
    @Slot()
    def run(self):
        while True:
            transport = self.transport
            try:
                event = transport.receive()
            except (EOFError, OSError):
                if self._stopping:
                    break
                if transport is not self.transport:
                    continue   # switched (attached or detached): read the new one
                if self.remote:
                    self._reconnect()
                else:
                    self._on_process_died()
                continue
            if transport is not self.transport:
                continue   # the last words of a service this window has left
            if isinstance(event, m.Result):
                with self._result_ready:
                    self._results[event.call_id] = (event.ok, event.value)
                    self._result_ready.notify_all()
                continue
            if isinstance(event, m.RunStarted):
                self._config = event.config
                self._run_folder = event.folder
                self._mirror = FieldMirror(event.config, event.sample_shape, event.fixed_noise,
                                           event.fixed_labels, len(event.classes or ())) \
                    if event.dataset_kind == "points" else None
                self._heat_class = 0
            elif isinstance(event, m.Batch):
                if self._mirror is not None:   # counts D's updates for the "change in D" layer
                    self._mirror.note_records(event.records)
                if event.weights is not None:
                    self._add_field(event)
                    self._trim()
            self._relay[type(event)](event)
        self.transport.join(5)

    def _add_field(self, batch: m.Batch):
        """Compute the 2D field here, off the GUI thread, from the weights the batch brought."""
        weights, bounds = batch.weights, self._field_bounds
        batch.weights = None   # the window needs the field, not the weights
        if self._mirror is None or bounds is None:
            return
        try:
            self._mirror.load(weights)
            self._mirror.set_heat_class(self._heat_class)
            batch.field = self._mirror.field(bounds, fresh=self._fresh_noise)
        except Exception as e:  # a field that cannot be drawn must not stop the batches
            self.failed.emit(f"Cannot draw the field: {e}", f"{type(e).__name__}: {e}")

    def _trim(self):
        """Every TRIM_S seconds, hand memory that is free back to the system. Each field frame
        allocates and frees torch buffers in this thread; glibc keeps what was freed in this
        thread's arena, scattered, and the window's resident memory grew by about 16 MB every
        10 minutes of that (benchmarks/soak.py). malloc_trim takes well under a millisecond."""
        if self._malloc_trim is not None and time.monotonic() - self._trimmed_at > TRIM_S:
            self._malloc_trim(0)
            self._trimmed_at = time.monotonic()

    def join(self, timeout: float = 3.0):
        """After stop(): wait for the training service to end (a process that does not is
        killed; it may still be importing torch). Its end closes the transport, which ends run()."""
        self.transport.join(timeout)


class Connecting(QObject):
    """SocketTransport.connect off the GUI thread: a server that is slow to answer, or an
    address that swallows packets, takes up to remote.CONNECT_TIMEOUT, and the window goes on drawing
    meanwhile. `done` comes on the GUI thread with (transport, None) or (None, the reason)."""
    done = Signal(object, object)

    def __init__(self, address: str, token: str | None):
        super().__init__()
        self.address = address
        threading.Thread(target=self._connect, args=(token,), name="ganviz-connect", daemon=True).start()

    def _connect(self, token):
        try:
            transport = SocketTransport.connect(self.address, token)
        except (ConnectError, ValueError) as e:
            self.done.emit(None, str(e))
        else:
            self.done.emit(transport, None)
