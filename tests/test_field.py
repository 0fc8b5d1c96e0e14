"""The 2D field view: every layer draws, D steps change the heatmap only, G steps move the
points only, drawn and CSV data become the training data, the quality panel shows modes."""
import numpy as np
import probes
import pytest
import torch
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from ganviz.core.config import Config
from ganviz.core.field import (ARROW_COUNT, ARROW_FRACTION, ARROW_SPACING, Field, FieldMirror, arrow_segments,
                               compute_field, follow_extent, manifold_noise, network_weights)
from ganviz.core.presets import PRESETS, apply_preset
from ganviz.core.trainer import Trainer


def field_state(window):
    f = window.fieldView
    heat = f.heatmap.image.copy()
    x, y = f.fake.getData()
    return heat, np.stack([x, y], 1).copy()


def wait_for_frame(window, qtbot, after):
    """Until a new frame is drawn over the plane in view (the view follows the points, and a
    frame computed before it moved is followed by one over the new plane)."""
    f = window.fieldView
    qtbot.waitUntil(lambda: f.frames > after and np.allclose(f.current_field.bounds, f.bounds()), timeout=10000)


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
    assert 0 < len(ax) <= 6 * ARROW_COUNT and np.isfinite(ax).all()
    mx, my = f.manifold.getData()
    assert np.isfinite(mx).sum() >= 21 * 21
    assert all(c.isChecked() for name, c in f.layerChecks.items() if name != "change")
    assert not f.layerChecks["change"].isChecked() and not f.change.isVisible()   # off by default
    f.layerChecks["heatmap"].setChecked(False)
    assert not f.heatmap.isVisible()


def test_d_step_changes_heatmap_only_and_g_step_moves_points_only(window, qtbot):
    frames = window.fieldView.frames
    window.worker.refresh()
    wait_for_frame(window, qtbot, frames)
    # Hold the view still, as a user comparing two frames would (a pan does the same): a view
    # that follows the moved points shows D over another plane, which is not a change in D.
    window.fieldView.follow = False
    bounds0 = window.fieldView.current_field.bounds
    heat0, pts0 = field_state(window)

    frames = window.fieldView.frames
    window.step()   # D
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)
    wait_for_frame(window, qtbot, frames)
    heat1, pts1 = field_state(window)
    assert not np.array_equal(heat0, heat1), "a D step must change D's heatmap"
    assert np.array_equal(pts0, pts1), "a D step must not move G's samples"
    assert "the heatmap (D) changed" in window.stepExplanation.text()
    f = window.fieldView
    f.layerChecks["change"].setChecked(True)
    assert f.change.isVisible() and np.abs(f.change.image).max() > 0
    assert "from the last D update" in f.note.text()
    assert f.colorBar.axis.labelText == "change in D(x)"
    change1 = f.change.image.copy()

    frames = window.fieldView.frames
    window.step()   # G
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("G update"), timeout=10000)
    wait_for_frame(window, qtbot, frames)
    heat2, pts2 = field_state(window)
    assert window.fieldView.current_field.bounds == bounds0, \
        "a Step's words must not resize the field (at the narrowest window, 1015 px)"
    assert np.array_equal(heat1, heat2), "a G step must not change D's heatmap"
    assert not np.array_equal(pts1, pts2), "a G step must move G's samples"
    assert "the points (G) moved" in window.stepExplanation.text()
    assert np.array_equal(f.change.image, change1), "after a G step the layer still shows the last D update"
    assert "from the last D update" in f.note.text()


def test_drawn_stroke_becomes_training_data(window, qtbot):
    f = window.fieldView
    f.drawButton.setChecked(True)
    t = np.linspace(0, 1, 50)
    f.add_stroke(np.stack([t, 0.5 * t], 1))
    assert f.useDrawingButton.isEnabled()
    (x0, x1), _ = f.vb.viewRange()
    margin = 5 * 0.01 * (x1 - x0)   # 5 widths of the bump each drawn point becomes (drawing_samples)
    f.useDrawingButton.click()
    qtbot.waitUntil(lambda: window.run_info.dataset_name == "drawn", timeout=20000)
    data = window.worker.call(probes.points)
    assert np.abs(data[:, 1] - 0.5 * data[:, 0]).mean() < 0.1   # points lie along the stroke
    # the far tails of 20 000 bumps: quantiles, not the extremes (a 5-sigma point turns up)
    assert np.quantile(data[:, 0], 0.001) > -margin and np.quantile(data[:, 0], 0.999) < 1 + margin
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
    qtbot.waitUntil(lambda: window.run_info.dataset_name == f"csv:{path}", timeout=20000)
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


