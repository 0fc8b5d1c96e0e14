"""The door between the window and the training service: one small class per message.

Commands go from the window to the service; events come back. Both are plain dataclasses of
CPU data (numpy arrays, Records, Configs), so they cross a pipe (pickled) or a queue (as they
are) alike. This module imports neither torch nor Qt: a client can speak it without either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:   # type names only: importing the door loads no torch
    import numpy as np

    from ganviz.core.config import Config
    from ganviz.core.history import Record


class Command:
    """Window -> service."""


class Event:
    """Service -> window."""


# ---------------------------------------------------------------- commands
@dataclass(frozen=True)
class Play(Command):
    """Train until Pause."""


@dataclass(frozen=True)
class Pause(Command):
    """Stop after the current update; the latest samples and records follow."""


@dataclass(frozen=True)
class Step(Command):
    """Exactly one update (D or G, whichever is next). stages: also tell its stages
    (slow motion): the update itself is the same."""
    stages: bool = False


@dataclass(frozen=True)
class StepIteration(Command):
    """Updates until the next G update has been done (k D updates, then G)."""


@dataclass(frozen=True)
class ChangeSettings(Command):
    """Apply settings at the next update; answered by SettingsApplied."""
    changes: dict


@dataclass(frozen=True)
class Reset(Command):
    """A new run with this config. dataset: points the window drew (None: load by name)."""
    config: Config
    dataset: Any = None


@dataclass(frozen=True)
class Save(Command):
    """Write a checkpoint of the current run; answered by Saved (or Failed)."""
    path: str


@dataclass(frozen=True)
class Open(Command):
    """Continue the run in this checkpoint."""
    path: str


@dataclass(frozen=True)
class Restore(Command):
    """Go back to the last state whose losses were finite (after a NonFinite)."""


@dataclass(frozen=True)
class FreshNoise(Command):
    """Draw the samples from fresh noise each time (on) or from the fixed noise (off)."""
    on: bool


@dataclass(frozen=True)
class SendAll(Command):
    """Send a batch now with samples and quality metrics, whatever the clock says."""


@dataclass(frozen=True)
class SendSamples(Command):
    """Send the samples (or the field's weights) now: the 2D view moved."""


@dataclass(frozen=True)
class Call(Command):
    """Run fn(trainer, *args) in the service; answered by Result(call_id, ...). For tests
    and scripts; fn must be importable where the service runs."""
    call_id: int
    fn: Callable
    args: tuple = ()


@dataclass(frozen=True)
class Interpolate(Command):
    """G's samples along the slerp path from seed_a's noise to seed_b's (core/explore.py);
    answered by Explored("path")."""
    seed_a: int
    seed_b: int
    steps: int = 9
    label: int = 0       # conditional runs: the class G is asked for (ignored otherwise)


@dataclass(frozen=True)
class PlaneSample(Command):
    """G's sample at (u, v) in [0, 1]^2 of the plane through four seeds' noise (corners
    (0, 0), (1, 0), (0, 1), (1, 1)); answered by Explored("plane")."""
    seeds: tuple
    u: float
    v: float
    label: int = 0


@dataclass(frozen=True)
class NearestReal(Command):
    """The training images nearest G's sample at t of the path from seed_a to seed_b;
    answered by Explored("nearest")."""
    seed_a: int
    seed_b: int
    t: float
    k: int = 4
    label: int = 0


@dataclass(frozen=True)
class RecoveryFolder(Command):
    """Keep the run's state in this folder for a new service to reopen (None: keep none)."""
    path: str | None


@dataclass(frozen=True)
class RunsFolder(Command):
    """Keep every run from now on as a folder under this one (core/store.py: its metrics,
    frames and snapshots, for the timeline and branches); None: keep none."""
    path: str | None


@dataclass(frozen=True)
class ContinueFrom(Command):
    """A new run continuing the stored run in `folder` from its snapshot at or before `update`
    (None: its latest), with `changes` to its settings; it records its parent (core/branch.py)."""
    folder: str
    update: int | None
    changes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Recover(Command):
    """Reopen the run kept in the recovery folder; if it cannot be read, start `fallback`.
    `folder`: the dead run's store, which the reopened run goes on writing."""
    fallback: Config | None
    folder: str | None = None


@dataclass(frozen=True)
class Ack(Command):
    """The window took the last Batch; the next may be sent."""


@dataclass(frozen=True)
class Stop(Command):
    """End the service. From a window connected to `ganviz serve`: that window leaves (its
    connection closes); the service trains on."""


@dataclass(frozen=True)
class Describe(Command):
    """A window attached to a running service (service/serve.py): send it the run as it stands
    (RunStarted with the history so far, Running), then a batch with samples and metrics.
    `to`: that window's number; the answers go to it alone (To)."""
    to: int = 0


@dataclass(frozen=True)
class TakeControl(Command):
    """serve.py: this window's commands are obeyed from now on; the one that controlled watches."""


# ---------------------------------------------------------------- events
@dataclass(frozen=True)
class RecoveryNote:
    """How a Recover went: ok, or the error that made it start afresh."""
    ok: bool
    error: str = ""


@dataclass
class RunStarted(Event):
    """A new run (Reset, Open, Restore or Recover) is ready, paused."""
    config: Config
    device: str
    dataset_kind: str                 # "points" or "images"
    dataset_name: str
    dataset_size: int
    sample_shape: tuple
    fixed_noise: np.ndarray
    history: np.ndarray               # the run's history so far (History.array() rows)
    next_phase: str                   # "D" or "G"
    iteration: int
    updates: int
    real: np.ndarray | None = None    # 2D runs: a fixed subset of the real points, shown once
    skipped: int = 0                  # unreadable images skipped while loading
    note: str = ""                    # e.g. a checkpoint saved on CUDA, opened on this CPU
    recovery: RecoveryNote | None = None   # set when the run was reopened by Recover
    folder: str | None = None         # the run's store (RunsFolder), None when none is kept
    classes: tuple | None = None      # conditional runs: the class names, else None
    fixed_labels: np.ndarray | None = None   # ... the class of each fixed-noise sample
    real_labels: np.ndarray | None = None    # ... the class of each real point in `real`
    grid_columns: int | None = None   # ... image runs: the grid's columns (one row per class)


@dataclass
class Batch(Event):
    """What happened since the last batch, at most ~25 a second; the window answers Ack."""
    records: list[Record]
    next_phase: str
    iteration: int
    updates: int
    epoch: float
    ups: float                        # updates per second over the last ~2 s
    time: float                       # perf_counter when the last update ended
    sent: float = 0.0                 # perf_counter when it was sent
    samples: np.ndarray | None = None     # image runs: the sample grid
    weights: dict | None = None           # 2D runs: G's and D's weights, for the field
    metrics: dict | None = None           # quality metrics (evaluate.py)
    histogram: tuple | None = None        # D's outputs on real and fake (field.d_output_histogram)
    field: Any = None                     # 2D runs: the field, computed by the window's worker


@dataclass(frozen=True)
class Stepped(Event):
    """The Record of a Step (or the last of a StepIteration)."""
    record: Record


@dataclass(frozen=True)
class Stages(Event):
    """A slow-motion Step's stages, right after its Stepped."""
    record: Record
    values: dict


@dataclass(frozen=True)
class Running(Event):
    on: bool


@dataclass(frozen=True)
class NonFinite(Event):
    """A loss or score became NaN or infinite in this update; training paused."""
    record: Record


@dataclass(frozen=True)
class Failed(Event):
    """One plain sentence for a dialog, and details (a traceback) behind it."""
    message: str
    details: str = ""


@dataclass(frozen=True)
class Saved(Event):
    path: str


@dataclass(frozen=True)
class Result(Event):
    """The answer to Call(call_id): ok and the value, or not ok and the error in words."""
    call_id: int
    ok: bool
    value: Any


@dataclass(frozen=True)
class Progress(Event):
    """Reading a big data file: bytes done of total."""
    done: int
    total: int
    name: str


@dataclass(frozen=True)
class Explored(Event):
    """The answer to Interpolate ("path"), PlaneSample ("plane") or NearestReal ("nearest"):
    images (N, C, H, W) in [-1, 1] and what else was asked (t values, distances, ratio)."""
    what: str
    images: np.ndarray
    info: dict


@dataclass(frozen=True)
class SettingsApplied(Event):
    """The answer to ChangeSettings: what now applies, and what waits for a Reset."""
    applied: dict
    needs_reset: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Control(Event):
    """serve.py: whether this window's commands are obeyed (one window of several controls),
    and how many windows are attached."""
    on: bool
    windows: int = 1


@dataclass(frozen=True)
class To(Event):
    """An event for one attached window of several (serve.py delivers it to that one alone)."""
    to: int
    event: Event


COMMANDS = (Play, Pause, Step, StepIteration, ChangeSettings, Reset, Save, Open, Restore, FreshNoise,
            SendAll, SendSamples, Call, Interpolate, PlaneSample, NearestReal, RecoveryFolder, RunsFolder,
            ContinueFrom, Recover, Ack, Stop, Describe)
EVENTS = (RunStarted, Batch, Stepped, Stages, Running, NonFinite, Failed, Saved, Result, Progress,
          Explored, SettingsApplied, To)
# TakeControl and Control are the server's (service/serve.py), not the training service's.
# What a window connected over the network may send (service/serve.py). Not: Call (code to run),
# Save, Open, RunsFolder, RecoveryFolder, ContinueFrom, Recover (files on the server's disk,
# which the server alone names), Describe (the server asks it on a window's behalf).
NETWORK_COMMANDS = (Play, Pause, Step, StepIteration, ChangeSettings, Reset, Restore, FreshNoise,
                    SendAll, SendSamples, Interpolate, PlaneSample, NearestReal, Ack, Stop, TakeControl)
