"""A training process that dies (kill -9, out of memory, a native crash) comes back: the window
says so in one sentence with the updates lost, reopens the run at its last state kept on disk,
and every button works afterwards."""
import os
import re
import signal

import numpy as np
import pytest
import torch
from PySide6.QtCore import QObject, Slot

from ganviz.core.checkpoint import load_checkpoint
from ganviz.core.config import Config
from ganviz.core.recovery import RecoveryStore, load_recovered
from ganviz.core.store import RunReader, StoreError
from ganviz.core.trainer import Trainer

MESSAGE = re.compile(r"^The training process stopped \(killed by signal 9, SIGKILL\); reopened the run at "
                     r"iteration (\d+), (\d+) updates? lost\.$")


def small_trainer():
    return Trainer(Config(dataset="ring", batch_size=32, hidden=16, noise_dim=8, probe_size=16))


# ------------------------------------------------------------------ the store, without Qt
def test_store_round_trip_appends_history_and_ignores_a_torn_tail(tmp_path):
    store, t = RecoveryStore(str(tmp_path)), small_trainer()
    t.train(3)
    store.write(t)
    t.train(4)
    store.write(t)
    kept = t.history.array()
    t.train(2)
    # a write cut short by a kill: rows appended to the history file, state.pt not replaced
    with open(tmp_path / store.history_file, "ab") as f:
        f.write(t.history.rows(len(kept), len(t.history)).tobytes()[:100])
    back = load_recovered(str(tmp_path))
    assert back.updates == 14 and back.iteration == 7
    np.testing.assert_array_equal(back.history.array(), kept)
    for a, b in zip(back.generator.parameters(), small_trainer_after(7).generator.parameters()):
        torch.testing.assert_close(a, b)


def small_trainer_after(iterations):
    t = small_trainer()
    t.train(iterations)
    return t


def test_a_new_run_replaces_the_history_file(tmp_path):
    store, t = RecoveryStore(str(tmp_path)), small_trainer()
    t.train(5)
    store.write(t)
    fresh = small_trainer()
    fresh.train(1)
    store.begin_run()
    store.write(fresh)
    assert sorted(os.listdir(tmp_path)) == [store.history_file, "state.pt"]
    back = load_recovered(str(tmp_path))
    assert back.updates == 2 and len(back.history) == 2


# ------------------------------------------------------------------ the window
@pytest.fixture
def window(process_window):
    """These tests kill the training process: the window runs one."""
    return process_window


class SeenProbe(QObject):
    def __init__(self, window, seen):
        super().__init__(window)
        self.window, self.seen = window, seen

    @Slot(str, bool)
    def died(self, *_):
        self.seen.append(self.window.history.record(len(self.window.history) - 1).update)


def wait_message(window, qtbot, pattern=MESSAGE):
    qtbot.waitUntil(lambda: window.errorDialog is not None and window.errorDialog.isVisible()
                    and pattern.search(window.errorDialog.text()) is not None, timeout=60000)
    return pattern.search(window.errorDialog.text())


def test_kill_9_mid_run_reopens_the_run_and_every_button_works(window, qtbot, tmp_path):
    window.toggle_training()
    qtbot.waitUntil(lambda: len(window.history) > 100, timeout=20000)
    window.toggle_training()   # a pause keeps the state on disk
    qtbot.waitUntil(lambda: not window.running, timeout=10000)
    qtbot.wait(300)
    paused_updates = len(window.history)
    paused_iteration = int(window.status["iteration"].text().split()[-1])
    window.toggle_training()
    qtbot.waitUntil(lambda: len(window.history) > paused_updates + 50, timeout=20000)
    seen = []   # the updates the window had seen when it learnt of the death
    # a slot of an object in the GUI thread, so it runs there after the batches queued before the
    # death, as the window's own does (a bare lambda ran in the worker thread, ahead of them)
    probe = SeenProbe(window, seen)
    window.worker.processDied.connect(probe.died)
    old_pid = window.worker.process.pid
    os.kill(old_pid, signal.SIGKILL)
    match = wait_message(window, qtbot)
    assert int(match.group(1)) == paused_iteration
    assert int(match.group(2)) == seen[0] - paused_updates and int(match.group(2)) >= 50
    assert window.worker.process.pid != old_pid and window.worker.process.is_alive()
    assert len(window.history) == paused_updates          # the history resumes where the state was kept
    quality = window.qualityPanel.history                  # and the quality measured before, from the store
    assert quality[0][0] == 0 and len(quality) >= 2 and all(q[0] <= paused_iteration for q in quality)   # from its start
    assert not window.running and window.trainAction.isEnabled()
    window.errorDialog.close()

    window.toggle_training()                               # Train
    qtbot.waitUntil(lambda: len(window.history) > paused_updates + 20, timeout=20000)
    assert window.history.record(paused_updates).update == paused_updates + 1
    window.step()                                          # Step (pauses first)
    qtbot.waitUntil(lambda: not window.running and "update:" in window.stepReadout.text(), timeout=20000)
    path = tmp_path / "after.pt"
    window.save_checkpoint(str(path))                      # Save
    qtbot.waitUntil(path.exists, timeout=20000)
    saved = load_checkpoint(path)
    assert saved.updates == len(window.history) > paused_updates
    old_info = window.run_info
    window.reset()                                         # Reset
    qtbot.waitUntil(lambda: window.run_info is not old_info, timeout=20000)
    assert len(window.history) == 0
    folder = window.recoveryFolder
    assert os.path.exists(os.path.join(folder, "state.pt"))
    window.shutdown()
    assert not os.path.exists(folder)                      # a clean close leaves nothing behind


