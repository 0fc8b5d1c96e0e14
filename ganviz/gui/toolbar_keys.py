"""Single-key toolbar shortcuts (Space, S, I) that work while a number field has focus.

A focused spin box claims every printable key for itself (Qt asks it first, with a
ShortcutOverride event), so Space would edit the number instead of pausing. Numbers never
contain these keys, so for spin boxes the override is declined and the toolbar's shortcut
fires. Text fields (a dataset path) keep every key: a path may well contain "s" or a space.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QWidget


class ToolbarKeys(QObject):
    def __init__(self, window: QWidget, actions):
        super().__init__(window)
        self._window = window
        # the actions' plain-key shortcuts (no modifier): those a spin box would swallow
        self.keys = {seq[0].key() for a in actions for seq in [a.shortcut()]
                     if not seq.isEmpty() and seq.count() == 1
                     and seq[0].keyboardModifiers() == Qt.NoModifier}
        for box in window.findChildren(QAbstractSpinBox):
            box.installEventFilter(self)
        # spin boxes made later (a panel built on demand) are caught when they get focus
        QApplication.instance().focusChanged.connect(self._focus_changed)

    def _focus_changed(self, old, now):
        if isinstance(now, QAbstractSpinBox) and self._window.isAncestorOf(now):
            now.installEventFilter(self)   # installed once: Qt drops an earlier copy

    def eventFilter(self, obj, event):
        if (event.type() == QEvent.ShortcutOverride and event.key() in self.keys
                and event.modifiers() == Qt.NoModifier):
            event.ignore()   # not ours: let the window's shortcut have it
            return True
        return False
