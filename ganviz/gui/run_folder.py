"""Run folders on screen. The window's own run: the training service keeps it in a store under
the runs folder, and the timeline reads it back (follow_live). A run folder opened to read
(issue 12's "open anything"): the window shows its curves (from the run store's columns), its
quality and its timeline, and trains nothing. A folder that a `ganviz train` is still writing
grows on screen as the timeline polls it. Reset (a new run) or opening another folder leaves it."""
from __future__ import annotations

import os
import traceback

import numpy as np

from ganviz.core.evaluate import format_metrics
from ganviz.core.history import COLUMNS, History
from ganviz.core.objectives import get_objective
from ganviz.core.run_reader import RowSource

VIEWING_TEXT = "Viewing a recorded run (read-only): nothing trains. Reset starts a new run."


def rows_of(columns: dict) -> np.ndarray:
    """Store columns by name -> history rows (float64, COLUMNS order, phase 0 for D, 1 for G)."""
    n = len(columns[COLUMNS[0]])
    rows = np.empty((n, len(COLUMNS)), dtype=np.float64)
    for j, name in enumerate(COLUMNS):
        values = np.asarray(columns[name])
        if name == "phase" and values.dtype.kind in "USOb":   # "D"/"G" as text
            values = values.astype(str) == "G"
        rows[:, j] = values
    return rows


def open_run(window, folder: str) -> bool:
    """Show `folder` read-only in `window`; a clear dialog (and the window as it was) if it is
    not a run that can be read."""
    from ganviz.core.store import RunReader, StoreError
    try:
        reader = RunReader(folder)
    except StoreError as e:
        window._show_error(_sentence(e))
        return False
    except Exception as e:   # sqlite3.DatabaseError and the like: a damaged store
        window._show_error(f"Cannot read the run in {folder}: {e}.", traceback.format_exc())
        return False
    if window.worker.serving:
        window.worker.pause()   # the window's own run waits, untouched, until Reset
    leave_run(window)
    window.viewing = reader
    window.slowMotion.end()
    window.stepViewCheck.setChecked(False)
    window.config = reader.config
    window.controls.set_config(reader.config)   # the panel shows this run's settings (Reset: its like)
    window.objective = get_objective(reader.config.objective)
    window.history = History()
    window.session._head = None   # the named states read this run's first rows, not the last run's
    window.session.metrics_iteration = None   # a recorded run's quality: at its rows' last iteration
    window.elapsed = 0.0
    for plot in window.plots:
        plot.clear_data()
    window.scorePlot.set_probability(window.objective.probability)
    window.lossPlot.set_objective(window.objective, reader.config.conditional)
    window.qualityPanel.clear()
    window.metrics = None
    try:   # its first refresh hands the rows so far to extend_run (the timeline's grew signal)
        window.timeline.attach(reader, live=False)
    except Exception as e:   # its data or networks cannot be rebuilt here (a data file gone)
        leave_run(window)
        window._show_error(f"Cannot show the recorded moments of {folder}: {e}.", traceback.format_exc())
        return False
    window._set_training_actions(True)   # with viewing set: Reset and Open only
    window.exploreAction.setEnabled(False)   # it asks the window's own run's G, not this one
    window.stepReadout.setText("Move the timeline under the views to any recorded moment.")
    window.stepExplanation.clear()
    window._update_phase_labels()
    window.setWindowTitle(f"ganviz: {os.path.basename(os.path.normpath(folder))} (recorded run, read-only)")
    kind = "points" if reader.dataset_kind == "points" else "images"
    window.statusBar().showMessage(f"Opened the run in {folder}: {reader.dataset_name} ({kind}), "
                                   f"{len(reader)} updates, {len(window.timeline.frames)} recorded moments", 8000)
    return True


def extend_run(window, before: int, now: int):
    """Rows [before, now) of the run being viewed: onto the curves, the history and the states."""
    reader = window.viewing
    if reader is None or now <= before:
        return
    rows = rows_of(reader.columns(COLUMNS, start=before, stop=now))
    window.history.append_rows(rows)
    window.history.release(now, RowSource(reader.folder))   # the folder holds them: memory stays flat
    window._append_rows(rows)
    last = reader.last_quality()   # one record, not every one, at each poll of a growing run
    window.metrics = last[1] if last else None
    window.status["quality"].setText(format_metrics(window.metrics) if last else "")
    iteration = int(rows[-1, COLUMNS.index("iteration")]) if len(rows) else 0
    window.status["iteration"].setText(f"iteration {iteration}")
    window.status["epoch"].setText(f"epoch {rows[-1, COLUMNS.index('epoch')]:.2f}")
    window.status["rate"].setText("recorded")
    window._show_states()


def states_at(window, update: int) -> tuple[list, int]:
    """The named states (diagnosis.py) as they held at a recorded moment (after `update`
    updates) of the run the timeline shows, and that moment's iteration."""
    from ganviz.session.run_session import DIAGNOSIS_ROWS
    timeline = window.timeline
    reader = timeline.reader
    recent = rows_of(reader.columns(COLUMNS, start=max(0, update - DIAGNOSIS_ROWS), stop=update))
    early = rows_of(reader.columns(COLUMNS, start=0, stop=min(update, DIAGNOSIS_ROWS)))
    scores = timeline.scores_as_of(update)
    metrics, measured_at = (scores[-1][1], scores[-1][0]) if scores else (None, None)
    iteration = int(np.floor(recent[-1, COLUMNS.index("x")])) if len(recent) else 0   # completed
    return window.session.states_of(recent, early, metrics, measured_at), iteration


def leave_run(window):
    """Back to the window's own run (a new one is starting, or another folder opens)."""
    if window.viewing is None:
        return
    reader, window.viewing = window.viewing, None
    window.timeline.detach()
    reader.close()
    window.setWindowTitle("ganviz: watch a GAN train")
    window._set_training_actions(True)
    info = window.run_info
    window.exploreAction.setEnabled(info is not None and info.dataset_kind != "points")


def _sentence(e) -> str:
    text = str(e).strip()
    return text if text.endswith(".") else text + "."


def follow_live(window, folder: str | None):
    """The timeline of the window's own run: its store in `folder` (None: the run keeps none),
    written by the training service while the timeline reads it."""
    from ganviz.core.store import RunReader, StoreError
    reader, window.liveReader = getattr(window, "liveReader", None), None
    if reader is not None:
        window.timeline.detach()
        reader.close()
    if folder is None:
        return
    try:
        window.liveReader = RunReader(folder)
        window.timeline.attach(window.liveReader, live=True)
    except (StoreError, OSError) as e:   # training goes on; only the rewind is missing
        window.liveReader = None
        window.statusBar().showMessage(f"No timeline for this run: {_sentence(e)}", 8000)
