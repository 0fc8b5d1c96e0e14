"""The main window: toolbar (Train/Pause, Step, Step iteration, Reset, Save, Open, Export),
the control panel, the pipeline diagram with the step readout, four live views and a status bar.
The trainer lives in the training service (service/training.py), in a process of its own or,
for tests, a thread: the window sends it commands through the worker and draws the records it
sends back."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

import numpy as np
from PySide6.QtCore import Qt, QThread, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QDockWidget, QFileDialog, QGridLayout, QLabel, QMainWindow,
                               QMenu, QMessageBox, QProgressBar, QScrollArea, QSlider, QSplitter, QStackedWidget,
                               QToolBar, QToolButton, QVBoxLayout, QWidget)

from ganviz.core.atomic import WriteError, write_bytes
from ganviz.core.config import Config, ConfigError, in_words
from ganviz.core.data import points_dataset
from ganviz.core.diagnosis import diagnose
from ganviz.core.evaluate import format_metrics
from ganviz.core.history import COLUMNS, History
from ganviz.core.objectives import get_objective

from .branching import build_runs_dock, continue_from_here
from .controls import ControlPanel
from .field_view import FieldView
from .pipeline import PipelineDiagram
from .plots import AccuracyPlot, LossPlot, ScorePlot
from .quality_panel import QualityPanel
from .readout import explain_step
from .run_folder import VIEWING_TEXT, extend_run, follow_live, leave_run, open_run
from .sample_view import SampleView
from .screenshot import widget_png
from .slow_motion import SlowMotion
from .timeline import Timeline
from . import timeline_export
from .toolbar_keys import ToolbarKeys
from .worker import DEATH_WINDOW, MAX_DEATHS, TrainingWorker

TRAINING_TEXT = "Training: Pause, then Step, to see what one update does."
PAUSED_TEXT = "Paused: press Step to run one update and see what it did."
STATES_INTERVAL = 1.0   # seconds between re-naming the run's state while it trains
DIAGNOSIS_ROWS = 4000   # history rows the named states are read from (the newest and the first)
FRAME_MS = 100  # metric plots redraw at most 10 times a second, and only when new data came:
                # painting holds the GIL the training thread needs (the 2D field has its own 20 fps)

LOAD_PROGRESS_BYTES = 20_000_000  # data files this big show their reading progress


class MainWindow(QMainWindow):
    def __init__(self, config: Config | None = None, checkpoint: str | None = None, transport="process",
                 runs_folder: str | None = None):
        """transport: how to reach the training service: "process" (its own process), "inprocess"
        (a thread here, for tests), or a protocol.transports.Transport already started.
        runs_folder: where every run is kept for its timeline (default $GANVIZ_RUNS, else runs/
        in the current folder, as `ganviz train` does)."""
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("ganviz: watch a GAN train")
        # 1400x900, or less where the screen is smaller (a 1280x720 laptop)
        screen = QGuiApplication.primaryScreen()
        room = screen.availableGeometry() if screen is not None else None
        self.resize(min(1400, room.width()) if room else 1400, min(900, room.height()) if room else 900)
        self.config = config or Config()
        self.runsFolder = os.path.abspath(runs_folder or os.environ.get("GANVIZ_RUNS") or "runs")
        self.history = History()       # the window's copy of the full history (for export)
        self.objective = get_objective(self.config.objective)
        self.running = False
        self.next_phase = "D"
        self.elapsed = 0.0             # seconds spent in this run's updates (its history's durations)
        self._loading = None           # (what, path) while the training process builds a run
        self.errorDialog = self.nanDialog = None
        self.run_info = None           # what the training process said about the current run
        self.metrics = None            # the latest quality metrics of the run
        self._states_at = 0.0          # when the named states were last worked out
        self.last_batch_time = 0.0
        self.viewing = None            # a run folder opened to read (run_folder.py), else None
        self.pending_run = None        # a run folder to open once the first run has started (--run)

        self._build_views()
        self._build_toolbar()
        self._build_timeline()
        self._build_controls()
        self.runsPanel = build_runs_dock(self)   # after the settings: a tab beside them
        self._build_status()
        self.toolbarKeys = ToolbarKeys(self, (self.trainAction, self.stepAction, self.stepIterationAction))

        self.thread = QThread(self)
        self.worker = TrainingWorker(transport)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.batchReady.connect(self._on_batch)
        self.worker.stepDone.connect(self._on_step)
        self.worker.stagesReady.connect(self._on_stages)   # a method, so it runs in the GUI thread
        self.slowMotion.ended.connect(self._update_phase_labels)
        self.worker.runStarted.connect(self._on_run_started)
        self.worker.loadProgress.connect(self._on_load_progress)
        self.worker.runningChanged.connect(self._on_running)
        self.worker.nonFinite.connect(self._on_non_finite)
        self.worker.failed.connect(self._on_failed)
        # a method, not a lambda: a lambda runs in the worker's thread, and touching the
        # status bar from there is a cross-thread Qt error
        self.worker.saved.connect(self._on_saved)
        self.worker.processDied.connect(self._on_process_died)
        self._recovering = None        # while a new training process reopens the run: what was lost
        self.recoveryFolder = tempfile.mkdtemp(prefix="ganviz-recovery-")   # removed on close
        self.worker.set_recovery_folder(self.recoveryFolder)
        self.worker.set_runs_folder(self.runsFolder)
        self.fieldView.boundsChanged.connect(self._set_field_bounds)
        self.fieldView.drawingSubmitted.connect(lambda pts: self.use_points(pts, "drawn"))
        self.thread.start()

        self.frameTimer = QTimer(self, interval=FRAME_MS)
        self.frameTimer.timeout.connect(self._redraw)
        self.frameTimer.start()
        if checkpoint:
            self._start_loading("open", checkpoint)
            self.worker.load(checkpoint)
        else:
            self._start_loading("reset", self.config.dataset)
            self.worker.reset(self.config)

    # ------------------------------------------------------------------ layout
    def _build_views(self):
        central = QWidget()
        layout = QVBoxLayout(central)
        self.pipeline = PipelineDiagram()
        self.phaseLabel = QLabel(objectName="phaseLabel")
        self.phaseLabel.setStyleSheet("font-weight: bold; font-size: 13px;")
        self.phaseLabel.setWordWrap(True)   # "Paused. Next: ... Last update: ..." wraps in a narrow window
        self.stepReadout = QLabel("Press Step to run one update and see what it did.", objectName="stepReadout")
        self.stepReadout.setStyleSheet("font-family: monospace; font-size: 13px;")
        self.stepReadout.setWordWrap(True)   # a narrow window wraps it instead of widening
        self.stepExplanation = QLabel(objectName="stepExplanation")
        self.stepExplanation.setWordWrap(True)
        self.stepExplanation.setStyleSheet("color: #444;")
        # room for the longest text from the start (at the narrowest window): a Step's words
        # appearing must not shrink the plots and rescale the field under the learner's eyes
        for label, lines in ((self.phaseLabel, 2), (self.stepExplanation, 5)):
            label.setText("\n".join("x" * lines))   # measured as Qt will lay it out
            label.setMinimumHeight(label.sizeHint().height())
            label.clear()
        self.phaseLabel.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.stepExplanation.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.stateLabel = QLabel(objectName="stateLabel")   # named states: collapse, equilibrium...
        self.stateLabel.setWordWrap(True)
        self.stateLabel.setToolTip("States named from the numbers: mode collapse (quality panel), D "
                                   "overpowering G and near equilibrium (the last probe measurements).")
        self.slowMotion = SlowMotion(self.pipeline, self)   # its toggle, panel, keys (N, P)
        self.addActions(self.slowMotion.actions)
        top = QGridLayout()
        top.addWidget(self.pipeline, 0, 0, 5, 1)
        top.addWidget(self.phaseLabel, 0, 1)
        top.addWidget(self.stepReadout, 1, 1)
        top.addWidget(self.stepExplanation, 2, 1)
        top.addWidget(self.slowMotion.panel, 3, 1)
        top.addWidget(self.stateLabel, 4, 1)
        # in slow motion the stages tell the step; its summary's long explanation would only
        # take the plots' height (at 1280x720 they have little)
        self.slowMotion.check.toggled.connect(lambda on: self.stepExplanation.setVisible(not on))
        top.setColumnStretch(0, 2)
        top.setColumnStretch(1, 3)
        layout.addLayout(top)

        self.scorePlot = ScorePlot()
        self.lossPlot = LossPlot()
        self.accuracyPlot = AccuracyPlot()
        self.sampleView = SampleView()
        for w, name, tip in (
                (self.scorePlot, "scorePlot",
                 "D(x): mean probability D gives real probe samples; D(G(z)): mean probability it gives "
                 "fakes from the probe noise. D's update pushes D(x) up and D(G(z)) down; G's update "
                 "pushes D(G(z)) up. At equilibrium both sit at 0.5. Measured on every Step, and on "
                 "every 20th iteration while training runs (the probe_every setting)."),
                (self.lossPlot, "lossPlot",
                 "loss_D = -log D(x) - log(1 - D(G(z))): how badly D separates real from fake. "
                 "loss_G = -log D(G(z)) (non-saturating): how badly G fools D. Dashed: the values "
                 "when D cannot tell them apart."),
                (self.accuracyPlot, "accuracyPlot",
                 "Fraction of probe samples D classifies correctly (score above / below its threshold). "
                 "50 % means D is guessing."),
                (self.sampleView, "sampleView",
                 "G's output on a fixed noise batch, so you watch the same latent points evolve "
                 "(Fresh noise: new noise every frame).")):
            w.setObjectName(name)
            w.setToolTip(tip)
        self.fieldView = FieldView()
        self.qualityPanel = QualityPanel()
        self.dataViews = QStackedWidget(objectName="dataViews")   # images: samples; 2D: the field
        self.dataViews.addWidget(self.sampleView)
        self.dataViews.addWidget(self.fieldView)
        plots = QWidget(objectName="plotsColumn")
        column = QVBoxLayout(plots)
        column.setContentsMargins(0, 0, 0, 0)
        for plot in (self.scorePlot, self.lossPlot, self.accuracyPlot):
            plot.setMinimumSize(260, 120)
            column.addWidget(plot, 1)
        data = QWidget(objectName="dataColumn")
        column = QVBoxLayout(data)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.dataViews, 3)
        column.addWidget(self.qualityPanel, 1)
        # a splitter: the user decides how wide the plots and the samples are
        self.viewSplitter = QSplitter(Qt.Horizontal, objectName="viewSplitter")
        self.viewSplitter.addWidget(plots)
        self.viewSplitter.addWidget(data)
        self.viewSplitter.setChildrenCollapsible(False)
        self.viewSplitter.setStretchFactor(0, 9)
        self.viewSplitter.setStretchFactor(1, 11)
        self.viewSplitter.setSizes([450, 550])
        layout.addWidget(self.viewSplitter, 1)
        self.setCentralWidget(central)
        self.plots = (self.scorePlot, self.lossPlot, self.accuracyPlot)

    def _build_toolbar(self):
        bar = QToolBar("Training", objectName="trainingToolbar")
        bar.setMovable(False)
        self.addToolBar(bar)

        def action(text, name, slot, shortcut=None, tip=""):
            a = QAction(text, self)
            a.setObjectName(name.replace("Button", "Action"))
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
            a.triggered.connect(slot)
            bar.addAction(a)
            bar.widgetForAction(a).setObjectName(name)
            return a

        self.trainAction = action("Train", "trainPauseButton", self.toggle_training, "Space",
                                  "Train continuously / pause within one update")
        self.stepAction = action("Step D", "stepButton", self.step, "S",
                                 "Run exactly one update: the next phase of the iteration")
        bar.addWidget(self.slowMotion.check)
        self.stepIterationAction = action("Step iteration", "stepIterationButton", self.step_iteration, "I",
                                          "Finish the current iteration: the remaining D updates, then one G update")
        self.resetAction = action("Reset", "resetButton", self.reset, "Ctrl+R",
                                  "Start a new run with the settings in the panel")
        bar.addSeparator()
        self.quitAction = QAction("Quit", self, objectName="quitAction", shortcut=QKeySequence.Quit)
        self.quitAction.triggered.connect(self.close)   # Ctrl+Q; closing ends the training process
        self.addAction(self.quitAction)
        self.saveAction = action("Save", "saveButton", self.save_checkpoint, "Ctrl+S", "Save a checkpoint")
        self.openAction = action("Open", "openButton", self.open_checkpoint, "Ctrl+O",
                                 "Open a checkpoint or a run folder written by `ganviz train`")
        export = QToolButton(objectName="exportButton", text="Export", popupMode=QToolButton.InstantPopup)
        menu = QMenu(export)
        menu.addAction("Full history as CSV…", self.export_csv).setObjectName("exportCsvAction")
        menu.addAction("Plots and samples as PNG…", self.export_pngs).setObjectName("exportPngAction")
        export.setMenu(menu)
        bar.addWidget(export)
        bar.addSeparator()
        bar.addWidget(QLabel(" Smoothing "))
        self.smoothingSlider = QSlider(Qt.Horizontal, objectName="smoothingSlider")
        self.smoothingSlider.setRange(0, 99)
        self.smoothingSlider.setFixedWidth(120)
        self.smoothingSlider.setToolTip("Debiased exponential moving average, as in TensorBoard; "
                                        "the raw curve stays faint behind")
        self.smoothingSlider.valueChanged.connect(self._set_smoothing)
        self.smoothingSlider.setValue(60)   # TensorBoard's default
        bar.addWidget(self.smoothingSlider)
        self.logAxisCheck = QCheckBox("Log loss axis", objectName="logAxisCheck")
        self.logAxisCheck.toggled.connect(self.lossPlot.set_log_y)
        self.lossPartsCheck = QCheckBox("loss_D parts", objectName="lossPartsCheck")
        self.lossPartsCheck.setToolTip("Show loss_D's real and fake parts")
        self.lossPartsCheck.toggled.connect(self.lossPlot.show_parts)
        self.freshNoiseCheck = QCheckBox("Fresh noise", objectName="freshNoiseCheck")
        self.freshNoiseCheck.setToolTip("Samples from new random noise instead of the fixed batch")
        self.freshNoiseCheck.toggled.connect(lambda on: self.worker.set_fresh_noise(on))
        self.dgzSplitCheck = QCheckBox("D(G(z)) before/after D", objectName="dgzSplitCheck")
        self.dgzSplitCheck.setToolTip("Show D(G(z)) just before (D_G_z1) and just after (D_G_z2) each D update")
        self.dgzSplitCheck.toggled.connect(self.scorePlot.show_d_update_split)
        self.stepViewCheck = QCheckBox("Step view", objectName="stepViewCheck")
        self.stepViewCheck.setToolTip("Zoom the plots onto the last few updates, a large marker per "
                                      "update. On while you step; off when training runs.")
        self.stepViewCheck.toggled.connect(self._set_step_view)
        self.stepViewCheck.clicked.connect(lambda on: setattr(self, "_step_view_declined", not on))
        self._step_view_declined = False   # the user asked for the whole history while stepping
        for w in (self.stepViewCheck, self.logAxisCheck, self.lossPartsCheck, self.dgzSplitCheck,
                  self.freshNoiseCheck):
            bar.addWidget(w)

    def _build_timeline(self):
        """The timeline under the views (timeline.py), Open run…, and the export of a run's
        recorded training; shown once a run store is attached (timeline.attach)."""
        self.timeline = Timeline(self.dataViews, self.plots, self.qualityPanel)
        self.centralWidget().layout().addWidget(self.timeline)
        self.timeline.grew.connect(self._run_grew)
        self.timeline.continueRequested.connect(lambda update: continue_from_here(self, update))
        self.openRunAction = QAction("Open run…", self, objectName="openRunAction")
        self.openRunAction.setToolTip("Show a run folder read-only, with its timeline (a run `ganviz train` "
                                      "is still writing is followed live)")
        self.openRunAction.triggered.connect(lambda: self.open_run())
        bar = self.findChild(QToolBar, "trainingToolbar")
        bar.insertAction(self._action_after(bar, self.openAction), self.openRunAction)
        bar.widgetForAction(self.openRunAction).setObjectName("openRunButton")
        menu = self.findChild(QToolButton, "exportButton").menu()
        self.exportGifAction = menu.addAction("Recorded training as GIF…", self.export_gif)
        self.exportGifAction.setObjectName("exportGifAction")
        self.exportFramesAction = menu.addAction("Recorded training as PNG frames…", self.export_frames)
        self.exportFramesAction.setObjectName("exportFramesAction")

    @staticmethod
    def _action_after(bar, action):
        actions = bar.actions()
        i = actions.index(action)
        return actions[i + 1] if i + 1 < len(actions) else None

    def open_run(self, folder=None) -> bool:
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Open run folder")
        return bool(folder) and open_run(self, folder)

    def _run_grew(self, before, now):
        if self.viewing is not None:
            extend_run(self, before, now)

    def export_gif(self, path=None):
        """The recorded training as an animated GIF (timeline_export.py)."""
        if timeline_export.has_frames(self) and not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export recorded training", "training.gif", "GIF (*.gif)")
        if path:
            timeline_export.export_from_window(self, path, png=False)

    def export_frames(self, folder=None):
        """The recorded training as PNG frames in a folder."""
        if timeline_export.has_frames(self) and not folder:
            folder = QFileDialog.getExistingDirectory(self, "Export recorded frames into folder")
        if folder:
            timeline_export.export_from_window(self, folder, png=True)

    def _build_controls(self):
        self.controls = ControlPanel(self.config)
        self.controls.liveChanged.connect(lambda changes: self.worker.update_config(**changes))
        self.controls.problem.connect(self._show_error)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        dock = QDockWidget("Settings", self, objectName="settingsDock")
        dock.setFeatures(QDockWidget.NoDockWidgetFeatures)
        dock.setWidget(scroll)
        dock.setMinimumWidth(280)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)

    def _build_status(self):
        self.busyIndicator = QProgressBar(objectName="busyIndicator")
        self.busyIndicator.setRange(0, 0)            # no known end: Qt's "busy" animation
        self.busyIndicator.setMaximumWidth(120)
        self.busyIndicator.setTextVisible(False)
        self.busyIndicator.hide()
        self.statusBar().addPermanentWidget(self.busyIndicator)
        self.status = {}
        for name in ("iteration", "epoch", "rate", "device", "elapsed", "quality"):
            label = QLabel(objectName=f"{name}Label")
            label.setMinimumWidth(90)
            self.statusBar().addPermanentWidget(label)
            self.status[name] = label
        self.status["quality"].setToolTip("Quality of the samples: modes covered (ring, grid) or digit "
                                          "classes covered, by a classifier trained on real digits")
        self.status["elapsed"].setToolTip("Time this run has spent in its updates: the sum of every update's "
                                          "duration in its history, kept by Save and Open. Pauses and "
                                          "drawing are not counted.")

    # ------------------------------------------------------------------ commands
    def _check_serving(self) -> bool:
        if not self.worker.serving:
            self._show_error("No training process is running: press Reset to start a new one.")
        return self.worker.serving

    def toggle_training(self):
        if not self._check_serving():
            return
        self.slowMotion.end()
        if self.running:
            self.worker.pause()
        else:
            self.worker.play()

    def step(self):
        if not self._check_serving():
            return
        self.worker.pause()
        self._enter_step_view()
        if self.slowMotion.enabled:
            self.worker.step_stages()   # the same update; its stages come back to play
        else:
            self.worker.step()

    def step_iteration(self):
        if not self._check_serving():
            return
        self.slowMotion.end()
        self.worker.pause()
        self._enter_step_view()
        self.worker.step_iteration()

    def _enter_step_view(self):
        if not self._step_view_declined:
            self.stepViewCheck.setChecked(True)

    def _set_step_view(self, on: bool):
        for plot in self.plots:
            plot.set_step_view(on)

    def reset(self):
        problem = self.controls.dataset_problem()
        if problem:
            self._show_error(problem)
            return
        try:
            config = self.controls.config()
        except ConfigError as e:
            self._show_error(f"Cannot start a run with these settings: {in_words(e)}.", str(e))
            return
        self._start_loading("reset", config.dataset)
        self.worker.reset(config)

    def use_points(self, points, name: str):
        """Train on these 2D points from now on (drawn with the mouse), in a new run."""
        try:
            dataset = points_dataset(points, name=name)
            config = self.controls.config().replace(dataset=name)
        except (ValueError, ConfigError) as e:
            problem = str(e).removeprefix(f"{name}: ")   # DataError names the data; here it is the drawing
            self._show_error(f"Cannot train on this drawing: {problem}.", f"{type(e).__name__}: {e}")
            return
        self._start_loading("drawing", name)
        self.worker.reset(config, dataset)

    def _set_field_bounds(self, bounds):
        self.worker.set_field_bounds(bounds)

    def save_checkpoint(self, path=None):
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint", "checkpoint.pt", "Checkpoints (*.pt)")
        if path and self._check_serving():
            self.worker.save(path)

    def open_checkpoint(self, path=None):
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint or run folder", "",
                                                  "Checkpoints (*.pt);;All files (*)")
        if path:
            if os.path.isdir(path):
                path = os.path.join(path, "checkpoint.pt")
            self._start_loading("open", path)
            self.worker.load(path)

    def export_csv(self, path=None):
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export history", "metrics.csv", "CSV (*.csv)")
        if path:
            try:
                self.history.write_csv(path)
                self.statusBar().showMessage(f"Wrote {len(self.history)} rows to {path}", 5000)
            except WriteError as e:
                self._show_error(f"{e}.")

    def export_pngs(self, folder=None):
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Export plots into folder")
        if not folder:
            return
        names = {"scores.png": self.scorePlot, "losses.png": self.lossPlot,
                 "accuracy.png": self.accuracyPlot, "samples.png": self.dataViews.currentWidget()}
        written, failed = [], []
        for name, widget in names.items():   # each file whole or untouched; all four tried
            try:
                write_bytes(os.path.join(folder, name), widget_png(widget))
                written.append(name)
            except (WriteError, RuntimeError) as e:
                failed.append((name, e))
        if not failed:
            self.statusBar().showMessage(f"Wrote {', '.join(written)} to {folder}", 5000)
            return
        causes = {getattr(e, "cause", str(e)) for _, e in failed}
        what = (f"{', '.join(n for n, _ in failed)} in {folder}: {causes.pop()}" if len(causes) == 1 else
                "; ".join(f"{n} ({getattr(e, 'cause', e)})" for n, e in failed) + f" in {folder}")
        self._show_error(f"Cannot write {what}"
                         + (f" ({', '.join(written)} written)." if written else " (nothing written)."),
                         "\n".join(str(e) for _, e in failed))

    # ------------------------------------------------------------------ long work
    def _start_loading(self, what: str, source: str):
        """The training process is building a run (loading data, building models: seconds for
        a folder of images): say so at once, and disable what makes no sense meanwhile, until
        the run starts (_on_run_started) or fails (_on_failed)."""
        self._loading = (what, source)
        if what == "open":
            message = f"Opening {source}…"
        elif what == "drawing":
            message = "Starting a new run on your drawing…"
        elif what == "continue":
            message = f"Continuing {source} from the recorded moment…"
        else:
            message = f"Loading {self.controls.dataset_label(source)} and building the models…"
        self.statusBar().showMessage(message)
        self.busyIndicator.show()
        self._set_run_controls_enabled(False)

    def _end_loading(self):
        loading, self._loading = self._loading, None
        self.busyIndicator.hide()
        self._set_run_controls_enabled(True)
        return loading

    def _set_run_controls_enabled(self, enabled: bool):
        self._set_training_actions(enabled)
        self.controls.setEnabled(enabled)

    # ------------------------------------------------------------------ from the worker
    def _on_failed(self, message, details=""):
        if self._loading is not None:
            self._end_loading()   # the old run is still there, and usable again
        self._show_error(message, details)

    def _on_saved(self, path):
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def _on_process_died(self, reason, restarting):
        """The training process died: a new one is reopening the run (say what was lost once
        it has, in _on_run_started), or it died too often and waits for Reset."""
        seen = self.history.record(len(self.history) - 1).update if len(self.history) else 0
        if not restarting and self._loading is not None:
            self._end_loading()   # the run being built will not come
        if restarting:
            self._recovering = {"reason": reason, "seen": seen}
            self._set_training_actions(False)
            self.statusBar().showMessage(f"The training process stopped ({reason}); starting a new one…")
            return
        self._recovering = None
        self._set_training_actions(True)
        if self.worker.deaths_before_giving_up >= MAX_DEATHS:
            self._show_error(f"The training process stopped again ({reason}), the third time within "
                             f"{DEATH_WINDOW:.0f} s, so ganviz did not start another; press Reset to try again.")
        else:
            self._show_error(f"The training process stopped ({reason}) before a run had started; "
                             "press Reset to try again.")

    def _set_training_actions(self, enabled: bool):
        for a in (self.trainAction, self.stepAction, self.stepIterationAction, self.resetAction,
                  self.saveAction, self.openAction):
            # a recorded run on screen: nothing to train or save; Reset and Open leave it
            a.setEnabled(enabled and (self.viewing is None or a in (self.resetAction, self.openAction)))

    def _recovered_message(self, info) -> str:
        reason, seen = self._recovering["reason"], self._recovering["seen"]
        note = info.recovery
        if note is None or not note.ok:
            return (f"The training process stopped ({reason}) and its last saved state could not be read "
                    f"({note.error if note else 'unknown error'}), so a new run started with the same settings.")
        lost = max(0, seen - info.updates)
        return (f"The training process stopped ({reason}); reopened the run at iteration {info.iteration}, "
                f"{lost} update{'' if lost == 1 else 's'} lost.")

    def _on_run_started(self, info):
        leave_run(self)   # a recorded run on screen gives way to the new one
        follow_live(self, info.folder)   # this run's own timeline
        if self.pending_run:   # `ganviz gui --run DIR`: shown over the run that just started
            QTimer.singleShot(0, lambda folder=self.pending_run: self.open_run(folder))
            self.pending_run = None
        loading = self._end_loading()
        self.slowMotion.end()
        self.run_info = info
        self.config = info.config
        self.objective = get_objective(self.config.objective)
        self.controls.set_config(self.config)
        self.history = History.from_array_state(info.history)
        self.elapsed = 0.0   # _append_rows adds the durations of the history the run brings
        for plot in self.plots:
            plot.clear_data()
        rows = self.history.array()
        if len(rows):
            self._append_rows(rows)
        self.scorePlot.set_probability(self.objective.probability)
        self.lossPlot.set_objective(self.objective)
        self.lossPlot.setToolTip(f"{self.objective.formula_d}\n{self.objective.formula_g}\n"
                                 "Dashed lines: the losses where D cannot tell real from fake.")
        points = info.dataset_kind == "points"
        self.sampleView.reset()
        self.dataViews.setCurrentWidget(self.fieldView if points else self.sampleView)
        self.fieldView.reset()
        if info.real is not None:
            self.fieldView.show_real(info.real)
        self.qualityPanel.clear()
        self.status["quality"].clear()
        self.metrics = None
        self.stateLabel.clear()
        self.worker.set_field_bounds(self.fieldView.bounds() if points else None)
        self.status["device"].setText(f"device {info.device}")
        self.next_phase = info.next_phase
        self.stepReadout.setText("Press Step to run one update and see what it did.")
        self.stepExplanation.clear()
        self._update_phase_labels()
        # completed iterations: one G update each (the next batch says the same)
        iteration = int(np.sum(self.history.column("phase") == 1))
        self.status["iteration"].setText(f"iteration {iteration}")
        note = info.note  # e.g. a checkpoint saved on CUDA, opened on this CPU
        self.statusBar().showMessage((f"{note[:1].upper()}{note[1:]}. " if note else "")
                                     + self._run_message(info, loading, iteration), 15000 if note else 8000)
        if self._recovering is not None:
            message = self._recovered_message(info)
            self._recovering = None
            self._set_training_actions(True)
            self._show_error(message)

    def _run_message(self, info, loading, iteration: int) -> str:
        """What the status bar says about a run that just started: new, or opened where it stood."""
        data = self.controls.dataset_label(info.dataset_name)
        size = f"{info.dataset_size} {'points' if info.dataset_kind == 'points' else 'images'}"
        skipped = info.skipped
        size += f", {skipped} unreadable image{'s' if skipped != 1 else ''} skipped" if skipped else ""
        what, source = loading or (None, None)
        if what == "open":
            return f"Opened {source} at iteration {iteration}: {data}, {size}"
        if what == "drawing":
            return f"New run on your drawing: {size}"
        if what == "reset" or not len(self.history):
            return f"New run: {data}, {size}"
        return f"Run at iteration {iteration}: {data}, {size}"

    def _on_load_progress(self, progress):
        done, total, name = progress
        if total >= LOAD_PROGRESS_BYTES:  # small files load before a message could be read
            self.statusBar().showMessage(f"Reading {os.path.basename(name)}: {100 * done / total:.0f} % "
                                         f"({done / 1e6:.0f} of {total / 1e6:.0f} MB)", 5000)

    def _on_batch(self, payload):
        try:
            if self.viewing is not None:
                return   # a recorded run is on screen; the paused run waits for Reset
            if payload.records:
                self._append_rows(self.history.append(payload.records))
            if payload.samples is not None:
                self.sampleView.show_samples(payload.samples)
            if payload.field is not None:
                self.fieldView.show_field(payload.field)
            if payload.metrics is not None:
                self.metrics = payload.metrics
                self.status["quality"].setText(format_metrics(payload.metrics))
                if self.timeline.at_live:   # else the panel shows a recorded moment's scores
                    self.qualityPanel.show_metrics(payload.metrics, payload.iteration)
            if payload.histogram is not None:
                self.qualityPanel.show_histogram(*payload.histogram)
            self.next_phase = payload.next_phase
            self.status["iteration"].setText(f"iteration {payload.iteration}")
            self.status["epoch"].setText(f"epoch {payload.epoch:.2f}")
            self.status["rate"].setText(f"{payload.ups:.0f} updates/s")
            self._update_phase_labels()
            self.last_batch_time = time.perf_counter()
            if self.last_batch_time - self._states_at > STATES_INTERVAL or not self.running:
                self._show_states()
        finally:
            self.worker.ack()

    def _show_states(self):
        """Name what is happening (diagnosis.py), from the same numbers the plots show."""
        self._states_at = time.perf_counter()
        states = diagnose(self.history.tail(DIAGNOSIS_ROWS), self.history.head(DIAGNOSIS_ROWS),
                          self.metrics, self.objective)
        colour = {"warning": "#b34700", "good": "#1d7a3a"}
        self.stateLabel.setText("<br>".join(
            f"<b style='color:{colour[s.severity]}'>{s.name}:</b> {s.what} <i>{s.advice}</i>" for s in states))

    def _append_rows(self, rows):
        self.elapsed += float(np.nansum(rows[:, COLUMNS.index("duration")]))
        phases = rows[:, COLUMNS.index("phase")]
        for plot in self.plots:
            plot.append(rows, phases)

    def _on_step(self, record):
        readout, explanation = explain_step(record, self.objective,
                                            field=self.dataViews.currentWidget() is self.fieldView)
        self.stepReadout.setText(readout)
        self.stepExplanation.setText(explanation)
        self._update_phase_labels()

    def _on_stages(self, payload):
        record, stages = payload
        self.slowMotion.show_update(record, stages, self.objective, self.config)

    def _on_running(self, running):
        self.running = running
        self.trainAction.setText("Pause" if running else "Train")
        if running:
            self.slowMotion.end()
            self._step_view_declined = False
            self.stepViewCheck.setChecked(False)   # training: the whole history again
            # the last Step's words would now describe an update long past
            self.stepReadout.setText(TRAINING_TEXT)
            self.stepExplanation.clear()
        elif self.stepReadout.text() == TRAINING_TEXT:
            self.stepReadout.setText(PAUSED_TEXT)
        self._update_phase_labels()

    def _on_non_finite(self, record):
        which = "loss_D" if record.phase == "D" else "loss_G"
        box = QMessageBox(QMessageBox.Warning, "Training diverged",
                          f"{which} (or a score) became NaN or infinite in the {record.phase} update of "
                          f"iteration {record.iteration}. Training is paused.\n\n"
                          "Go back to the last good state (kept in memory every few seconds)?",
                          QMessageBox.Yes | QMessageBox.No, self)
        box.setObjectName("nanDialog")
        box.button(QMessageBox.Yes).setText("Go back")
        box.button(QMessageBox.No).setText("Stay paused")
        go_back = box.button(QMessageBox.Yes)
        box.buttonClicked.connect(lambda b: self.worker.restore_snapshot() if b is go_back else None)
        self.nanDialog = box
        box.open()

    def _show_error(self, message, details=""):
        """A dialog that says what went wrong in plain words; the technical details (a
        traceback) wait behind its "Show Details..." button."""
        self.statusBar().showMessage(message.splitlines()[0], 10000)
        box = QMessageBox(QMessageBox.Critical, "ganviz", message, QMessageBox.Ok, self)
        box.setObjectName("errorDialog")
        if details:
            box.setDetailedText(details)
        self.errorDialog = box
        box.open()

    # ------------------------------------------------------------------ display
    def _update_phase_labels(self):
        """One convention: the header and, when paused, the diagram show the NEXT update (what
        Step will do); the header's second part says what the last update was, from the
        history, so a new run says nothing of one. Slow motion's diagram shows the update just
        done, and its caption says so."""
        self.stepAction.setText(f"Step {self.next_phase}")
        if self.viewing is not None:
            self.phaseLabel.setText(VIEWING_TEXT)
            self.pipeline.set_phase("both", "A recorded run: nothing trains", label="recorded")
            return
        n = len(self.history)
        last = self.history.record(n - 1) if n else None
        last_text = f"   Last update: {last.phase} (update {last.update})" if last else ""
        if self.running:
            self.phaseLabel.setText("Training: D and G take turns")
            self.pipeline.set_phase("both", "Training: each update changes one network")
            return
        frozen = "G" if self.next_phase == "D" else "D"
        self.phaseLabel.setText(f"Paused. Next: {self.next_phase} update ({frozen} frozen).{last_text}")
        if not self.slowMotion.active:
            self.pipeline.set_phase(self.next_phase, f"Next: {self.next_phase} update (Step {self.next_phase})",
                                    label="updates next")

    def _redraw(self):
        for plot in self.plots:
            plot.redraw()
        self.status["elapsed"].setText(f"{_clock(self.elapsed)} training")

    def _set_smoothing(self, value):
        for plot in self.plots:
            plot.set_smoothing(value / 100.0)

    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self):
        """Stop the training process, then join the worker thread; never terminate()."""
        self.frameTimer.stop()
        leave_run(self)   # a recorded run on screen: stop following it, close its store
        follow_live(self, None)
        if self.thread.isRunning():
            self.worker.stop()
            self.worker.join()
            self.thread.quit()
            self.thread.wait()
        shutil.rmtree(self.recoveryFolder, ignore_errors=True)   # the process is gone: nothing writes there


def _clock(seconds: float) -> str:
    """0:07, 12:34, 1:02:03."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
