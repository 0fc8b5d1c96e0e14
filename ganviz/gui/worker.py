"""The window's side of training: starts the training process (core/loop.py) and relays.

Commands go out through a pipe (any thread may send them). A QObject living in its own QThread
(Qt's worker-object pattern) reads what the training process sends back and re-emits it as
signals, which Qt queues to the GUI thread. The trainer itself lives in the other process:
painting here never competes with it for Python's interpreter lock.

If the training process dies (killed, out of memory, a native crash), the reader starts a new
one and asks it to reopen the run from the recovery folder (core/recovery.py), unless it died
MAX_DEATHS times within DEATH_WINDOW seconds: then it waits for a Reset or an Open to try again.
"""
from __future__ import annotations

import itertools
import signal
import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from ganviz.core import process
from ganviz.core.field import FieldMirror


MAX_DEATHS = 3        # deaths within DEATH_WINDOW seconds after which no new process is started
DEATH_WINDOW = 30.0


class WorkerError(RuntimeError):
    pass


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


class TrainingWorker(QObject):
    batchReady = Signal(object)      # dict: records, samples or field, next_phase, metrics, ups, ...
    stepDone = Signal(object)        # the Record of a single Step (for the readout)
    stagesReady = Signal(object)     # (Record, stages dict) of a slow-motion Step, after stepDone
    runStarted = Signal(object)      # dict describing a new run (after reset or load)
    runningChanged = Signal(bool)
    nonFinite = Signal(object)       # the Record whose loss or score became NaN/inf
    failed = Signal(str, str)        # one sentence for a dialog, and details (a traceback) behind
                                     # its Details button; training keeps serving
    saved = Signal(str)
    loadProgress = Signal(object)    # (bytes read, file size, file name) while a big file loads
    processDied = Signal(str, bool)  # how it ended; True: a new one is reopening the run,
                                     # False: it died too often, Reset or Open starts one

    def __init__(self, started=None):
        """started: (process, connection) from process.start(), if the app started it early."""
        super().__init__()
        self.process, self._conn = started or process.start()
        self._send_lock = threading.Lock()
        self._stopping = False
        self._calls = itertools.count()
        self._results: dict = {}
        self._result_ready = threading.Condition()
        self._mirror = None          # 2D runs: G and D copied here to draw the field
        self._field_bounds = None    # the 2D view's visible plane
        self._fresh_noise = False
        self._recovery_folder = None
        self._config = None          # the current run's config: a fresh start if recovery fails
        self._deaths: list[float] = []
        self._dead = False           # gave up restarting; reset() / load() start a new process
        self.deaths_before_giving_up = 0
        self._revived = threading.Event()
        self._revive_lock = threading.Lock()

    # ---------------------------------------------------------------- commands (any thread)
    def _send(self, *cmd):
        try:
            with self._send_lock:
                self._conn.send(cmd)
        except (OSError, ValueError):
            pass   # the training process is gone; run() has already said so

    def play(self):
        self._send("play")

    def pause(self):
        self._send("pause")

    def step(self):
        self._send("step")

    def step_stages(self):
        """One Step whose stages come back too (slow motion); the update is a plain Step's."""
        self._send("step_stages")

    def step_iteration(self):
        self._send("step_iteration")

    def update_config(self, **changes):
        self._send("update_config", changes)

    def reset(self, config, dataset=None):
        self._revive()
        self._send("reset", config, dataset)

    def save(self, path):
        self._send("save", path)

    def load(self, path):
        self._revive()
        self._send("load", path)

    @property
    def serving(self) -> bool:
        """False once the training process died too often and none was started again."""
        return not self._dead

    def set_recovery_folder(self, folder):
        """Keep the run's state in this folder, for a new process to reopen after a death."""
        self._recovery_folder = folder
        self._send("recovery_folder", folder)

    def restore_snapshot(self):
        self._send("restore")

    def set_fresh_noise(self, fresh: bool):
        self._fresh_noise = fresh
        self._send("fresh_noise", fresh)

    def set_field_bounds(self, bounds):
        """The 2D view moved: draw the field over this plane from now on (and now, if paused)."""
        changed = bounds != self._field_bounds
        self._field_bounds = bounds
        if changed and bounds is not None:
            self._send("redraw")

    def refresh(self):
        self._send("refresh")

    def ack(self):
        """The window took the last batch; the next one may be sent."""
        self._send("ack")

    def stop(self):
        with self._send_lock:
            self._stopping = True
        self._send("stop")
        self._revived.set()   # a reader waiting for a Reset ends

    # ---------------------------------------------------------------- a new process
    def _start_process(self, recover: bool):
        """A new training process in place of the dead one (under the send lock, so a command
        goes to one or the other, and never after stop())."""
        with self._send_lock:
            if self._stopping:
                return False
            self.process, self._conn = process.start()
            if self._recovery_folder:
                self._conn.send(("recovery_folder", self._recovery_folder))
            if self._fresh_noise:
                self._conn.send(("fresh_noise", True))
            if recover:
                self._conn.send(("recover", self._config))
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
        self.process.join(5)
        reason = describe_exit(self.process.exitcode)
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

    def call(self, fn, *args, timeout: float = 30.0):
        """fn(trainer, *args) run in the training process between updates; returns its result.
        fn must be importable there (a module-level function). For tests and scripts."""
        call_id = next(self._calls)
        self._send("call", call_id, fn, args)
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
        signals = {"batch": self.batchReady, "step": self.stepDone, "run": self.runStarted,
                   "stages": self.stagesReady, "running": self.runningChanged, "nonfinite": self.nonFinite,
                   "failed": self.failed, "saved": self.saved, "progress": self.loadProgress}
        while True:
            try:
                kind, payload = self._conn.recv()
            except (EOFError, OSError):
                if self._stopping:
                    break
                self._on_process_died()
                continue
            if kind == "result":
                with self._result_ready:
                    self._results[payload[0]] = payload[1:]
                    self._result_ready.notify_all()
                continue
            if kind == "run":
                self._config = payload["config"]
                self._mirror = FieldMirror(payload["config"], payload["sample_shape"], payload["fixed_noise"]) \
                    if payload["dataset_kind"] == "points" else None
            elif kind == "batch":
                if self._mirror is not None:   # counts D's updates for the "change in D" layer
                    self._mirror.note_records(payload["records"])
                if "weights" in payload:
                    self._add_field(payload)
            if kind == "failed":
                self.failed.emit(*payload)
            else:
                signals[kind].emit(payload)
        self.process.join(5)

    def _add_field(self, payload):
        """Compute the 2D field here, off the GUI thread, from the weights the batch brought."""
        weights, bounds = payload.pop("weights"), self._field_bounds
        if self._mirror is None or bounds is None:
            return
        try:
            self._mirror.load(weights)
            payload["field"] = self._mirror.field(bounds, fresh=self._fresh_noise)
        except Exception as e:  # a field that cannot be drawn must not stop the batches
            self.failed.emit(f"Cannot draw the field: {e}", f"{type(e).__name__}: {e}")

    def join(self, timeout: float = 3.0):
        """After stop(): wait for the training process to end; kill it if it does not (it may
        still be importing torch). A kill loses nothing: checkpoints are written atomically.
        Its end closes the pipe, which ends run()."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
