"""The training service: runs the trainer under commands read between updates.

It runs in a process of its own (process.py) or, for tests, in a thread (protocol/transports.py).
Why a process for the window: these small networks spend most of their time in Python, and
Python runs one thread at a time. Painting the plots in the same process took 60-75 % of the
training speed away; in its own process training keeps a core to itself.

Commands (protocol/messages.py) come in through a channel, read between updates, so a Step is
exact (one command, one update) and Pause lands within one update; each command has one handler
method. Events go out through the same channel as plain CPU data (Records, numpy arrays), at
most ~25 batches a second; until the window acknowledges a batch, records wait in an outbox and
samples are replaced (latest wins).

If the window gives it a recovery folder (RecoveryFolder), the service keeps the run's state
there (recovery.py) every RECOVERY_INTERVAL seconds of training and after every pause and
step, only while the losses are finite; a new service reopens it with Recover.

If the window gives it a runs folder (RunsFolder), every run is kept as a folder under it
(core/store.py): its metric rows, frames of what the window shows, snapshots and quality
scores, written here and nowhere else; the window's timeline reads them back.
"""
from __future__ import annotations

import contextlib
import copy
import os
import time
import traceback

import numpy as np
import torch

from ganviz.core.atomic import WriteError
from ganviz.core.branch import continue_run
from ganviz.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ganviz.core.config import Config, in_words
from ganviz.core.data import BUILTIN_DATASETS, USER_KINDS, DataError
from ganviz.core.evaluate import evaluate
from ganviz.core.field import d_output_histogram, network_weights
from ganviz.core.inputs import reporting
from ganviz.core.recovery import RecoveryStore, load_recovered
from ganviz.core.store import RunStore, StoreError
from ganviz.core.store_format import D_HISTOGRAM
from ganviz.core.trainer import Trainer
from ganviz.protocol import messages as m

from .explorer import Explorer

EMIT_INTERVAL = 1 / 25      # seconds between batches sent to the window
FIELD_INTERVAL = 1 / 25     # 2D runs send the weights for the field with every batch: ~20 frames/s
IMAGE_INTERVAL = 1 / 10     # image grids: 10 a second is plenty
METRIC_INTERVAL = 2.0       # seconds between quality metrics while training (2D data)
IMAGE_METRIC_INTERVAL = 4.0  # images: the measures against real images cost ~0.1 s (5 % at 2 s)
SNAPSHOT_INTERVAL = 10.0    # seconds between in-memory "last good state" snapshots
RECOVERY_INTERVAL = 10.0    # seconds between states kept on disk while training (and every pause/step)