# ---------------------------------------------------------------- core-level and view-only tests
def small_trainer(**changes):
    torch.manual_seed(0)
    return Trainer(Config(dataset="ring", batch_size=64, hidden=32, probe_size=16, **changes))


def shafts(segments):
    """(start, end) of each arrow's shaft from arrow_segments' 6 points per arrow."""
    return segments[0::6], segments[1::6]


def test_arrows_are_few_spread_out_the_same_fakes_and_scaled_into_the_view():
    rng = np.random.default_rng(0)
    fake = rng.normal(size=(512, 2))
    push = rng.normal(size=(512, 2)) * np.logspace(-4, 1, 512)[:, None]   # sizes over 5 decades
    segments = arrow_segments(fake, push, view_size=3.0)
    start, end = shafts(segments)
    assert 50 < len(start) <= ARROW_COUNT <= 150
    picked = np.array([np.flatnonzero((fake == p).all(1))[0] for p in start])
    assert np.all(np.diff(picked) > 0), "taken in the fixed noise's order"
    gaps = np.linalg.norm(start[:, None] - start[None], axis=2) + np.eye(len(start)) * 9
    assert gaps.min() >= ARROW_SPACING * 3.0
    again = shafts(arrow_segments(fake + 0.001, push, view_size=3.0))[0]
    assert np.allclose(again, start + 0.001), "the next frame, points barely moved: the same arrows"
    length = np.linalg.norm(end - start, axis=1)
    assert length.max() <= ARROW_FRACTION * 3.0 + 1e-9 and ARROW_FRACTION <= 0.2
    # square-root scale: one a thousandth the size of the largest still shows at ~3 % of it
    sizes = np.linalg.norm(push[picked], axis=1)
    assert np.allclose(length, ARROW_FRACTION * 3.0 * np.sqrt(sizes / sizes.max()))
    assert length.min() > 0.02 * length.max()
    cos = np.sum((end - start) * push[picked], 1) / (length * sizes)
    assert np.allclose(cos, 1), "each arrow points the way G's loss pushes its fake"
    assert len(arrow_segments(fake, np.zeros_like(push), 3.0)) == 0

    blob = rng.normal(scale=0.03, size=(512, 2))   # a collapsed G: a few arrows, not a black wedge
    assert 1 <= len(shafts(arrow_segments(blob, push, 3.0))[0]) <= 10


def inside_warped_grid(points, grid):
    """Which points lie in some cell of a warped (rows, cols, 2) grid (each cell: 2 triangles)."""
    a, b, c, d = grid[:-1, :-1], grid[1:, :-1], grid[1:, 1:], grid[:-1, 1:]
    tris = np.concatenate([np.stack([a, b, c], -2).reshape(-1, 3, 2), np.stack([a, c, d], -2).reshape(-1, 3, 2)])
    p = points[:, None, :]
    v0, v1 = tris[None, :, 1] - tris[None, :, 0], tris[None, :, 2] - tris[None, :, 0]
    w = p - tris[None, :, 0]
    den = v0[..., 0] * v1[..., 1] - v0[..., 1] * v1[..., 0]
    den = np.where(np.abs(den) < 1e-12, np.nan, den)
    s = (w[..., 0] * v1[..., 1] - w[..., 1] * v1[..., 0]) / den
    t = (v0[..., 0] * w[..., 1] - v0[..., 1] * w[..., 0]) / den
    return ((s >= 0) & (t >= 0) & (s + t <= 1)).any(1)


def test_with_2d_noise_the_manifold_covers_the_fakes():
    t = small_trainer(noise_dim=2)
    t.train(150)
    f = compute_field(t, (-2, 2, -2, 2), resolution=16)
    inside = inside_warped_grid(f.fake, f.manifold)
    assert inside.mean() >= 0.95, f"only {inside.mean():.0%} of the fakes lie on the manifold grid"
    assert "slice" not in f.manifold_label and "[−2.5, 2.5]" in f.manifold_label
    assert "97.5 % of the noise" in f.manifold_label


def test_the_gan_lab_preset_has_2d_noise_and_a_manifold_over_it():
    config = apply_preset(Config(dataset="ring", batch_size=64), "GAN Lab (2-D noise)")
    assert config.noise_dim == 2 and config.hidden <= 32 and config.dataset == "ring"
    assert "noise square" in compute_field(Trainer(config), (-2, 2, -2, 2), resolution=8).manifold_label
    assert "ring" in PRESETS["GAN Lab (2-D noise)"].description


