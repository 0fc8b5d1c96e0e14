"""The training loop the window drives: it runs in a process of its own (process.py).

Why a process and not only a thread: these small networks spend most of their time in Python,
and Python runs one thread at a time. Painting the plots in the same process took 60-75 % of
the training speed away; in its own process training keeps a core to itself.

Commands come in through a pipe, read between updates, so a Step is exact (one command, one
update) and Pause lands within one update. Results go out through the same pipe as plain CPU
data (Records, numpy arrays), at most ~25 batches a second; until the window acknowledges a
batch, records wait in an outbox and samples are replaced (latest wins).

Messages out are (kind, payload) pairs: "run" (a new run started), "batch", "step" (the Record
of a single Step), "stages" ((Record, dict of floats): a slow-motion Step's stages, right after
its "step"), "running" (bool), "nonfinite" (the bad Record), "failed" ((one-sentence message,
details)), "saved" (a path), "result" (the answer to a "call").

If the window gives it a recovery folder ("recovery_folder"), the loop keeps the run's state
there (recovery.py) every RECOVERY_INTERVAL seconds of training and after every pause and
step, only while the losses are finite; a new process reopens it with "recover".
"""
from __future__ import annotations

import contextlib
import copy
import time
import traceback

import numpy as np
import torch

from .atomic import WriteError
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import Config, in_words
from .data import BUILTIN_DATASETS, USER_KINDS, DataError
from .evaluate import evaluate
from .field import d_output_histogram, network_weights
from .inputs import reporting
from .recovery import RecoveryStore, load_recovered
from .trainer import Trainer

EMIT_INTERVAL = 1 / 25      # seconds between batches sent to the window
FIELD_INTERVAL = 1 / 25     # 2D runs send the weights for the field with every batch: ~20 frames/s
IMAGE_INTERVAL = 1 / 10     # image grids: 10 a second is plenty
METRIC_INTERVAL = 2.0       # seconds between quality metrics while training
SNAPSHOT_INTERVAL = 10.0    # seconds between in-memory "last good state" snapshots
RECOVERY_INTERVAL = 10.0    # seconds between states kept on disk while training (and every pause/step)


