"""The window as a person uses it: Train, Pause, Step D then G, live settings, closing."""
import numpy as np
import probes
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from ganviz.core.config import Config


def same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


def updates(window):
    return len(window.history)


def test_controls_have_stable_object_names(window):
    for name in ("trainPauseButton", "stepButton", "stepIterationButton", "resetButton", "saveButton",
                 "openButton", "exportButton", "scorePlot", "lossPlot", "accuracyPlot", "sampleView",
                 "phaseLabel", "stepReadout", "pipelineDiagram", "smoothingSlider", "logAxisCheck",
                 "datasetCombo", "objectiveCombo", "optimizerCombo", "lrDSpin", "lrGSpin", "beta1Spin",
                 "beta2Spin", "batchSizeSpin", "noiseDimSpin", "dStepsSpin", "labelSmoothingSpin",
                 "seedSpin", "deviceCombo", "iterationLabel", "rateLabel", "qualityLabel"):
        assert window.findChild(QWidget, name) is not None, name


def test_train_fills_plots_and_pause_stops(window, qtbot):
    qtbot.mouseClick(window.findChild(QWidget, "trainPauseButton"), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.scorePlot.series["d_real"].n > 10, timeout=20000)
    assert window.trainAction.text() == "Pause"
    x, y, _ = window.scorePlot.series["d_real"].view()
    assert np.all((y >= 0) & (y <= 1))
    assert window.lossPlot.series["loss_d"].n > 10 and window.lossPlot.series["loss_g"].n > 10
    qtbot.waitUntil(lambda: window.findChild(QLabel, "iterationLabel").text() != "iteration 0", timeout=5000)

    qtbot.mouseClick(window.findChild(QWidget, "trainPauseButton"), Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=5000)
    qtbot.wait(200)
    n = updates(window)
    qtbot.wait(400)
    assert updates(window) == n, "updates continued after Pause"
    assert window.trainAction.text() == "Train"


def test_step_runs_exactly_one_d_then_one_g_update(window, qtbot):
    nets = window.worker.call(probes.networks)   # parameters, from the training process
    g0, d0 = nets["G"], nets["D"]
    step = window.findChild(QWidget, "stepButton")
    assert window.stepAction.text() == "Step D"

    qtbot.mouseClick(step, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)
    nets = window.worker.call(probes.networks)
    assert nets["updates"] == 1 and updates(window) == 1
    g1, d1 = nets["G"], nets["D"]
    assert same(g0, g1), "a D step changed the generator"
    assert not same(d0, d1), "a D step did not change the discriminator"
    assert "G frozen" in window.stepReadout.text()
    qtbot.waitUntil(lambda: window.stepAction.text() == "Step G", timeout=5000)
    assert "Next: G update" in window.phaseLabel.text()

    qtbot.mouseClick(step, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("G update"), timeout=10000)
    nets = window.worker.call(probes.networks)
    assert nets["updates"] == 2 and updates(window) == 2
    g2, d2 = nets["G"], nets["D"]
    assert same(d1, d2), "a G step changed the discriminator"
    assert not same(g1, g2), "a G step did not change the generator"
    assert "D frozen" in window.stepReadout.text()
    qtbot.waitUntil(lambda: window.stepAction.text() == "Step D", timeout=5000)
    # stepping switches the plots to the step view, which marks the two steps differently
    window._redraw(every=True)
    assert window.stepViewCheck.isChecked() and window.scorePlot.step_view
    symbols = list(window.scorePlot._marks["d_fake"].data["symbol"])
    assert symbols == ["o", "t1"]


def test_step_iteration_runs_k_d_updates_then_g(window, qtbot):
    window.controls.dStepsSpin.setValue(3)
    qtbot.mouseClick(window.findChild(QWidget, "stepIterationButton"), Qt.LeftButton)
    qtbot.waitUntil(lambda: updates(window) == 4, timeout=10000)
    phases = [window.history.record(i).phase for i in range(4)]
    assert phases == ["D", "D", "D", "G"]