def test_with_more_noise_dims_the_manifold_is_labelled_as_the_slice_it_is():
    for dim, rest in ((64, 62), (5, 3)):
        f = compute_field(small_trainer(noise_dim=dim), (-2, 2, -2, 2), resolution=8)
        assert f.manifold_label == f"G manifold: a 2-D slice (z1, z2 from −2.5 to 2.5; other {rest} dims 0)"
    grid = manifold_noise(64, steps=5)
    assert grid.shape == (25, 64) and float(grid[:, 2:].abs().max()) == 0.0
    assert float(grid[:, :2].min()) == -2.5 and float(grid[:, :2].max()) == 2.5


def test_with_noise_clusters_the_manifold_is_one_clusters_slice_and_says_so():
    t = small_trainer(noise_clusters=12)
    t.train(20)
    f = compute_field(t, (-2, 2, -2, 2), resolution=8, manifold_steps=5)
    plane = manifold_noise(t.config.noise_dim, 5, clusters=12)
    assert float(plane[:, 0].abs().max()) == 0.0 and float(plane[:, 3:].abs().max()) == 0.0
    assert set(t.generator.cluster(plane).tolist()) == {6}   # z1 = 0: the middle cluster alone
    with torch.no_grad():
        np.testing.assert_array_equal(f.manifold.reshape(-1, 2), t.generator(plane).numpy())
    rest = t.config.noise_dim - 3
    assert f.manifold_label == ("G manifold: one of 12 noise clusters (z1 = 0 picks it), a 2-D slice "
                                f"(z2, z3 from −2.5 to 2.5; other {rest} dims 0)")
    # the window's own copy of the networks draws the same field
    mirror = FieldMirror(t.config, t.dataset.sample_shape, t.fixed_noise.numpy())
    mirror.load(network_weights(t))
    g = mirror.field((-2, 2, -2, 2), resolution=8)
    np.testing.assert_allclose(g.fake, f.fake, rtol=0, atol=1e-6)


def test_change_in_d_is_zero_without_a_d_update_and_the_update_itself_after_one():
    t = small_trainer()
    m = FieldMirror(t.config, t.dataset.sample_shape, t.fixed_noise.numpy())
    bounds = (-1.5, 1.5, -1.5, 1.5)
    weights_before = network_weights(t)
    m.load(weights_before)
    before = m.field(bounds, resolution=16)
    assert before.change is None and before.change_label == "change in D: shown after the next D update"

    m.note_records([t.step(fetch=True)])      # iteration 1's D update
    m.load(network_weights(t))
    after = m.field(bounds, resolution=16)
    assert np.abs(after.change).max() > 0
    assert np.allclose(after.change, after.heatmap - before.heatmap, atol=1e-7)
    top = np.abs(after.change).max()
    assert after.change_label == f"change in D(x) from the last D update (iteration 1), max |Δ| {top:.3g}"

    m.note_records([t.step(fetch=True)])      # a G update: the layer keeps the last D update's change
    m.load(network_weights(t))
    g_step = m.field(bounds, resolution=16)
    assert np.array_equal(g_step.change, after.change) and g_step.change_label == after.change_label

    # the view moved: the same update, over the new plane
    moved = m.field((0, 2, 0, 2), resolution=16)
    then = FieldMirror(t.config, t.dataset.sample_shape, t.fixed_noise.numpy())
    then.load(weights_before)
    assert np.allclose(moved.change, moved.heatmap - then.field((0, 2, 0, 2), resolution=16).heatmap, atol=1e-7)

    # a D update that left D as it was: no change anywhere
    d_weights = network_weights(t)["D"]
    record = t.step(fetch=True)
    assert record.phase == "D"
    t.discriminator.load_state_dict({k: torch.from_numpy(v) for k, v in d_weights.items()})
    m.note_records([record])
    m.load(network_weights(t))
    unchanged = m.field(bounds, resolution=16)
    assert np.abs(unchanged.change).max() == 0
    assert unchanged.change_label == "change in D(x) from the last D update (iteration 2), max |Δ| 0"


def test_several_d_updates_between_frames_are_counted_in_the_label():
    t = small_trainer()
    m = FieldMirror(t.config, t.dataset.sample_shape, t.fixed_noise.numpy())
    m.load(network_weights(t))
    m.field((-1, 1, -1, 1), resolution=8)
    m.note_records(t.train(3))
    m.load(network_weights(t))
    f = m.field((-1, 1, -1, 1), resolution=8)
    assert f.change_label.startswith("change in D(x) over the last 3 D updates (to iteration 3)")


