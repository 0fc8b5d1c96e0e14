"""The door: every command reaches the training service and every event comes back, the same
through both transports (a thread here, and a process of its own). No Qt."""
import os
import queue
import threading
import time

import numpy as np
import probes
import pytest

from ganviz.core.config import Config
from ganviz.protocol import messages as m
from ganviz.protocol import transports

SMALL = Config(dataset="ring", batch_size=32, hidden=16, probe_size=32, grid_size=16, decay_steps=0)
TIMEOUT = 30.0


class Client:
    """The window's side without a window: a reader thread queues the events; Batches are
    acknowledged as they arrive (unless auto_ack is off), as the window does."""

    def __init__(self, kind):
        self.transport = transports.start(kind)
        self.events: queue.Queue = queue.Queue()
        self.auto_ack = True
        self.ended = threading.Event()
        self.calls = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                event = self.transport.receive()
            except (EOFError, OSError):
                self.ended.set()
                return
            if isinstance(event, m.Batch) and self.auto_ack:
                self.send(m.Ack())
            self.events.put(event)

    def send(self, command):
        self.transport.send(command)

    def expect(self, kind, where=lambda e: True, timeout=TIMEOUT):
        """The next event of this kind that satisfies `where`; self.before: the events before it."""
        self.before = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind.__name__} within {timeout} s; got "
                                     f"{[type(e).__name__ for e in self.before]}") from None
            if isinstance(event, kind) and where(event):
                return event
            assert not isinstance(event, m.Failed) or kind is m.Failed, f"unexpected {event}"
            self.before.append(event)

    def quiet(self, seconds=0.3):
        """Events until none came for `seconds` (a paused service sends nothing unasked)."""
        seen = []
        while True:
            try:
                seen.append(self.events.get(timeout=seconds))
            except queue.Empty:
                return seen

    def call(self, fn, *args):
        self.calls += 1
        self.send(m.Call(self.calls, fn, args))
        result = self.expect(m.Result, lambda r: r.call_id == self.calls)
        assert result.ok, result.value
        return result.value

    def new_run(self, config=SMALL):
        self.send(m.Reset(config))
        run = self.expect(m.RunStarted)
        self.quiet()
        return run


@pytest.fixture(scope="module", params=["inprocess", "process"])
def client(request):
    c = Client(request.param)
    c.new_run()
    yield c
    c.send(m.Stop())
    assert c.ended.wait(TIMEOUT), "the service did not end after Stop"
    c.transport.join()
    assert not c.transport.alive()


# ---------------------------------------------------------------- one case per command
def reset(c, tmp_path):
    path = tmp_path / "points.csv"   # a file: its reading progress comes back
    np.savetxt(path, np.random.default_rng(0).normal(size=(300, 2)), delimiter=",")
    c.send(m.Reset(SMALL.replace(dataset=f"csv:{path}", seed=3)))
    progress = c.expect(m.Progress)
    assert progress.done == progress.total == os.path.getsize(path) and progress.name == str(path)
    run = c.expect(m.RunStarted)
    assert run.config == SMALL.replace(dataset=f"csv:{path}", seed=3)
    assert (run.dataset_kind, run.dataset_name, run.dataset_size) == ("points", f"csv:{path}", 300)
    assert run.updates == run.iteration == 0 and len(run.history) == 0 and run.next_phase == "D"
    assert run.real.shape == (300, 2) and run.fixed_noise.shape[1] == SMALL.noise_dim
    assert run.recovery is None
    assert c.expect(m.Running).on is False
    first = c.expect(m.Batch)
    assert first.metrics is not None and first.weights is not None and first.records == []
    c.new_run()


def play(c, tmp_path):
    c.send(m.Play())
    assert c.expect(m.Running).on is True
    batch = c.expect(m.Batch, lambda b: b.records)
    assert batch.updates >= len(batch.records) and batch.records[-1].update == batch.updates
    c.send(m.Pause())
    c.expect(m.Running, lambda r: not r.on)


def pause(c, tmp_path):
    c.send(m.Play())
    c.expect(m.Running, lambda r: r.on)
    c.expect(m.Batch, lambda b: b.records)
    c.send(m.Pause())
    c.expect(m.Running, lambda r: not r.on)
    assert any(isinstance(e, m.Batch) for e in c.before)   # the last records and samples, before it
    c.quiet()
    paused_at = c.call(probes.updates)
    time.sleep(0.3)
    assert c.call(probes.updates) == paused_at


