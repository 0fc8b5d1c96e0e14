"""The timeline under the views: a slider over a run's recorded frames (the run store's
RunReader). Moving it shows that moment's frame (samples or 2D field), the quality panel as of
then and a cursor at its iteration on every plot; its End position is Live, where the window's
own views take over again (a live run trains on meanwhile). Play runs the frames as an
animation; A/B pins one moment beside another.

One door: attach(reader, live) for the window's own run (live) or a run folder opened to read.
The reader is polled every FOLLOW_MS, so a run still being written grows under the slider."""
from __future__ import annotations

import sqlite3
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QGridLayout, QLabel, QPushButton, QSlider, QStackedWidget,
                               QWidget)

from .moment_view import MomentView

FOLLOW_MS = 500          # how often a reader is asked for new rows and frames
PLAY_TICK_MS = 100       # Play moves the slider this often ...
SPEEDS = (1, 4, 16)      # ... by this many recorded frames
GROWING_S = 3.0          # rows arrived this recently: the run is still being written
AT_CACHE = 8192          # iterations of updates kept at hand (an hour's quality records: ~3600)


class Timeline(QWidget):
    momentChanged = Signal(object)   # the update of the frame shown, or None: live
    grew = Signal(int, int)          # (rows before, rows now) after a refresh found new rows
    wentBack = Signal(int)           # rows now, after a refresh found fewer: the run was cut back
    continueRequested = Signal(int)  # "Continue from here": the update of the moment shown

    def __init__(self, data_views: QStackedWidget, plots, quality_panel, parent=None):
        super().__init__(parent)
        self.setObjectName("timeline")
        self.data_views, self.plots, self.quality_panel = data_views, plots, quality_panel
        self.view = MomentView()
        data_views.addWidget(self.view)
        layout = QGridLayout(self)   # two rows: the slider gets the width, the words go below
        layout.setContentsMargins(0, 0, 0, 0)
        self.playButton = QPushButton("Play", objectName="timelinePlayButton", checkable=True)
        self.playButton.setToolTip("Run the recorded frames as an animation, at the speed beside it")
        self.playButton.toggled.connect(self.set_playing)
        self.speedCombo = QComboBox(objectName="timelineSpeedCombo")
        for s in SPEEDS:
            self.speedCombo.addItem(f"{s}x", s)
        self.speedCombo.setToolTip(f"Play: recorded frames per tick ({1000 // PLAY_TICK_MS} ticks a second)")
        self.slider = QSlider(Qt.Horizontal, objectName="timelineSlider")
        self.slider.setFocusPolicy(Qt.StrongFocus)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(10)
        self.slider.setToolTip("Drag, or Left/Right, Page Up/Down, Home/End, to any recorded moment")
        self.slider.valueChanged.connect(self._show_index)
        self.label = QLabel(objectName="timelineLabel")
        self.liveButton = QPushButton("Live", objectName="timelineLiveButton")
        self.liveButton.setToolTip("Back to the run as it trains now (End)")
        self.liveButton.clicked.connect(lambda: self.slider.setValue(self.slider.maximum()))
        self.abButton = QPushButton("Pin as A", objectName="timelineAbButton")
        self.abButton.setToolTip("Pin this moment as A, then move the slider: B shows beside it")
        self.abButton.clicked.connect(self._toggle_ab)
        self.continueButton = QPushButton("Continue from here", objectName="timelineContinueButton",
                                          enabled=False)
        self.continueButton.setToolTip("A new run from this moment (its last snapshot at or before it), "
                                       "with the settings panel's values: change the loss, then press this. "
                                       "It is listed under this run in the Runs tab.")
        self.continueButton.clicked.connect(self._continue)
        layout.addWidget(self.playButton, 0, 0)
        layout.addWidget(self.speedCombo, 0, 1)
        layout.addWidget(self.slider, 0, 2, 1, 4)
        layout.addWidget(self.label, 1, 0, 1, 3)
        for column, w in enumerate((self.liveButton, self.abButton, self.continueButton), start=3):
            layout.addWidget(w, 1, column)
        layout.setColumnStretch(2, 1)
        self.escape = QShortcut(QKeySequence(Qt.Key_Escape), self, activated=lambda: self.set_ab(False),
                                context=Qt.WindowShortcut, enabled=False)

        self.reader = None
        self.live = False              # the window's own run (End = Live), or a folder opened to read
        self.frames = np.empty(0, np.int64)   # updates that have a frame
        self._at = {}                  # update -> (its iteration, iterations completed after it),
                                       # for the updates asked about lately (scores, snapshots,
                                       # frames): read from the store, at most AT_CACHE of them
        self._last_iteration = 0
        self._scored = np.empty(0, np.int64)   # updates with a quality record (the records
                                       # themselves stay in the store: an hour's run has thousands)
        self._scores_shown = None      # how many of them the panel shows (None: live ones)
        self._snapshots = np.empty(0, np.int64)   # updates with a stored snapshot
        self._grown_at = 0.0           # when a refresh last found new rows
        self.pinned = None             # A/B: (update, payload) of A
        self.shown = None              # (update, payload) of the frame on screen; None: live
        self._live_widget = None       # the window's data view, while a moment replaces it
        self.followTimer = QTimer(self, interval=FOLLOW_MS)
        self.followTimer.timeout.connect(self.refresh)
        self.playTimer = QTimer(self, interval=PLAY_TICK_MS)
        self.playTimer.timeout.connect(self._play_tick)
        self.hide()

    # ------------------------------------------------------------------ the door
    def attach(self, reader, live: bool):
        """Show `reader`'s run: the window's own (live: End is Live) or one opened to read
        (End is its last frame, followed while it grows)."""
        self.detach()
        self.reader, self.live = reader, live
        self.frames = np.empty(0, np.int64)
        self._at, self._scored, self._last_iteration = {}, np.empty(0, np.int64), 0
        self._snapshots = np.empty(0, np.int64)
        self.view.set_run(reader)
        self.show()
        self._read_new(0)
        self.slider.blockSignals(True)
        self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self._show_index(self.slider.value())
        self.followTimer.start()

    def detach(self):
        """Leave the run: the window's live views again, no cursor, nothing polled."""
        self.followTimer.stop()
        self.set_playing(False)
        self.set_ab(False)
        if self.reader is not None:
            self._go_live()
        self.reader = None
        self.hide()

    @property
    def at_live(self) -> bool:
        """The window's own views are on screen (no reader, or the Live position)."""
        return self.shown is None

    def refresh(self) -> bool:
        """Ask the reader for rows and frames written since; grow the slider (and stay at its
        end if it was there). True if anything arrived."""
        if self.reader is None:
            return False
        before = len(self.reader)
        self.reader.refresh()
        return self._read_new(before)

    def branch_point(self):
        """(update, iteration) of the snapshot a "Continue from here" at the moment shown starts
        from (the last at or before it), or None."""
        if self.shown is None or not len(self._snapshots):
            return None
        k = int(np.searchsorted(self._snapshots, self.shown[0], side="right")) - 1
        if k < 0:
            return None
        update = int(self._snapshots[k])
        return update, self._iterations_at([update])[update][1]

    def _continue(self):
        point = self.branch_point()
        if point is not None:
            self.continueRequested.emit(point[0])

    def _set_continue(self):
        point = self.branch_point()
        self.continueButton.setEnabled(point is not None)
        if point is None:
            self.continueButton.setText("Continue from here")
        elif point[0] == self.shown[0]:
            self.continueButton.setText(f"Continue from iteration {point[1]}")
        else:   # the moment shown has no snapshot of its own: say which one a branch starts from
            self.continueButton.setText(f"Continue from iteration {point[1]} (nearest before)")

    # ------------------------------------------------------------------ reading
    def _read_new(self, before: int) -> bool:
        now = len(self.reader)
        frames = self.reader.frame_updates()
        if now == before and len(frames) == len(self.frames) and before:
            self._set_label()
            return False
        if now < before:   # the run went back (a restore): what was after it is gone
            self._at = {u: v for u, v in self._at.items() if u <= now}
            self.wentBack.emit(now)
        if now != before:
            self._last_iteration = self._iterations_at([now])[now][1]   # completed, as the moments count
            self._grown_at = time.monotonic() if now > before and before else 0.0
        known = int(self._scored[-1]) if len(self._scored) else -1
        if self.reader.quality_count(known) != len(self._scored):   # rewritten since (gone back)
            self._scored, known = np.empty(0, np.int64), -1
        self._scored = np.concatenate([self._scored, self.reader.quality_updates(since=known)])
        self._snapshots = self.reader.snapshot_updates()   # the moments a branch can start from
        at_end = self.slider.value() == self.slider.maximum()
        self.frames = np.asarray(frames, np.int64)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, self._end_index()))
        if at_end:   # the end stays the end: Live, or the newest frame of a run being written
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        if at_end and self.shown is not None and self.shown[0] != self._last_frame():
            self._show_index(self.slider.value())
        self._set_label()
        if now > before:
            self.grew.emit(before, now)
        return True

    def _end_index(self) -> int:
        """The slider's last position: Live for the window's own run (but not in A/B), else
        the last frame."""
        n = len(self.frames)
        return n if self.live and self.pinned is None else n - 1

    def _last_frame(self):
        return int(self.frames[-1]) if len(self.frames) else None

    def iteration_of(self, update: int) -> int:
        """Iterations completed after `update` (as the status bar and the frames count them)."""
        return self._iterations_at([update])[update][1]

    def _iterations_at(self, updates) -> dict:
        """{update: (its iteration, iterations completed after it)}, read from the store for
        updates not asked about before. A G update at x = i ends iteration i; the D updates
        before it sit at fractions of it."""
        missing = sorted({int(u) for u in updates if int(u) not in self._at and 0 < int(u) <= len(self.reader)})
        if len(self._at) + len(missing) > AT_CACHE:   # a cache, not a copy of the run: start it again
            self._at = {}
        for u in missing:
            cols = self.reader.columns(["iteration", "x"], start=u - 1, stop=u)
            self._at[u] = (int(cols["iteration"][0]), int(np.floor(cols["x"][0])))
        # update 0 (the run's start), or one not stored (yet): nothing completed
        return {int(u): self._at.get(int(u), (0, 0)) for u in updates}

    def scores_as_of(self, update: int) -> list:
        """The quality panel's (iteration, metrics) measured at or before `update`."""
        scores = self.reader.quality(upto=update)
        at = self._iterations_at([u for u, _ in scores])
        return [(at[u][1], m) for u, m in scores]

    def scores_count(self, update: int) -> int:
        """How many quality records were measured at or before `update`."""
        return int(np.searchsorted(self._scored, update, side="right"))

    # ------------------------------------------------------------------ showing
    def _show_index(self, index: int):
        if self.reader is None:
            return
        if index >= len(self.frames):     # Live (or, in a run opened to read, nothing recorded yet)
            if self.live:
                self._go_live()
            else:
                self._use_view()
            self._set_label()
            return
        try:
            update, payload = self.reader.frame(int(self.frames[index]))
        except (ValueError, OSError, sqlite3.Error) as e:   # a damaged frame: say so, keep the last one
            self.label.setText(f"Cannot read the moment at update {int(self.frames[index])}: {e}")
            return
        iteration = int(payload.get("iteration", self.iteration_of(update)))
        pane = self.view.paneB if self.pinned is not None else self.view.paneA
        pane.show_moment(update, payload, f"B: iteration {iteration}" if self.pinned is not None
                         else f"iteration {iteration} (recorded)")
        self.shown = (update, payload)
        self._use_view()
        for plot in self.plots:
            plot.set_cursor(iteration, self.pinned[2] if self.pinned is not None else None)
        if self._scores_shown != self.scores_count(update):   # redrawn only when the moment's scores differ
            scores = self.scores_as_of(update)
            self.quality_panel.show_recorded(scores)
            self._scores_shown = len(scores)
        self._set_label()
        self.momentChanged.emit(update)

    def _use_view(self):
        if self.data_views.currentWidget() is not self.view:
            self._live_widget = self.data_views.currentWidget()
            self.data_views.setCurrentWidget(self.view)

    def _go_live(self):
        was = self.shown
        self.shown = None
        self._scores_shown = None
        if self._live_widget is not None:
            self.data_views.setCurrentWidget(self._live_widget)
            self._live_widget = None
        for plot in self.plots:
            plot.set_cursor(None)
        if was is not None or not self.live:
            if self.live:   # the run's scores so far, then the live panel carries on
                self.quality_panel.show_recorded(self.scores_as_of(len(self.reader)))
            self.quality_panel.show_live()
            self.momentChanged.emit(None)

    def _set_label(self):
        self._set_continue()
        last = self._last_iteration
        n = len(self.frames)
        if self.shown is None:
            text = (f"Live · {n} moment{'s' if n != 1 else ''} recorded" if self.live
                    else "nothing recorded yet")
        else:
            iteration = self.iteration_of(self.shown[0])
            if self.shown[1].get("iteration") is not None:
                iteration = int(self.shown[1]["iteration"])
            text = f"iteration {iteration} of {last} (recorded)"
            if self.pinned is not None:
                text = f"A: iteration {self.pinned[2]}  ·  B: {text}"
            if self.live:
                text += " · the live run: End"
            elif self._grown_at and time.monotonic() - self._grown_at < GROWING_S:
                text += " · still being written"
        self.label.setText(text)
        self.label.setToolTip(text)
        self.liveButton.setVisible(self.live and self.pinned is None)
        self.abButton.setEnabled(n > 0)

    def keyPressEvent(self, event):
        # Esc leaves A/B from the slider too (the window-wide shortcut needs an active window)
        if event.key() == Qt.Key_Escape and self.pinned is not None:
            self.set_ab(False)
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ play
    def set_playing(self, on: bool):
        if on and self.reader is None:
            on = False
        if self.playButton.isChecked() != on:
            self.playButton.setChecked(on)   # comes back here through toggled
            return
        self.playButton.setText("Pause" if on else "Play")
        if not on:
            self.playTimer.stop()
            return
        if self.slider.value() >= len(self.frames) - 1:
            self.slider.setValue(0)          # at the end: play from the start
        self.playTimer.start()

    def _play_tick(self):
        last = len(self.frames) - 1
        step = int(self.speedCombo.currentData())
        value = min(self.slider.value() + step, last)
        self.slider.setValue(value)
        if value >= last:
            self.set_playing(False)

    # ------------------------------------------------------------------ A/B
    def _toggle_ab(self):
        self.set_ab(self.pinned is None)

    def set_ab(self, on: bool):
        """A/B: the moment shown (or the last recorded one, from Live) is pinned as A; the
        slider then moves B beside it. Off: one view again, at B's moment."""
        if on == (self.pinned is not None) or (on and not len(self.frames)):
            return
        if on:
            if self.shown is None:
                self.slider.setValue(len(self.frames) - 1)
            update, payload = self.shown
            iteration = int(payload.get("iteration", self.iteration_of(update)))
            self.pinned = (update, payload, iteration)
            self.view.paneA.show_moment(update, payload, f"A: iteration {iteration} (pinned)")
            self.view.set_ab(True)
            self.abButton.setText("Leave A/B (Esc)")
            self.abButton.setToolTip("Back to one view, at B's moment")
        else:
            self.pinned = None
            self.view.set_ab(False)
            self.abButton.setText("Pin as A")
            self.abButton.setToolTip("Pin this moment as A, then move the slider: B shows beside it")
        self.escape.setEnabled(on)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, self._end_index()))
        self.slider.blockSignals(False)
        self._show_index(self.slider.value())

