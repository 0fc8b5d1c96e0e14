"""The hyperparameter panel. Widgets with ranges make invalid values impossible to enter;
settings that can change live are sent at once, the others wait for Reset (and say so)."""
from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSpinBox, QWidget)

from ganviz.core.config import SETTINGS, Config, label
from ganviz.core.data import BUILTIN_DATASETS, IMAGE_SUFFIXES
from ganviz.core.objectives import OBJECTIVES as OBJECTIVE_INFO
from ganviz.core.presets import PRESETS, apply_preset, matching_presets

FOLDER_ENTRY = "Folder of images…"
USER_DATA = {  # combo text -> (spec kind, picker: "file" or "folder", file filter)
    "CSV file of 2D points…": ("csv", "file", "CSV files (*.csv *.txt);;All files (*)"),
    "MNIST-format IDX file…": ("idx", "file", "IDX files (*idx* *.gz *ubyte*);;All files (*)"),
    FOLDER_ENTRY: ("folder", "folder", ""),
    "NumPy .npy file…": ("npy", "file", "NumPy arrays (*.npy);;All files (*)"),
}
CUSTOM = "Custom"
# Data a run can have that no entry above loads by name: points drawn in the window (kept by
# the training process for Reset). Combo text for such a dataset name.
OTHER_DATA = {"drawn": "your drawing"}


def image_folder_problem(path: str) -> str | None:
    """None when the folder holds at least one image that can be read (checked at once when a
    folder is chosen, instead of failing on Reset); else what is wrong, in one sentence."""
    from PIL import Image
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return f"{path} is not a folder."
    tried = 0
    for file in folder.rglob("*"):
        if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
            continue
        tried += 1
        try:
            with Image.open(file) as image:
                image.load()   # a full decode, as training's loader does: a bad tail fails here
            return None
        except Exception:  # Pillow raises many types (OSError, SyntaxError, ...)
            continue
    if not tried:
        kinds = ", ".join(s.lstrip(".").upper() for s in IMAGE_SUFFIXES)
        return f"{path} has no images ({kinds} files, subfolders included)."
    return f"None of the {tried} image files in {path} can be read."


# The settings the panel shows, in its order: those declared with a widget in core/config.py.
PANEL_SETTINGS = sorted((s for s in SETTINGS.values() if s.widget), key=lambda s: s.row)


def widget_name(name: str) -> str:
    """A setting's widget's object name: lr_d -> lrDSpin, device -> deviceCombo."""
    first, *rest = name.split("_")
    kind = "Combo" if SETTINGS[name].widget == "choice" else "Spin"
    return first + "".join(part[:1].upper() + part[1:] for part in rest) + kind


def _choice_items(name: str) -> list[tuple[str, str, str]]:
    """(text, value, tooltip) of a choice widget's entries: objectives by their names in
    words with their formulas; devices only where this machine has them."""
    if name == "objective":
        info = {v: OBJECTIVE_INFO[v] for v in SETTINGS[name].choices}
        return [(o.label, v, f"{o.formula_d}\n{o.formula_g}") for v, o in info.items()]
    if name == "device":
        devices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if _mps() else [])
        return [(d, d, "") for d in devices]
    return [(str(v), v, "") for v in SETTINGS[name].choices]


def _make_widget(s, value):
    if s.widget == "choice":
        w = QComboBox()
        for text, data, tip in _choice_items(s.name):
            w.addItem(text, data)
            if tip:
                w.setItemData(w.count() - 1, tip, 3)   # ToolTipRole
        return w
    w = QSpinBox() if s.widget == "spin" else QDoubleSpinBox()
    if s.widget == "double":
        w.setDecimals(s.decimals)
    w.setRange(*s.widget_span())
    w.setSingleStep(s.step)
    w.setValue(value)
    return w


def _read(w):
    return w.currentData() if isinstance(w, QComboBox) else w.value()


def _show(w, value):
    if not isinstance(w, QComboBox):
        w.setValue(value)
    elif w.findData(value) >= 0:   # a device this machine lacks: the box keeps what it showed
        w.setCurrentIndex(w.findData(value))