def step(c, tmp_path):
    before = c.call(probes.updates)
    c.send(m.Step())
    stepped = c.expect(m.Stepped)
    assert stepped.record.update == before + 1 and c.call(probes.updates) == before + 1
    assert not any(isinstance(e, m.Stages) for e in c.quiet())
    c.send(m.Step(stages=True))    # slow motion: the same kind of update, its stages told
    stepped = c.expect(m.Stepped)
    stages = c.expect(m.Stages)
    assert stepped.record.update == stages.record.update == before + 2   # the Step it tells
    assert stages.values and all(isinstance(k, str) for k in stages.values)


def step_iteration(c, tmp_path):
    c.send(m.StepIteration())
    assert c.expect(m.Stepped).record.phase == "G"
    assert c.call(probes.next_phase) == "D"


def change_settings(c, tmp_path):
    c.send(m.ChangeSettings({"lr_d": 0.0005, "hidden": 8}))
    answer = c.expect(m.SettingsApplied)
    assert answer.applied == {"lr_d": 0.0005} and answer.needs_reset == ["hidden"]
    config = c.call(probes.config)
    assert config.lr_d == 0.0005 and config.hidden == SMALL.hidden
    c.new_run()


def save(c, tmp_path):
    path = tmp_path / "run.pt"
    c.send(m.Save(str(path)))
    assert c.expect(m.Saved).path == str(path) and path.exists()
    (tmp_path / "a-file").write_text("")
    c.send(m.Save(str(tmp_path / "a-file" / "run.pt")))   # a folder that is a file
    failed = c.expect(m.Failed)
    assert "a-file" in failed.message and failed.message.count("\n") == 0


def open_(c, tmp_path):
    path = tmp_path / "run.pt"
    c.send(m.StepIteration())
    c.expect(m.Stepped)
    saved_at = c.call(probes.updates)
    c.send(m.Save(str(path)))
    c.expect(m.Saved)
    c.send(m.StepIteration())
    c.expect(m.Stepped)
    c.send(m.Open(str(path)))
    run = c.expect(m.RunStarted)
    assert run.updates == saved_at == len(run.history) and c.call(probes.updates) == saved_at
    c.send(m.Open(str(tmp_path / "nope.pt")))
    assert c.expect(m.Failed).message.startswith("Cannot open")
    c.new_run()


def restore(c, tmp_path):
    c.new_run()                                    # its first state is the snapshot kept
    c.call(probes.poison_discriminator, float("inf"))
    c.send(m.Play())
    bad = c.expect(m.NonFinite)
    assert not bad.record.is_finite
    assert m.Running(False) in c.before   # training paused, then said why
    c.quiet()
    c.send(m.Restore())
    run = c.expect(m.RunStarted)
    assert run.updates == 0 and len(run.history) == 0
    c.send(m.Step())
    assert np.isfinite(c.expect(m.Stepped).record.loss_d)


def fresh_noise(c, tmp_path):
    c.send(m.FreshNoise(True))
    assert c.expect(m.Batch).weights is not None   # samples (here the field's weights) now
    c.send(m.FreshNoise(False))
    c.expect(m.Batch)


def send_all(c, tmp_path):
    c.send(m.SendAll())
    batch = c.expect(m.Batch)
    assert batch.metrics is not None and batch.histogram is not None and batch.weights is not None
    assert batch.updates == c.call(probes.updates)   # paused: the batch tells where the run stands


def send_samples(c, tmp_path):
    c.send(m.SendSamples())
    assert c.expect(m.Batch).weights is not None


def call(c, tmp_path):
    assert c.call(probes.identity) == c.call(probes.identity)   # one trainer, looked at twice
    c.calls += 1
    c.send(m.Call(c.calls, probes.fail, ()))
    result = c.expect(m.Result, lambda r: r.call_id == c.calls)
    assert not result.ok and result.value == "RuntimeError: asked to fail"


def recovery_folder(c, tmp_path):
    c.send(m.RecoveryFolder(str(tmp_path)))
    c.send(m.Step())
    c.expect(m.Stepped)
    c.call(probes.updates)   # answered after the Step's state was written
    assert (tmp_path / "state.pt").exists()
    c.send(m.RecoveryFolder(None))