class TrainingLoop:
    def __init__(self, conn):
        self.conn = conn
        self.trainer: Trainer | None = None
        self.running = self.stopped = False
        self.acked = True
        self.outbox: list = []
        self.fresh_noise = False
        self.snapshot = None
        self.snapshot_rows = 0
        self.snapshot_time = 0.0
        self.last_samples = self.last_metrics = 0.0
        self.rate = []              # (time, updates) pairs for updates/s
        self.recovery: RecoveryStore | None = None
        self.recovery_time = 0.0
        self.recovery_kept = None   # (trainer, updates, config) last written to the recovery folder
        self.diverged = False       # a non-finite loss since the run started: keep nothing on disk

    def send(self, kind, payload=None):
        self.conn.send((kind, payload))

    def run(self):
        with reporting(LoadProgress(self.send)):  # a big file's progress reaches the window
            self._serve()

    def _serve(self):
        last_emit = time.perf_counter()
        while not self.stopped:
            try:
                if self.running and self.trainer is not None:
                    while self.conn.poll():
                        self.execute(self.conn.recv())
                    if not self.running:
                        continue
                    self.trainer.step(fetch=False)
                    now = time.perf_counter()
                    if now - last_emit >= EMIT_INTERVAL:
                        last_emit = now   # from the flush's start: its own time counts in the interval
                        self.flush()
                else:
                    self.flush()
                    if self.conn.poll(0.05):
                        self.execute(self.conn.recv())
            except (EOFError, BrokenPipeError):
                raise
            except Exception as e:  # shown in a dialog; the loop keeps serving
                self.set_running(False)
                self.send("failed", (f"Training stopped with an error: {e}",
                                     f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}"))

    def set_running(self, running: bool):
        self.running = running
        self.send("running", running)

    # ---------------------------------------------------------------- commands
    def execute(self, cmd):
        name, args = cmd[0], cmd[1:]
        t = self.trainer
        if name == "ack":
            self.acked = True
        elif name == "play" and t is not None:
            self.set_running(True)
        elif name == "pause":
            self.running = False
            self.flush(force_samples=True, force=True)
            self.send("running", False)
        elif name in ("step", "step_stages") and t is not None:
            stages = {} if name == "step_stages" else None   # slow motion: the same update, its stages told
            record = t.step(fetch=True, stages=stages)
            self.outbox.append(record)
            self.flush(force_samples=True, metrics=True, force=True)
            self.send("step", record)
            if stages is not None:
                self.send("stages", (record, stages))
        elif name == "step_iteration" and t is not None:
            records = t.step_iteration(fetch=True)
            self.outbox.extend(records)
            self.flush(force_samples=True, metrics=True, force=True)
            self.send("step", records[-1])
        elif name == "update_config" and t is not None:
            t.update_config(**args[0])
        elif name == "reset":
            config, trainer = args[0], None
            with self.failing_as(lambda e: cannot_start(config.dataset, e)):
                dataset = args[1] if args[1] is not None else self.kept_dataset(config)
                trainer = Trainer(config, dataset=dataset)
            if trainer is not None:
                self.start(trainer)
        elif name == "save" and t is not None:
            # training goes on; the window says which file and why (WriteError names both)
            with self.failing_as(lambda e: f"{e}." if isinstance(e, WriteError) else f"Not saved: {e}"):
                save_checkpoint(t, args[0])
                self.send("saved", str(args[0]))
        elif name == "load":
            trainer = None
            with self.failing_as(lambda e: f"Cannot open {e}" if isinstance(e, CheckpointError)
                                 else cannot_start(str(args[0]), e)):
                trainer = load_checkpoint(args[0])
            if trainer is not None:
                self.start(trainer)
        elif name == "restore" and self.snapshot is not None:
            trainer = Trainer(Config.from_dict(self.snapshot["config"]), dataset=t.dataset)
            state = copy.deepcopy(self.snapshot)
            # the run's history still begins with the snapshot's rows
            state["history"] = torch.from_numpy(t.history.array()[: self.snapshot_rows])
            trainer.load_state_dict(state)
            self.start(trainer)
        elif name == "fresh_noise":
            self.fresh_noise = args[0]
            self.flush(force_samples=True, force=True)
        elif name == "refresh":
            self.flush(force_samples=True, metrics=True, force=True)
        elif name == "redraw":   # samples or field weights only (the 2D view moved)
            self.flush(force_samples=True, force=True)
        elif name == "call":
            self.answer(*args)
        elif name == "recovery_folder":   # None: keep nothing on disk
            self.recovery = RecoveryStore(args[0]) if args[0] else None
            self.recovery_kept = None
        elif name == "recover":
            self.recover(args[0])
        elif name == "stop":
            self.running, self.stopped = False, True
        if name in ("pause", "step", "step_iteration"):
            self.keep_recovery_state(force=True)

    def recover(self, fallback):
        """Reopen the run kept in the recovery folder (the previous process died); if it
        cannot be read, start a new run with `fallback` (the dead run's config)."""
        try:
            if self.recovery is None:
                raise ValueError("no recovery state was kept")
            trainer = load_recovered(self.recovery.folder)
            note = {"ok": True}
        except Exception as e:  # noqa: BLE001 - any unreadable state: start afresh, say why
            trainer = Trainer(fallback)
            note = {"ok": False, "error": str(e)}
        self.start(trainer, recovery=note)

    def keep_recovery_state(self, force=False):
        """The run's state on disk (recovery.py) for a new process to reopen, at most every
        RECOVERY_INTERVAL seconds unless forced; never a state past a non-finite loss."""
        if self.recovery is None or self.trainer is None or self.diverged:
            return
        now = time.perf_counter()
        if not force and now - self.recovery_time < RECOVERY_INTERVAL:
            return
        kept = (self.trainer, self.trainer.updates, self.trainer.config)   # live settings count too
        if self.recovery_kept == kept:
            return   # already on disk (a Step sends "pause" then "step": one write, not two)
        self.recovery_time = now
        self.recovery_kept = kept
        try:
            self.recovery.write(self.trainer)
        except (WriteError, OSError) as e:   # say it once; training goes on without it
            self.recovery = None
            self.send("failed", (f"Cannot keep the run's recovery state ({e}); if the training "
                                 "process dies, the run since the last save is lost.", ""))

    @contextlib.contextmanager
    def failing_as(self, sentence):
        """An error inside becomes a "failed" message worded by sentence(error), with the
        traceback behind Details; the current run stays as it was."""
        try:
            yield
        except Exception as e:
            self.send("failed", (sentence(e), traceback.format_exc(limit=6)))

    def kept_dataset(self, config):
        """Data that cannot be loaded again by name (points drawn in the window, or restored
        from a checkpoint) stays with a Reset that names it: the new run trains on it too."""
        t = self.trainer
        name = config.dataset
        if t is None or t.dataset.name != name or name in BUILTIN_DATASETS \
                or name.partition(":")[0] in USER_KINDS:
            return None
        return t.dataset

    def answer(self, call_id, fn, fn_args):
        """Run fn(trainer, *fn_args) here and send back what it returns (or the error): how
        tests and scripts look inside the training process."""
        try:
            self.send("result", (call_id, True, fn(self.trainer, *fn_args)))
        except Exception as e:
            self.send("result", (call_id, False, f"{type(e).__name__}: {e}"))

    def start(self, trainer: Trainer, recovery=None):
        """Swap in a new run (reset, load, restore or recover) and tell the window about it."""
        self.running = False
        self.trainer = trainer
        self.diverged = False
        self.outbox.clear()
        self.rate.clear()
        self.take_snapshot(force=True)
        if self.recovery is not None:
            self.recovery.begin_run()
        ds = trainer.dataset
        real = None
        if ds.kind == "points":  # a fixed subset of the real data, shown once
            real = ds.data[np.random.default_rng(0).permutation(len(ds.data))[:1000]].cpu().numpy().copy()
        self.send("run", {
            "real": real, "config": trainer.config, "device": str(trainer.device),
            "dataset_kind": ds.kind, "dataset_name": ds.name, "dataset_size": len(ds),
            "sample_shape": ds.sample_shape, "fixed_noise": trainer.fixed_noise.cpu().numpy(),
            "skipped": ds.skipped, "note": getattr(trainer, "load_note", ""), "history": trainer.history.array(),
            "next_phase": trainer.next_phase,
            "iteration": trainer.iteration, "updates": trainer.updates, "recovery": recovery,
        })
        self.send("running", False)
        self.flush(force_samples=True, metrics=True, force=True)
        self.keep_recovery_state(force=True)

    # ---------------------------------------------------------------- output
    def flush(self, force_samples=False, metrics=False, force=False):
        t = self.trainer
        if t is None:
            return
        started = time.perf_counter()   # the last update has just finished
        records = t.fetch_records()
        bad = next((r for r in records if not r.is_finite), None)
        self.outbox.extend(records)
        if bad is not None:
            self.diverged = True
            self.set_running(False)
            self.send("nonfinite", bad)
        elif records:
            self.take_snapshot()
            self.keep_recovery_state()
        if not (self.outbox or force_samples or force):
            return
        if not self.acked and not force:
            return  # the window is busy: keep the records, send them with the next batch
        now = time.perf_counter()
        payload = {"records": self.outbox, "next_phase": t.next_phase, "iteration": t.iteration,
                   "updates": t.updates, "epoch": t.sampler.epoch, "ups": self.updates_per_second(now),
                   "time": started}   # perf_counter: one clock for all processes (benchmarks use it)
        interval = IMAGE_INTERVAL if t.dataset.kind == "images" else FIELD_INTERVAL
        if force_samples or now - self.last_samples >= interval:
            if t.dataset.kind == "images":
                payload["samples"] = t.samples(fresh=self.fresh_noise)
            else:   # the window draws the field from these (field.FieldMirror)
                payload["weights"] = network_weights(t)
            self.last_samples = now
        if metrics or now - self.last_metrics >= METRIC_INTERVAL:
            payload["metrics"] = evaluate(t)
            payload["histogram"] = d_output_histogram(t)
            self.last_metrics = time.perf_counter()
        self.outbox = []
        self.acked = False
        payload["sent"] = time.perf_counter()
        self.send("batch", payload)

    def updates_per_second(self, now):
        self.rate.append((now, self.trainer.updates))
        while len(self.rate) > 2 and now - self.rate[0][0] > 2.0:
            self.rate.pop(0)
        (t0, u0), (t1, u1) = self.rate[0], self.rate[-1]
        return (u1 - u0) / (t1 - t0) if t1 > t0 and self.running else 0.0

    def take_snapshot(self, force=False):
        """Keep the last state whose losses were finite, to go back to after a NaN. Its
        history is kept as a row count, not a second copy of a history that only grows."""
        now = time.perf_counter()
        if force or now - self.snapshot_time >= SNAPSHOT_INTERVAL:
            self.snapshot = copy.deepcopy(self.trainer.state_dict(history=False))
            self.snapshot_rows = len(self.trainer.history)
            self.snapshot_time = now


class LoadProgress:
    """Sends the progress of reading a big data file to the window, at most 4 times a second."""

    def __init__(self, send):
        self.send, self.last = send, 0.0

    def progress(self, done, total, name):
        now = time.perf_counter()
        if done >= total or now - self.last >= 0.25:
            self.last = now
            self.send("progress", (done, total, name))

    def note(self, text):
        pass  # skipped images and device notes arrive with the run itself


def cannot_start(dataset: str, error: Exception) -> str:
    """One sentence for a run that could not start. DataError messages begin with the file
    they are about ("/x/nope.csv: no such file")."""
    if isinstance(error, DataError):
        kind, sep, _ = dataset.partition(":")
        return f"Cannot read {error}" if sep and kind in USER_KINDS else f"Cannot load the data: {error}"
    if isinstance(error, ValueError):   # ConfigError, a model that does not fit the data
        return f"Cannot start a run with these settings: {in_words(error)}"
    return f"Cannot start the run: {type(error).__name__}: {error}"
