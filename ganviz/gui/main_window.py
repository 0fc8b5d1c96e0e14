"""The main window: toolbar (Train/Pause, Step, Step iteration, Reset, Save, Open, Export),
the control panel, the pipeline diagram with the step readout, four live views and a status bar.
The trainer lives in the training service (service/training.py), in a process of its own or,
for tests, a thread: the window sends it commands through the worker. What it shows of the run
is held by a RunSession (session/run_session.py), fed the events that come back; the window
renders what each event changed. Its widgets are built in window_layout.py, its file actions
live in file_actions.py."""
from __future__ import annotations

import os
import shutil
import tempfile

from PySide6.QtCore import QThread, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QMessageBox

from ganviz.core.config import Config, ConfigError, in_words
from ganviz.core.data import points_dataset
from ganviz.core.history import COLUMNS
from ganviz.core.store_format import StoreError
from ganviz.protocol import messages as m
from ganviz.session.run_session import RunSession

from .branching import build_runs_dock
from .file_actions import FileActions
from .readout import explain_step
from .remote_actions import RemoteActions
from .run_folder import VIEWING_TEXT, follow_live, leave_run, states_at
from .toolbar_keys import ToolbarKeys
from .window_layout import WindowLayout
from .worker import DEATH_WINDOW, MAX_DEATHS, TrainingWorker

FRAME_MS = 100  # each metric plot redraws at most 10 times a second, and only when new data came;
                # one plot per tick (a third of FRAME_MS apart), so the GUI thread never spends
                # three plots' time at once and stays quick to answer (the 2D field has its own 20 fps)

LOAD_PROGRESS_BYTES = 20_000_000  # data files this big show their reading progress


def _of_session(name: str, doc: str):
    """A window attribute that is the session's (run_folder.py and the tests use these names)."""
    return property(lambda self: getattr(self.session, name),
                    lambda self, value: setattr(self.session, name, value), doc=doc)


