"""RunSession: the client's view of one run, fed the training service's events (protocol/
messages.py), one method each. It holds what the window shows of the run (its config and
objective, the History, the latest metrics, the next phase, iteration, epoch and rate, the
training time, running or not, the last Step and the texts the window puts on screen) and
tells which of those each event changed, so the window renders only that. No Qt here: the
window renders a session, and tests read one with no window at all."""
from __future__ import annotations

import time

import numpy as np

from ganviz.core.config import Config
from ganviz.core.diagnosis import diagnose
from ganviz.core.evaluate import format_metrics
from ganviz.core.history import COLUMNS, KEEP_ROWS, History
from ganviz.core.objectives import get_objective

from .row_cache import RowCache

PRESS_STEP_TEXT = "Press Step to run one update and see what it did."
TRAINING_TEXT = "Training: Pause, then Step, to see what one update does."
PAUSED_TEXT = "Paused: press Step to run one update and see what it did."
STATES_INTERVAL = 1.0   # seconds between re-naming the run's state while it trains
DIAGNOSIS_ROWS = 4000   # history rows the named states are read from (the newest and the first)
RELEASE_INTERVAL = 5.0  # seconds between letting stored history rows go from memory
STATUS = ("iteration", "epoch", "rate", "device", "quality")   # the status bar's texts, by name


