"""The training service, driven directly (no process, no window)."""
import numpy as np

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
