"""Slow motion as a person uses it: Step plays the update as stages with its real numbers,
Next stage / N / Play move through them, the diagram follows, and the update is a plain Step's.
Also the words alone (stage_story), for every objective, and the header/diagram convention."""
import re

import numpy as np
import probes
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ganviz.core.config import OBJECTIVES, Config
from ganviz.core.history import COLUMNS
from ganviz.core.objectives import get_objective
from ganviz.core.trainer import Trainer
from ganviz.gui.stage_story import formula, story, sum_digits

NUMBER = re.compile(r"−?\d+\.\d+")


def numbers(text):
    """The signed numbers of "a − b + c = d" as printed ("− b" is minus b)."""
    text = text.replace("− ", "−")
    return [float(n.replace("−", "-")) for n in NUMBER.findall(text)]


def shown(value, text):
    """value appears in text at the precision text shows it with (3 to 6 decimals)."""
    for n in NUMBER.findall(text.replace("− ", "−")):
        decimals = len(n.split(".")[1])
        if float(n.replace("−", "-")) == round(value, decimals):
            return True
    return False


# ------------------------------------------------------------------ the words, no window
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("extra", [{}, {"label_smoothing": 0.1, "r1_gamma": 0.0}])
def test_every_stage_and_formula_is_true_of_the_update(objective, extra):
    config = Config(dataset="ring", batch_size=32, hidden=16, noise_dim=8, probe_size=32, device="cpu",
                    objective=objective, **extra)
    t = Trainer(config)
    obj = get_objective(objective)
    for phase in ("D", "G"):
        values = {}
        r = t.step(stages=values)
        assert r.phase == phase
        stages = story(r, values, obj, config)
        assert len(stages) == (6 if phase == "D" else 5)
        text = " ".join(s.text for s in stages)
        f = formula(phase, values, obj, config)
        # the formula's second line: each term's value, then the total, adding up as printed
        terms = numbers(f.splitlines()[1])
        if phase == "D":
            assert shown(r.loss_d, f.splitlines()[1].split("=")[-1]) and shown(r.loss_d, text)
            d = sum_digits(terms[:-1], terms[-1])
            assert round(sum(terms[:-1]), d) == round(terms[-1], d)
            assert shown(r.loss_d_real, f) and shown(r.loss_d_fake, f)
            assert len(terms) == 3 + (objective == "wgan_gp") + (config.r1_gamma > 0)
            assert "G is frozen and gets none" in text
            assert f"real output {values['real_score']:.3f}".replace("-", "−") in text
            assert f"fake output {values['fake_score']:.3f}".replace("-", "−") in text
        else:
            assert terms == [round(r.loss_g, 3)] and shown(r.loss_g, text)
            assert "through the frozen D into G" in text
        assert shown(r.d_fake_after, stages[-1].text)
        assert f"{values['weight_change']:.3g}" in text
        if obj.probability and objective != "least_squares":   # a probability: between 0 and 1
            assert 0 <= values["fake_score"] <= 1
        # the formula names the real objective's terms
        if objective in ("nonsaturating", "minimax"):
            assert "log D(x)" in f if phase == "D" else "D(G(z))" in f
        if objective == "hinge" and phase == "D":
            assert "max(0," in f
        if objective == "wgan_gp" and phase == "D":
            assert "‖∇D(x̂)‖" in f


def test_no_visible_change_is_said_so():
    from ganviz.gui.stage_story import moved
    assert moved(0.49712, 0.49749) == "0.497 (no change at this precision)"
    assert moved(0.4971, 0.4986) == "0.497 → 0.499"


# ------------------------------------------------------------------ in the window
def stage_index(window):
    return window.slowMotion.index


def turn_on(window, qtbot):
    check = window.findChild(QWidget, "slowMotionCheck")
    check.setChecked(True)
    assert window.findChild(QWidget, "slowMotionPanel").isVisible()


def staged_step(window, qtbot):
    n = len(window.history)
    qtbot.mouseClick(window.findChild(QWidget, "stepButton"), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.slowMotion.active and len(window.history) == n + 1, timeout=10000)
    return window.history.record(n)


