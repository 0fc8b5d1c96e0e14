"""Recorded moments of a run, drawn as the live views draw them: the sample grid (images) or
the 2D field (points), in one pane, or in two side by side (A/B). A 2D frame stores G's and
D's weights; the field is computed from them here, over the pane's visible plane."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ganviz.core.field import FieldMirror

from .field_view import FieldView
from .sample_view import SampleView

NO_CHANGE = "change in D: not recorded for past moments (the live view shows it)"


class MomentPane(QWidget):
    """One recorded moment: a caption saying which, over a sample view or a field view."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.setObjectName(f"momentPane{name}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.caption = QLabel(objectName=f"momentCaption{name}")
        self.caption.setStyleSheet("font-weight: bold;")
        self.caption.setAlignment(Qt.AlignCenter)
        layout.addWidget(self.caption)
        self.sampleView = SampleView()
        self.sampleView.plot.setTitle("Samples (fixed noise), recorded")
        self.fieldView = FieldView()
        self.fieldView._recorded = True   # titled "2D field, recorded" (it fits half a column), no drawing
        # a recorded field is read, not drawn on: drawing new data belongs to the live view
        for w in (self.fieldView.drawButton, self.fieldView.useDrawingButton, self.fieldView.clearDrawingButton):
            w.hide()
        layout.addWidget(self.sampleView, 1)
        layout.addWidget(self.fieldView, 1)
        self.mirror = None             # 2D runs: the networks a frame's weights are loaded into
        self.payload = None            # the frame shown
        self.moment = None             # its update
        self.fieldView.boundsChanged.connect(self._bounds_changed)
        self.fieldView.heatClassChanged.connect(self._heat_class_picked)

    def set_run(self, reader, noise=None, real=None):
        """Show `reader`'s run from now on. A 2D run's fixed noise and real points
        (run_points) rebuild its field: G and D get networks of their own here."""
        kind = reader.dataset_kind
        mirror = FieldMirror.of_run(reader, noise) if noise is not None else None
        points = kind == "points"
        self.sampleView.setVisible(not points)
        self.fieldView.setVisible(points)
        self.mirror, self.payload, self.moment = mirror, None, None
        self.sampleView.reset()
        self.fieldView.reset()
        classes = getattr(reader, "classes", None)
        self.sampleView.set_classes(classes, getattr(reader, "grid_columns", None))
        if not classes:
            self.sampleView.plot.setTitle("Samples (fixed noise), recorded")
        self.fieldView.set_classes(classes, getattr(reader, "real_labels", None), reader.config.conditional)
        if points and real is not None:
            self.fieldView.show_real(real)

    def _heat_class_picked(self, label: int):
        if self.mirror is not None:
            self.mirror.set_heat_class(label)
            if self.payload is not None and "weights" in self.payload:
                self._draw_field()

    def show_moment(self, update: int, payload: dict, caption: str):
        self.caption.setText(caption)
        self.moment, self.payload = update, payload
        if "samples" in payload:
            self.sampleView.show_samples(payload["samples"])
        elif "weights" in payload and self.mirror is not None:
            self._draw_field()

    def _draw_field(self):
        self.mirror.load(self.payload["weights"])
        field = self.mirror.field(self.fieldView.bounds())
        field.change, field.change_label = None, NO_CHANGE
        self.fieldView.show_field(field)

    def reframe(self):
        """Frame the moment again (the pane changed size: A/B on or off)."""
        if self.fieldView.isVisible():
            self.fieldView._follow_again()
        elif self.sampleView.last_tiled is not None:
            self.sampleView.plot.autoRange(items=[self.sampleView.image])

    def resizeEvent(self, event):
        super().resizeEvent(event)
        # an aspect-locked view keeps its height's range when it narrows, and cuts the grid
        # (or the field) at the sides: frame it again, unless the user has zoomed the field
        if self.sampleView.isVisible() or self.fieldView.follow:
            QTimer.singleShot(0, self, self.reframe)

    def _bounds_changed(self, bounds):
        # the user zoomed, or the view followed the fakes: D's heatmap over the plane now shown
        f = self.fieldView.current_field
        if self.payload is not None and "weights" in self.payload and f is not None \
                and not np.allclose(f.bounds, bounds):
            self._draw_field()


class MomentView(QWidget):
    """Pane A (the moment shown, or B's partner when A/B is on) and pane B. Each is built when
    first needed: a window that never goes back in time pays nothing for them (two field
    views, two sample grids and G and D twice were a third of a window's start)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("momentView")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._panes: dict[str, MomentPane] = {}
        self._run = None   # (reader, noise, real) of the run shown

    @property
    def paneA(self) -> MomentPane:
        return self._pane("A")

    @property
    def paneB(self) -> MomentPane:
        self._pane("A")   # A stays on the left
        return self._pane("B")

    def _pane(self, name: str) -> MomentPane:
        if name not in self._panes:
            pane = self._panes[name] = MomentPane(name)
            if name == "B":
                pane.hide()
            self._layout.addWidget(pane, 1)
            if self._run is not None:
                pane.set_run(*self._run)
        return self._panes[name]

    def set_run(self, reader):
        self._run = (reader, *run_points(reader))
        for pane in self._panes.values():
            pane.set_run(*self._run)

    def set_ab(self, on: bool):
        if not on and "B" not in self._panes:
            return
        self.paneB.setVisible(on)
        # once the panes have their new widths (the layout runs first), frame both again
        QTimer.singleShot(0, self, self._reframe)

    def _reframe(self):
        for pane in self._panes.values():
            if pane.isVisible():
                pane.reframe()


def run_points(reader):
    """(fixed noise, real points) of a 2D run, as its store keeps them (store.py writes both
    when the run starts); (None, None) for an image run."""
    if reader.dataset_kind != "points":
        return None, None
    noise, real = getattr(reader, "fixed_noise", None), getattr(reader, "real", None)
    if noise is None or real is None:
        raise ValueError(f"{reader.folder}: its store lacks the fixed noise or the real points")
    return np.asarray(noise, np.float32), np.asarray(real)
