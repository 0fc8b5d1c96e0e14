"""A long run keeps flat memory in the window: the run's history lives in its store; the
window keeps its newest rows and, per curve, the newest points and a bounded envelope, and
reads the rest back from the store when it needs them (smoothing again, Export)."""
import csv

import numpy as np
import pytest

from ganviz.core import history as history_module
from ganviz.core.history import COLUMNS
from ganviz.gui import series as series_module
from ganviz.gui.series import Series
from ganviz.session import run_session


@pytest.fixture
def small_limits(monkeypatch):
    """The limits of an hour-long run, scaled down to a few thousand updates."""
    monkeypatch.setattr(history_module, "KEEP_ROWS", 100)
    monkeypatch.setattr(run_session, "KEEP_ROWS", 100)
    monkeypatch.setattr(run_session, "RELEASE_INTERVAL", 0.0)
    monkeypatch.setattr(series_module, "RAW_POINTS", 64)
    monkeypatch.setattr(series_module, "DISPLAY_BINS", 50)


@pytest.mark.slow(seconds=5)
def test_a_long_run_keeps_its_newest_rows_and_reads_the_rest_back(small_limits, window, qtbot, tmp_path):
    window.trainAction.trigger()
    qtbot.waitUntil(lambda: len(window.history) > 1200, timeout=120000)
    window.trainAction.trigger()
    qtbot.waitUntil(lambda: not window.running, timeout=10000)
    qtbot.wait(300)
    h = window.history
    assert h.in_memory < 600 < len(h)   # the newest rows only, the rest in the store
    s = window.lossPlot.series["loss_d"]   # one point per D update
    assert not s.complete and s.r <= 4 * 64 and len(s._bins) <= 100

    # smoothing again reads the stored history: the curve is the full column's smoothing
    window.smoothingSlider.setValue(30)
    column = h.column("loss_d")
    x = h.column("x")
    whole = Series(keep_all=True)
    whole.set_weight(0.3)
    ok = np.isfinite(column) & (h.column("phase") == 0)
    whole.extend(x[ok], column[ok])
    assert s.n == whole.n
    np.testing.assert_allclose(s.view()[2], whole.view()[2][-s.r:])
    dx, dy, _ = s.display()
    assert dy.max() == column[ok].max() and dy.min() == column[ok].min()   # no extreme lost

    # Export writes every row, read back from the store
    path = tmp_path / "metrics.csv"
    h.write_csv(str(path))
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == COLUMNS and len(rows) == len(h) + 1
    assert [int(r[0]) for r in rows[1:]] == list(range(1, len(h) + 1))
