"""The training worker: a QObject living in its own QThread (Qt's worker-object pattern).

Commands come in through a thread-safe queue that the worker drains between updates, so a
Step is exact (one press, one update) and Pause lands within one update. Results go out as
plain CPU data (Records, numpy copies) at most ~30 times a second; if the window has not
taken the last batch yet, records wait in an outbox and samples are replaced (latest wins).
"""
from __future__ import annotations

import copy
import queue
import threading
import time
import traceback

import numpy as np

from PySide6.QtCore import QObject, Signal, Slot

from ganviz.core.checkpoint import load_checkpoint, save_checkpoint
from ganviz.core.evaluate import evaluate
from ganviz.core.field import compute_field, d_output_histogram
from ganviz.core.trainer import Trainer

EMIT_INTERVAL = 1 / 25      # seconds between batches sent to the window
FIELD_INTERVAL = 1 / 25     # the 2D field goes with every batch: ~20 frames/s
IMAGE_INTERVAL = 1 / 10     # image grids: 10 a second is plenty, and spares the training thread
METRIC_INTERVAL = 2.0       # seconds between quality metrics while training
SNAPSHOT_INTERVAL = 10.0    # seconds between in-memory "last good state" snapshots


class TrainingWorker(QObject):
    batchReady = Signal(object)      # dict: records, samples, next_phase, metrics, ups, ...
    stepDone = Signal(object)        # the Record of a single Step (for the readout)
    runStarted = Signal(object)      # dict describing a new run (after reset or load)
    runningChanged = Signal(bool)
    nonFinite = Signal(object)       # the Record whose loss or score became NaN/inf
    failed = Signal(str)             # a message for a dialog; the worker stays alive
    saved = Signal(str)

    def __init__(self, trainer: Trainer | None = None):
        super().__init__()
        self.trainer = trainer
        self._commands: queue.Queue = queue.Queue()
        self._running = threading.Event()
        self._stop = threading.Event()
        self._acked = threading.Event()
        self._acked.set()
        self._outbox: list = []
        self._fresh_noise = False
        self.field_bounds = None    # the 2D view's visible plane, set by the window
        self._snapshot = None
        self._snapshot_time = 0.0
        self._last_samples = self._last_metrics = 0.0
        self._rate = []          # (time, updates) pairs for updates/s

    # ---------------------------------------------------------------- commands (any thread)
    def play(self):
        self._commands.put(("play",))

    def pause(self):
        self._running.clear()
        self._commands.put(("pause",))

    def step(self):
        self._commands.put(("step",))

    def step_iteration(self):
        self._commands.put(("step_iteration",))

    def update_config(self, **changes):
        self._commands.put(("update_config", changes))

    def reset(self, config, dataset=None):
        self._running.clear()
        self._commands.put(("reset", config, dataset))

    def save(self, path):
        self._commands.put(("save", path))

    def load(self, path):
        self._running.clear()
        self._commands.put(("load", path))

    def restore_snapshot(self):
        self._commands.put(("restore",))

    def set_fresh_noise(self, fresh: bool):
        self._fresh_noise = fresh
        self._commands.put(("refresh",))

    def refresh(self):
        self._commands.put(("refresh",))

    def stop(self):
        self._running.clear()
        self._stop.set()

    def ack(self):
        """The window took the last batch; the next one may be sent."""
        self._acked.set()

    @property
    def running(self) -> bool:
        return self._running.is_set()

    # ---------------------------------------------------------------- the loop (worker thread)
    @Slot()
    def run(self):
        last_emit = time.perf_counter()
        while not self._stop.is_set():
            try:
                self._drain_commands()
                if self._running.is_set() and self.trainer is not None:
                    self.trainer.step(fetch=False)
                    now = time.perf_counter()
                    if now - last_emit >= EMIT_INTERVAL:
                        last_emit = now   # from the flush's start: its own time counts in the interval
                        self._flush()
                else:
                    self._flush()
                    self._wait_for_command()
            except Exception as e:  # shown in a dialog; the app keeps running
                self._running.clear()
                self.runningChanged.emit(False)
                self.failed.emit(f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}")
        self._running.clear()

    def _wait_for_command(self):
        try:
            cmd = self._commands.get(timeout=0.05)
        except queue.Empty:
            return
        self._execute(cmd)

    def _drain_commands(self):
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            self._execute(cmd)

    def _execute(self, cmd):
        name, args = cmd[0], cmd[1:]
        t = self.trainer
        if name == "play" and t is not None:
            self._running.set()
            self.runningChanged.emit(True)
        elif name == "pause":
            self._flush(force_samples=True, force=True)
            self.runningChanged.emit(False)
        elif name == "step" and t is not None:
            record = t.step(fetch=True)
            self._outbox.append(record)
            self._flush(force_samples=True, metrics=True, force=True)
            self.stepDone.emit(record)
        elif name == "step_iteration" and t is not None:
            records = t.step_iteration(fetch=True)
            self._outbox.extend(records)
            self._flush(force_samples=True, metrics=True, force=True)
            self.stepDone.emit(records[-1])
        elif name == "update_config" and t is not None:
            t.update_config(**args[0])
        elif name == "reset":
            self._start(Trainer(args[0], dataset=args[1]))
        elif name == "save" and t is not None:
            save_checkpoint(t, args[0])
            self.saved.emit(str(args[0]))
        elif name == "load":
            self._start(load_checkpoint(args[0]))
        elif name == "restore" and self._snapshot is not None:
            trainer = Trainer(t.config.__class__.from_dict(self._snapshot["config"]), dataset=t.dataset)
            trainer.load_state_dict(copy.deepcopy(self._snapshot))
            self._start(trainer)
        elif name == "refresh":
            self._flush(force_samples=True, metrics=True, force=True)

    def _start(self, trainer: Trainer):
        """Swap in a new run (reset, load or restore) and tell the window about it."""
        self._running.clear()
        self.trainer = trainer
        self._outbox.clear()
        self._rate.clear()
        self._take_snapshot(force=True)
        data = trainer.dataset.data
        real = None
        if trainer.dataset.kind == "points":  # a fixed subset of the real data, shown once
            real = data[np.random.default_rng(0).permutation(len(data))[:1000]].numpy().copy()
        self.runStarted.emit({
            "real": real,
            "config": trainer.config, "device": str(trainer.device), "dataset": trainer.dataset,
            "objective": trainer.objective, "history": trainer.history.array(),
            "next_phase": trainer.next_phase,
        })
        self.runningChanged.emit(False)
        self._flush(force_samples=True, metrics=True, force=True)

    # ---------------------------------------------------------------- output
    def _flush(self, force_samples=False, metrics=False, force=False):
        t = self.trainer
        if t is None:
            return
        records = t.fetch_records()
        bad = next((r for r in records if not r.is_finite), None)
        self._outbox.extend(records)
        if bad is not None:
            self._running.clear()
            self.runningChanged.emit(False)
            self.nonFinite.emit(bad)
        elif records:
            self._take_snapshot()
        if not (self._outbox or force_samples or force):
            return
        if not self._acked.is_set() and not force:
            return  # the window is busy: keep the records, send them with the next batch
        now = time.perf_counter()
        payload = {"records": self._outbox, "next_phase": t.next_phase, "iteration": t.iteration,
                   "updates": t.updates, "epoch": t.sampler.epoch, "ups": self._updates_per_second(now)}
        interval = IMAGE_INTERVAL if t.dataset.kind == "images" else FIELD_INTERVAL
        if force_samples or now - self._last_samples >= interval:
            if t.dataset.kind == "images":
                payload["samples"] = t.samples(fresh=self._fresh_noise)
            elif self.field_bounds is not None:
                payload["field"] = compute_field(t, self.field_bounds, fresh=self._fresh_noise)
            self._last_samples = now
        if metrics or now - self._last_metrics >= METRIC_INTERVAL:
            payload["metrics"] = evaluate(t)
            payload["histogram"] = d_output_histogram(t)
            self._last_metrics = time.perf_counter()
        self._outbox = []
        self._acked.clear()
        self.batchReady.emit(payload)

    def _updates_per_second(self, now):
        self._rate.append((now, self.trainer.updates))
        while len(self._rate) > 2 and now - self._rate[0][0] > 2.0:
            self._rate.pop(0)
        (t0, u0), (t1, u1) = self._rate[0], self._rate[-1]
        return (u1 - u0) / (t1 - t0) if t1 > t0 and self._running.is_set() else 0.0

    def _take_snapshot(self, force=False):
        """Keep the last state whose losses were finite, to go back to after a NaN."""
        now = time.perf_counter()
        if force or now - self._snapshot_time >= SNAPSHOT_INTERVAL:
            self._snapshot = copy.deepcopy(self.trainer.state_dict())
            self._snapshot_time = now