def runs_folder(c, tmp_path):
    """Every run from now on is a folder under it: its rows, frames and quality, as the
    window saw them; a new process reopening the run goes on in the same folder."""
    from ganviz.core.store import RunReader
    c.send(m.RunsFolder(str(tmp_path / "runs")))
    c.send(m.Reset(SMALL))
    run = c.expect(m.RunStarted)
    assert run.folder and os.path.dirname(run.folder) == str(tmp_path / "runs")
    c.send(m.Step())
    stepped = c.expect(m.Stepped)
    c.send(m.StepIteration())
    c.expect(m.Stepped)
    c.send(m.Pause())   # the store commits at a pause
    kept = c.call(probes.updates)
    reader = RunReader(run.folder)
    try:
        assert len(reader) == kept == 2   # D, then the G that ends the iteration
        assert reader.columns(["d_fake_after"])["d_fake_after"][0] == stepped.record.d_fake_after
        last, frame = reader.frame(kept)
        assert last == kept and "weights" in frame   # the 2D field of the latest Step
        assert reader.quality()   # the quality panel's numbers of the Steps
    finally:
        reader.close()
    (tmp_path / "recovery").mkdir()
    c.send(m.RecoveryFolder(str(tmp_path / "recovery")))
    c.send(m.Step())
    c.expect(m.Stepped)
    c.call(probes.updates)
    c.send(m.Recover(SMALL, run.folder))   # as a new process does after a death
    again = c.expect(m.RunStarted)
    assert again.recovery.ok and again.folder == run.folder
    c.send(m.RunsFolder(None))
    c.send(m.Reset(SMALL))
    assert c.expect(m.RunStarted).folder is None   # no folder: nothing kept


def continue_from(c, tmp_path):
    """A branch of the window's own run at a Step's moment, with the minimax loss: a new run
    whose store names its parent and starts from that snapshot."""
    from ganviz.core.store import RunReader
    c.send(m.ContinueFrom(str(tmp_path), None))   # no runs folder kept: said plainly
    assert "no runs folder" in c.expect(m.Failed).message
    c.send(m.RunsFolder(str(tmp_path / "runs")))
    c.send(m.Reset(SMALL))
    parent = c.expect(m.RunStarted)
    for _ in range(3):
        c.send(m.Step())
        c.expect(m.Stepped)
    c.send(m.Play())
    c.expect(m.Batch, lambda b: b.updates >= 40)
    c.send(m.Pause())
    c.call(probes.updates)
    c.send(m.ContinueFrom(parent.folder, 3, {"objective": "minimax"}))
    child = c.expect(m.RunStarted)
    assert child.updates == 3 and child.config.objective == "minimax" and child.folder != parent.folder
    assert "snapshot at iteration 1 (update 3)" in child.note
    with RunReader(child.folder) as reader:
        assert (reader.parent, reader.parent_update) == (parent.folder, 3)
    c.send(m.ContinueFrom(parent.folder, 3, {"noise_dim": 5}))   # the networks would not fit
    assert "Cannot continue from there" in c.expect(m.Failed).message
    c.send(m.RunsFolder(None))


def recover(c, tmp_path):
    c.send(m.RecoveryFolder(str(tmp_path)))
    c.send(m.StepIteration())
    c.expect(m.Stepped)
    kept = c.call(probes.updates)
    c.send(m.Recover(SMALL))
    run = c.expect(m.RunStarted)
    assert run.recovery == m.RecoveryNote(ok=True) and run.updates == kept == len(run.history)
    c.send(m.RecoveryFolder(None))   # nothing kept: a fresh run with the fallback config, and why
    c.send(m.Recover(SMALL.replace(seed=9)))
    run = c.expect(m.RunStarted)
    assert run.recovery.ok is False and "no recovery state" in run.recovery.error
    assert run.updates == 0 and run.config.seed == 9


def ack(c, tmp_path):
    c.auto_ack = False
    try:
        c.send(m.Play())
        c.expect(m.Batch)
        unacked = [e for e in c.quiet(0.5) if isinstance(e, m.Batch)]
        assert not unacked, "a batch came before the last one was acknowledged"
        c.send(m.Ack())
        assert c.expect(m.Batch, timeout=5).records   # the records kept meanwhile
    finally:
        c.auto_ack = True
        c.send(m.Ack())
        c.send(m.Pause())
        c.expect(m.Running, lambda r: not r.on)


