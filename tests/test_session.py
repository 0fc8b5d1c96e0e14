"""The session (session/run_session.py): the client's view of a run, fed real events from a
training service in this process (the in-process transport), with no window. It holds what the
window shows: the history rows, the status texts, running or not, the training time, the last
Step's words and the NonFinite dialog's."""
import numpy as np
import probes
import pytest
from test_door import SMALL, Client

from ganviz.core.history import COLUMNS
from ganviz.gui.readout import explain_step   # plain Python: the words the window shows of a Step
from ganviz.protocol import messages as m
from ganviz.session.run_session import PAUSED_TEXT, PRESS_STEP_TEXT, TRAINING_TEXT, RunSession


@pytest.fixture(scope="module")
def client():
    c = Client("inprocess")
    yield c
    c.send(m.Stop())
    assert c.ended.wait(30), "the service did not end after Stop"
    c.transport.join()


class Feed:
    """Hands each event to the session's method for it, as the window does; keeps what came."""

    def __init__(self, client, session):
        self.client, self.session = client, session
        self.records, self.batches, self.changes = [], [], []

    def until(self, kind, where=lambda e: True):
        event = self.client.expect(kind, where)
        for e in self.client.before + [event]:
            self.take(e)
        return event

    def take(self, e):
        s = self.session
        if isinstance(e, m.RunStarted):
            self.changes.append(s.on_run_started(e))
        elif isinstance(e, m.Batch):
            changed, rows = s.on_batch(e)
            assert len(rows) == len(e.records)
            self.records += e.records
            self.batches.append(e)
            self.changes.append(changed)
        elif isinstance(e, m.Stepped):
            self.changes.append(s.on_stepped(e, explain_step(e.record, s.objective, field=True)))
        elif isinstance(e, m.Running):
            self.changes.append(s.on_running(e))
        elif isinstance(e, m.NonFinite):
            self.dialog = s.on_non_finite(e)

    def settle(self):
        for e in self.client.quiet():
            self.take(e)


def test_a_scripted_run(client):
    session = RunSession()
    feed = Feed(client, session)
    client.send(m.Reset(SMALL))
    run = feed.until(m.RunStarted)
    feed.settle()
    assert session.config == SMALL and session.run_info is run and len(session.history) == 0
    assert session.status["iteration"] == "iteration 0" and session.status["device"] == f"device {run.device}"
    assert session.readout == PRESS_STEP_TEXT and not session.running and session.elapsed == 0.0
    assert session.phase_words()[0] == "Paused. Next: D update (G frozen)."   # a new run: no last update
    assert session.metrics is not None and session.status["quality"]   # the first batch's scores

    client.send(m.Step())
    stepped = feed.until(m.Stepped)
    feed.settle()
    assert list(session.history.column("update")) == [1.0]
    assert session.last_step == stepped.record and session.readout.startswith("D update")
    assert session.next_phase == feed.batches[-1].next_phase == "G"
    assert session.phase_words() == ("Paused. Next: G update (D frozen).   Last update: D (update 1)", "G",
                                     "Next: G update (Step G)")
    assert session.elapsed == pytest.approx(stepped.record.duration) and session.elapsed > 0

    client.send(m.StepIteration())
    feed.until(m.Stepped)
    feed.settle()
    assert session.status["iteration"] == "iteration 1" and session.next_phase == "D"
    assert session.phase_words()[0].endswith("Last update: G (update 2)")

    client.send(m.Play())
    feed.until(m.Running, lambda e: e.on)
    assert session.running and session.readout == TRAINING_TEXT and session.explanation == ""
    assert session.last_step is None   # the Step's words would describe an update long past
    assert session.phase_words()[0] == "Training: D and G take turns"
    feed.until(m.Batch, lambda b: b.iteration >= 30)
    client.send(m.Pause())
    feed.until(m.Running, lambda e: not e.on)
    feed.settle()
    assert not session.running and session.readout == PAUSED_TEXT

    # every update the service made, once, in order, and its time summed
    updates = client.call(probes.updates)
    assert list(session.history.column("update")) == list(range(1, updates + 1))
    assert [r.update for r in feed.records] == list(range(1, updates + 1))
    assert session.elapsed == pytest.approx(sum(r.duration for r in feed.records))
    last = feed.batches[-1]
    assert session.status["iteration"] == f"iteration {last.iteration}"
    assert session.status["epoch"] == f"epoch {last.epoch:.2f}" and session.status["rate"] == f"{last.ups:.0f} updates/s"
    assert session.phase_words()[0].startswith(f"Paused. Next: {last.next_phase} update")


def test_the_run_message_and_a_new_run_forgetting_the_old(client, tmp_path):
    session = RunSession()
    feed = Feed(client, session)
    client.send(m.Reset(SMALL))
    feed.until(m.RunStarted)
    for _ in range(3):
        client.send(m.StepIteration())
        feed.until(m.Stepped)
    feed.settle()
    path = str(tmp_path / "c.pt")
    client.send(m.Save(path))
    client.expect(m.Saved)
    client.send(m.Open(path))
    opened = feed.until(m.RunStarted)
    assert len(session.history) == opened.updates == 6
    assert session.elapsed == pytest.approx(float(np.nansum(opened.history[:, COLUMNS.index("duration")])))
    assert session.status["iteration"] == "iteration 3"
    assert session.run_message(("open", path), "ring") == f"Opened {path} at iteration 3: ring, 50000 points"
    assert session.run_message(None, "ring") == "Run at iteration 3: ring, 50000 points"
    client.send(m.Reset(SMALL))
    feed.until(m.RunStarted)
    assert len(session.history) == 0 and session.elapsed == 0.0 and session.metrics is None
    assert session.status["quality"] == session.status["epoch"] == ""
    assert session.run_message(("reset", "ring"), "ring") == "New run: ring, 50000 points"
    feed.settle()