class MainWindow(WindowLayout, FileActions, RemoteActions, QMainWindow):
    config = _of_session("config", "the current run's Config")
    objective = _of_session("objective", "its objective (objectives.py)")
    history = _of_session("history", "the run's history: its newest rows, the rest read back from its store")
    run_info = _of_session("run_info", "what the training service said about the current run")
    metrics = _of_session("metrics", "the latest quality metrics of the run")
    running = _of_session("running", "training runs (else paused)")
    next_phase = _of_session("next_phase", "the phase Step runs next, D or G")
    elapsed = _of_session("elapsed", "seconds spent in this run's updates")
    _loading = _of_session("loading", "(what, path) while the training service builds a run")

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
        self.session = RunSession(config)   # what the window shows of the run; rendered here
        self.runsFolder = os.path.abspath(runs_folder or os.environ.get("GANVIZ_RUNS") or "runs")
        self.errorDialog = self.nanDialog = None
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
        self.recoveryFolder = tempfile.mkdtemp(prefix="ganviz-recovery-")   # removed on close
        self.local_transport = transport if isinstance(transport, str) else "process"   # Detach starts one
        self.worker.set_recovery_folder(self.recoveryFolder)
        self.worker.set_runs_folder(self.runsFolder)
        self._build_server_menu()
        self.fieldView.boundsChanged.connect(self._set_field_bounds)
        self.fieldView.heatClassChanged.connect(self._set_heat_class)
        self.fieldView.drawingSubmitted.connect(lambda pts: self.use_points(pts, "drawn"))
        self.thread.start()

        self._next_plot = 0
        self.frameTimer = QTimer(self, interval=FRAME_MS // len(self.plots))
        self.frameTimer.timeout.connect(self._redraw)
        self.frameTimer.start()
        if self.worker.remote:   # the server sends its run as it stands
            self._start_loading("attach", self.attached_to)
        elif checkpoint:
            self._start_loading("open", checkpoint)
            self.worker.load(checkpoint)
        else:
            self._start_loading("reset", self.config.dataset)
            self.worker.reset(self.config)

    # ------------------------------------------------------------------ commands
    def _check_serving(self) -> bool:
        if not self.worker.serving:
            self._show_error("No training process is running: press Reset to start a new one.")
        return self.worker.serving

    def toggle_training(self):
        if not self._check_serving():
            return
        self.slowMotion.end()
        if self.session.running:
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

    def _set_heat_class(self, label):
        # called here, in the GUI thread: a slot of the worker's own would queue for its
        # thread, which is busy reading the training service
        self.worker.set_heat_class(label)

    def _set_field_bounds(self, bounds):
        self.worker.set_field_bounds(bounds)


    # ------------------------------------------------------------------ long work
    def _start_loading(self, what: str, source: str):
        """The training process is building a run (loading data, building models: seconds for
        a folder of images): say so at once, and disable what makes no sense meanwhile, until
        the run starts (_on_run_started) or fails (_on_failed)."""
        self.session.start_loading(what, source)
        if what == "open":
            message = f"Opening {source}…"
        elif what == "drawing":
            message = "Starting a new run on your drawing…"
        elif what == "continue":
            message = f"Continuing {source} from the recorded moment…"
        elif what == "attach":
            message = f"Attached to {source}: the run's history arrives…"
        else:
            message = f"Loading {self.controls.dataset_label(source)} and building the models…"
        self.statusBar().showMessage(message)
        self.busyIndicator.show()
        self._set_run_controls_enabled(False)

    def _end_loading(self):
        loading = self.session.end_loading()
        self.busyIndicator.hide()
        self._set_run_controls_enabled(True)
        return loading

    def _set_run_controls_enabled(self, enabled: bool):
        self._set_training_actions(enabled)
        self.controls.setEnabled(enabled and self.controlling)   # watching a server's run: read-only


    # ------------------------------------------------------------------ from the worker
    def _on_failed(self, message, details=""):
        if self.session.loading is not None:
            self._end_loading()   # the old run is still there, and usable again
        self._show_error(message, details)

    def _on_saved(self, path):
        self.statusBar().showMessage(self.session.on_saved(m.Saved(path)), 5000)

    def _on_process_died(self, reason, restarting):
        """The training process died: a new one is reopening the run (say what was lost once
        it has, in _on_run_started), or it died too often and waits for Reset."""
        self.session.on_process_died(reason, restarting)
        if not restarting and self.session.loading is not None:
            self._end_loading()   # the run being built will not come
        if restarting:
            self._set_training_actions(False)
            self.statusBar().showMessage(f"The training process stopped ({reason}); starting a new one…")
            return
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
            # a recorded run on screen: nothing to train or save; Reset and Open leave it.
            # Watching a server's run (another window controls it): none (Server > Take control)
            a.setEnabled(enabled and self.controlling
                         and (self.viewing is None or a in (self.resetAction, self.openAction)))

    def _on_run_started(self, info):
        leave_run(self)   # a recorded run on screen gives way to the new one
        follow_live(self, info.folder)   # this run's own timeline
        if self.pending_run:   # `ganviz gui --run DIR`: shown over the run that just started
            QTimer.singleShot(0, lambda folder=self.pending_run: self.open_run(folder))
            self.pending_run = None
        loading = self._end_loading()
        self.slowMotion.end()
        self._step_view_declined = False
        self.stepViewCheck.setChecked(False)   # a new run: no steps to zoom onto yet
        session = self.session
        session.on_run_started(info)
        self.controls.set_config(session.config)
        for plot in self.plots:
            plot.clear_data()
        rows = session.history.array()
        if len(rows):
            self._plot_rows(rows)
        objective = session.objective
        self.scorePlot.set_probability(objective.probability)
        self.lossPlot.set_objective(objective, info.config.conditional)
        self.lossPlot.setToolTip(f"{objective.formula_d}\n{objective.formula_g}\n"
                                 "Dashed lines: the losses where D cannot tell real from fake.")
        points = info.dataset_kind == "points"
        self.exploreAction.setEnabled(not points and self.controlling)   # the explorer shows images
        if getattr(self, "explorer", None) is not None:
            self.explorer.set_classes(info.classes)
        self.sampleView.reset()
        self.sampleView.set_classes(info.classes, info.grid_columns)   # conditional: a row per class
        self.pipeline.conditional = info.config.conditional   # the label goes into G (and D)
        self.pipeline.update()
        self.dataViews.setCurrentWidget(self.fieldView if points else self.sampleView)
        self.fieldView.reset()
        self.fieldView.set_classes(info.classes, info.real_labels, info.config.conditional)
        if info.real is not None:
            self.fieldView.show_real(info.real)
        self.qualityPanel.clear()
        scores = self.timeline.scores_as_of(info.updates) if self.timeline.reader is not None else []
        if scores:   # a run reopened where it stood (recovered, restored, continued): its scores so far
            self.qualityPanel.show_recorded(scores)
            self.qualityPanel.show_live()
        self.stateLabel.clear()
        self.worker.set_field_bounds(self.fieldView.bounds() if points else None)
        self._render_status()
        self._render_readout()
        self._update_phase_labels()
        message = session.run_message(loading, self.controls.dataset_label(info.dataset_name))
        self.statusBar().showMessage(message, 15000 if info.note else 8000)
        recovered = session.recovered_message()
        if recovered is not None:
            self._set_training_actions(True)
            self._show_error(recovered)

    def _on_load_progress(self, progress):
        done, total, name = progress
        if total >= LOAD_PROGRESS_BYTES:  # small files load before a message could be read
            self.statusBar().showMessage(f"Reading {os.path.basename(name)}: {100 * done / total:.0f} % "
                                         f"({done / 1e6:.0f} of {total / 1e6:.0f} MB)", 5000)

    def _on_batch(self, payload):
        try:
            if self.viewing is not None:
                return   # a recorded run is on screen; the paused run waits for Reset
            changed, rows = self.session.on_batch(payload)
            if "history" in changed:
                self._plot_rows(rows)
            if "samples" in changed:
                self.sampleView.show_samples(payload.samples)
            if "field" in changed:
                self.fieldView.show_field(payload.field)
            if "metrics" in changed and self.timeline.at_live:   # else the panel shows a recorded moment's
                self.qualityPanel.show_metrics(payload.metrics, payload.iteration)
            if "histogram" in changed:
                self.qualityPanel.show_histogram(*payload.histogram)
            self._render_status()
            self._update_phase_labels()
            if "states" in changed:
                self._show_states()
        finally:
            self.worker.ack()

    def _show_states(self, update=None):
        """Name what is happening (diagnosis.py), from the same numbers the plots show; while
        the timeline shows a recorded moment (its update), what held at that moment."""
        if update is None and self.timeline.shown is not None:
            return   # scrubbed back: the moment's states stay until the timeline moves
        if update is None:
            states, head = self.session.states(), []
        else:
            try:
                states, iteration = states_at(self, update)
            except StoreError as e:   # the run's folder went away under the timeline
                self.stateLabel.setText(f"<i>Cannot read the recorded moment: {e}</i>")
                return
            head = [f"<i>At iteration {iteration} (recorded):</i>"] if states else []
        colour = {"warning": "#b34700", "good": "#1d7a3a"}
        self.stateLabel.setText("<br>".join(head + [f"<b style='color:{colour[s.severity]}'>{s.name}:</b> "
                                                    f"{s.what} <i>{s.advice}</i>" for s in states]))

    def _append_rows(self, rows):
        """Rows already in the history (a run folder being viewed): their time, and the curves."""
        self.session.elapsed += self.session.took(rows)
        self._plot_rows(rows)

    def _plot_rows(self, rows):
        phases = rows[:, COLUMNS.index("phase")]
        for plot in self.plots:
            plot.append(rows, phases)

    def _on_step(self, record):
        words = explain_step(record, self.session.objective, field=self.dataViews.currentWidget() is self.fieldView)
        self.session.on_stepped(m.Stepped(record), words)
        self._render_readout()
        self._update_phase_labels()

    def _on_stages(self, payload):
        record, stages = payload
        self.slowMotion.show_update(record, stages, self.session.objective, self.session.config)

    def _on_running(self, running):
        self.session.on_running(m.Running(running))
        self.trainAction.setText("Pause" if running else "Train")
        if running:
            self.slowMotion.end()
            self._step_view_declined = False
            self.stepViewCheck.setChecked(False)   # training: the whole history again
        self._render_readout()
        self._update_phase_labels()

    def _on_non_finite(self, record):
        box = QMessageBox(QMessageBox.Warning, "Training diverged", self.session.on_non_finite(m.NonFinite(record)),
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
    def _render_status(self):
        for name, text in self.session.status.items():
            self.status[name].setText(text)

    def _render_readout(self):
        if self.viewing is not None:
            return   # a recorded run on screen: its own words stay (run_folder.py)
        self.stepReadout.setText(self.session.readout)
        self.stepExplanation.setText(self.session.explanation)

    def _update_phase_labels(self):
        """The header and, when paused, the diagram show the NEXT update (session.phase_words).
        Slow motion's diagram shows the update just done, and its caption says so."""
        self.stepAction.setText(f"Step {self.session.next_phase}")
        if self.viewing is not None:
            self.phaseLabel.setText(VIEWING_TEXT)
            self.pipeline.set_phase("both", "A recorded run: nothing trains", label="recorded")
            return
        header, phase, caption = self.session.phase_words()
        self.phaseLabel.setText(header)
        if self.session.running:
            self.pipeline.set_phase("both", caption)
        elif not self.slowMotion.active:
            self.pipeline.set_phase(phase, caption, label="updates next")

    def _redraw(self, every: bool = False):
        """The next plot in turn (every: all of them, now)."""
        for plot in self.plots if every else [self.plots[self._next_plot]]:
            plot.redraw()
        self._next_plot = (self._next_plot + 1) % len(self.plots)
        if self._next_plot == 0 or every:
            self.status["elapsed"].setText(self.session.elapsed_text())

    def open_explorer(self):
        """Explore G (explorer.py): one dialog per window, asked about G as it is now."""
        from .explorer import ExplorerDialog
        if getattr(self, "explorer", None) is None:
            self.explorer = ExplorerDialog(self.worker, self)
        self.explorer.show()
        self.explorer.raise_()
        self.explorer.walk()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._fit_top_band()

    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self):
        """Stop the training process, then join the worker thread; never terminate()."""
        self.frameTimer.stop()
        leave_run(self)   # a recorded run on screen: stop following it, close its store
        follow_live(self, None)
        self.runsPanel.stop()   # its readers hold three files each
        if self.thread.isRunning():
            self.worker.stop()
            self.worker.join()
            self.thread.quit()
            self.thread.wait()
        shutil.rmtree(self.recoveryFolder, ignore_errors=True)   # the process is gone: nothing writes there
        self.session.close()