def test_slow_motion_step_plays_stages_with_the_records_numbers(window, qtbot):
    turn_on(window, qtbot)
    record = staged_step(window, qtbot)
    assert record.phase == "D" and len(window.history) == 1, "a staged Step must be one update"
    sm, panel = window.slowMotion, window.findChild(QWidget, "slowMotionPanel")
    text = panel.findChild(QWidget, "slowMotionText")
    assert stage_index(window) == 0
    assert "real batch" in text.text() and "target 1" in text.text()
    assert window.pipeline.stage is sm.stages[0] and "real-D" in sum(window.pipeline.stage.forward, ())
    assert window.pipeline.caption.startswith("Slow motion: D update")

    seen = [text.text()]
    qtbot.mouseClick(window.findChild(QWidget, "nextStageButton"), Qt.LeftButton)
    assert stage_index(window) == 1 and window.pipeline.stage is sm.stages[1]
    seen.append(text.text())
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    for i in range(2, 6):
        qtbot.keyClick(window, Qt.Key_N)          # the key does what the button does
        assert stage_index(window) == i, f"N did not go to stage {i + 1}"
        seen.append(text.text())
    assert not window.findChild(QWidget, "nextStageButton").isEnabled(), "Next stage past the last stage"
    assert seen[2].startswith("loss_D = ") and shown(record.loss_d, seen[2])
    assert shown(record.loss_d_real, seen[2]) and shown(record.loss_d_fake, seen[2])
    assert "gradient flows back into D only" in seen[3]
    assert sm.stages[3].backward == (("D-score",),) and sm.stages[3].blocked == ("G-fake",)
    assert f"{sm.values['weight_change']:.3g}" in seen[4]
    assert shown(record.d_real_before, seen[5]) and shown(record.d_real_after, seen[5])
    assert shown(record.d_fake_after, seen[5])
    formula_text = panel.findChild(QWidget, "slowMotionFormula").text()
    assert shown(record.loss_d, formula_text.splitlines()[1])
    # the window's copy of the update is the training process's
    assert window.worker.call(probes.networks)["updates"] == 1

    # the G update, with P playing its stages to the end at the fastest speed
    window.findChild(QWidget, "stageSpeedSlider").setValue(6)
    record = staged_step(window, qtbot)
    assert record.phase == "G" and stage_index(window) == 0
    assert "frozen D" in text.text() and "target 1" in text.text()
    assert window.pipeline.phase == "G"
    qtbot.keyClick(window, Qt.Key_P)
    qtbot.waitUntil(lambda: stage_index(window) == 4, timeout=10000)
    assert shown(record.d_fake_after, text.text()) and "D did not change" in text.text()
    assert shown(record.loss_g, panel.findChild(QWidget, "slowMotionFormula").text())
    assert any("through the frozen D into G" in s.text for s in sm.stages)
    assert sm.stages[2].backward == (("D-score",), ("fake-D",), ("G-fake",))

    # Train ends the stage display cleanly; the diagram goes back to the running view
    window.toggle_training()
    assert not sm.active and window.pipeline.stage is None
    qtbot.waitUntil(lambda: window.running, timeout=5000)
    window.toggle_training()
    qtbot.waitUntil(lambda: not window.running, timeout=5000)
    assert window.pipeline.caption.startswith("Next:")


def test_leaving_slow_motion_ends_the_stages_and_step_is_plain_again(window, qtbot):
    turn_on(window, qtbot)
    staged_step(window, qtbot)
    window.findChild(QWidget, "slowMotionCheck").setChecked(False)
    assert not window.slowMotion.active and window.pipeline.stage is None
    assert not window.findChild(QWidget, "slowMotionPanel").isVisible()
    assert window.pipeline.phase == "G" and window.pipeline.caption.startswith("Next: G update")
    n = len(window.history)
    qtbot.mouseClick(window.findChild(QWidget, "stepButton"), Qt.LeftButton)
    qtbot.waitUntil(lambda: len(window.history) == n + 1, timeout=10000)
    qtbot.wait(300)
    assert not window.slowMotion.active


