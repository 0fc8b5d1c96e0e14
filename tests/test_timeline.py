"""The timeline (issue 12, part 3 and 5): scrubbing shows the stored frame of that moment, the
keys move it, A/B shows two moments, Play advances, export writes every frame, a folder that
is not a run is refused in words, and a folder still being written grows on screen.

Most tests drive the timeline with the window's own plots and panels but no training process;
two open folders in a real window."""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from ganviz.core.config import Config
from ganviz.core.evaluate import evaluate
from ganviz.core.models import build_models
from ganviz.core.render import tile
from ganviz.core.store import RunReader, RunStore
from ganviz.core.trainer import Trainer

RING = Config(dataset="ring", batch_size=64, hidden=32, probe_size=64, decay_steps=0)
DIGITS = Config(dataset="digits", batch_size=32, probe_size=32, decay_steps=0)


def train_into(store, trainer, iterations: int, frame_every: int, quality: bool = False):
    """Train, recording a frame (and, for the ring, the quality scores) every few iterations."""
    for i in range(iterations):
        store.add_records(trainer.step_iteration())
        if (i + 1) % frame_every == 0:
            store.maybe_frame(trainer, force=True)
            if quality:
                store.add_quality(trainer.updates, evaluate(trainer, n=500))
    store.commit()


def write_run(folder, config, iterations=60, frame_every=10, quality=False) -> str:
    trainer = Trainer(config)
    store = RunStore(folder, trainer)
    train_into(store, trainer, iterations, frame_every, quality)
    store.close()
    return str(folder)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("ring") / "run", RING, quality=True)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("digits") / "run", DIGITS, iterations=30, frame_every=5)


class Views:
    """The window's plots, quality panel and data views, with a timeline under them: what
    the timeline drives, without a training process."""

    def __init__(self, qtbot):
        from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

        from ganviz.gui.plots import AccuracyPlot, LossPlot, ScorePlot
        from ganviz.gui.quality_panel import QualityPanel
        from ganviz.gui.timeline import Timeline
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        self.plots = (ScorePlot(), LossPlot(), AccuracyPlot())
        self.live = QWidget(objectName="liveView")
        self.data_views = QStackedWidget()
        self.data_views.addWidget(self.live)
        self.quality = QualityPanel()
        self.timeline = Timeline(self.data_views, self.plots, self.quality)
        for w in (*self.plots, self.data_views, self.quality, self.timeline):
            layout.addWidget(w)
        qtbot.addWidget(self.widget)
        self.widget.resize(1000, 900)
        self.widget.show()


def g_fakes(reader, weights) -> np.ndarray:
    """G(fixed noise) from a frame's stored weights, computed here from scratch."""
    g, _ = build_models(reader.config, tuple(reader.sample_shape))
    g.load_state_dict({k: torch.from_numpy(v) for k, v in weights["G"].items()})
    g.eval()
    with torch.no_grad():
        return g(torch.from_numpy(np.asarray(reader.fixed_noise, np.float32))).numpy()