def test_learning_rate_change_while_training_takes_effect(window, qtbot):
    window.toggle_training()
    qtbot.waitUntil(lambda: updates(window) > 20, timeout=20000)
    window.controls.lrDSpin.setValue(0.0005)
    qtbot.waitUntil(lambda: window.history.record(len(window.history) - 1).lr == pytest.approx(0.0005)
                    or window.history.record(len(window.history) - 2).lr == pytest.approx(0.0005),
                    timeout=10000)
    assert window.running, "a live change must not stop training"
    window.toggle_training()
    qtbot.waitUntil(lambda: not window.running, timeout=5000)
    lr, has_state = window.worker.call(probes.optimizer_d)
    assert lr == pytest.approx(0.0005)
    assert has_state, "Adam state was reset by a live change"


def test_change_needing_new_model_says_so_and_applies_on_reset(window, qtbot):
    window.controls.noiseDimSpin.setValue(5)
    assert "noise dimension" in window.controls.pendingLabel.text()
    assert window.run_info.config.noise_dim != 5
    qtbot.mouseClick(window.findChild(QWidget, "resetButton"), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.run_info.config.noise_dim == 5, timeout=20000)
    assert window.worker.call(probes.networks)["G"]["net.0.weight"].shape[1] == 5
    qtbot.waitUntil(lambda: window.controls.pendingLabel.text() == "", timeout=5000)


def test_closing_while_training_is_clean(qtbot):
    from ganviz.gui.main_window import MainWindow
    w = MainWindow(Config(dataset="ring", batch_size=64, hidden=32))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.run_info is not None, timeout=30000)
    w.toggle_training()
    qtbot.waitUntil(lambda: len(w.history) > 10, timeout=20000)
    w.close()
    assert w.thread.wait(5000) and w.thread.isFinished()
    assert not w.worker.process.is_alive()


def test_plot_repaints_hundreds_of_times(window, qtbot):
    from ganviz.core.history import COLUMNS
    rows = np.zeros((1, len(COLUMNS)))
    for i in range(400):
        rows[0, COLUMNS.index("x")] = i
        rows[0, COLUMNS.index("d_real_after")] = 0.5 + 0.4 * np.sin(i / 10)
        rows[0, COLUMNS.index("phase")] = i % 2
        window.scorePlot.append(rows, rows[:, COLUMNS.index("phase")])
        window.scorePlot.redraw()
        window.scorePlot.repaint()
    assert window.scorePlot.series["d_real"].n == 400


def test_nan_pauses_with_message_and_goes_back(window, qtbot):
    window.step_iteration()
    qtbot.waitUntil(lambda: updates(window) == 2, timeout=10000)
    poisoned = window.worker.call(probes.identity)
    window.worker.call(probes.poison_discriminator)   # as a diverged run would
    window.toggle_training()
    qtbot.waitUntil(lambda: window.nanDialog is not None and window.nanDialog.isVisible(), timeout=10000)
    assert not window.running
    assert "NaN" in window.nanDialog.text()
    go_back = window.nanDialog.button(window.nanDialog.StandardButton.Yes)
    qtbot.mouseClick(go_back, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.worker.call(probes.identity) != poisoned, timeout=10000)
    assert all(np.isfinite(v).all() for v in window.worker.call(probes.networks)["D"].values())
    # the last good state is the run's start: its history goes back with it
    qtbot.waitUntil(lambda: updates(window) == 0, timeout=10000)
    assert window.worker.call(probes.networks)["updates"] == 0


def test_worker_exception_shows_dialog_and_app_keeps_running(window, qtbot):
    window.worker.call(probes.break_step)
    window.step()
    qtbot.waitUntil(lambda: window.errorDialog is not None and window.errorDialog.isVisible(), timeout=10000)
    assert "simulated failure" in window.errorDialog.text()
    window.worker.call(probes.mend_step)
    window.errorDialog.close()
    window.step()
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)


