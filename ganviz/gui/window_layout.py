"""The main window's widgets and where they sit: the pipeline diagram with the step readout,
the four live views, the toolbar, the timeline, the settings dock and the status bar. A mixin
of MainWindow (main_window.py): building only; what the widgets show is rendered there."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QDockWidget, QFrame, QHBoxLayout, QLabel, QMenu, QProgressBar, QScrollArea,
                               QSlider, QSplitter, QStackedWidget, QToolBar, QToolButton, QVBoxLayout, QWidget)

from ganviz.core.store_format import StoreError

from .branching import continue_from_here
from .controls import ControlPanel
from .field_view import FieldView
from .pipeline import PipelineDiagram
from .plots import AccuracyPlot, LossPlot, ScorePlot
from .quality_panel import QualityPanel
from .sample_view import SampleView
from .slow_motion import SlowMotion
from .timeline import Timeline


TOP_MIN_HEIGHT = 130    # the diagram band's least height; the words beside the diagram scroll
VIEWS_MIN_HEIGHT = 410  # what the band leaves the plots and the field, when the window can


class WindowLayout:
    """Builds MainWindow's widgets (called from its __init__)."""

    def _fit_top_band(self):
        """Give the diagram band its content's height, but never so much that the views get
        less than VIEWS_MIN_HEIGHT (the rest of it scrolls). On every resize, until the user
        drags the splitter."""
        if getattr(self, "_top_band_dragged", False):
            return
        total = sum(self.mainSplitter.sizes()) or self.mainSplitter.height()
        want = max(self.topScroll.widget().sizeHint().height(), self.topBand.minimumSizeHint().height())
        top = max(TOP_MIN_HEIGHT, min(want, total - VIEWS_MIN_HEIGHT))
        self.mainSplitter.setSizes([top, max(0, total - top)])

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
        # in slow motion the stages tell the step; its summary's long explanation would only
        # take the plots' height (at 1280x720 they have little)
        self.slowMotion.check.toggled.connect(lambda on: self.stepExplanation.setVisible(not on))
        # The band above the views: the diagram with slow motion's controls under it, always
        # in view; beside it the words, which scroll when the window is short (slow motion's
        # stages, a named state, a narrow window's wrapped lines): they never take the plots'
        # height or make the window taller than the screen. A splitter lets the user give
        # the band more.
        diagram = QWidget(objectName="diagramColumn")
        column = QVBoxLayout(diagram)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.pipeline, 1)
        column.addWidget(self.slowMotion.panel.controls)
        words = QWidget(objectName="topWords")
        column = QVBoxLayout(words)
        column.setContentsMargins(0, 0, 4, 0)
        for w in (self.phaseLabel, self.stepReadout, self.stepExplanation, self.slowMotion.panel, self.stateLabel):
            column.addWidget(w)
        column.addStretch(1)
        self.topScroll = QScrollArea(objectName="topScroll")
        self.topScroll.setWidget(words)
        self.topScroll.setWidgetResizable(True)
        self.topScroll.setFrameShape(QFrame.NoFrame)
        self.topScroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.topBand = QWidget(objectName="topBand")
        row = QHBoxLayout(self.topBand)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(diagram, 2)
        row.addWidget(self.topScroll, 3)
        self.topBand.setMinimumHeight(TOP_MIN_HEIGHT)

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
        self.mainSplitter = QSplitter(Qt.Vertical, objectName="mainSplitter")
        self.mainSplitter.addWidget(self.topBand)
        self.mainSplitter.addWidget(self.viewSplitter)
        self.mainSplitter.setChildrenCollapsible(False)
        self.mainSplitter.setStretchFactor(0, 0)
        self.mainSplitter.setStretchFactor(1, 1)
        layout.addWidget(self.mainSplitter, 1)
        self.setCentralWidget(central)
        self.mainSplitter.splitterMoved.connect(lambda *_: setattr(self, "_top_band_dragged", True))
        # slow motion's panel shows or hides: the band's content changed height
        self.slowMotion.check.toggled.connect(lambda _: QTimer.singleShot(0, self._fit_top_band))
        self._fit_top_band()
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
        self.smoothingSlider.setTracking(False)   # applied on release: a long run smooths again from disk
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
        self.timeline.wentBack.connect(self._run_went_back)
        self.timeline.momentChanged.connect(self._show_states)   # the named states of the moment shown
        self.timeline.continueRequested.connect(lambda update: continue_from_here(self, update))
        self.openRunAction = QAction("Open run…", self, objectName="openRunAction")
        self.openRunAction.setToolTip("Show a run folder read-only, with its timeline (a run `ganviz train` "
                                      "is still writing is followed live)")
        self.openRunAction.triggered.connect(lambda: self.open_run())
        bar = self.findChild(QToolBar, "trainingToolbar")
        bar.insertAction(self._action_after(bar, self.openAction), self.openRunAction)
        bar.widgetForAction(self.openRunAction).setObjectName("openRunButton")
        self.exploreAction = QAction("Explore G", self, objectName="exploreAction")
        self.exploreAction.setToolTip("Walk through G's noise space between two seeds (slerp), drag over a "
                                      "plane through four, and find the training images nearest a sample "
                                      "(image runs)")
        self.exploreAction.triggered.connect(self.open_explorer)
        bar.insertAction(self._action_after(bar, self.openRunAction), self.exploreAction)
        bar.widgetForAction(self.exploreAction).setObjectName("exploreButton")
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


    def _set_smoothing(self, value):
        again = [plot for plot in self.plots if not plot.set_smoothing(value / 100.0)]
        if again:   # a long run: its old points are smoothed again from the stored history
            try:
                for rows in self.history.chunks():
                    for plot in again:
                        plot.append_again([rows])
            except StoreError as e:   # the run's folder went away: the newest rows, and why
                first = len(self.history) - self.history.in_memory
                for plot in again:
                    for s in plot.series.values():
                        s.clear()
                    plot.append_again([self.history.rows(first, len(self.history))])
                self.statusBar().showMessage(f"Cannot read this run's older updates back ({e}); the "
                                             f"curves start at update {first + 1}.", 15000)
            for plot in again:
                plot.redraw()