class TrainingService:
    def __init__(self, channel):
        """channel: send(event), poll(timeout) and recv() (a multiprocessing Connection, or
        transports.QueueChannel in-process)."""
        self.channel = channel
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
        self.runs_root: str | None = None   # RunsFolder: where each run's store goes
        self.store: RunStore | None = None
        self.stop_at: int | None = None   # `ganviz train --serve`: end at this iteration
        self.one_run = ""   # why this service trains one run only (torchrun: every process has it)
        self.handlers = {
            m.Ack: self.on_ack, m.Play: self.on_play, m.Pause: self.on_pause, m.Step: self.on_step,
            m.StepIteration: self.on_step_iteration, m.ChangeSettings: self.on_change_settings,
            m.Reset: self.on_reset, m.Save: self.on_save, m.Open: self.on_open, m.Restore: self.on_restore,
            m.FreshNoise: self.on_fresh_noise, m.SendAll: self.on_send_all,
            m.SendSamples: self.on_send_samples, m.Call: self.on_call,
            m.RecoveryFolder: self.on_recovery_folder, m.RunsFolder: self.on_runs_folder,
            m.ContinueFrom: self.on_continue_from,
            m.Recover: self.on_recover, m.Stop: self.on_stop, m.Describe: self.on_describe,
            **Explorer(self).handlers(),   # the generator explorer's questions (service/explorer.py)
        }

    def send(self, event: m.Event):
        self.channel.send(event)

    def run(self):
        with reporting(LoadProgress(self.send)):  # a big file's progress reaches the window
            self._serve()

    def _serve(self):
        last_emit = time.perf_counter()
        while not self.stopped:
            try:
                if self.running and self.trainer is not None:
                    while self.channel.poll():
                        self.execute(self.channel.recv())
                    if not self.running:
                        continue
                    self.trainer.step(fetch=False)
                    if self.stop_at is not None and self.trainer.iteration >= self.stop_at:
                        self.on_pause(m.Pause())   # its last records, samples and scores go out
                        self.stopped = True
                        continue
                    now = time.perf_counter()
                    if now - last_emit >= EMIT_INTERVAL:
                        last_emit = now   # from the flush's start: its own time counts in the interval
                        self.flush()
                else:
                    self.flush()
                    if self.channel.poll(0.05):
                        self.execute(self.channel.recv())
            except (EOFError, BrokenPipeError):
                raise
            except Exception as e:  # shown in a dialog; the service keeps serving
                if self.one_run:   # torchrun: the other processes may be inside the update it broke
                    raise
                self.set_running(False)
                self.send(m.Failed(f"Training stopped with an error: {e}",
                                   f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}"))

    def set_running(self, running: bool):
        self.running = running
        self.send(m.Running(running))

    # ---------------------------------------------------------------- commands
    def execute(self, command: m.Command):
        if self.one_run and isinstance(command, (m.Reset, m.Open, m.Restore, m.ContinueFrom, m.Recover)):
            self.send(m.Failed(f"This server trains one run only: {self.one_run}. Reset, Open and going "
                               "back need every process; stop it and start it again with new settings."))
            return
        self.handlers[type(command)](command)

    def on_ack(self, command: m.Ack):
        self.acked = True

    def on_play(self, command: m.Play):
        if self.trainer is not None:
            self.set_running(True)

    def on_pause(self, command: m.Pause):
        self.running = False
        self.flush(force_samples=True, metrics=True, force=True)   # quality of the moment paused at
        self.send(m.Running(False))
        self.keep_recovery_state(force=True)

    def on_step(self, command: m.Step):
        if self.trainer is None:
            return
        stages = {} if command.stages else None   # slow motion: the same update, its stages told
        record = self.trainer.step(fetch=True, stages=stages)
        self.flush(force_samples=True, metrics=True, force=True, stepped=[record])
        self.send(m.Stepped(record))
        if stages is not None:
            self.send(m.Stages(record, stages))
        self.keep_recovery_state(force=True)

    def on_step_iteration(self, command: m.StepIteration):
        if self.trainer is None:
            return
        records = self.trainer.step_iteration(fetch=True)
        self.flush(force_samples=True, metrics=True, force=True, stepped=records)
        self.send(m.Stepped(records[-1]))
        self.keep_recovery_state(force=True)

    def on_change_settings(self, command: m.ChangeSettings):
        if self.trainer is None:
            return
        try:
            needs_reset = self.trainer.update_config(**command.changes)
        except (ValueError, TypeError) as e:   # a value out of range, a setting there is no such:
            self.send(m.Failed(f"Settings not applied: {in_words(e)}"))   # the run goes on as it was
            return
        applied = {k: v for k, v in command.changes.items() if k not in needs_reset}
        self.send(m.SettingsApplied(applied, list(needs_reset)))

    def on_reset(self, command: m.Reset):
        config, trainer = command.config, None
        with self.failing_as(lambda e: cannot_start(config.dataset, e)):
            dataset = command.dataset if command.dataset is not None else self.kept_dataset(config)
            trainer = Trainer(config, dataset=dataset)
        if trainer is not None:
            self.start(trainer)

    def on_save(self, command: m.Save):
        if self.trainer is None:
            return
        # training goes on; the window says which file and why (WriteError names both)
        with self.failing_as(lambda e: f"{e}." if isinstance(e, WriteError) else f"Not saved: {e}"):
            save_checkpoint(self.trainer, command.path)
            self.send(m.Saved(str(command.path)))

    def on_open(self, command: m.Open):
        trainer = None
        with self.failing_as(lambda e: f"Cannot open {e}" if isinstance(e, CheckpointError)
                             else cannot_start(str(command.path), e)):
            trainer = load_checkpoint(command.path)
        if trainer is not None:
            self.start(trainer)

    def on_restore(self, command: m.Restore):
        if self.snapshot is None:
            return
        t = self.trainer
        trainer = Trainer(Config.from_dict(self.snapshot["config"]), dataset=t.dataset)
        state = copy.deepcopy(self.snapshot)
        # the run's history still begins with the snapshot's rows
        state["history"] = torch.from_numpy(t.history.rows(0, self.snapshot_rows))
        trainer.load_state_dict(state)
        self.start(trainer, same_run=True)   # the store drops the rows after the snapshot

    def on_fresh_noise(self, command: m.FreshNoise):
        self.fresh_noise = command.on
        self.flush(force_samples=True, force=True)

    def on_send_all(self, command: m.SendAll):
        self.flush(force_samples=True, metrics=True, force=True)

    def on_send_samples(self, command: m.SendSamples):
        self.flush(force_samples=True, force=True)

    def on_call(self, command: m.Call):
        """Run fn(trainer, *args) here and send back what it returns (or the error): how
        tests and scripts look inside the training service."""
        try:
            self.send(m.Result(command.call_id, True, command.fn(self.trainer, *command.args)))
        except Exception as e:
            self.send(m.Result(command.call_id, False, f"{type(e).__name__}: {e}"))

    def on_recovery_folder(self, command: m.RecoveryFolder):
        self.recovery = RecoveryStore(command.path) if command.path else None   # None: keep nothing on disk
        self.recovery_kept = None

    def on_runs_folder(self, command: m.RunsFolder):
        self.runs_root = command.path   # from the next run on (None: keep none)

    def on_continue_from(self, command: m.ContinueFrom):
        """A branch (core/branch.py): the stored run's snapshot at or before the moment, with
        the changed settings, as a new run in a folder of its own that names its parent."""
        if self.runs_root is None:
            self.send(m.Failed("Cannot continue from a recorded moment: no runs folder is kept."))
            return
        trainer = None
        with self.failing_as(lambda e: f"Cannot continue from there: {in_words(e)}"):
            objective = command.changes.get("objective") or "branch"   # "minimax-at-2000-...": what changed, where
            name = f"{objective}-at-{self._iteration_at(command.folder, command.update)}"
            trainer, store = continue_run(command.folder, command.update, command.changes,
                                          self.new_run_folder(name))
        if trainer is None:
            return
        trainer.load_note = (f"Continued {os.path.basename(os.path.normpath(command.folder))} from its "
                             f"snapshot at iteration {trainer.iteration} (update {trainer.updates})")
        self.close_store()
        self.store = store
        self.start(trainer, same_run=True)   # its store is the branch's own, already open

    def on_recover(self, command: m.Recover):
        self.recover(command.fallback, command.folder)

    def on_describe(self, command: m.Describe):
        if self.trainer is None:
            return
        # the records fetched so far go to the other windows (and into the store, committed):
        # the history below holds them, and this window takes only what comes after it
        self.flush(force=True)
        self.send(m.To(command.to, self.run_started()))
        self.send(m.To(command.to, m.Running(self.running)))
        self.flush(force_samples=True, metrics=True, force=True)

    def on_stop(self, command: m.Stop):
        self.running, self.stopped = False, True
        self.close_store()

    def recover(self, fallback, folder=None):
        """Reopen the run kept in the recovery folder (the previous process died), going on
        in its store `folder`; if it cannot be read, start a new run with `fallback` (the dead
        run's config)."""
        try:
            if self.recovery is None:
                raise ValueError("no recovery state was kept")
            trainer = load_recovered(self.recovery.folder)
            note = m.RecoveryNote(ok=True)
        except Exception as e:  # noqa: BLE001 - any unreadable state: start afresh, say why
            trainer, folder = Trainer(fallback), None
            note = m.RecoveryNote(ok=False, error=str(e))
        self.start(trainer, recovery=note, folder=folder)

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
            return   # already on disk (a Step sends Pause then Step: one write, not two)
        self.recovery_time = now
        self.recovery_kept = kept
        try:
            self.recovery.write(self.trainer)
        except (WriteError, OSError) as e:   # say it once; training goes on without it
            self.recovery = None
            self.send(m.Failed(f"Cannot keep the run's recovery state ({e}); if the training "
                               "process dies, the run since the last save is lost."))

    @contextlib.contextmanager
    def failing_as(self, sentence):
        """An error inside becomes a Failed event worded by sentence(error), with the
        traceback behind Details; the current run stays as it was."""
        try:
            yield
        except Exception as e:
            self.send(m.Failed(sentence(e), traceback.format_exc(limit=6)))

    def kept_dataset(self, config):
        """Data that cannot be loaded again by name (points drawn in the window, or restored
        from a checkpoint) stays with a Reset that names it: the new run trains on it too."""
        t = self.trainer
        name = config.dataset
        if t is None or t.dataset.name != name or name in BUILTIN_DATASETS \
                or name.partition(":")[0] in USER_KINDS:
            return None
        return t.dataset

    def start(self, trainer: Trainer, recovery=None, folder=None, same_run=False):
        """Swap in a new run (reset, load, restore or recover) and tell the window about it.
        Its store: a new folder under the runs folder, or `folder` (a recovered run goes on
        in its own), or the current one (`same_run`: a restore goes back within the run)."""
        self.running = False
        self.trainer = trainer
        if not same_run:
            self.open_store(trainer, folder, recovered=recovery is not None and recovery.ok)
        self.diverged = False
        self.outbox.clear()
        self.rate.clear()
        self.take_snapshot(force=True)
        if self.recovery is not None:
            self.recovery.begin_run()
        self.send(self.run_started(recovery))
        self.send(m.Running(False))
        self.flush(force_samples=True, metrics=True, force=True)
        self.keep_recovery_state(force=True)

    def run_started(self, recovery=None) -> m.RunStarted:
        """The current run as a window starting to show it needs it, its history so far included."""
        trainer = self.trainer
        ds = trainer.dataset
        real = real_labels = None
        if ds.kind == "points":  # a fixed subset of the real data, shown once
            shown = np.random.default_rng(0).permutation(len(ds.data))[:1000]
            real = ds.data[shown].cpu().numpy().copy()
            if trainer.labels is not None:
                real_labels = trainer.labels.cpu().numpy()[shown].copy()
        fixed_labels = trainer.fixed_labels
        return m.RunStarted(
            config=trainer.config, device=str(trainer.device), dataset_kind=ds.kind, dataset_name=ds.name,
            dataset_size=len(ds), sample_shape=tuple(ds.sample_shape),
            fixed_noise=trainer.fixed_noise.cpu().numpy().copy(),   # a copy: in-process, no shared tensor
            history=trainer.history.array(), next_phase=trainer.next_phase, iteration=trainer.iteration,
            updates=trainer.updates, real=real, skipped=ds.skipped, note=getattr(trainer, "load_note", ""),
            recovery=recovery, folder=self.store.folder if self.store is not None else None,
            classes=trainer.classes, real_labels=real_labels, grid_columns=trainer.grid_columns,
            fixed_labels=None if fixed_labels is None else fixed_labels.cpu().numpy().copy())

    # ---------------------------------------------------------------- output
    def flush(self, force_samples=False, metrics=False, force=False, stepped=()):
        """Send what happened (records, samples, metrics) and keep it in the store; `stepped`:
        the records a Step returned (the trainer hands those back at once, not to fetch)."""
        t = self.trainer
        if t is None:
            return
        started = time.perf_counter()   # the last update has just finished
        records = t.fetch_records() + list(stepped)
        bad = next((r for r in records if not r.is_finite), None)
        self.outbox.extend(records)
        self.keep(lambda store: store.add_records(records))   # the store's only writer
        self.keep(lambda store: store.release(t.history))     # memory stays flat: the store has them
        if bad is not None:
            self.diverged = True
            self.set_running(False)
            self.send(m.NonFinite(bad))
        elif records:
            self.take_snapshot()
            self.keep_recovery_state()
            self.keep(lambda store: store.maybe_snapshot(t))
        if not (self.outbox or force_samples or force):
            return
        if not self.acked and not force:
            return  # the window is busy: keep the records, send them with the next batch
        now = time.perf_counter()
        batch = m.Batch(records=self.outbox, next_phase=t.next_phase, iteration=t.iteration,
                        updates=t.updates, epoch=t.sampler.epoch, ups=self.updates_per_second(now),
                        time=started)   # perf_counter: one clock for all processes (benchmarks use it)
        interval = IMAGE_INTERVAL if t.dataset.kind == "images" else FIELD_INTERVAL
        if force_samples or now - self.last_samples >= interval:
            if t.dataset.kind == "images":
                batch.samples = t.samples(fresh=self.fresh_noise)
            else:   # the window draws the field from these (field.FieldMirror)
                batch.weights = network_weights(t)
            self.last_samples = now
            if not self.diverged:   # the stored frame: the fixed noise's samples, as replay shows them
                frame = None if self.fresh_noise and batch.samples is not None else \
                    {"iteration": t.iteration, "updates": t.updates, "samples": batch.samples,
                     "weights": batch.weights}
                if frame is not None:
                    frame = {k: v for k, v in frame.items() if v is not None}
                self.keep(lambda store: store.maybe_frame(t, force=force_samples, payload=frame))
        every = IMAGE_METRIC_INTERVAL if t.dataset.kind == "images" else METRIC_INTERVAL
        if metrics or now - self.last_metrics >= every:
            batch.metrics = evaluate(t)
            batch.histogram = d_output_histogram(t)
            self.last_metrics = time.perf_counter()
            if not self.diverged:
                # with D's score histogram, so the timeline shows it at the moment too
                self.keep(lambda store: store.add_quality(t.updates, {**batch.metrics,
                                                                      D_HISTOGRAM: batch.histogram}))
        if force:   # a Step, a pause, a new run: on disk now, for the timeline (else every 0.5 s),
            if not (self.diverged or self.running):   # with a snapshot to continue from
                self.keep(lambda store: store.maybe_snapshot(t, force=True))
            self.keep(lambda store: store.commit())
        self.outbox = []
        self.acked = False
        batch.sent = time.perf_counter()
        self.send(batch)

    # ---------------------------------------------------------------- the run store
    def open_store(self, trainer, folder=None, recovered=False):
        """The new run's store: `folder`, or a new folder under the runs folder. `recovered`:
        the trainer is `folder`'s run reopened after a death (RunStore drops the rows past it)."""
        self.close_store()
        if self.runs_root is None:
            return
        self.keep(lambda _: None, opening=(trainer, folder or self.new_run_folder(trainer.dataset.name), recovered))

    @staticmethod
    def _iteration_at(folder, update) -> int:
        """Iterations completed at `update` of the run in `folder` (its latest if None)."""
        from ganviz.core.store import RunReader
        with RunReader(folder) as reader:
            x = reader.columns(["x"])["x"]
        i = len(x) if update is None else min(len(x), update)
        return int(x[i - 1]) if i > 0 else 0   # a G update at x = i ends iteration i

    def new_run_folder(self, name: str) -> str:
        """A folder under the runs folder that does not exist yet: NAME-TIMESTAMP."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:60]
        folder = os.path.join(self.runs_root, f"{name}-{stamp}")
        n = 2
        while os.path.exists(folder):   # two runs in one second
            folder = os.path.join(self.runs_root, f"{name}-{stamp}-{n}")
            n += 1
        return folder

    def keep(self, write, opening=None):
        """write(store), or open the store (opening: (trainer, folder, recovered)); a failure is said
        once and training goes on without a store (what was written stays readable)."""
        try:
            if opening is not None:
                trainer, folder, recovered = opening   # a snapshot every 10 s: a moment to branch from
                self.store = RunStore(folder, trainer, recovered=recovered)
            elif self.store is not None:
                write(self.store)
        except (WriteError, StoreError, OSError) as e:
            self.close_store()
            self.send(m.Failed(f"Cannot keep this run on disk ({e}); it trains on, but its "
                               "timeline stops here."))

    def close_store(self):
        store, self.store = self.store, None
        if store is not None:
            try:
                store.close()
            except (WriteError, StoreError, OSError):
                pass   # its last half second is lost; what was committed stays

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
            self.send(m.Progress(done, total, name))

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
