"""Branches in the window: the Runs panel (the runs under the runs folder as a tree, checked ones
overlaid in every plot) and "Continue from here" (a child run from a recorded moment's snapshot,
with the settings panel's values: switch to the minimax loss at iteration 2000 and watch)."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from ganviz.core.config import ConfigError

from .runs_panel import RunsPanel


def build_runs_dock(window) -> RunsPanel:
    """The Runs panel as a tab beside the settings; its checked runs go to every plot."""
    panel = RunsPanel(window.runsFolder)
    for plot in window.plots:
        panel.selection_changed.connect(plot.set_overlays)
    dock = QDockWidget("Runs", window, objectName="runsDock")
    dock.setFeatures(QDockWidget.NoDockWidgetFeatures)
    dock.setWidget(panel)
    window.addDockWidget(Qt.LeftDockWidgetArea, dock)
    window.tabifyDockWidget(window.findChild(QDockWidget, "settingsDock"), dock)
    window.findChild(QDockWidget, "settingsDock").raise_()   # the settings stay in front
    return panel


def continue_from_here(window, update: int):
    """A child of the run on the timeline, from its snapshot at or before `update`, with the
    settings panel's values (a change the networks cannot carry is refused in a dialog)."""
    reader = window.timeline.reader
    if reader is None:
        return
    try:
        changes = window.controls.values()
    except (ConfigError, ValueError) as e:
        window._show_error(f"Cannot continue: {e}")
        return
    if changes.get("dataset") == reader.config.dataset or changes.get("dataset") == reader.dataset_name:
        changes.pop("dataset")   # the same data, however the panel names it
    if window.viewing is not None:
        from .run_folder import leave_run
        leave_run(window)   # the new run replaces the recorded one on screen
    window._start_loading("continue", os.path.basename(os.path.normpath(reader.folder)))
    window.worker.continue_from(reader.folder, int(update), changes)