class RunSession:
    def __init__(self, config: Config | None = None, clock=time.perf_counter):
        self.clock = clock   # when the named states were last worked out, and batches came
        self.use_config(config or Config())
        self.history = History()
        self.run_info = None           # the service's RunStarted for the current run
        self.metrics = None            # the latest quality metrics of the run
        self.metrics_iteration = None  # the iteration they were measured at
        self.next_phase = "D"
        self.elapsed = 0.0             # seconds spent in this run's updates (its history's durations)
        self.running = False
        self.last_step = None          # the Record of the last Step, until training runs again
        self.diverged = None           # the Record whose loss became NaN or infinite, if any
        self.readout, self.explanation = PRESS_STEP_TEXT, ""
        self.status = dict.fromkeys(STATUS, "")
        self.loading = None            # (what, source) while the service builds a run
        self.recovering = None         # while a new service reopens the run: {"reason", "seen"}
        self.last_batch_time = 0.0
        self.states_at = 0.0           # when the named states were last worked out
        self.rows_source = None        # where the rows let go from memory are: the run's store
                                       # (core/run_reader.RowSource), else a RowCache
        self.released_at = 0.0
        self._head = None              # the run's first DIAGNOSIS_ROWS rows, once it has them

    def use_config(self, config: Config):
        self.config = config
        self.objective = get_objective(config.objective)

    # ---------------------------------------------------------------- events
    def on_run_started(self, event) -> set[str]:
        """A new run (Reset, Open, Restore, Recover): everything shown starts again from its
        history. Returns what changed: all of it."""
        self.run_info = event
        self.use_config(event.config)
        self.history = History.from_array_state(event.history)
        self._head = None
        self.close()
        if getattr(event, "folder", None):   # the run's store: the history's rows live there
            from ganviz.core.run_reader import RowSource
            self.rows_source = RowSource(event.folder)
        else:   # none this window can read: a file of its own keeps them as they come
            self.rows_source = RowCache()
            self.rows_source.add(self.history.array())
        self.elapsed = self.took(self.history.array())
        self.metrics = self.metrics_iteration = None
        self.next_phase = event.next_phase
        self.last_step = self.diverged = None
        self.readout, self.explanation = PRESS_STEP_TEXT, ""
        # completed iterations: one G update each (the next batch says the same)
        iteration = int(np.sum(self.history.column("phase") == 1))
        self.status = dict.fromkeys(STATUS, "")
        self.status.update(iteration=f"iteration {iteration}", device=f"device {event.device}")
        return {"run", "history", "status", "metrics", "states", "readout", "phase"}

    def on_batch(self, event) -> tuple[set[str], np.ndarray]:
        """What happened since the last batch. Returns what changed, and the history rows it
        added (for the plots to append)."""
        changed = {"status", "phase"}
        rows = self.history.append(event.records) if event.records else np.empty((0, len(COLUMNS)))
        if isinstance(self.rows_source, RowCache):
            self.rows_source.add(rows)
        if len(rows):
            self.elapsed += self.took(rows)
            changed.add("history")
        for name in ("samples", "field", "histogram"):
            if getattr(event, name) is not None:
                changed.add(name)
        if event.metrics is not None:
            self.metrics, self.metrics_iteration = event.metrics, event.iteration
            self.status["quality"] = format_metrics(event.metrics)
            changed.add("metrics")
        self.next_phase = event.next_phase
        self.status.update(iteration=f"iteration {event.iteration}", epoch=f"epoch {event.epoch:.2f}",
                           rate=f"{event.ups:.0f} updates/s")
        self.last_batch_time = self.clock()
        self.release_stored_rows()
        if self.last_batch_time - self.states_at > STATES_INTERVAL or not self.running:
            changed.add("states")
        return changed, rows

    def release_stored_rows(self):
        """Keep only the newest rows of the history in memory: the run store (written by the
        training side) holds them all, and gives the others back when they are needed."""
        if self.rows_source is None:
            return
        now = self.clock()
        if now - self.released_at < RELEASE_INTERVAL or self.history.in_memory < 2 * KEEP_ROWS:
            return
        self.released_at = now
        self.history.release(self.rows_source.committed(), self.rows_source)

    def close(self):
        """Let go of the current run's rows source (a RowCache's file goes with it)."""
        if isinstance(self.rows_source, RowCache):
            self.rows_source.close()
        self.rows_source = None

    def on_stepped(self, event, words: tuple[str, str]) -> set[str]:
        """A Step's record, and the words the readout says of it (gui/readout.py's explain_step:
        they depend on the view the window shows)."""
        self.last_step = event.record
        self.readout, self.explanation = words
        return {"readout", "phase"}

    def on_running(self, event) -> set[str]:
        self.running = event.on
        changed = {"running", "phase"}
        if event.on:
            # the last Step's words would now describe an update long past
            self.last_step = None
            self.readout, self.explanation = TRAINING_TEXT, ""
            changed.add("readout")
        elif self.readout == TRAINING_TEXT:
            self.readout = PAUSED_TEXT
            changed.add("readout")
        return changed

    def on_non_finite(self, event) -> str:
        """Training diverged (and paused): the dialog's words."""
        record = self.diverged = event.record
        which = "loss_D" if record.phase == "D" else "loss_G"
        return (f"{which} (or a score) became NaN or infinite in the {record.phase} update of "
                f"iteration {record.iteration}. Training is paused.\n\n"
                "Go back to the last good state (kept in memory every few seconds)?")

    def on_saved(self, event) -> str:
        return f"Saved {event.path}"

    def on_process_died(self, reason: str, restarting: bool):
        """The training process died; if a new one reopens the run, remember what was seen so
        that recovered_message can say what was lost."""
        seen = self.history.record(len(self.history) - 1).update if len(self.history) else 0
        self.recovering = {"reason": reason, "seen": seen} if restarting else None

    # ---------------------------------------------------------------- loading
    def start_loading(self, what: str, source: str):
        self.loading = (what, source)

    def end_loading(self):
        loading, self.loading = self.loading, None
        return loading

    # ---------------------------------------------------------------- words
    def took(self, rows: np.ndarray) -> float:
        """Seconds these history rows spent in their updates."""
        return float(np.nansum(rows[:, COLUMNS.index("duration")])) if len(rows) else 0.0

    def states(self):
        """The named states (diagnosis.py), from the same numbers the plots show."""
        self.states_at = self.clock()
        head = self._head
        if head is None:
            head = self.history.head(DIAGNOSIS_ROWS)
            if len(head) == DIAGNOSIS_ROWS:   # the run's first rows never change: read them once
                self._head = head
        return self.states_of(self.history.tail(DIAGNOSIS_ROWS), head, self.metrics, self.metrics_iteration)

    def states_of(self, recent, early, metrics, metrics_iteration) -> list:
        """The named states of other rows than the history's newest (a recorded moment)."""
        return diagnose(recent, early, metrics, self.objective, metrics_iteration)

    def phase_words(self) -> tuple[str, str, str]:
        """(the header, the diagram's phase, its caption). One convention: the header and the
        diagram show the NEXT update (what Step will do); the header's second part says what
        the last update was, from the history, so a new run says nothing of one."""
        if self.running:
            return "Training: D and G take turns", "both", "Training: each update changes one network"
        n = len(self.history)
        last = self.history.record(n - 1) if n else None
        last_text = f"   Last update: {last.phase} (update {last.update})" if last else ""
        frozen = "G" if self.next_phase == "D" else "D"
        return (f"Paused. Next: {self.next_phase} update ({frozen} frozen).{last_text}", self.next_phase,
                f"Next: {self.next_phase} update (Step {self.next_phase})")

    def elapsed_text(self) -> str:
        return f"{clock(self.elapsed)} training"

    def run_message(self, loading, data: str) -> str:
        """What the status bar says about a run that just started: new, or opened where it
        stood. data: how the panel names its dataset."""
        info = self.run_info
        iteration = int(np.sum(self.history.column("phase") == 1))
        size = f"{info.dataset_size} {'points' if info.dataset_kind == 'points' else 'images'}"
        skipped = info.skipped
        size += f", {skipped} unreadable image{'s' if skipped != 1 else ''} skipped" if skipped else ""
        what, source = loading or (None, None)
        if what == "open":
            text = f"Opened {source} at iteration {iteration}: {data}, {size}"
        elif what == "drawing":
            text = f"New run on your drawing: {size}"
        elif what == "attach":   # said as of then: it stays true while the run goes on
            text = f"Attached to {source} at iteration {iteration}: {data}, {size}"
        elif what == "reset" or not len(self.history):
            text = f"New run: {data}, {size}"
        else:
            text = f"Run at iteration {iteration}: {data}, {size}"
        note = info.note  # e.g. a checkpoint saved on CUDA, opened on this CPU
        return (f"{note[:1].upper()}{note[1:]}. " if note else "") + text

    def recovered_message(self) -> str | None:
        """After a run was reopened by a new training process: what happened, once."""
        if self.recovering is None:
            return None
        (reason, seen), self.recovering = (self.recovering["reason"], self.recovering["seen"]), None
        info = self.run_info
        note = info.recovery
        if note is None or not note.ok:
            return (f"The training process stopped ({reason}) and its last saved state could not be read "
                    f"({note.error if note else 'unknown error'}), so a new run started with the same settings.")
        lost = max(0, seen - info.updates)
        return (f"The training process stopped ({reason}); reopened the run at iteration {info.iteration}, "
                f"{lost} update{'' if lost == 1 else 's'} lost.")


def clock(seconds: float) -> str:
    """0:07, 12:34, 1:02:03."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
