import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Every window keeps its runs in a store (runs/ by default): the tests' go to a folder of their own.
_RUNS = tempfile.mkdtemp(prefix="ganviz-test-runs-")
os.environ["GANVIZ_RUNS"] = _RUNS
atexit.register(shutil.rmtree, _RUNS, True)

import multiprocessing  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (torch before the QApplication)

from ganviz.service import process as _training_process  # noqa: E402

# A few hundred training processes start during the suite. Forked from a server that imported
# torch and the training code once (and torch._dynamo, which the first optimizer step imports:
# 830 modules) and ran a tiny run's first updates (warm_training.py), each is ready in 0.05 s
# instead of 3 s; they serve and close as spawned ones.
if "forkserver" in multiprocessing.get_all_start_methods():
    _training_process.START_METHOD = "forkserver"
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["ganviz.service.training", "torch._dynamo", "warm_training"])

pytest_plugins = ["pytester"]   # test_state runs a small suite to prove the Qt-warning fixture


def pytest_collection_modifyitems(config, items):
    """GANVIZ_TEST_SHARD="k/n" (set by `main.py test`): run the k-th of n shares of the suite, so
    that n pytest processes side by side take about as long: the tests marked slow(seconds=S)
    go, longest first, to the share with the fewest seconds so far; the others in turn."""
    shard = os.environ.get("GANVIZ_TEST_SHARD")
    if not shard:
        return
    k, n = (int(v) for v in shard.split("/"))
    seconds = {item.nodeid: item.get_closest_marker("slow").kwargs.get("seconds", 1)
               for item in items if item.get_closest_marker("slow")}
    share, load = {}, [0.0] * n
    for nodeid in sorted(seconds, key=lambda i: -seconds[i]):
        share[nodeid] = load.index(min(load))
        load[share[nodeid]] += seconds[nodeid]
    rest = [item.nodeid for item in items if item.nodeid not in share]
    share.update({nodeid: i % n for i, nodeid in enumerate(rest)})
    config.hook.pytest_deselected(items=[item for item in items if share[item.nodeid] != k])
    items[:] = [item for item in items if share[item.nodeid] == k]


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    # Tiny networks on a shared 2-core machine: more torch threads only add contention.
    torch.set_num_threads(1)


# Qt messages that say nothing about ganviz, allowed during GUI tests (all others fail them):
QT_NOISE = (
    # The offscreen platform (these tests' default) cannot resize a real window from its
    # size hints; on a real screen the message never appears.
    "This plugin does not support propagateSizeHints()",
)


class QtMessages:
    """Every warning, critical or fatal message Qt emits while installed (from any thread)."""

    def __init__(self, allowed=QT_NOISE):
        self.allowed = allowed
        self.caught: list[str] = []

    def _handler(self, mode, context, message):
        from PySide6.QtCore import QtMsgType
        if mode != QtMsgType.QtDebugMsg and mode != QtMsgType.QtInfoMsg \
                and not any(a in message for a in self.allowed):
            self.caught.append(f"{mode.name}: {message}")
        if self._previous is not None:   # pytest-qt's own capture keeps working
            self._previous(mode, context, message)

    def __enter__(self):
        from PySide6.QtCore import qInstallMessageHandler
        self._previous = qInstallMessageHandler(self._handler)
        return self

    def __exit__(self, *exc):
        from PySide6.QtCore import qInstallMessageHandler
        qInstallMessageHandler(self._previous)
        return False


@pytest.fixture(autouse=True)
def fail_on_qt_warning(request):
    """A GUI test (one that uses qtbot or qapp) fails when Qt warns during it, its teardown
    included: such warnings ("Cannot create children for a parent that is in a different
    thread") are bugs users see in their terminal."""
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    with QtMessages() as messages:
        yield
    if messages.caught:
        pytest.fail("Qt warned during this test:\n" + "\n".join(messages.caught), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def collect_in_the_gui_thread(qapp):
    """As the app does (gui/app.py): no cycle collection in the worker's or the service's
    thread, where freeing Qt objects deadlocks against the GUI thread."""
    from ganviz.gui.app import collect_in_the_gui_thread as install
    install(qapp)
    yield


def open_window(qtbot, transport, runs_folder):
    """A main window on a small, fast ring config, reaching training through `transport`;
    shut down (and checked) after the test."""
    from ganviz.core.config import Config
    from ganviz.gui.main_window import MainWindow

    w = MainWindow(Config(dataset="ring", batch_size=64, hidden=32, probe_size=64, decay_steps=0),
                   transport=transport, runs_folder=runs_folder)   # each test's runs of their own (not in tmp_path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.run_info is not None and w.dataViews.currentWidget() is w.fieldView, timeout=30000)
    yield w
    w.shutdown()
    # A QThread still running when its owner goes away aborts the process: fail loudly instead.
    assert w.thread.isFinished(), "worker thread still running after shutdown"
    assert not w.worker.transport.alive(), "training service still running after shutdown"


@pytest.fixture
def window(qtbot, tmp_path_factory):
    """The window with its training service in a thread of this process (no process to start)."""
    yield from open_window(qtbot, "inprocess", str(tmp_path_factory.mktemp("runs")))


@pytest.fixture
def served(tmp_path):
    """A `ganviz serve` in this process (tests/serving.py): a small ring run, a real socket."""
    from serving import Served
    s = Served(str(tmp_path))
    yield s
    s.close()


@pytest.fixture
def process_window(qtbot, tmp_path_factory):
    """The window with training in its own process, as users run it: for tests about the
    process (its death, its end, the fault suite)."""
    yield from open_window(qtbot, "process", str(tmp_path_factory.mktemp("runs")))
