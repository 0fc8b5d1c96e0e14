import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (torch before the QApplication)


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    # Tiny networks on a shared 2-core machine: more torch threads only add contention.
    torch.set_num_threads(1)


@pytest.fixture
def window(qtbot):
    """A main window on a small, fast ring config; shut down (and checked) after the test."""
    from ganviz.core.config import Config
    from ganviz.gui.main_window import MainWindow

    w = MainWindow(Config(dataset="ring", batch_size=64, hidden=32, probe_size=64, decay_steps=0))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.run_info is not None and w.dataViews.currentWidget() is w.fieldView, timeout=30000)
    yield w
    w.shutdown()
    # A QThread still running when its owner goes away aborts the process: fail loudly instead.
    assert w.thread.isFinished(), "worker thread still running after shutdown"
    assert not w.worker.process.is_alive(), "training process still running after shutdown"