def test_scrubbing_a_2d_run_shows_each_moments_stored_field(qtbot, ring_run):
    reader = RunReader(ring_run)
    views = Views(qtbot)
    views.timeline.attach(reader, live=False)
    frames = reader.frame_updates()
    assert views.timeline.slider.maximum() == len(frames) - 1   # not live: the end is the last frame
    seen = []
    for index in (1, len(frames) // 2, 0):
        views.timeline.slider.setValue(index)
        update, payload = reader.frame(int(frames[index]))
        field = views.timeline.view.paneA.fieldView.current_field
        np.testing.assert_allclose(field.fake, g_fakes(reader, payload["weights"]), atol=1e-5)
        assert views.data_views.currentWidget() is views.timeline.view
        assert f"iteration {payload['iteration']} of" in views.timeline.label.text()
        for plot in views.plots:   # the cursor sits at the moment's iteration on every plot
            assert plot.cursor.isVisible() and plot.cursor.value() == payload["iteration"]
        seen.append(field.fake.copy())
    assert not np.allclose(seen[0], seen[1])   # different moments, different fields
    views.widget.grab().save("/tmp/timeline-scrub-ring.png")


def test_quality_panel_shows_the_scores_as_of_the_moment(qtbot, ring_run):
    reader = RunReader(ring_run)
    scores = reader.quality()
    views = Views(qtbot)
    views.timeline.attach(reader, live=False)
    frames = reader.frame_updates()
    index = int(np.searchsorted(frames, scores[2][0]))   # the frame of the third score
    views.timeline.slider.setValue(index)
    metrics = scores[2][1]
    assert views.quality.modesLabel.text() == f"modes covered {metrics['modes_covered']}/{metrics['n_modes']}"
    assert len(views.quality.history) == 3                   # the scores up to then, not after
    assert "not recorded" in views.quality.histPlot.getPlotItem().titleLabel.text


def test_scrubbing_a_digits_run_shows_each_moments_stored_samples(qtbot, digits_run):
    reader = RunReader(digits_run)
    views = Views(qtbot)
    views.timeline.attach(reader, live=False)
    frames = reader.frame_updates()
    for index in (0, len(frames) - 1, 2):
        views.timeline.slider.setValue(index)
        _, payload = reader.frame(int(frames[index]))
        np.testing.assert_array_equal(views.timeline.view.paneA.sampleView.last_tiled, tile(payload["samples"]))
    views.widget.grab().save("/tmp/timeline-scrub-digits.png")


def test_keys_move_the_moment(qtbot, digits_run):
    reader = RunReader(digits_run)
    views = Views(qtbot)
    views.timeline.attach(reader, live=False)
    frames = reader.frame_updates()
    slider = views.timeline.slider
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key_Home)
    assert views.timeline.shown[0] == frames[0]
    qtbot.keyClick(slider, Qt.Key_Right)
    qtbot.keyClick(slider, Qt.Key_Right)
    assert views.timeline.shown[0] == frames[2]
    qtbot.keyClick(slider, Qt.Key_Left)
    assert views.timeline.shown[0] == frames[1]
    qtbot.keyClick(slider, Qt.Key_End)
    assert views.timeline.shown[0] == frames[-1]


def test_live_end_position_gives_the_views_back(qtbot, digits_run):
    reader = RunReader(digits_run)
    views = Views(qtbot)
    views.timeline.attach(reader, live=True)
    frames = reader.frame_updates()
    assert views.timeline.slider.maximum() == len(frames)     # one past the frames: Live
    assert views.timeline.at_live and views.data_views.currentWidget() is views.live
    views.timeline.slider.setValue(1)
    assert not views.timeline.at_live and views.data_views.currentWidget() is views.timeline.view
    assert "the live run: End" in views.timeline.label.text()
    views.timeline.liveButton.click()
    assert views.timeline.at_live and views.data_views.currentWidget() is views.live
    assert not any(plot.cursor.isVisible() for plot in views.plots)


def test_a_live_run_growing_keeps_live_at_the_end_and_a_past_moment_where_it_is(qtbot, tmp_path):
    trainer = Trainer(DIGITS)
    store = RunStore(tmp_path / "run", trainer)
    try:
        train_into(store, trainer, 10, 5)
        views = Views(qtbot)
        timeline = views.timeline
        timeline.attach(RunReader(tmp_path / "run"), live=True)
        n = len(timeline.frames)
        train_into(store, trainer, 10, 5)
        assert timeline.refresh() and len(timeline.frames) == n + 2
        assert timeline.at_live and timeline.slider.value() == timeline.slider.maximum() == n + 2
        timeline.slider.setValue(1)
        shown = timeline.shown[0]
        train_into(store, trainer, 10, 5)
        assert timeline.refresh() and timeline.shown[0] == shown and timeline.slider.value() == 1
    finally:
        store.close()