def test_the_non_finite_path(client):
    session = RunSession()
    feed = Feed(client, session)
    client.send(m.Reset(SMALL))
    feed.until(m.RunStarted)
    feed.settle()
    client.call(probes.poison_discriminator, float("inf"))
    client.send(m.Play())
    bad = feed.until(m.NonFinite)
    assert not session.running   # training paused before it said why
    assert session.diverged == bad.record and not bad.record.is_finite
    which = "loss_D" if bad.record.phase == "D" else "loss_G"
    assert feed.dialog == (f"{which} (or a score) became NaN or infinite in the {bad.record.phase} update of "
                           f"iteration {bad.record.iteration}. Training is paused.\n\n"
                           "Go back to the last good state (kept in memory every few seconds)?")
    feed.settle()
    client.send(m.Restore())
    feed.until(m.RunStarted)
    assert session.diverged is None and len(session.history) == 0
    feed.settle()


def test_states_are_named_at_most_once_a_second_while_training(client):
    now = [100.0]
    session = RunSession(clock=lambda: now[0])
    feed = Feed(client, session)
    client.send(m.Reset(SMALL))
    feed.until(m.RunStarted)
    feed.settle()
    client.send(m.Step())
    feed.until(m.Stepped)
    feed.settle()
    batch = [b for b in feed.batches if b.records][-1]
    session.states()
    session.on_running(m.Running(True))
    now[0] += 0.5
    assert "states" not in session.on_batch(batch)[0]   # training: the words would flicker
    now[0] += 0.6
    assert "states" in session.on_batch(batch)[0]
    session.states()   # the window names them when told to
    assert "states" not in session.on_batch(batch)[0]
    session.on_running(m.Running(False))
    assert "states" in session.on_batch(batch)[0]   # paused: every batch is news


def test_a_run_reopened_after_the_process_died_says_what_was_lost(client):
    session = RunSession()
    feed = Feed(client, session)
    client.send(m.Reset(SMALL))
    feed.until(m.RunStarted)
    for _ in range(4):
        client.send(m.StepIteration())
        feed.until(m.Stepped)
    feed.settle()
    seen = len(session.history)
    session.on_process_died("killed by signal 9, SIGKILL", restarting=True)
    kept = session.history.array()[:5]   # the recovery folder held the run as it was 3 updates earlier
    event = m.RunStarted(config=SMALL, device="cpu", dataset_kind="points", dataset_name="ring",
                         dataset_size=50000, sample_shape=(2,), fixed_noise=np.zeros((4, 2)), history=kept,
                         next_phase="G", iteration=2, updates=5, recovery=m.RecoveryNote(True))
    session.on_run_started(event)
    assert len(session.history) == 5 and seen == 8
    assert session.recovered_message() == ("The training process stopped (killed by signal 9, SIGKILL); reopened "
                                           "the run at iteration 2, 3 updates lost.")
    assert session.recovered_message() is None   # said once
    session.on_process_died("killed by signal 9, SIGKILL", restarting=True)
    session.on_run_started(m.RunStarted(**{**event.__dict__, "recovery": m.RecoveryNote(False, "no file")}))
    assert session.recovered_message() == ("The training process stopped (killed by signal 9, SIGKILL) and its "
                                           "last saved state could not be read (no file), so a new run started "
                                           "with the same settings.")
    session.on_process_died("killed", restarting=False)
    assert session.recovered_message() is None


def test_a_run_without_a_store_here_keeps_its_rows_in_a_file_not_in_memory(monkeypatch):
    """A window attached to a server (or whose runs folder cannot be written) has no store to
    read rows back from: its session writes them to a temporary file as they come, lets all but
    the newest go from memory, and reads them back whole."""
    from ganviz.core import history as history_module
    from ganviz.core.history import Record
    from ganviz.session import run_session
    monkeypatch.setattr(run_session, "KEEP_ROWS", 50)
    monkeypatch.setattr(history_module, "KEEP_ROWS", 50)
    now = [0.0]
    session = RunSession(clock=lambda: now[0])
    first = np.arange(30 * len(COLUMNS), dtype=np.float64).reshape(30, len(COLUMNS))
    first[:, COLUMNS.index("phase")] = 0
    session.on_run_started(m.RunStarted(SMALL, "cpu", "points", "ring", 10, (2,), np.zeros((4, 8), np.float32),
                                        first, "D", 15, 30))
    sent = []
    for batch in range(40):
        records = [Record(30 + 10 * batch + i + 1, 0, 0.5, "D", 0.0, *([0.25 * batch] * 13)) for i in range(10)]
        sent += records
        now[0] += 6.0   # past the release interval each time
        session.on_batch(m.Batch(records, "G", 0, 0, 0.0, 0.0, 0.0))
    history = session.history
    assert len(history) == 430 and history.in_memory <= 3 * 50
    np.testing.assert_array_equal(history.rows(0, 30), first)
    assert [history.record(i).update for i in range(30, 430)] == [r.update for r in sent]
    session.close()