class ControlPanel(QWidget):
    liveChanged = Signal(dict)       # settings to apply at the next update
    pendingChanged = Signal(list)    # names of settings that will apply on Reset
    problem = Signal(str, str)       # something chosen cannot work: a sentence, and details

    def __init__(self, config: Config, parent=None):
        super().__init__(parent)
        self.setObjectName("controlPanel")
        self.base = config          # the running config; fields without a widget come from here
        form = QFormLayout(self)

        self.presetCombo = QComboBox(objectName="presetCombo")
        self.presetCombo.addItem(CUSTOM)
        for name, preset in PRESETS.items():
            self.presetCombo.addItem(name)
            self.presetCombo.setItemData(self.presetCombo.count() - 1, preset.description, 3)  # tooltip
        self.presetCombo.setToolTip("Named sets of hyperparameters; applied on Reset. Custom: the "
                                    "settings differ from every preset")
        self.presetCombo.currentTextChanged.connect(self._preset_chosen)
        self.presetDescription = QLabel(objectName="presetDescription", wordWrap=True)
        self.presetDescription.setStyleSheet("color: #555;")
        form.addRow("Preset", self.presetCombo)
        form.addRow(self.presetDescription)

        self.datasetCombo = QComboBox(objectName="datasetCombo")
        for name in BUILTIN_DATASETS:
            self.datasetCombo.addItem(name, name)   # item data: the dataset spec
        self.datasetCombo.addItems(list(USER_DATA))
        self.datasetCombo.setToolTip("Built-in data is generated or shipped with scikit-learn; the "
                                     "last entries open a picker for your own file or folder.")
        self.datasetPath = QLineEdit(objectName="datasetPathEdit")
        self.datasetPath.setPlaceholderText("path to your data")
        browse = QPushButton("…", objectName="browseButton")
        browse.setFixedWidth(28)
        browse.clicked.connect(self._pick_path)
        row = QHBoxLayout()
        row.addWidget(self.datasetPath)
        row.addWidget(browse)
        self._path_row = QWidget()
        self._path_row.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow(_title("dataset"), self.datasetCombo)
        form.addRow("", self._path_row)

        # one row per panel setting, from its declaration (words, range, live or on Reset)
        self.widgets = {}
        for s in PANEL_SETTINGS:
            w = _make_widget(s, getattr(config, s.name))
            w.setObjectName(widget_name(s.name))
            w.setToolTip(s.tooltip())
            setattr(self, widget_name(s.name), w)   # self.lrDSpin, self.objectiveCombo, ...
            self.widgets[s.name] = w
            form.addRow(_title(s.name), w)
        self.pendingLabel = QLabel(objectName="pendingLabel")
        self.pendingLabel.setWordWrap(True)
        self.pendingLabel.setStyleSheet("color: #a05000;")
        form.addRow(self.pendingLabel)

        # combo boxes as wide as a dozen characters, not their longest entry: the panel must fit
        # a 1024-pixel window (their lists still show the whole names)
        for combo in self.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.set_config(config)
        for w in self.widgets.values():
            (w.currentIndexChanged if isinstance(w, QComboBox) else w.valueChanged).connect(self._changed)
        self.datasetCombo.currentIndexChanged.connect(self._dataset_changed)
        self.datasetPath.editingFinished.connect(self._path_edited)
        self._checked_path = ""

    # ----------------------------------------------------------------- reading and writing
    def dataset_spec(self) -> str:
        text = self.datasetCombo.currentText()
        if text in USER_DATA:
            return f"{USER_DATA[text][0]}:{self.datasetPath.text().strip()}"
        return self.datasetCombo.currentData() or text

    def dataset_problem(self) -> str | None:
        """Why the chosen data cannot start a run, before asking the training process."""
        text = self.datasetCombo.currentText()
        if text in USER_DATA and not self.datasetPath.text().strip():
            what = "folder" if USER_DATA[text][1] == "folder" else "file"
            return f"Choose a {what} for the dataset first (the … button next to Dataset)."
        return None

    def dataset_label(self, spec: str | None = None) -> str:
        """How the panel names a dataset spec (the chosen one by default), e.g. "digits",
        "your drawing", "/home/a/points.csv"."""
        spec = self.dataset_spec() if spec is None else spec
        kind, sep, path = spec.partition(":")
        if sep and any(kind == k for k, _, _ in USER_DATA.values()):
            return path
        return OTHER_DATA.get(spec, spec)

    def values(self) -> dict:
        return {"dataset": self.dataset_spec(), **{name: _read(w) for name, w in self.widgets.items()}}

    def config(self) -> Config:
        """The config the widgets describe (raises ConfigError with the reason if invalid)."""
        return self.base.replace(**self.extra, **self.values())

    def set_config(self, c: Config, keep_preset: bool = False):
        """Show a config (after Reset or loading a checkpoint) without sending changes."""
        self.base = c
        if not keep_preset:
            self.extra = {}
        widgets = [self.datasetCombo, self.datasetPath, *self.widgets.values()]
        for w in widgets:
            w.blockSignals(True)
        kind, sep, path = c.dataset.partition(":")
        user = next((text for text, spec in USER_DATA.items() if spec[0] == kind and sep), None)
        self._keep_other_data(None if user else c.dataset)
        if user:
            self.datasetCombo.setCurrentText(user)
            self.datasetPath.setText(path)
        else:
            self.datasetCombo.setCurrentIndex(self.datasetCombo.findData(c.dataset))
        for name, w in self.widgets.items():
            _show(w, getattr(c, name))
        for w in widgets:
            w.blockSignals(False)
        self._path_row.setVisible(bool(user))
        self._checked_path = path if user else ""
        self.pendingLabel.clear()
        if not keep_preset:
            self._show_matching_preset(c)

    def _keep_other_data(self, name: str | None):
        """The combo lists data without an entry of its own (a drawing) only while the running
        config uses it: it cannot be loaded again once another run replaced it."""
        first_user = self.datasetCombo.findText(next(iter(USER_DATA)))
        for i in reversed(range(len(BUILTIN_DATASETS), first_user)):
            if self.datasetCombo.itemData(i) != name:
                self.datasetCombo.removeItem(i)
        if name and self.datasetCombo.findData(name) < 0:
            at = self.datasetCombo.findText(next(iter(USER_DATA)))
            self.datasetCombo.insertItem(at, OTHER_DATA.get(name, name), name)
            self.datasetCombo.setItemData(at, "The data of the current run (not loadable by name): "
                                              "Reset keeps training on it", 3)   # tooltip

    def _show_matching_preset(self, c: Config):
        """Name the preset these settings are (the one chosen, while it still fits), with its
        description; "Custom" only when they differ from every preset."""
        matches = matching_presets(c)
        current = self.presetCombo.currentText()
        name = current if current in matches else (matches[0] if matches else CUSTOM)
        self.presetCombo.blockSignals(True)
        self.presetCombo.setCurrentText(name)
        self.presetCombo.blockSignals(False)
        self.presetDescription.setText(PRESETS[name].description if name in PRESETS else "")

    # ----------------------------------------------------------------- reacting
    def _preset_chosen(self, name):
        """Show the preset's settings in the panel; they apply (with a new model) on Reset."""
        if name not in PRESETS:
            self.presetDescription.clear()
            return
        self.presetDescription.setText(PRESETS[name].description)
        base = self.base
        chosen = apply_preset(base.replace(**self.values()), name)
        shown = self.values().keys()
        self.set_config(chosen, keep_preset=True)
        self.base = base            # still the running config: the differences are pending
        # settings without a widget (R1 weight, LR decay, network shape...) wait for Reset
        self.extra = {k: v for k, v in chosen.to_dict().items()
                      if k not in shown and getattr(base, k) != v}
        if chosen.model == "dcgan" and not self._image_data_chosen():
            # an image preset on 2D points would fail on Reset: ask for a folder of images
            self.datasetCombo.setCurrentText(FOLDER_ENTRY)   # opens the folder picker
        self._changed()

    def _image_data_chosen(self) -> bool:
        text = self.datasetCombo.currentText()
        return text == "digits" or USER_DATA.get(text, ("",))[0] in ("idx", "folder")

    def _dataset_changed(self):
        text = self.datasetCombo.currentText()
        self._path_row.setVisible(text in USER_DATA)
        if text in USER_DATA and not self.datasetPath.text():
            self._pick_path()
        elif text in USER_DATA and USER_DATA[text][1] == "folder":
            self._path_edited()   # a path typed for another kind: check it as a folder now
        self._changed()

    def _pick_path(self):
        text = self.datasetCombo.currentText()
        if text not in USER_DATA:
            return
        _, picker, filt = USER_DATA[text]
        if picker == "folder":
            path = QFileDialog.getExistingDirectory(self, "Choose a folder of images")
            if path and not self._folder_ok(path):
                return   # said why; the previous choice stays
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"Choose a {text.rstrip('…')}", "", filt)
        if path:
            self.datasetPath.setText(path)
            self._checked_path = path
            self._changed()

    def _path_edited(self):
        path = self.datasetPath.text().strip()
        text = self.datasetCombo.currentText()
        if path and path != self._checked_path and USER_DATA.get(text, ("", ""))[1] == "folder":
            self._checked_path = path
            self._folder_ok(path)
        self._changed()

    def _folder_ok(self, path: str) -> bool:
        problem = image_folder_problem(path)
        if problem:
            self.problem.emit(problem, f"folder: {path}\nimage files read: {', '.join(IMAGE_SUFFIXES)} "
                                       "(subfolders included), decoded with Pillow")
        return problem is None

    def _changed(self):
        values = self.values()
        live = {k: v for k, v in values.items() if SETTINGS[k].live and getattr(self.base, k) != v}
        pending = [k for k, v in values.items() if not SETTINGS[k].live and getattr(self.base, k) != v]
        pending += list(self.extra)
        if live:
            self.base = self.base.replace(**live)
            self.liveChanged.emit(live)
        self.pendingLabel.setText(
            f"Needs Reset (a new model) to apply: {', '.join(map(label, pending))}." if pending else "")
        self.pendingChanged.emit(pending)
        try:
            self._show_matching_preset(self.config())
        except ValueError:
            pass   # settings no run can have: the box keeps what it said


def _title(field: str) -> str:
    """A form row's label: the setting's on-screen words, capitalised."""
    words = label(field)
    return words[0].upper() + words[1:]


def _mps() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())