@pytest.mark.parametrize("run", ["ring_run", "digits_run"])
def test_ab_shows_two_moments_side_by_side(qtbot, request, run):
    reader = RunReader(request.getfixturevalue(run))
    views = Views(qtbot)
    timeline = views.timeline
    timeline.attach(reader, live=True)
    frames = reader.frame_updates()
    timeline.slider.setValue(1)
    timeline.abButton.click()
    timeline.slider.setValue(len(frames) - 1)
    a, b = timeline.view.paneA, timeline.view.paneB
    assert b.isVisible() and (a.moment, b.moment) == (frames[1], frames[-1])
    it_a, it_b = reader.frame(int(frames[1]))[1]["iteration"], reader.frame(int(frames[-1]))[1]["iteration"]
    assert a.caption.text() == f"A: iteration {it_a} (pinned)" and b.caption.text() == f"B: iteration {it_b}"
    assert timeline.slider.maximum() == len(frames) - 1        # no Live position while comparing
    for plot in views.plots:                                    # B's cursor, and A's dashed
        assert (plot.cursor.value(), plot.pinCursor.value()) == (it_b, it_a) and plot.pinCursor.isVisible()
    if reader.dataset_kind == "points":
        assert not np.allclose(a.fieldView.current_field.fake, b.fieldView.current_field.fake)
    else:
        assert not np.array_equal(a.sampleView.last_tiled, b.sampleView.last_tiled)
    views.widget.grab().save(f"/tmp/timeline-ab-{reader.dataset_name}.png")
    qtbot.keyClick(timeline.slider, Qt.Key_Escape)             # the way out
    assert timeline.pinned is None and not b.isVisible()
    assert not any(plot.pinCursor.isVisible() for plot in views.plots)
    assert timeline.slider.maximum() == len(frames)


def test_play_runs_the_frames_to_the_end(qtbot, digits_run):
    reader = RunReader(digits_run)
    views = Views(qtbot)
    timeline = views.timeline
    timeline.attach(reader, live=False)
    timeline.speedCombo.setCurrentIndex(0)                      # 1 frame a tick
    shown = []
    timeline.momentChanged.connect(shown.append)
    timeline.playButton.click()                                 # at the end: plays from the start
    qtbot.waitUntil(lambda: not timeline.playButton.isChecked(), timeout=10000)
    assert shown == list(reader.frame_updates())                # every frame, in order, once
    assert timeline.playButton.text() == "Play"


def test_export_gif_has_one_frame_per_recorded_moment(qtbot, ring_run, tmp_path):
    from PIL import Image

    from ganviz.gui.timeline_export import export_frames
    reader = RunReader(ring_run)
    gif = tmp_path / "training.gif"
    export_frames(reader, str(gif))
    with Image.open(gif) as image:
        assert image.n_frames == len(reader.frame_updates())
    pngs = tmp_path / "frames"
    export_frames(reader, str(pngs), png=True)
    assert len(os.listdir(pngs)) == len(reader.frame_updates())


# ---------------------------------------------------------------- in the window

