"""The window attached to `ganviz serve` over a real socket: it shows the server's run, its
controls steer it, Detach leaves it training there, a dropped link comes back with nothing lost."""
import socket
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QToolButton

from ganviz.protocol import messages as m
from ganviz.protocol.remote import SocketTransport
from serving import TOKEN, wait_for


def server_rows(served):
    return served.service.trainer.history.array()


@pytest.mark.slow(seconds=6)
def test_a_window_started_attached_shows_the_servers_run_and_steps_it(qtbot, served, tmp_path):
    """As `ganviz --connect HOST:PORT` opens it: no run of its own, the server's as it stands."""
    from ganviz.gui.main_window import MainWindow
    served.hub.inbox.put(m.Play())
    wait_for(lambda: served.updates > 100, what="100 updates on the server")
    served.hub.inbox.put(m.Pause())
    wait_for(lambda: not served.service.running)
    w = MainWindow(transport=SocketTransport.connect(served.address, TOKEN), runs_folder=str(tmp_path / "local"))
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.run_info is not None and len(w.history) == served.updates, timeout=20000)
        np.testing.assert_array_equal(w.history.array(), server_rows(served))
        assert "controlling the run on " + served.address in w.windowTitle()
        # said as of attaching, so still true while the run goes on
        assert f"Attached to {served.address} at iteration {served.service.trainer.iteration}: ring" \
            in w.statusBar().currentMessage()
        assert w.timeline.reader is None and not (tmp_path / "local").exists()   # nothing kept here
        before, phase = served.updates, w.next_phase
        assert w.findChild(QToolButton, "stepButton").text() == f"Step {phase}"
        qtbot.mouseClick(w.findChild(QToolButton, "stepButton"), Qt.LeftButton)
        qtbot.waitUntil(lambda: w.stepReadout.text().startswith(f"{phase} update"), timeout=10000)
        assert served.updates == before + 1
        np.testing.assert_array_equal(w.history.array(), server_rows(served))
    finally:
        w.shutdown()
    assert w.thread.isFinished()
    wait_for(lambda: not served.hub.clients, what="the window to leave")
    assert served.thread.is_alive()   # closing the window left the server training


@pytest.mark.slow(seconds=8)
def test_connect_then_detach_leaves_the_server_training_and_a_run_of_its_own_here(window, qtbot, served):
    assert window.connect_to_server(served.address, TOKEN)
    qtbot.waitUntil(lambda: window.run_info is not None and window.run_info.updates == served.updates
                    and window.attached_to == served.address, timeout=20000)
    window.toggle_training()   # Train, on the server
    wait_for(lambda: served.updates > 50, what="training on the server")
    qtbot.waitUntil(lambda: len(window.history) > 30, timeout=10000)
    window.detach()
    qtbot.waitUntil(lambda: window.attached_to is None and window.run_info is not None
                    and window.run_info.updates == 0, timeout=20000)   # a new run here
    assert window.windowTitle() == "ganviz: watch a GAN train"
    at_detach = served.updates
    wait_for(lambda: served.updates > at_detach + 50, what="the server to train on after Detach")
    window.step()   # the window's own run steps
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)
    assert len(window.history) == 1


@pytest.mark.slow(seconds=8)
def test_a_dropped_link_reconnects_and_the_window_has_every_row(window, qtbot, served):
    assert window.connect_to_server(served.address, TOKEN)
    qtbot.waitUntil(lambda: window.attached_to is not None and window.run_info is not None
                    and window.run_info.folder is None, timeout=20000)
    served.hub.inbox.put(m.Play())
    qtbot.waitUntil(lambda: len(window.history) > 100, timeout=20000)
    messages = []
    window.worker.connectionChanged.connect(messages.append)
    window.worker.transport.sock.shutdown(socket.SHUT_RDWR)   # the link drops
    qtbot.waitUntil(lambda: any(text.startswith("Lost the connection") for text in messages), timeout=10000)
    qtbot.waitUntil(lambda: "" in messages, timeout=20000)   # back
    served.hub.inbox.put(m.Pause())
    wait_for(lambda: not served.service.running)
    qtbot.waitUntil(lambda: len(window.history) == served.updates, timeout=20000)
    np.testing.assert_array_equal(window.history.array(), server_rows(served))