def test_export_csv_and_pngs(window, qtbot, tmp_path):
    window.step_iteration()
    qtbot.waitUntil(lambda: updates(window) == 2, timeout=10000)
    window.export_csv(str(tmp_path / "m.csv"))
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("update,iteration")
    window.export_pngs(str(tmp_path))
    for name in ("scores.png", "losses.png", "accuracy.png", "samples.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_preset_shows_its_settings_and_applies_on_reset(window, qtbot):
    c = window.controls
    c.presetCombo.setCurrentText("Vanilla GAN")
    assert "collapse" in c.presetDescription.text()
    assert c.lrDSpin.value() == 5e-5   # the fixture's D learns at 1e-3
    assert "activation" in c.pendingLabel.text()   # a new model: ReLU instead of the fixture's leaky ReLU
    assert window.run_info.config.activation == "leaky_relu"
    window.reset()
    qtbot.waitUntil(lambda: window.run_info.config.activation == "relu", timeout=20000)
    assert window.run_info.config.lr_d == 5e-5
    assert window.run_info.config.dataset == "ring"


def test_image_preset_on_2d_points_asks_for_a_folder(window, qtbot, tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog
    for i in range(4):
        Image.new("RGB", (70, 70), (60 * i, 0, 255 - 60 * i)).save(tmp_path / f"{i}.png")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    c = window.controls
    c.presetCombo.setCurrentText("Image folder 64 (DCGAN)")
    assert c.datasetCombo.currentText() == "Folder of images…"
    assert c.datasetPath.text() == str(tmp_path)
    window.reset()
    qtbot.waitUntil(lambda: window.run_info.config.model == "dcgan", timeout=30000)
    assert window.run_info.config.dataset == f"folder:{tmp_path}"
    assert tuple(window.run_info.sample_shape) == (3, 64, 64)
    assert window.errorDialog is None or not window.errorDialog.isVisible()


def test_save_and_open_checkpoint_restores_the_run(window, qtbot, tmp_path):
    window.step_iteration()
    qtbot.waitUntil(lambda: updates(window) == 2, timeout=10000)
    path = tmp_path / "run.pt"
    window.save_checkpoint(str(path))
    qtbot.waitUntil(path.exists, timeout=10000)
    saved = window.worker.call(probes.networks)["G"]
    window.step_iteration()
    qtbot.waitUntil(lambda: updates(window) == 4, timeout=10000)
    window.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: updates(window) == 2, timeout=20000)
    nets = window.worker.call(probes.networks)
    assert nets["updates"] == 2 and same(saved, nets["G"])
    assert window.stepAction.text() == "Step D"


def test_opening_a_corrupt_checkpoint_shows_message_and_keeps_run(window, qtbot, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    trainer = window.worker.call(probes.identity)
    window.open_checkpoint(str(bad))
    qtbot.waitUntil(lambda: window.errorDialog is not None and window.errorDialog.isVisible(), timeout=10000)
    assert "bad.pt" in window.errorDialog.text()
    assert window.worker.call(probes.identity) == trainer


def test_hover_shows_values_under_the_mouse(window, qtbot):
    window.step_iteration()
    qtbot.waitUntil(lambda: updates(window) == 2, timeout=10000)
    plot = window.scorePlot
    plot.redraw()
    centre = plot.getPlotItem().vb.sceneBoundingRect().center()
    plot._hover(centre)
    assert plot.readout.isVisible()
    assert "D(x):" in plot.readout.toPlainText() and "iteration" in plot.readout.toPlainText()


def test_long_history_is_drawn_as_a_bounded_envelope_that_keeps_every_extreme():
    from ganviz.gui.series import DISPLAY_BINS, RAW_POINTS, Series
    s = Series()
    rng = np.random.default_rng(0)
    y = rng.standard_normal(300_001)
    y[123_457] = 9.0      # one spike must stay visible
    for chunk in np.array_split(np.arange(len(y)), 97):   # arrives in batches, as in training
        s.extend(chunk.astype(float), y[chunk])
        dx, dy, _ = s.display()
    assert len(dx) <= 2 * DISPLAY_BINS + 2 * 2 * DISPLAY_BINS   # bins plus an unfinished tail
    assert dy.max() == 9.0 and dy.min() == y.min()
    assert np.all(np.diff(dx) >= 0) and dx[-1] == len(y) - 1
    x, newest, _ = s.view()   # memory stays flat: the newest points as they are, the rest in bins
    assert s.n == len(y) and not s.complete and RAW_POINTS <= len(newest) <= 4 * RAW_POINTS
    assert np.array_equal(newest, y[-len(newest):]) and np.array_equal(x, np.arange(len(y))[-len(newest):])
    assert len(s.x) <= 8 * RAW_POINTS and len(s._bins) <= 2 * DISPLAY_BINS
    assert not s.set_weight(0.5)   # cannot be smoothed again without the stored history


def test_the_quality_panel_says_when_its_scores_are_of_g_moving_average(qtbot):
    from ganviz.gui.quality_panel import QualityPanel
    panel = QualityPanel()
    qtbot.addWidget(panel)
    scores = {"modes_covered": 25, "n_modes": 25, "high_quality": 98.04, "reverse_kl": 0.0061}
    panel.show_metrics(scores, 1000)
    assert panel.detailLabel.text() == "high quality 98.0 %   reverse KL 0.006"
    panel.show_metrics(dict(scores, averaged=True), 2000)
    assert panel.detailLabel.text() == "high quality 98.0 %   reverse KL 0.006   (scored on G's moving average)"
    panel.show_metrics(dict(scores, high_quality=99.6, width=81.6), 3000)   # past real data's 98.9 %: narrow modes
    assert panel.detailLabel.text() == "high quality 99.6 %   reverse KL 0.006   mode width 82 % of real"
    assert "narrower than the data" in panel.detailLabel.toolTip()


def test_the_quality_panel_shows_image_measures_beside_real_data(qtbot):
    from ganviz.gui.quality_panel import QualityPanel
    panel = QualityPanel()
    qtbot.addWidget(panel)
    real = {"precision": 0.96, "recall": 0.96, "density": 0.99, "coverage": 0.97, "kid": -0.001,
            "nn_accuracy": 0.49, "memorisation": 1.0}
    early = {"precision": 0.02, "recall": 0.0, "density": 0.01, "coverage": 0.03, "kid": 1.2,
             "nn_accuracy": 1.0, "memorisation": 2.4, "real": real, "classes_covered": 0, "kl": 1.0,
             "histogram": np.full(10, 0.1)}
    panel.show_metrics(early, 60)
    assert panel.historyPlot.getPlotItem().vb.viewRange()[1] == pytest.approx([-0.02, 1.02])   # shares: 0 to 1
    assert panel.modesLabel.text() == "coverage 0.03 (real 0.97)"
    detail = panel.detailLabel.text()
    for part in ("digit classes 0/10", "precision 0.02 (real 0.96)", "recall 0.00 (real 0.96)", "density 0.01 (real 0.99)",
                 "KID 1.200 (real -0.001)", "1-NN accuracy 1.00 (real 0.49)", "memorisation 2.40 (real 1.00)"):
        assert part in detail, part
    later = dict(early, coverage=0.9, precision=0.93)
    panel.show_metrics(later, 900)
    x, y = panel.modesCurve.getData()
    assert list(x) == [60, 900] and list(y) == [0.03, 0.9]   # coverage over the iterations
    assert list(panel.hqCurve.getData()[1]) == pytest.approx([0.02, 0.93])   # precision beside it
