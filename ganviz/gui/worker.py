"""The window's side of training: starts the training process (core/loop.py) and relays.

Commands go out through a pipe (any thread may send them). A QObject living in its own QThread
(Qt's worker-object pattern) reads what the training process sends back and re-emits it as
signals, which Qt queues to the GUI thread. The trainer itself lives in the other process:
painting here never competes with it for Python's interpreter lock.
"""
from __future__ import annotations

import itertools
import threading

from PySide6.QtCore import QObject, Signal, Slot

from ganviz.core import process
from ganviz.core.field import FieldMirror


class WorkerError(RuntimeError):
    pass


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
        self._send("reset", config, dataset)

    def save(self, path):
        self._send("save", path)

    def load(self, path):
        self._send("load", path)

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
        self._stopping = True
        self._send("stop")

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
                break
            if kind == "result":
                with self._result_ready:
                    self._results[payload[0]] = payload[1:]
                    self._result_ready.notify_all()
                continue
            if kind == "run":
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
        if not self._stopping:
            self.runningChanged.emit(False)
            self.failed.emit(f"The training process stopped unexpectedly (exit code {self.process.exitcode}). "
                             "Save what you need and restart ganviz.", "")

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