def test_connecting_to_a_server_that_does_not_answer_leaves_the_window_live_then_says_why(
        window, qtbot, monkeypatch):
    """Connect… waits for the answer off the GUI thread: the window's own run goes on drawing,
    and a server that never answers ends in a dialog naming it, with the run here untouched."""
    from ganviz.protocol import remote
    monkeypatch.setattr(remote, "CONNECT_TIMEOUT", 1.5)
    silent = socket.create_server(("127.0.0.1", 0))   # takes the connection, never says a word
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    try:
        qtbot.waitUntil(lambda: window.run_info is not None, timeout=20000)
        window.toggle_training()
        qtbot.waitUntil(lambda: len(window.history) > 0, timeout=10000)
        assert window.connect_to_server(address, TOKEN)
        assert window.statusBar().currentMessage().startswith(f"Connecting to {address}")
        assert not window.connectAction.isEnabled()
        rows = len(window.history)
        qtbot.wait(700)   # still connecting: the window's own run goes on arriving and drawing
        assert window.connecting is not None and len(window.history) > rows
        qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None
                        and window.errorDialog.isVisible(), timeout=10000)
        assert window.errorDialog.text().startswith(f"Cannot connect: {address} did not answer as a ganviz server")
        assert window.attached_to is None and window.connectAction.isEnabled()
        assert window.windowTitle() == "ganviz: watch a GAN train"
        window.errorDialog.close()
    finally:
        silent.close()


def test_a_watching_window_says_so_and_can_take_control(window, qtbot, served):
    first = SocketTransport.connect(served.address, TOKEN)   # another window, controlling
    try:
        assert window.connect_to_server(served.address, TOKEN)
        qtbot.waitUntil(lambda: "watching the run on " + served.address + ", 1 other window attached"
                        in window.windowTitle() and window.run_info is not None, timeout=10000)
        assert window.takeControlAction.isEnabled()
        # read-only while watching: nothing that would only be answered "this window is watching"
        assert not window.stepAction.isEnabled() and not window.trainAction.isEnabled()
        assert not window.controls.isEnabled()
        window.take_control()
        qtbot.waitUntil(lambda: "controlling" in window.windowTitle(), timeout=10000)
        assert not window.takeControlAction.isEnabled()
        assert window.stepAction.isEnabled() and window.controls.isEnabled()
    finally:
        first.send(m.Stop())


@pytest.mark.slow(seconds=12)
def test_over_a_slow_far_link_batches_are_throttled_and_nothing_is_lost(window, qtbot, served):
    """200 ms each way and 250 kB/s: the window acknowledges each batch a round trip (>= 0.4 s)
    later, so it gets at most ~2.5 batches a second, each carrying every record since the last
    (samples: the latest), and ends with every row the server has."""
    from serving import SlowLink
    link = SlowLink(served.address, delay=0.2, rate=250_000)
    try:
        assert window.connect_to_server(link.address, TOKEN)
        qtbot.waitUntil(lambda: window.attached_to == link.address and window.run_info is not None, timeout=20000)
        batches = []
        window.worker.batchReady.connect(lambda b: batches.append(len(b.records)))
        started = time.monotonic()
        served.hub.inbox.put(m.Play())
        qtbot.wait(4000)
        served.hub.inbox.put(m.Pause())
        wait_for(lambda: not served.service.running)
        qtbot.waitUntil(lambda: len(window.history) == served.updates, timeout=20000)
        took = time.monotonic() - started   # more than 4 s on a loaded machine: batches came all along
        np.testing.assert_array_equal(window.history.array(), server_rows(served))
        assert len(batches) <= took * 2.5 + 3, (batches, took)   # throttled by the round trip
        assert max(batches) > 10                              # each batch carries many records
    finally:
        link.close()
