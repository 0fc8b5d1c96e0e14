"""The metric plots never hide data: reference labels outside the curves, a correct log axis,
titles that fit, and a step view that makes single updates visible. No training process: the
plots are fed history rows directly."""
import math

import numpy as np
import pytest
import pyqtgraph as pg

from ganviz.core.history import COLUMNS
from ganviz.core.objectives import get_objective
from ganviz.gui.plots import STEP_VIEW_UPDATES, AccuracyPlot, LossPlot, ScorePlot


def rows(n_iterations, start=0):
    """History rows of n iterations with k = 1: a D update at i + 0.5, a G update at i + 1."""
    out = []
    for i in range(start, start + n_iterations):
        for phase, x in ((0, i + 0.5), (1, i + 1.0)):
            r = np.full(len(COLUMNS), np.nan)
            r[COLUMNS.index("x")] = x
            r[COLUMNS.index("phase")] = phase
            if phase == 0:
                r[COLUMNS.index("loss_d")] = 1.3 + 0.01 * math.sin(x)
            else:
                r[COLUMNS.index("loss_g")] = 0.7 + 0.01 * math.cos(x)
            for name, v in (("d_real_after", 0.52), ("d_fake_after", 0.48 + 0.0001 * x),
                            ("acc_real", 0.6), ("acc_fake", 0.55)):
                r[COLUMNS.index(name)] = v
            out.append(r)
    return np.array(out)


def feed(plot, data):
    plot.append(data, data[:, COLUMNS.index("phase")])
    plot.redraw()


@pytest.fixture
def loss_plot(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.show()
    plot.set_objective(get_objective("nonsaturating"))
    return plot


def ticks(plot):
    return plot.getAxis("right")._tickLevels[0]


def test_equilibrium_lines_sit_at_their_values_on_a_log_axis(loss_plot, qtbot):
    feed(loss_plot, rows(50))
    linear = sorted(line.value() for line in loss_plot._lines)
    assert linear == pytest.approx(sorted([2 * math.log(2), math.log(2)]))
    loss_plot.set_log_y(True)
    logged = sorted(line.value() for line in loss_plot._lines)
    # the view is in log10 units: 1.386 sits at 0.142, not at 1.386 (= 24.3 on the axis)
    assert logged == pytest.approx(sorted([math.log10(2 * math.log(2)), math.log10(math.log(2))]))
    assert sorted(pos for pos, _ in ticks(loss_plot)) == pytest.approx(logged)
    loss_plot.set_log_y(False)
    assert sorted(line.value() for line in loss_plot._lines) == pytest.approx(linear)


def test_reference_labels_are_on_the_right_axis_not_over_the_curves(loss_plot):
    labels = {text for _, text in ticks(loss_plot)}
    assert labels == {"1.39", "0.693"}
    # no text drawn inside the plot over the data: the lines carry no label of their own
    assert not any(isinstance(item, pg.InfLineLabel) for item in loss_plot.getPlotItem().vb.allChildren())
    accuracy = AccuracyPlot()
    assert [text for _, text in ticks(accuracy)] == ["0.5"]   # a 0-1 axis: 0.5, not "50"
    assert "0.5: D is guessing" in accuracy.getPlotItem().titleLabel.text


@pytest.mark.parametrize("cls", [ScorePlot, LossPlot, AccuracyPlot])
def test_titles_fit_a_narrow_plot(qtbot, cls):
    plot = cls()
    qtbot.addWidget(plot)
    plot.resize(260, 220)
    plot.show()
    plot.set_step_view(True)
    if cls is LossPlot:
        plot.show_parts(True)        # the longest legend
    label = plot.getPlotItem().titleLabel
    qtbot.waitUntil(lambda: label.item.boundingRect().width() > 0)
    assert label.item.boundingRect().width() <= 260 - 20   # the plot minimum, less its margins
    assert label.item.boundingRect().height() <= label.maximumHeight() + 1   # no line cut off


def test_toggling_a_legend_restores_the_layout(loss_plot, qtbot):
    feed(loss_plot, rows(20))
    vb = loss_plot.getPlotItem().vb
    qtbot.wait(50)
    before = vb.sceneBoundingRect()
    loss_plot.show_parts(True)
    qtbot.wait(50)
    assert vb.sceneBoundingRect() != before     # a taller legend takes room...
    loss_plot.show_parts(False)
    qtbot.wait(50)
    assert vb.sceneBoundingRect() == before     # ...and gives it back


def test_step_view_zooms_on_the_last_updates_with_a_marker_each(qtbot):
    plot = ScorePlot()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.show()
    feed(plot, rows(600))
    (x0, x1), _ = plot.getPlotItem().vb.viewRange()
    assert x0 <= 0.5 and x1 >= 600                 # the whole history
    plot.set_step_view(True)
    (x0, x1), (y0, y1) = plot.getPlotItem().vb.viewRange()
    first = 600 - STEP_VIEW_UPDATES / 2 + 0.5      # the 24th update from the end
    assert x0 < first and x1 > 600 and x1 - x0 < 20
    assert y1 - y0 < 0.1                           # zoomed: a change of 0.0001 is a visible step
    marks = plot._marks["d_fake"].data
    assert len(marks) == STEP_VIEW_UPDATES
    assert list(marks["symbol"][-2:]) == ["o", "t1"]   # D update, then G update
    plot.set_step_view(False)
    (x0, x1), _ = plot.getPlotItem().vb.viewRange()
    assert x0 <= 0.5 and x1 >= 600                 # back to the whole history
    assert len(plot._marks["d_fake"].data) == 0


def test_step_view_shows_the_steps_as_recorded_not_smoothed(qtbot):
    plot = ScorePlot()
    qtbot.addWidget(plot)
    plot.set_smoothing(0.9)
    feed(plot, rows(100))
    plot.set_step_view(True)
    raw, smooth = plot._curves["d_fake"]
    x, y = smooth.getData()
    s = plot.series["d_fake"]
    assert np.array_equal(y[-5:], s.y[s.n - 5: s.n])
