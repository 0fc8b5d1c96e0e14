"""The training service, driven directly (no process, no window)."""
import numpy as np
import pytest

from ganviz.core.config import Config
from ganviz.protocol import messages as m
from ganviz.service.training import TrainingService
from ganviz.core.trainer import Trainer


class Outbox:
    """Stands in for the pipe to the window: keeps what the service sends."""

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)

    def poll(self, timeout=0):
        return False


def test_going_back_restores_the_snapshot_and_its_history():
    service = TrainingService(Outbox())
    service.start(Trainer(Config(dataset="ring", batch_size=64, probe_size=16, device="cpu")))
    for _ in range(3):
        service.execute(m.StepIteration())
    service.take_snapshot(force=True)
    kept = service.trainer.history.array()
    assert len(kept) == 6 and service.snapshot["history"] is None   # no second copy of the history
    for _ in range(2):
        service.execute(m.StepIteration())
    service.execute(m.Restore())
    t = service.trainer
    assert t.updates == 6 and len(t.history) == 6
    np.testing.assert_array_equal(t.history.array(), kept)
    service.execute(m.Step())      # and it trains on from there
    assert t.updates == 7


@pytest.mark.slow(seconds=8)
def test_a_service_with_a_store_keeps_only_the_newest_rows_in_memory(tmp_path, monkeypatch):
    """The run's history lives in its store: the training side keeps the newest rows only,
    and a Save still writes them all (read back from the store)."""
    from ganviz.core import history
    from ganviz.core.checkpoint import load_checkpoint
    monkeypatch.setattr(history, "KEEP_ROWS", 40)
    service = TrainingService(Outbox())
    service.execute(m.RunsFolder(str(tmp_path / "runs")))
    service.start(Trainer(Config(dataset="ring", batch_size=64, probe_size=16, device="cpu")))
    for _ in range(300):
        service.execute(m.StepIteration())
    t = service.trainer
    assert len(t.history) == 600 and t.history.in_memory < 200
    service.execute(m.Save(str(tmp_path / "run.pt")))
    saved = load_checkpoint(str(tmp_path / "run.pt"), device="cpu")
    assert len(saved.history) == 600
    np.testing.assert_array_equal(saved.history.array(), t.history.array())
