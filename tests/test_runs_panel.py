"""The Runs panel lists the runs under a folder as a tree by parent with their dataset,
objective, iteration and quality; checking a run overlays its curves in every plot, a child's
from its branch point on."""
import os
import shutil

import numpy as np
import pytest

from ganviz.core.branch import continue_run
from ganviz.core.evaluate import evaluate
from ganviz.gui.plots import AccuracyPlot, LossPlot, ScorePlot
from ganviz.gui.runs_panel import PALETTE, RunsPanel, quality_text

from test_branch import parent_run


@pytest.fixture
def runs(tmp_path):
    """runs/parent (600 updates, snapshots at 200 and 400) and runs/child (minimax from 200)."""
    folder = tmp_path / "runs"
    trainer = parent_run(folder / "parent", snapshots=(100, 200), iterations=300)
    child, store = continue_run(folder / "parent", 200, {"objective": "minimax"}, folder / "child")
    with store:
        store.add_records(child.train(150))
        store.maybe_snapshot(child, force=True)
        child.quality = evaluate(child, n=500)
        store.add_quality(child.updates, child.quality)
    return folder, trainer, child


def test_the_panel_lists_parent_and_child_as_a_tree(qtbot, runs):
    folder, parent, child = runs
    panel = RunsPanel(folder)
    qtbot.addWidget(panel)
    tree = panel.tree
    assert [tree.headerItem().text(i) for i in range(5)] == ["run", "dataset", "objective", "iteration", "quality"]
    assert tree.topLevelItemCount() == 1
    top = tree.topLevelItem(0)
    assert [top.text(i) for i in range(4)] == ["parent", "ring", "nonsaturating", "300 (600 updates)"]
    assert top.text(4) == ""                      # nothing measured for the parent
    assert top.childCount() == 1
    kid = top.child(0)
    assert [kid.text(i) for i in range(4)] == ["child", "ring", "minimax", "250 (500 updates)"]
    assert kid.text(4) == quality_text(child.quality) and "modes" in kid.text(4)
    assert kid.toolTip(4).endswith("\nmeasured at update 500") and "reverse KL" in kid.toolTip(4)
    assert "branched from" in kid.toolTip(0) and "at update 200" in kid.toolTip(0)
    # listed runs hold no file open between refreshes (a folder of hundreds of runs would run
    # out of file handles); a refresh reads them again
    open_dbs = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                if os.path.exists(f"/proc/self/fd/{fd}")]
    assert not [p for p in open_dbs if p.startswith(str(folder))]
    panel.refresh()
    assert [top.text(i) for i in range(4)] == ["parent", "ring", "nonsaturating", "300 (600 updates)"]


def test_checking_runs_overlays_their_curves_in_every_plot(qtbot, runs):
    folder, parent, child = runs
    panel = RunsPanel(folder)
    plots = [ScorePlot(), LossPlot(), AccuracyPlot()]
    for w in [panel] + plots:
        qtbot.addWidget(w)
    for plot in plots:
        panel.selection_changed.connect(plot.set_overlays)
    with qtbot.waitSignal(panel.selection_changed) as sent:
        panel.check("parent")
    assert list(sent.args[0]) == ["parent"]
    assert all(set(p.overlay_curves()) == {("parent", k) for k in p._overlay_keys} for p in plots)
    with qtbot.waitSignal(panel.selection_changed) as sent:
        panel.check("child")
    assert list(sent.args[0]) == ["parent", "child"]
    (_, colour_p), (_, colour_c) = sent.args[0]["parent"], sent.args[0]["child"]
    assert colour_p == PALETTE[0] and colour_c == PALETTE[1]
    score, loss, _ = plots
    curves = loss.overlay_curves()
    # the parent's loss_G from its first G update; the child's from its branch point (x 100)
    xp, yp = curves[("parent", "loss_g")]
    xc, yc = curves[("child", "loss_g")]
    history = parent.history.array()
    g_rows = history[history[:, 3] == 1]
    assert np.array_equal(xp, g_rows[:, 2]) and np.array_equal(yp, g_rows[:, 8])
    assert xc[0] == 101 and xc[-1] == 250 and len(xc) == 150
    # where both ran, minimax's loss_G is another number than non-saturating's
    assert not np.allclose(yc, yp[100:250])
    title = score.getPlotItem().titleLabel.text   # a swatch per run, in its colour, on one line
    assert all("#%02x%02x%02x" % c in title for c in (colour_p, colour_c)) and "(Runs tab)" in title
    # scores drawn: D(x) and D(G(z)) of each run (the D-update split is hidden)
    assert set(score.overlay_curves()) == {(r, k) for r in ("parent", "child") for k in ("d_real", "d_fake")}
    # unchecking removes a run's curves; the title no longer names it
    with qtbot.waitSignal(panel.selection_changed):
        panel.check("parent", False)
    assert {r for r, _ in loss.overlay_curves()} == {"child"}
    title = loss.getPlotItem().titleLabel.text
    assert "#%02x%02x%02x" % colour_p not in title and "#%02x%02x%02x" % colour_c in title