DIGITS_SMALL = Config(dataset="digits", batch_size=16, channels=8, noise_dim=8, probe_size=8, grid_size=16)


def explorer_case(ask):
    """On a small digits run (the explorer is for images); the ring run after, for the next cases."""
    def case(c, tmp_path):
        c.new_run(DIGITS_SMALL)
        try:
            ask(c)
        finally:
            c.new_run(SMALL)
    return case


def interpolate(c):
    c.send(m.Interpolate(1, 2, 5))
    path = c.expect(m.Explored)
    assert path.what == "path" and path.images.shape == (5, 1, 8, 8) and list(path.info["t"]) == [0, 0.25, 0.5, 0.75, 1]
    c.send(m.Interpolate(1, 2, 3))   # the same seeds, the same ends
    again = c.expect(m.Explored)
    np.testing.assert_allclose(again.images[[0, -1]], path.images[[0, -1]], atol=1e-5)   # batch size aside


def plane_sample(c):
    c.send(m.PlaneSample((1, 2, 3, 4), 0.25, 0.75))
    plane = c.expect(m.Explored)
    assert plane.what == "plane" and plane.images.shape == (1, 1, 8, 8) and plane.info["seeds"] == (1, 2, 3, 4)


def nearest_real(c):
    c.send(m.NearestReal(1, 2, 0.5, k=3))
    near = c.expect(m.Explored)
    assert near.what == "nearest" and near.images.shape == (4, 1, 8, 8)   # the sample, then 3 nearest
    assert np.all(np.diff(near.info["distances"]) >= 0) and near.info["ratio"] > 0


def stop(c, tmp_path):
    other = Client(c.transport.kind)   # a service of its own: this one serves the next case
    other.send(m.Stop())
    assert other.ended.wait(TIMEOUT)
    other.transport.join()
    assert not other.transport.alive()


def describe(c, tmp_path):
    """What a window attaching to `ganviz serve` is sent: the run as it stands, to it alone."""
    c.send(m.Step())
    c.expect(m.Stepped)
    c.send(m.Describe(7))
    started = c.expect(m.To)
    assert started.to == 7 and isinstance(started.event, m.RunStarted)
    assert len(started.event.history) == started.event.updates >= 1
    running = c.expect(m.To)
    assert running.to == 7 and running.event == m.Running(False)
    c.expect(m.Batch, lambda b: b.metrics is not None)


CASES = {   # command -> (its case, the events the case checks)
    m.Reset: (reset, {m.Progress, m.RunStarted, m.Running, m.Batch}),
    m.Play: (play, {m.Running, m.Batch}),
    m.Pause: (pause, {m.Running, m.Batch, m.Result}),
    m.Step: (step, {m.Stepped, m.Stages}),
    m.StepIteration: (step_iteration, {m.Stepped}),
    m.ChangeSettings: (change_settings, {m.SettingsApplied}),
    m.Save: (save, {m.Saved, m.Failed}),
    m.Open: (open_, {m.RunStarted, m.Failed}),
    m.Restore: (restore, {m.NonFinite, m.RunStarted}),
    m.FreshNoise: (fresh_noise, {m.Batch}),
    m.SendAll: (send_all, {m.Batch}),
    m.SendSamples: (send_samples, {m.Batch}),
    m.Call: (call, {m.Result}),
    m.RecoveryFolder: (recovery_folder, {m.Result}),
    m.RunsFolder: (runs_folder, {m.RunStarted, m.Stepped, m.Result}),
    m.ContinueFrom: (continue_from, {m.Failed, m.RunStarted, m.Stepped, m.Batch, m.Result}),
    m.Recover: (recover, {m.RunStarted}),
    m.Ack: (ack, {m.Batch}),
    m.Interpolate: (explorer_case(interpolate), {m.Explored}),
    m.PlaneSample: (explorer_case(plane_sample), {m.Explored}),
    m.NearestReal: (explorer_case(nearest_real), {m.Explored}),
    m.Stop: (stop, set()),
    m.Describe: (describe, {m.To, m.Batch}),
}


def test_every_command_and_event_has_a_case():
    assert set(CASES) == set(m.COMMANDS)
    assert set().union(*(events for _, events in CASES.values())) == set(m.EVENTS)


@pytest.mark.parametrize("command", list(CASES), ids=lambda c: c.__name__)
def test_command_round_trips(client, command, tmp_path):
    client.quiet(0.1)
    CASES[command][0](client, tmp_path)