def make_field(fake, bounds=(-1.5, 1.5, -1.5, 1.5)):
    rng = np.random.default_rng(1)
    return Field(bounds=bounds, heatmap=rng.random((8, 8)), fake=fake, push=rng.normal(size=fake.shape),
                 manifold=np.zeros((3, 3, 2)), probability=True, manifold_label="G manifold: test")


def visible(view, points):
    x0, x1, y0, y1 = view.bounds()
    return ((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)).mean()


def test_real_points_are_drawn_above_the_fakes_and_arrows(qtbot):
    from ganviz.gui.field_view import FieldView
    v = FieldView()
    qtbot.addWidget(v)
    assert v.real.zValue() > v.arrows.zValue() > v.fake.zValue() > v.manifold.zValue() > v.heatmap.zValue()
    assert v.change.zValue() > v.heatmap.zValue()
    assert v.real.opts["pen"].style() != Qt.NoPen, "real points have an outline"
    assert not v.layerChecks["change"].isChecked() and v.layerChecks["change"].objectName() == "changeLayerCheck"


def test_view_follows_drifting_fakes_until_the_user_moves_it(qtbot):
    from ganviz.gui.field_view import FieldView
    v = FieldView()
    qtbot.addWidget(v)
    v.resize(600, 500)
    v.show()
    qtbot.waitExposed(v)
    angle = np.linspace(0, 2 * np.pi, 400)
    v.show_real(np.stack([np.cos(angle), np.sin(angle)], 1))
    blob = np.random.default_rng(0).normal(scale=0.05, size=(512, 2))
    for step in range(30):                    # a collapsed blob drifting away to (6, 4.5)
        fake = blob + [0.2 * step, 0.15 * step]
        v.show_field(make_field(fake))
        assert visible(v, fake) >= 0.99 and visible(v, v._real) == 1.0
    assert v.bounds()[1] > 5

    # the user zooms with the wheel: the view stops following
    centre = v.plotWidget.viewport().rect().center()
    wheel = QWheelEvent(QPointF(centre), QPointF(v.plotWidget.viewport().mapToGlobal(centre)), QPoint(0, 0),
                        QPoint(0, 120), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(v.plotWidget.viewport(), wheel)
    assert not v.follow
    zoomed = v.bounds()
    for step in range(30, 40):
        v.show_field(make_field(blob + [0.2 * step, 0.15 * step]))
    assert v.bounds() == zoomed, "the view stays where the user put it"

    v.plot.autoBtn.clicked.emit(False)          # the "A" button: follow again
    fake = blob + [8.0, 6.0]
    v.show_field(make_field(fake))
    assert v.follow and visible(v, fake) >= 0.99 and visible(v, v._real) == 1.0

    # the blob comes back: the view shrinks back around the data
    v.show_field(make_field(blob))
    x0, x1, y0, y1 = v.bounds()
    assert min(x1 - x0, y1 - y0) < 4 and visible(v, blob) == 1.0


def test_change_layer_has_its_own_colour_scale_and_words(qtbot):
    from ganviz.gui.field_view import FieldView
    v = FieldView()
    qtbot.addWidget(v)
    field = make_field(np.zeros((10, 2)))
    field.change = np.linspace(-0.004, 0.012, 64).reshape(8, 8)
    field.change_label = "change in D(x) from the last D update (iteration 7), max |Δ| 0.012"
    v.show_field(field)
    assert v.colorBar.axis.labelText == "D(x) = P(real)" and v.note.text() == "G manifold: test"
    v.layerChecks["change"].setChecked(True)
    assert v.change.isVisible() and tuple(v.change.getLevels()) == pytest.approx((-0.012, 0.012))
    assert v.colorBar.axis.labelText == "change in D(x)" and tuple(v.colorBar.levels()) == pytest.approx((-0.012, 0.012))
    assert v.note.text() == "G manifold: test\n" + field.change_label
    v.layerChecks["manifold"].setChecked(False)
    assert v.note.text() == field.change_label
    v.layerChecks["change"].setChecked(False)
    assert v.colorBar.axis.labelText == "D(x) = P(real)" and tuple(v.colorBar.levels()) == (0.0, 1.0)


def test_follow_extent_moves_only_when_needed():
    real = np.array([[-1.0, -1.0], [1.0, 1.0]])
    first = follow_extent(real, None, None)
    assert first[0] < -1 and first[1] > 1
    assert follow_extent(real, real * 0.9, first) is None, "points inside: the view stays still"
    far = follow_extent(real, np.full((300, 2), 5.0), first)
    assert far[1] > 5 and far[3] > 5 and far[0] < -1
    assert follow_extent(real, np.zeros((300, 2)), far) is not None, "fakes back home: the view shrinks back"
