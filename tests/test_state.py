"""Coherent state and friendly errors, as a new user meets them: the preset box after Reset,
every view after Reset / Open / Use drawing, a sign of work while a run is built, plain error
sentences, the image-folder check, toolbar keys in number fields, words instead of field
names, and no Qt warning (the conftest fails a test on one)."""
import numpy as np
import probes
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from ganviz.core.config import Config
from ganviz.gui.controls import FOLDER_ENTRY, ControlPanel
from ganviz.gui.quality_panel import MODES_TITLE, NO_SCORE_TITLE


def updates(window):
    return len(window.history)


def choose_dataset(window, text):
    window.controls.datasetCombo.setCurrentText(text)


def started(window, qtbot, test, timeout=30000):
    qtbot.waitUntil(lambda: window.run_info is not None and window._loading is None and test(window.run_info),
                    timeout=timeout)


# ---------------------------------------------------------------- 1. presets
def test_preset_name_and_description_stay_after_reset(window, qtbot):
    c = window.controls
    assert c.presetCombo.currentText() == "Custom"   # the fixture's small config is no preset
    c.presetCombo.setCurrentText("Vanilla GAN")
    window.reset()
    started(window, qtbot, lambda info: info.config.lr_d == 5e-5 and info.config.activation == "relu")
    assert c.presetCombo.currentText() == "Vanilla GAN"
    assert "collapse" in c.presetDescription.text()

    c.presetCombo.setCurrentText("Default")   # back to the defaults
    window.reset()
    started(window, qtbot, lambda info: info.config.activation == "leaky_relu")
    assert window.run_info.config == Config(dataset="ring", probe_size=64)
    assert c.presetCombo.currentText() == "Default" and c.presetDescription.text()

    c.lrDSpin.setValue(5e-4)   # now the settings are no preset's
    assert c.presetCombo.currentText() == "Custom" and c.presetDescription.text() == ""


# ---------------------------------------------------------------- 2. every view after a new run
def test_new_run_clears_last_step_and_retitles_quality(window, qtbot):
    qtbot.waitUntil(lambda: window.qualityPanel.title == MODES_TITLE, timeout=10000)   # the ring
    window.step()
    qtbot.waitUntil(lambda: "Last update: D" in window.phaseLabel.text(), timeout=10000)
    choose_dataset(window, "moons")
    window.reset()
    started(window, qtbot, lambda info: info.dataset_name == "moons")
    assert "Last" not in window.phaseLabel.text() and "Last" not in window.pipeline.caption
    assert window.pipeline.caption.startswith("Next: D update")
    qtbot.waitUntil(lambda: window.qualityPanel.title == NO_SCORE_TITLE, timeout=10000)
    assert window.qualityPanel.modesLabel.text() == "no known modes for this data"
    assert window.qualityPanel.historyPlot.getPlotItem().vb.viewRange()[0] == [0, 1]   # not the ring's axis
    assert window.status["quality"].text() == ""
    assert window.qualityPanel.history == []


def test_use_drawing_names_the_drawing_and_reset_keeps_it(window, qtbot):
    points = np.random.default_rng(0).normal(size=(400, 2)) * 0.5
    choose_dataset(window, "moons")
    window.use_points(points, "drawn")
    started(window, qtbot, lambda info: info.dataset_name == "drawn")
    assert window.controls.datasetCombo.currentText() == "your drawing"
    assert window.statusBar().currentMessage() == "New run on your drawing: 400 points"
    # Reset with the drawing chosen trains on the same points again
    window.controls.seedSpin.setValue(5)
    window.reset()
    started(window, qtbot, lambda info: info.config.seed == 5)
    assert window.errorDialog is None
    assert np.allclose(window.worker.call(probes.points), points.astype(np.float32))
    assert window.controls.datasetCombo.currentText() == "your drawing"
    # once another run replaced it, the drawing is no longer offered
    choose_dataset(window, "ring")
    window.reset()
    started(window, qtbot, lambda info: info.dataset_name == "ring")
    assert window.controls.datasetCombo.findText("your drawing") < 0


