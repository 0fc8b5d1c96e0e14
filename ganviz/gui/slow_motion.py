"""Slow motion: a Step played as its stages, each with what it did in numbers.

The update itself happens at once in the training process, exactly as a plain Step (the trainer
only reads its stages off it); the window then tells it stage by stage: this panel shows the
words (stage_story.py) and the objective's formula with each term's value, the diagram
(pipeline.py) runs data and gradient along its edges. Next stage (N), Play stages (P), speed.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from .stage_story import formula, story

SECONDS_PER_STAGE = (4.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.5)   # the speed slider, slow to fast
DEFAULT_SPEED = 3
IDLE_TEXT = "Slow motion is on: press Step (S) to run one update, then watch it stage by stage."


class SlowMotionPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("slowMotionPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.setSpacing(2)
        self.title = QLabel(objectName="slowMotionTitle")
        self.title.setStyleSheet("color: #555;")
        self.title.setWordWrap(True)
        self.text = QLabel(IDLE_TEXT, objectName="slowMotionText")
        self.text.setWordWrap(True)
        self.text.setStyleSheet("font-size: 13px; font-weight: bold;")
        self.formula = QLabel(objectName="slowMotionFormula")
        self.formula.setStyleSheet("font-family: monospace; font-size: 12px; color: #333;")
        self.formula.setWordWrap(True)
        self.formula.setToolTip("The loss this update minimised, each term's value on its training batch, "
                                "and their sum")
        self.nextButton = QPushButton("Next (N)", objectName="nextStageButton")
        self.nextButton.setToolTip("Show the next stage of this update")
        self.playButton = QPushButton("Play (P)", objectName="playStagesButton")
        self.speedSlider = QSlider(Qt.Horizontal, objectName="stageSpeedSlider")
        self.speedSlider.setRange(0, len(SECONDS_PER_STAGE) - 1)
        self.speedSlider.setFixedWidth(70)
        self.speedSlider.setToolTip("Speed: how long Play shows each stage")
        self.speedLabel = QLabel(objectName="stageSpeedLabel")
        # the controls sit under the diagram (window_layout.py), always in view: the words
        # beside it may scroll in a short window
        self.controls = QWidget(objectName="slowMotionControls")
        row = QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.nextButton)
        row.addWidget(self.playButton)
        row.addSpacing(6)
        row.addWidget(self.speedSlider)
        row.addWidget(self.speedLabel)
        row.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addWidget(self.formula)

    @property
    def seconds(self) -> float:
        return SECONDS_PER_STAGE[self.speedSlider.value()]


class SlowMotion(QObject):
    """The toggle, the panel, the N / P keys and the diagram's stages, for one window."""
    ended = Signal()     # the stage display ended: the window shows its usual diagram again

    def __init__(self, diagram, parent=None):
        super().__init__(parent)
        self.diagram = diagram
        self.check = QCheckBox("Slow motion", objectName="slowMotionCheck")
        self.check.setToolTip("Step plays the update as its stages: the batches through the networks, "
                              "the loss, the gradient, the weight change, the new outputs")
        self.panel = SlowMotionPanel()
        self.panel.setVisible(False)
        self.panel.controls.setVisible(False)
        self.stages, self.index, self.record, self.values = [], -1, None, None
        self.playTimer = QTimer(self)
        self.playTimer.timeout.connect(self._play_tick)
        self.nextAction = QAction("Next stage", self, shortcut=QKeySequence("N"), objectName="nextStageAction")
        self.playAction = QAction("Play stages", self, shortcut=QKeySequence("P"), objectName="playStagesAction")
        self.nextAction.triggered.connect(self.next_stage)
        self.playAction.triggered.connect(self.toggle_play)
        self.panel.nextButton.clicked.connect(self.next_stage)
        self.panel.playButton.clicked.connect(self.toggle_play)
        self.panel.speedSlider.valueChanged.connect(self._speed_changed)
        self.panel.speedSlider.setValue(DEFAULT_SPEED)
        self._speed_changed(DEFAULT_SPEED)
        self.check.toggled.connect(self._toggled)
        self._update_buttons()

    @property
    def enabled(self) -> bool:
        return self.check.isChecked()

    @property
    def active(self) -> bool:
        """A staged update is on display (the diagram shows its stage, not the next update)."""
        return bool(self.stages)

    @property
    def actions(self):
        return [self.nextAction, self.playAction]

    # ---------------------------------------------------------------- showing an update
    def show_update(self, record, values: dict, objective, config):
        """A staged Step came back: tell it from its first stage."""
        if not self.enabled:
            return
        self.playTimer.stop()
        self.record, self.values = record, values
        self.stages = story(record, values, objective, config)
        self.panel.formula.setText(formula(record.phase, values, objective, config))
        self._show(0)

    def next_stage(self):
        if self.active and self.index < len(self.stages) - 1:
            self._show(self.index + 1)
        if self.index >= len(self.stages) - 1:
            self.playTimer.stop()
            self._update_buttons()

    def toggle_play(self):
        if not self.active:
            return
        if self.playTimer.isActive():
            self.playTimer.stop()
        else:
            if self.index >= len(self.stages) - 1:
                self._show(0)       # played to the end: play it again from the start
            self.playTimer.start(int(self.panel.seconds * 1000))
        self._update_buttons()

    def end(self):
        """Stop showing stages (Train, Reset, slow motion off...); the diagram goes back."""
        self.playTimer.stop()
        was = self.active
        self.stages, self.index, self.record, self.values = [], -1, None, None
        self.panel.title.clear()
        self.panel.text.setText(IDLE_TEXT)
        self.panel.formula.clear()
        self._update_buttons()
        if was:
            self.ended.emit()

    # ---------------------------------------------------------------- internals
    def _show(self, index):
        self.index = index
        stage, n, r = self.stages[index], len(self.stages), self.record
        self.panel.title.setText(f"Stage {index + 1} of {n}: {stage.title}   ({r.phase} update {r.update}, just done)")
        self.panel.text.setText(stage.text)
        self.diagram.set_stage(r.phase, stage, f"Slow motion: {r.phase} update, stage {index + 1}/{n}",
                               seconds=min(0.9, 0.6 * self.panel.seconds))
        self._update_buttons()

    def _play_tick(self):
        self.next_stage()

    def _speed_changed(self, value):
        self.panel.speedLabel.setText(f"{SECONDS_PER_STAGE[value]:g} s/stage")
        if self.playTimer.isActive():
            self.playTimer.setInterval(int(self.panel.seconds * 1000))

    def _toggled(self, on):
        self.panel.setVisible(on)
        self.panel.controls.setVisible(on)
        if not on:
            self.end()

    def _update_buttons(self):
        more = self.active and self.index < len(self.stages) - 1
        self.panel.nextButton.setEnabled(more)
        self.nextAction.setEnabled(self.enabled)
        self.panel.playButton.setEnabled(self.active)
        self.playAction.setEnabled(self.enabled)
        self.panel.playButton.setText("Pause (P)" if self.playTimer.isActive() else "Play (P)")