def test_staged_step_leaves_the_history_a_plain_step_does(window, qtbot):
    keep = [i for i, c in enumerate(COLUMNS) if c != "duration"]
    turn_on(window, qtbot)
    for _ in range(2):                                  # a D and a G update
        staged_step(window, qtbot)
    staged_rows = window.history.array()[:, keep]
    staged_nets = window.worker.call(probes.networks)
    staged_points = (window.scorePlot.series["d_real"].n, window.lossPlot.series["loss_d"].n)

    window.findChild(QWidget, "slowMotionCheck").setChecked(False)
    window.reset()                                      # the same config and seed: the same start
    qtbot.waitUntil(lambda: len(window.history) == 0 and window.next_phase == "D", timeout=20000)
    for i in range(2):
        qtbot.mouseClick(window.findChild(QWidget, "stepButton"), Qt.LeftButton)
        qtbot.waitUntil(lambda: len(window.history) == i + 1, timeout=10000)
    assert np.array_equal(window.history.array()[:, keep], staged_rows, equal_nan=True)
    nets = window.worker.call(probes.networks)
    for net in ("G", "D"):
        for k in nets[net]:
            assert np.array_equal(nets[net][k], staged_nets[net][k]), f"{net}.{k} differs"
    assert (window.scorePlot.series["d_real"].n, window.lossPlot.series["loss_d"].n) == staged_points


def test_header_and_diagram_both_show_the_next_update_and_reset_has_no_last(window, qtbot):
    from PySide6.QtGui import QAction
    keys = [a.shortcut().toString() for a in window.findChildren(QAction) if not a.shortcut().isEmpty()]
    assert "N" in keys and "P" in keys and len(keys) == len(set(keys)), f"clashing shortcuts: {keys}"
    assert "Next: D update" in window.phaseLabel.text() and "Last" not in window.phaseLabel.text()
    assert window.pipeline.phase == "D" and window.pipeline.caption.startswith("Next: D update")
    qtbot.mouseClick(window.findChild(QWidget, "stepButton"), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.stepAction.text() == "Step G", timeout=10000)
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=5000)
    assert "Next: G update" in window.phaseLabel.text() and "Last update: D (update 1)" in window.phaseLabel.text()
    assert window.pipeline.phase == "G" and window.pipeline.caption.startswith("Next: G update")
    window.reset()
    qtbot.waitUntil(lambda: len(window.history) == 0 and window.next_phase == "D", timeout=20000)
    qtbot.waitUntil(lambda: "Next: D update" in window.phaseLabel.text(), timeout=5000)
    assert "Last" not in window.phaseLabel.text() and "Last" not in window.pipeline.caption
    assert window.pipeline.phase == "D"


@pytest.mark.parametrize("size", [(1280, 720), (1024, 700)])
def test_the_window_stays_usable_small_even_in_slow_motion(window, qtbot, size):
    """Slow motion's words and a narrow window's wrapped lines scroll beside the diagram: the
    window keeps the size it was given, the plots keep room for their data, and the stage
    controls stay in view."""
    window.resize(*size)
    turn_on(window, qtbot)
    for _ in range(3):
        staged_step(window, qtbot)
    qtbot.wait(300)
    assert window.size().toTuple() == size
    for plot in window.plots:
        assert plot.getPlotItem().vb.height() >= 40, plot.objectName()
        assert plot.getPlotItem().titleLabel.item.boundingRect().width() <= plot.width()   # no title cut
    assert window.fieldView.height() >= 150
    for name in ("nextStageButton", "playStagesButton"):
        button = window.findChild(QWidget, name)
        bottom = button.mapTo(window, button.rect().bottomLeft()).y()
        assert button.isVisible() and bottom < window.mainSplitter.mapTo(window, window.mainSplitter.rect().topLeft()).y() \
            + window.mainSplitter.sizes()[0], name
