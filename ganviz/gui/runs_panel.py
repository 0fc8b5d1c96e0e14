"""The Runs panel: the runs under a runs folder as a tree by parent (a branch sits under the
run it continues), with their dataset, objective, iteration and last quality scores; a
checkbox per run overlays its curves in every plot (MetricPlot.set_overlays), in a colour of
its own. It only reads the runs' stores (RunReader), refreshed every few seconds."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QSizePolicy, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from ganviz.core.evaluate import format_metrics
from ganviz.core.run_reader import RunReader, branch_start
from ganviz.core.store_format import DB, StoreError

REFRESH_MS = 3000
# Run colours: none of them the D blue, G orange or real green of the plots' own curves.
PALETTE = [(148, 60, 200), (200, 30, 60), (20, 170, 190), (140, 90, 40), (230, 60, 180),
           (100, 100, 100), (120, 150, 20), (40, 40, 150)]
# The record columns the plots draw (scores, losses, accuracy), and what places them.
OVERLAY_COLUMNS = ["x", "phase", "d_real_after", "d_fake_after", "d_fake_before", "loss_d",
                   "loss_d_real", "loss_d_fake", "loss_g", "acc_real", "acc_fake"]
HEADERS = ["run", "dataset", "objective", "iteration", "quality"]
NAME, DATASET, OBJECTIVE, ITERATION, QUALITY = range(len(HEADERS))


def quality_text(metrics: dict) -> str:
    """The last stored scores, short: '8/8 modes, 93 % high quality', 'coverage 0.52 (real 0.97)'."""
    if "coverage" in metrics:   # images: beside real data's own
        return f"coverage {metrics['coverage']:.2f} (real {metrics.get('real', {}).get('coverage', float('nan')):.2f})"
    if "modes_covered" in metrics:
        return f"{metrics['modes_covered']}/{metrics['n_modes']} modes, {metrics['high_quality']:.0f} % high quality"
    if "classes_covered" in metrics:
        n = len(metrics["histogram"]) if "histogram" in metrics else 10
        return f"{metrics['classes_covered']}/{n} digits, KL {metrics['kl']:.2f}"
    return ""


class RunsPanel(QWidget):
    """selection_changed carries {run name: (columns, colour)} for the checked runs: give it to
    every plot's set_overlays. A child's columns start at its branch point."""

    selection_changed = Signal(object)   # object: a dict would become a QVariantMap, sorted by name

    def __init__(self, folder="runs", parent=None):
        super().__init__(parent)
        self.folder = os.fspath(folder)
        self.readers: dict[str, RunReader] = {}       # real path -> its reader
        self.items: dict[str, QTreeWidgetItem] = {}
        self.colours: dict[str, tuple] = {}           # real path -> colour, while checked
        self._rows: dict[str, int] = {}               # rows each run had when last emitted
        self._columns: dict[str, dict] = {}           # checked runs' curves read so far
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(HEADERS)
        self.tree.setRootIsDecorated(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeToContents)   # a few dozen rows
        self.tree.itemChanged.connect(self._item_changed)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555")
        refresh = QPushButton("Refresh")
        refresh.setToolTip(f"read the runs folder again (it is also read every {REFRESH_MS // 1000} s)")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        self.title = QLabel()
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)   # a long path never widens the window
        top.addWidget(self.title, 1)
        top.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)
        self.refresh()

    # ------------------------------------------------------------------ reading the folder
    def set_folder(self, folder) -> None:
        for path in list(self.readers):
            self._forget(path)
        self.folder = os.fspath(folder)
        self.refresh()

    def refresh(self) -> None:
        """New and removed runs, new rows of live ones; re-emits the selection if it grew."""
        self.title.setText(f"Runs in {self.folder if len(self.folder) <= 40 else '…' + self.folder[-39:]}")
        self.title.setToolTip(self.folder)
        found, problems = self._scan()
        gone = [p for p in self.readers if p not in found]
        lost = any(p in self.colours for p in gone)   # a checked run was deleted
        for path in gone:
            self._forget(path)
        for path in found:
            if path not in self.readers:
                try:
                    self.readers[path] = RunReader(path)
                except StoreError as e:
                    problems.append(str(e))
                    continue
            else:
                try:
                    self.readers[path].refresh()
                except StoreError as e:
                    problems.append(str(e))
                    continue
        self.tree.blockSignals(True)
        for path in self.readers:   # every item first: a child is placed under its parent's
            self._item(path)
        moved = [self._show(path) for path in self.readers]
        for path, reader in self.readers.items():
            if path not in self.colours:   # a checked run is read again soon; the others let go
                reader.idle()
        if any(moved):   # a new run or branch: shown under its parent, opened
            self.tree.expandAll()
        self.tree.blockSignals(False)
        self.status.setText(" ".join(problems) if problems else
                            ("" if self.readers else f"No runs in {self.folder} yet (ganviz train writes them there)."))
        self.status.setVisible(bool(self.status.text()))
        grown = any(len(self.readers[p]) != self._rows.get(p) for p in self.colours if p in self.readers)
        if grown or lost:
            self._emit()

    def _scan(self) -> tuple[list[str], list[str]]:
        if not os.path.isdir(self.folder):
            return [], []
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except OSError as e:
            return [], [f"Cannot read {self.folder} ({e.strerror or e})."]
        return [os.path.realpath(e.path) for e in entries
                if e.is_dir() and os.path.isfile(os.path.join(e.path, DB))], []

    def _forget(self, path):
        item = self.items.pop(path, None)
        if item is not None:
            for child in item.takeChildren():   # its branches stay, as runs of their own
                self.tree.addTopLevelItem(child)
            (item.parent() or self.tree.invisibleRootItem()).removeChild(item)
        reader = self.readers.pop(path, None)
        if reader is not None:
            reader.close()
        self.colours.pop(path, None)

    # ------------------------------------------------------------------ the tree
    def _item(self, path) -> QTreeWidgetItem:
        item = self.items.get(path)
        if item is None:
            item = QTreeWidgetItem()
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(NAME, Qt.Unchecked)
            item.setData(NAME, Qt.UserRole, path)
            self.items[path] = item
        return item

    def _show(self, path) -> bool:
        """The run's row up to date; True if it was (re)placed in the tree."""
        reader, item = self.readers[path], self.items[path]
        moved = self._place(item, reader)
        n = len(reader)
        last = reader.columns(["iteration", "update"], start=n - 1) if n else None
        iteration = int(last["iteration"][0]) if n else 0
        texts = [os.path.basename(path), reader.dataset_name, reader.config.objective,
                 f"{iteration} ({n} updates)", ""]
        tip = path
        if reader.parent:
            tip += f"\nbranched from {reader.parent} at update {reader.parent_update}"
        quality = reader.last_quality()
        if quality:
            at, metrics = quality
            texts[QUALITY] = quality_text(metrics)
            item.setToolTip(QUALITY, f"{format_metrics(metrics)}\nmeasured at update {at}")
        for column, text in enumerate(texts):
            if item.text(column) != text:
                item.setText(column, text)
        item.setToolTip(NAME, tip)
        return moved

    def _place(self, item, reader) -> bool:
        """Under its parent's item where the parent is listed here, else at the top; True if moved."""
        parent = os.path.realpath(reader.parent) if reader.parent else None
        if parent is not None and parent not in self.readers:   # runs moved together: a sibling
            sibling = os.path.join(os.path.dirname(os.path.realpath(reader.folder)), os.path.basename(parent))
            parent = sibling if sibling in self.readers else None
        want = self.items.get(parent) if parent is not None else None
        if item.parent() is want and (want is not None or self.tree.indexOfTopLevelItem(item) >= 0):
            return False
        old = item.parent()
        if old is not None:
            old.removeChild(item)
        elif self.tree.indexOfTopLevelItem(item) >= 0:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        if want is not None:
            want.addChild(item)
        else:
            self.tree.addTopLevelItem(item)
        return True

    # ------------------------------------------------------------------ selection
    def _item_changed(self, item, column):
        if column != NAME:
            return
        path = item.data(NAME, Qt.UserRole)
        checked = item.checkState(NAME) == Qt.Checked
        if checked and path not in self.colours:
            used = set(self.colours.values())
            self.colours[path] = next((c for c in PALETTE if c not in used), PALETTE[len(self.colours) % len(PALETTE)])
        elif not checked and path in self.colours:
            del self.colours[path]
        else:
            return
        self.tree.blockSignals(True)
        item.setIcon(NAME, _swatch(self.colours[path]) if checked else QIcon())
        self.tree.blockSignals(False)
        self._emit()

    def check(self, name: str, on: bool = True) -> None:
        """Check (or uncheck) the run whose folder is called `name`, as a click would."""
        path = next(p for p in self.items if os.path.basename(p) == name)
        self.items[path].setCheckState(NAME, Qt.Checked if on else Qt.Unchecked)

    def selection(self) -> dict:
        """{run name: (columns, colour)}: each checked run's curves, a child's from its branch point."""
        out = {}
        for path, colour in self.colours.items():
            out[os.path.basename(path)] = (self._read(path), colour)
        self._columns = {p: c for p, c in self._columns.items() if p in self.colours}
        return out

    def _read(self, path) -> dict:
        """A checked run's curves; a growing run's new rows only are read (a million rows
        take 0.7 s to read: every few seconds, that would stall the window)."""
        reader = self.readers[path]
        start = branch_start(reader)
        have, done = self._columns.get(path), self._rows.get(path, start)
        if have is None or len(reader) < done:   # first read, or the run went back
            have, done = reader.columns(OVERLAY_COLUMNS, start=start), len(reader)
        elif len(reader) > done:
            new = reader.columns(OVERLAY_COLUMNS, start=done)
            have = {k: np.concatenate([have[k], new[k]]) for k in OVERLAY_COLUMNS}
            done = len(reader)
        self._columns[path], self._rows[path] = have, done
        return have

    def _emit(self):
        self.selection_changed.emit(self.selection())

    def stop(self):
        """Read nothing more: the timer stops and every run's store is let go (its files closed)."""
        self.timer.stop()
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()

    def closeEvent(self, event):
        self.stop()
        super().closeEvent(event)


def _swatch(colour) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)