def test_opening_a_folder_that_is_not_a_run_says_so(window, tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    before = window.windowTitle()
    assert not window.open_run(str(tmp_path))
    assert window.errorDialog is not None and window.errorDialog.isVisible()
    assert str(tmp_path) in window.errorDialog.text()
    assert window.viewing is None and window.windowTitle() == before
    assert window.timeline.reader is window.liveReader   # still the window's own run's timeline
    window.errorDialog.close()
    window.export_gif(str(tmp_path / "training.gif"))         # the window's own run, as recorded so far
    from PIL import Image
    with Image.open(tmp_path / "training.gif") as image:
        assert image.n_frames == len(window.timeline.frames) >= 1


def test_an_opened_run_still_being_written_grows(window, qtbot, tmp_path):
    folder = tmp_path / "run"
    trainer = Trainer(RING)
    store = RunStore(folder, trainer)
    try:
        train_into(store, trainer, 20, 5)
        assert window.open_run(str(folder))
        rows, frames = len(window.history), len(window.timeline.frames)
        assert rows == len(RunReader(folder)) and window.scorePlot.series["d_real"].n > 0
        assert not window.trainAction.isEnabled() and window.resetAction.isEnabled()
        train_into(store, trainer, 20, 5)                      # the writer goes on
        qtbot.waitUntil(lambda: len(window.timeline.frames) > frames and len(window.history) > rows, timeout=5000)
        assert window.timeline.slider.value() == window.timeline.slider.maximum()   # follows the newest
        assert window.timeline.shown[0] == window.timeline.frames[-1]
        assert "still being written" in window.timeline.label.text()
    finally:
        store.close()
    window.grab().save("/tmp/timeline-window-ring.png")
    from PIL import Image
    window.export_gif(str(tmp_path / "training.gif"))          # from the window's Export menu
    with Image.open(tmp_path / "training.gif") as image:
        assert image.n_frames == len(window.timeline.frames)
    window.resetAction.trigger()                               # a new run: the recorded one gives way
    qtbot.waitUntil(lambda: window.viewing is None and window.trainAction.isEnabled(), timeout=30000)
    assert window.dataViews.currentWidget() is window.fieldView
    assert window.timeline.reader is window.liveReader and window.timeline.at_live   # the new run's own
    assert window.liveReader.folder.startswith(window.runsFolder)


def test_an_opened_run_cut_back_by_its_writer_is_read_again(window, qtbot, tmp_path):
    """A `ganviz train` killed and resumed from its last checkpoint drops the rows after it and
    trains on (here with another learning rate): the window following the folder shows the
    run as the folder now holds it, not the old tail."""
    folder = tmp_path / "run"
    trainer = Trainer(RING)
    store = RunStore(folder, trainer)
    train_into(store, trainer, 20, 5)
    checkpoint = copy.deepcopy(trainer.state_dict())      # iteration 20
    train_into(store, trainer, 20, 5)
    store.close()
    assert window.open_run(str(folder)) and len(window.history) == 80
    again = Trainer(RING)
    again.load_state_dict(checkpoint)
    again.update_config(lr_d=RING.lr_d / 4)
    store = RunStore(folder, again)                       # the rows after update 40 are dropped
    try:
        train_into(store, again, 5, 5)
        reader = RunReader(folder)
        assert len(reader) == 50
        qtbot.waitUntil(lambda: len(window.history) == 50 and window.viewing is not None
                        and window.viewing.folder == str(folder), timeout=10000)
        assert np.array_equal(window.history.array(), reader._rows(), equal_nan=True)
        x, y, _ = window.scorePlot.series["d_real"].view()
        assert x.max() == reader.columns(["x"])["x"].max()   # the curves end where the run does now
        assert "cut back by its writer" in window.statusBar().currentMessage()
        reader.close()
    finally:
        store.close()


def test_the_windows_own_run_is_recorded_and_can_be_scrubbed_back(window, qtbot):
    """Steps in the window are kept by the training service and read back by the timeline: the
    field at the first moment is the run's untrained G; the End gives the live views back."""
    timeline = window.timeline
    assert timeline.reader is window.liveReader and timeline.live
    first = window.fieldView.current_field
    for phase in "DGDG":
        window.step()
        qtbot.waitUntil(lambda: window.stepReadout.text().startswith(f"{phase} update"), timeout=10000)
    qtbot.waitUntil(lambda: len(timeline.frames) >= 5, timeout=5000)   # the start, and each Step
    reader = RunReader(window.liveReader.folder)
    assert len(reader) == len(window.history) == 4   # the window keeps what the store has
    np.testing.assert_array_equal(reader.columns(["d_fake_after"])["d_fake_after"],
                                  window.history.column("d_fake_after"))
    timeline.slider.setValue(0)
    update, payload = reader.frame(int(timeline.frames[0]))
    assert update == 0 and timeline.view.isVisible() and not timeline.at_live
    shown = timeline.view.paneA.fieldView.current_field
    np.testing.assert_allclose(shown.fake, g_fakes(reader, payload["weights"]), atol=1e-5)
    if first is not None:   # the live view drawn at the start showed the same G
        np.testing.assert_allclose(shown.fake, first.fake, atol=1e-5)
    timeline.slider.setValue(timeline.slider.maximum())   # Live
    assert timeline.at_live and window.dataViews.currentWidget() is window.fieldView
    reader.close()


def test_continue_from_here_branches_the_windows_run_and_lists_it_under_its_parent(window, qtbot):
    """Scrub back to a Step's moment, switch the loss to minimax in the panel, Continue from
    here: a child run starts from that moment's snapshot, records its parent, and the Runs tab
    shows it under the parent; checked, both runs' curves overlay the plots."""
    timeline = window.timeline
    parent = window.liveReader.folder
    for phase in "DGDG":
        window.step()
        qtbot.waitUntil(lambda: window.stepReadout.text().startswith(f"{phase} update"), timeout=10000)
    qtbot.waitUntil(lambda: len(timeline.frames) >= 5 and len(timeline._snapshots) >= 5, timeout=5000)
    timeline.slider.setValue(2)   # the moment after the second Step (update 2, iteration 1)
    assert timeline.shown[0] == 2 and timeline.branch_point() == (2, 1)
    assert timeline.continueButton.isEnabled() and timeline.continueButton.text() == "Continue from iteration 1"
    combo = window.controls.widgets["objective"]
    combo.setCurrentIndex(combo.findData("minimax"))
    timeline.continueButton.click()
    qtbot.waitUntil(lambda: window.run_info.folder != parent, timeout=30000)
    child = window.run_info
    assert child.config.objective == "minimax" and child.updates == 2 and len(window.history) == 2
    assert "snapshot at iteration 1 (update 2)" in window.statusBar().currentMessage()
    with RunReader(child.folder) as reader:
        assert (reader.parent, reader.parent_update) == (parent, 2)
    assert timeline.reader is window.liveReader and window.liveReader.folder == child.folder
    window.runsPanel.refresh()
    tree = window.runsPanel.tree
    roots = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    top = next(item for item in roots if item.text(0) == os.path.basename(parent))
    assert [top.child(i).text(0) for i in range(top.childCount())] == [os.path.basename(child.folder)]
    with qtbot.waitSignal(window.runsPanel.selection_changed):
        window.runsPanel.check(os.path.basename(parent))
    assert {run for run, _ in window.lossPlot.overlay_curves()} == {os.path.basename(parent)}


def test_scrubbing_names_the_states_of_the_moment_shown(window, qtbot, tmp_path):
    """A run whose quality said collapse late: scrubbed to a moment after it, the window names
    the collapse as recorded then; back before it, not; at Live, the live run's states again."""
    collapsed = {"modes_covered": 1, "n_modes": 8, "high_quality": 1.0, "reverse_kl": 2.0, "modes_held": 1,
                 "near_mode": 49.0, "held_share": 97.0, "spread": 80.0, "modes_nearest": 8}
    trainer = Trainer(RING.replace(probe_every=1))
    store = RunStore(tmp_path / "run", trainer)
    for i in range(260):
        store.add_records(trainer.step_iteration())
        if i in (99, 259):
            store.maybe_frame(trainer, force=True)
            store.add_quality(trainer.updates, evaluate(trainer, n=500) if i == 99 else collapsed)
    store.close()
    assert window.open_run(str(tmp_path / "run"))
    timeline = window.timeline
    qtbot.waitUntil(lambda: len(timeline.frames) == 3, timeout=5000)
    timeline.slider.setValue(2)   # iteration 260: the collapse was measured here
    text = window.stateLabel.text()
    assert "At iteration 260 (recorded):" in text and "Mode collapse" in text
    timeline.slider.setValue(1)   # iteration 100: before it
    assert "Mode collapse" not in window.stateLabel.text()


def test_a_recorded_moment_shows_ds_score_histogram_as_it_was(window, qtbot):
    """The service keeps D's score histogram with each quality record: scrubbed back, the
    panel draws the moment's histogram, not the live one."""
    timeline = window.timeline
    for phase in "DGDG":
        window.step()
        qtbot.waitUntil(lambda: window.stepReadout.text().startswith(f"{phase} update"), timeout=10000)
    qtbot.waitUntil(lambda: len(timeline.frames) >= 5 and len(timeline._scored) >= 4, timeout=5000)
    reader = RunReader(window.liveReader.folder)
    update, metrics = reader.quality()[1]
    reader.close()
    edges, real, fake = metrics["d_histogram"]
    index = int(np.searchsorted(timeline.frames, update))
    timeline.slider.setValue(index)
    panel = window.qualityPanel
    assert "(iteration" in panel.histPlot.getPlotItem().titleLabel.text
    np.testing.assert_array_equal(panel.realBars.opts["height"], real)
    np.testing.assert_array_equal(panel.fakeBars.opts["height"], fake)
