"""The window's file actions: Save and Open a checkpoint, Open run…, and Export (the history
as CSV, the plots and samples as PNG, the recorded training as a GIF or PNG frames). A mixin of
MainWindow (main_window.py); each action takes its path as an argument (tests, scripts) or asks
for one in a dialog."""
from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog

from ganviz.core.atomic import WriteError, write_bytes

from . import timeline_export
from .run_folder import extend_run, open_run
from .screenshot import widget_png


class FileActions:
    """Save, Open, Open run… and Export, for MainWindow."""

    def open_run(self, folder=None) -> bool:
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Open run folder")
        return bool(folder) and open_run(self, folder)

    def _run_grew(self, before, now):
        if self.viewing is not None:
            extend_run(self, before, now)

    def _run_went_back(self, now):
        """The run on screen was cut back to `now` updates or fewer (its writer was resumed from
        an earlier checkpoint): the curves, history and quality past it are gone from the
        folder, so the run is read again, once the timeline's refresh is done."""
        if self.viewing is None:
            return   # the window's own run: its restore already took the views back
        folder = self.viewing.folder

        def read_again():
            if self.viewing is not None and self.viewing.folder == folder and open_run(self, folder):
                self.statusBar().showMessage(f"The run in {folder} was cut back by its writer (started again "
                                             f"from an earlier checkpoint); read again: {len(self.viewing)} "
                                             "updates", 10000)
        QTimer.singleShot(0, read_again)

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