def test_refresh_finds_new_runs_and_follows_a_growing_one(qtbot, runs, tmp_path):
    folder, parent, child = runs
    panel = RunsPanel(folder)
    loss = LossPlot()
    for w in (panel, loss):
        qtbot.addWidget(w)
    panel.selection_changed.connect(loss.set_overlays)
    panel.check("child")
    grandchild, store = continue_run(folder / "child", None, {"lr_g": 2e-3}, folder / "grandchild")
    store.add_records(grandchild.train(10))
    store.commit()
    with qtbot.waitSignal(panel.selection_changed, timeout=1000, raising=False) as sent:
        panel.refresh()
    assert not sent.signal_triggered            # the checked run did not grow
    kid = panel.tree.topLevelItem(0).child(0)
    assert kid.childCount() == 1 and kid.child(0).text(0) == "grandchild"
    assert kid.child(0).text(3) == "260 (520 updates)"
    panel.check("grandchild")
    store.add_records(grandchild.train(5))
    store.close()
    with qtbot.waitSignal(panel.selection_changed) as sent:
        panel.refresh()                         # a checked run grew: its curves are sent again
    columns, _ = sent.args[0]["grandchild"]
    assert columns["x"][0] == 250.5 and columns["x"][-1] == 265   # from its branch point on
    # only the new rows were added to the drawn curve, and it is the whole run from its branch
    x, y = loss.overlay_curves()[("grandchild", "loss_g")]
    assert np.array_equal(x, np.arange(251, 266)) and len(y) == 15
    assert np.array_equal(y, grandchild.history.column("loss_g")[500:][1::2])
    shutil.rmtree(folder / "grandchild")
    with qtbot.waitSignal(panel.selection_changed) as sent:
        panel.refresh()
    assert list(sent.args[0]) == ["child"]


def test_a_missing_folder_and_a_damaged_run_are_said_plainly(qtbot, tmp_path, runs):
    panel = RunsPanel(tmp_path / "nowhere")
    qtbot.addWidget(panel)
    assert panel.tree.topLevelItemCount() == 0
    assert panel.status.text() == f"No runs in {tmp_path / 'nowhere'} yet (ganviz train writes them there)."
    folder = runs[0]
    os.makedirs(folder / "broken")
    (folder / "broken" / "run.db").write_bytes(b"not a database at all" * 100)
    panel.set_folder(folder)
    assert panel.tree.topLevelItemCount() == 1
    assert "broken: its run.db is damaged or not a ganviz run" in panel.status.text()


def test_runs_moved_together_keep_their_tree(qtbot, runs, tmp_path):
    folder = runs[0]
    moved = tmp_path / "elsewhere"
    shutil.move(folder, moved)        # the child's meta still names the old parent folder
    panel = RunsPanel(moved)
    qtbot.addWidget(panel)
    assert panel.tree.topLevelItemCount() == 1 and panel.tree.topLevelItem(0).child(0).text(0) == "child"



def test_the_hover_readout_names_each_overlaid_runs_value(qtbot, runs):
    from PySide6.QtCore import QPointF
    folder, parent, child = runs
    panel, loss = RunsPanel(folder), LossPlot()
    for w in (panel, loss):
        qtbot.addWidget(w)
    panel.selection_changed.connect(loss.set_overlays)
    panel.check("parent")
    panel.check("child")
    loss.resize(500, 400)
    loss.show()
    qtbot.waitExposed(loss)
    vb = loss.getPlotItem().vb

    def hover(x):
        loss._hover(vb.mapViewToScene(QPointF(x, 1.0)))
        return loss.readout.toPlainText() if loss.readout.isVisible() else ""

    text = hover(150)
    g = child.history.array()
    g = g[(g[:, 3] == 1) & (g[:, 2] == 150)][0]
    assert text.startswith("iteration 150") and f"child loss_G: {g[8]:.4g}" in text
    assert "parent loss_G:" in text and "parent loss_D:" in text
    text = hover(50)                  # before the branch point: the child has no value there
    assert "parent loss_G:" in text and "child" not in text