def test_open_says_where_the_run_stood_and_its_true_training_time(window, qtbot, tmp_path):
    for _ in range(4):
        window.step_iteration()
    qtbot.waitUntil(lambda: updates(window) == 8, timeout=20000)
    path = tmp_path / "run.pt"
    window.save_checkpoint(str(path))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Saved {path}", timeout=10000)
    trained = float(np.sum(window.history.column("duration")))
    assert trained > 0 and window.elapsed == pytest.approx(trained)

    window.reset()   # a new run starts from nothing
    started(window, qtbot, lambda info: len(info.history) == 0)
    assert window.elapsed == 0.0
    window.open_checkpoint(str(path))
    started(window, qtbot, lambda info: len(info.history) == 8)
    assert window.statusBar().currentMessage() == f"Opened {path} at iteration 4: ring, 50000 points"
    assert window.status["iteration"].text() == "iteration 4"
    assert window.elapsed == pytest.approx(trained)   # the time it had trained, not 0:00


# ---------------------------------------------------------------- 3. long work shows progress
def test_reset_says_at_once_that_it_is_loading_until_the_run_starts(window, qtbot):
    choose_dataset(window, "moons")
    window.reset()
    # at once, before any event is processed
    assert window.statusBar().currentMessage() == "Loading moons and building the models…"
    assert window.busyIndicator.isVisible()
    assert not window.resetAction.isEnabled() and not window.stepAction.isEnabled()
    assert not window.trainAction.isEnabled() and not window.controls.isEnabled()
    started(window, qtbot, lambda info: info.dataset_name == "moons")
    assert not window.busyIndicator.isVisible()
    assert window.resetAction.isEnabled() and window.controls.isEnabled()
    assert window.statusBar().currentMessage() == "New run: moons, 50000 points"


# ---------------------------------------------------------------- 4. one plain sentence
def test_bad_dataset_path_reads_as_a_plain_sentence_and_ends_the_loading(window, qtbot, tmp_path):
    missing = tmp_path / "nope.csv"
    window.controls.datasetCombo.blockSignals(True)
    window.controls.datasetCombo.setCurrentText("CSV file of 2D points…")
    window.controls.datasetCombo.blockSignals(False)
    window.controls.datasetPath.setText(str(missing))
    window.reset()
    assert window.busyIndicator.isVisible()
    qtbot.waitUntil(lambda: window.errorDialog is not None and window.errorDialog.isVisible(), timeout=10000)
    assert window.errorDialog.text() == f"Cannot read {missing}: no such file"
    assert "Traceback" in window.errorDialog.detailedText()
    assert not window.busyIndicator.isVisible() and window.resetAction.isEnabled()
    window.errorDialog.close()
    window.step()   # the old run is still there and usable
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)


def test_a_drawing_too_small_to_train_on_says_so_plainly(window, qtbot):
    window.use_points(np.zeros((1, 2)), "drawn")
    assert window.errorDialog.isVisible()
    assert window.errorDialog.text() == "Cannot train on this drawing: only 1 point(s); need at least 2."
    assert window._loading is None
    window.errorDialog.close()


def test_reset_without_a_chosen_file_asks_for_one(window, qtbot, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))   # picker cancelled
    choose_dataset(window, "NumPy .npy file…")
    window.reset()
    assert window.errorDialog.isVisible() and window.errorDialog.text().startswith("Choose a file")
    assert window._loading is None
    window.errorDialog.close()


# ---------------------------------------------------------------- 5. the image folder, when chosen
@pytest.mark.parametrize("content, says", [
    ({}, "has no images"),
    ({"broken.png": b"not a png at all", "notes.txt": b"hello"}, "None of the 1 image files"),
])
def test_a_folder_without_readable_images_is_refused_when_chosen(qtbot, tmp_path, monkeypatch, content, says):
    for name, data in content.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    panel = ControlPanel(Config())
    qtbot.addWidget(panel)
    problems = []
    panel.problem.connect(lambda message, details: problems.append(message))
    panel.datasetCombo.setCurrentText(FOLDER_ENTRY)      # opens the (patched) picker
    assert len(problems) == 1 and says in problems[0] and str(tmp_path) in problems[0]
    assert panel.datasetPath.text() == ""               # not taken


