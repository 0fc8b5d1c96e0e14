"""The 2D field view: every layer draws, D steps change the heatmap only, G steps move the
points only, drawn and CSV data become the training data, the quality panel shows modes."""
import numpy as np
import probes


def field_state(window):
    f = window.fieldView
    heat = f.heatmap.image.copy()
    x, y = f.fake.getData()
    return heat, np.stack([x, y], 1).copy()


def wait_for_frame(window, qtbot, after):
    qtbot.waitUntil(lambda: window.fieldView.frames > after, timeout=10000)


def test_every_layer_draws_real_data(window, qtbot):
    frames = window.fieldView.frames
    window.worker.refresh()
    wait_for_frame(window, qtbot, frames)
    f = window.fieldView
    heat = f.heatmap.image
    assert heat.shape[0] >= 64 and heat.shape[1] >= 64
    assert np.isfinite(heat).all() and heat.std() > 0
    assert len(f.real.data) > 100
    assert len(f.fake.data) == 512
    ax, ay = f.arrows.getData()
    assert len(ax) == 6 * 512 and np.isfinite(ax).all()
    mx, my = f.manifold.getData()
    assert np.isfinite(mx).sum() >= 21 * 21
    assert all(c.isChecked() for c in f.layerChecks.values())
    f.layerChecks["heatmap"].setChecked(False)
    assert not f.heatmap.isVisible()


def test_d_step_changes_heatmap_only_and_g_step_moves_points_only(window, qtbot):
    frames = window.fieldView.frames
    window.worker.refresh()
    wait_for_frame(window, qtbot, frames)
    heat0, pts0 = field_state(window)

    frames = window.fieldView.frames
    window.step()   # D
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)
    wait_for_frame(window, qtbot, frames)
    heat1, pts1 = field_state(window)
    assert not np.array_equal(heat0, heat1), "a D step must change D's heatmap"
    assert np.array_equal(pts0, pts1), "a D step must not move G's samples"
    assert "heatmap changed" in window.stepExplanation.text()

    frames = window.fieldView.frames
    window.step()   # G
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("G update"), timeout=10000)
    wait_for_frame(window, qtbot, frames)
    heat2, pts2 = field_state(window)
    assert np.array_equal(heat1, heat2), "a G step must not change D's heatmap"
    assert not np.array_equal(pts1, pts2), "a G step must move G's samples"
    assert "points moved" in window.stepExplanation.text()


def test_drawn_stroke_becomes_training_data(window, qtbot):
    f = window.fieldView
    f.drawButton.setChecked(True)
    t = np.linspace(0, 1, 50)
    f.add_stroke(np.stack([t, 0.5 * t], 1))
    assert f.useDrawingButton.isEnabled()
    f.useDrawingButton.click()
    qtbot.waitUntil(lambda: window.run_info["dataset_name"] == "drawn", timeout=20000)
    data = window.worker.call(probes.points)
    assert np.abs(data[:, 1] - 0.5 * data[:, 0]).mean() < 0.1   # points lie along the stroke
    assert data[:, 0].min() > -0.2 and data[:, 0].max() < 1.2
    window.step()
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)


def test_loaded_csv_becomes_training_data(window, qtbot, tmp_path):
    path = tmp_path / "pts.csv"
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(300, 2)) * 0.1 + [3.0, -1.0]
    path.write_text("x,y\n" + "\n".join(f"{a},{b}" for a, b in pts))
    c = window.controls
    c.datasetPath.setText(str(path))
    c.datasetCombo.setCurrentText("CSV file of 2D points…")
    window.reset()
    qtbot.waitUntil(lambda: window.run_info["dataset_name"] == f"csv:{path}", timeout=20000)
    assert window.worker.call(probes.points).shape == (300, 2)
    qtbot.waitUntil(lambda: len(window.fieldView.real.data) > 0, timeout=10000)
    x, _ = window.fieldView.real.getData()
    assert abs(np.mean(x) - 3.0) < 0.2


def test_quality_panel_shows_modes_covered(window, qtbot):
    window.step_iteration()
    qtbot.waitUntil(lambda: "modes covered" in window.qualityPanel.modesLabel.text(), timeout=10000)
    assert "/8" in window.qualityPanel.modesLabel.text()
    assert "high quality" in window.qualityPanel.detailLabel.text()
    assert "modes" in window.findChild(type(window.qualityPanel.modesLabel), "qualityLabel").text()