def stored_rows(folder) -> int:
    try:
        with RunReader(folder) as reader:
            return len(reader)
    except StoreError:   # not written yet
        return 0


def test_a_death_in_the_first_seconds_reopens_the_run_in_its_own_folder(window, qtbot):
    """Killed before the state on disk got past the run's start, while its store already held
    rows: the run reopens from its start and goes on in its own folder (it was once taken for
    another run there, and its timeline stopped)."""
    window.toggle_training()
    folder = window.run_info.folder
    qtbot.waitUntil(lambda: stored_rows(folder) > 0, timeout=20000)
    os.kill(window.worker.process.pid, signal.SIGKILL)
    wait_message(window, qtbot)
    assert window.run_info.folder == folder                # not None: the store is open
    window.errorDialog.close()
    window.step()
    qtbot.waitUntil(lambda: not window.running and "update:" in window.stepReadout.text(), timeout=20000)
    qtbot.waitUntil(lambda: stored_rows(folder) == len(window.history), timeout=20000)


def test_unreadable_recovery_state_starts_a_new_run_with_the_same_settings(window, qtbot):
    window.step_iteration()
    qtbot.waitUntil(lambda: len(window.history) == 2, timeout=10000)
    qtbot.wait(500)   # the state after the step is on disk
    state = os.path.join(window.recoveryFolder, "state.pt")
    assert os.path.exists(state)
    with open(state, "r+b") as f:
        f.truncate(100)
    config = window.config
    os.kill(window.worker.process.pid, signal.SIGKILL)
    wait_message(window, qtbot, re.compile(r"^The training process stopped \(killed by signal 9, SIGKILL\) and "
                                           r"its last saved state could not be read \(.*state\.pt.*\), so a new "
                                           r"run started with the same settings\.$"))
    assert window.config == config and len(window.history) == 0
    window.errorDialog.close()
    window.step()
    qtbot.waitUntil(lambda: len(window.history) == 1, timeout=20000)


def test_a_process_that_keeps_dying_is_not_restarted_and_reset_tries_again(window, qtbot):
    killed = None
    for _ in range(3):   # each new process is killed as soon as it exists
        qtbot.waitUntil(lambda: window.worker.process.pid != killed and window.worker.process.is_alive(),
                        timeout=20000)
        killed = window.worker.process.pid
        os.kill(killed, signal.SIGKILL)
    wait_message(window, qtbot, re.compile(r"stopped again \(killed by signal 9, SIGKILL\), the third time "
                                           r"within 30 s, so ganviz did not start another; press Reset"))
    assert not window.worker.serving and not window.worker.process.is_alive()
    window.errorDialog.close()
    window.toggle_training()    # says what to do instead of doing nothing
    assert "press Reset" in window.errorDialog.text()
    window.errorDialog.close()
    old_info = window.run_info
    window.reset()
    qtbot.waitUntil(lambda: window.run_info is not old_info, timeout=60000)
    assert window.worker.serving and window.worker.process.is_alive()
    window.step()
    qtbot.waitUntil(lambda: len(window.history) == 1, timeout=20000)