def test_a_folder_with_an_image_is_taken(qtbot, tmp_path, monkeypatch):
    from PIL import Image
    (tmp_path / "sub").mkdir()
    Image.new("L", (20, 20), 128).save(tmp_path / "sub" / "a.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    panel = ControlPanel(Config())
    qtbot.addWidget(panel)
    problems = []
    panel.problem.connect(lambda message, details: problems.append(message))
    panel.datasetCombo.setCurrentText(FOLDER_ENTRY)
    assert problems == [] and panel.dataset_spec() == f"folder:{tmp_path}"


def test_window_shows_the_folder_problem_in_a_dialog(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    choose_dataset(window, FOLDER_ENTRY)
    assert window.errorDialog.isVisible() and "has no images" in window.errorDialog.text()
    window.errorDialog.close()


# ---------------------------------------------------------------- 6. toolbar keys in number fields
def test_space_s_and_i_work_while_a_number_field_has_focus(window, qtbot):
    spin = window.controls.lrDSpin
    value = spin.value()
    window.activateWindow()
    spin.setFocus()
    qtbot.waitUntil(lambda: spin.hasFocus(), timeout=5000)
    qtbot.keyClick(spin, Qt.Key_S)
    qtbot.waitUntil(lambda: updates(window) == 1, timeout=10000)
    qtbot.keyClick(spin, Qt.Key_I)   # finishes the iteration: its G update
    qtbot.waitUntil(lambda: updates(window) == 2, timeout=10000)
    qtbot.keyClick(spin, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.running, timeout=10000)
    qtbot.keyClick(spin, Qt.Key_Space)
    qtbot.waitUntil(lambda: not window.running, timeout=10000)
    assert spin.value() == value and spin.hasFocus()


def test_typing_in_the_path_field_still_types(window, qtbot):
    window.controls.datasetCombo.blockSignals(True)
    window.controls.datasetCombo.setCurrentText("CSV file of 2D points…")
    window.controls.datasetCombo.blockSignals(False)
    window.controls._path_row.show()
    edit = window.controls.datasetPath
    window.activateWindow()
    edit.setFocus()
    qtbot.waitUntil(lambda: edit.hasFocus(), timeout=5000)
    qtbot.keyClicks(edit, "s i.csv")
    assert edit.text() == "s i.csv"
    qtbot.wait(300)
    assert updates(window) == 0 and not window.running


# ---------------------------------------------------------------- 7. words, not field names
def test_needs_reset_names_settings_in_words(qtbot):
    panel = ControlPanel(Config())
    qtbot.addWidget(panel)
    panel.presetCombo.setCurrentText("Vanilla GAN")
    text = panel.pendingLabel.text()
    assert text.startswith("Needs Reset")
    for words in ("R1 penalty weight", "final learning-rate fraction", "decay length", "activation"):
        assert words in text
    assert "_" not in text


# ---------------------------------------------------------------- 8. no Qt warning on Save
def test_save_reports_in_the_status_bar_without_a_qt_warning(window, qtbot, tmp_path):
    """The conftest fails this test if Qt warns (the old lambda touched the status bar from
    the worker's thread: "Cannot create children for a parent that is in a different thread")."""
    for i in range(3):
        path = tmp_path / f"run{i}.pt"
        window.save_checkpoint(str(path))
        qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Saved {path}", timeout=10000)


def test_the_warning_fixture_fails_a_test_when_qt_warns(pytester, monkeypatch):
    """Run a small suite with this conftest: a Qt warning fails its test; the allow-listed
    offscreen noise does not."""
    import pathlib
    pytester.makeconftest(pathlib.Path(__file__).with_name("conftest.py").read_text())
    pytester.makeini("[pytest]\nqt_api = pyside6\n")
    pytester.makepyfile(test_inner='''
        import threading

        from PySide6.QtCore import QObject, qWarning
        from PySide6.QtWidgets import QWidget

        def test_quiet(qtbot):
            w = QWidget()
            qtbot.addWidget(w)

        def test_offscreen_noise_is_allowed(qtbot):
            qWarning("This plugin does not support propagateSizeHints()")

        def test_real_warning(qtbot):
            # the bug the old Save had: a child made in another thread than its parent's
            parent = QObject()
            worker = threading.Thread(target=lambda: QObject(parent))
            worker.start()
            worker.join()

        def test_core_without_qt():
            pass
    ''')
    monkeypatch.delenv("GANVIZ_TEST_SHARD", raising=False)   # the inner suite runs whole
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*test_real_warning*", "*Qt warned during this test*",
                                 "*Cannot create children for a parent that is in a different thread*"])
