"""Fault suite: what must never crash, hang or lose a good file."""
import os

import probes
import pytest

from ganviz.core.config import Config, ConfigError


@pytest.fixture
def window(process_window):
    """The fault suite runs against training in its own process, as users run it."""
    return process_window


@pytest.mark.slow(seconds=35)
def test_closing_mid_training_fifty_times_never_crashes_or_hangs(qtbot):
    from ganviz.gui.main_window import MainWindow
    for _ in range(50):
        w = MainWindow(Config(dataset="ring", batch_size=32, hidden=16, probe_size=16))
        qtbot.addWidget(w)
        w.show()
        w.toggle_training()
        qtbot.waitUntil(lambda: len(w.history) > 0, timeout=30000)
        w.close()
        assert w.thread.wait(5000), "worker thread did not stop"
        assert w.thread.isFinished()
        assert not w.worker.process.is_alive(), "training process did not stop"


def test_nan_pauses_and_leaves_the_saved_checkpoint_intact(window, qtbot, tmp_path):
    from ganviz.core.checkpoint import load_checkpoint
    window.step_iteration()
    qtbot.waitUntil(lambda: len(window.history) == 2, timeout=10000)
    path = tmp_path / "good.pt"
    window.save_checkpoint(str(path))
    qtbot.waitUntil(path.exists, timeout=10000)
    before = path.read_bytes()
    window.worker.call(probes.poison_discriminator, float("inf"))   # as a diverging run would
    window.toggle_training()
    qtbot.waitUntil(lambda: window.nanDialog is not None and window.nanDialog.isVisible(), timeout=10000)
    assert not window.running
    assert path.read_bytes() == before
    assert load_checkpoint(path).updates == 2


def test_saving_into_an_unwritable_place_shows_message_and_app_stays_usable(window, qtbot, tmp_path):
    target = tmp_path / "no-such-folder" / "run.pt"
    window.save_checkpoint(str(target))
    qtbot.waitUntil(lambda: window.errorDialog is not None and window.errorDialog.isVisible(), timeout=10000)
    assert "run.pt" in window.errorDialog.text()
    assert not target.exists()
    window.errorDialog.close()
    window.step()
    qtbot.waitUntil(lambda: window.stepReadout.text().startswith("D update"), timeout=10000)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_export_into_a_read_only_folder_shows_message(window, qtbot, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    window.export_csv(str(folder / "m.csv"))
    assert window.errorDialog is not None and "m.csv" in window.errorDialog.text()


def test_export_csv_to_a_missing_folder_shows_message(window, qtbot, tmp_path):
    window.export_csv(str(tmp_path / "missing" / "m.csv"))
    assert window.errorDialog.text() == (f"Cannot write {tmp_path / 'missing' / 'm.csv'}: "
                                         f"folder {tmp_path / 'missing'} does not exist.")


@pytest.mark.parametrize("changes, word", [
    ({"lr_d": -1.0}, "lr_d"), ({"batch_size": 0}, "batch_size"), ({"beta1": 1.5}, "beta1"),
    ({"objective": "magic"}, "objective"), ({"label_smoothing": 0.7}, "label_smoothing"),
])
def test_invalid_hyperparameters_are_refused_with_their_name(changes, word):
    with pytest.raises(ConfigError, match=word):
        Config(**changes)


def test_gui_refuses_invalid_settings_with_a_message(window, qtbot, monkeypatch):
    monkeypatch.setattr(window.controls, "values",
                        lambda: {"dataset": "ring", "batch_size": 0})
    trainer = window.worker.call(probes.identity)
    window.reset()
    assert window.errorDialog is not None and "batch size" in window.errorDialog.text()
    assert window.worker.call(probes.identity) == trainer


def test_training_process_dying_is_restarted_and_window_closes_cleanly(window, qtbot):
    window.toggle_training()
    qtbot.waitUntil(lambda: len(window.history) > 0, timeout=20000)
    dead = window.worker.process
    dead.kill()   # as the system would, out of memory
    window.step()   # a command while no process runs is dropped, not raised
    qtbot.waitUntil(lambda: window.errorDialog is not None and window.errorDialog.isVisible(), timeout=60000)
    assert window.errorDialog.text().startswith("The training process stopped (killed by signal 9, SIGKILL); "
                                                "reopened the run at iteration ")
    assert not window.running and not dead.is_alive() and window.worker.process.is_alive()
    window.errorDialog.close()
    window.step()
    qtbot.waitUntil(lambda: "update:" in window.stepReadout.text(), timeout=20000)
    # the fixture then shuts the window down and checks that the thread and process ended


def test_export_png_on_a_full_disk_reports_exactly_the_files_not_written(window, qtbot, tmp_path, monkeypatch):
    import errno
    import hashlib
    window.step_iteration()
    qtbot.waitUntil(lambda: len(window.history) == 2, timeout=10000)
    window.export_pngs(str(tmp_path))
    names = ["scores.png", "losses.png", "accuracy.png", "samples.png"]
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    digests = {n: hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in names}
    from ganviz.core import atomic
    real_write, real_mkstemp, files = os.write, atomic.tempfile.mkstemp, []

    def mkstemp(*args, **kwargs):
        files.append(kwargs.get("prefix"))
        return real_mkstemp(*args, **kwargs)

    def write(fd, data):   # the disk fills up after the first two files
        if len(files) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)
    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "write", write)
    window.statusBar().clearMessage()
    window.export_pngs(str(tmp_path))
    monkeypatch.undo()
    text = window.errorDialog.text()
    assert text == (f"Cannot write accuracy.png, samples.png in {tmp_path}: no space left on device "
                    "(scores.png, losses.png written)."), text
    assert "Wrote" not in window.statusBar().currentMessage()
    assert sorted(os.listdir(tmp_path)) == sorted(names)   # no temp file left
    for n in ("accuracy.png", "samples.png"):   # the earlier export, byte for byte
        assert hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() == digests[n]
