"""The training process's loop, driven directly (no process, no window)."""
import numpy as np

from ganviz.core.config import Config
from ganviz.core.loop import TrainingLoop
from ganviz.core.trainer import Trainer


class Outbox:
    """Stands in for the pipe to the window: keeps what the loop sends."""

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)

    def poll(self, timeout=0):
        return False


def test_going_back_restores_the_snapshot_and_its_history():
    loop = TrainingLoop(Outbox())
    loop.start(Trainer(Config(dataset="ring", batch_size=64, probe_size=16, device="cpu")))
    for _ in range(3):
        loop.execute(("step_iteration",))
    loop.take_snapshot(force=True)
    kept = loop.trainer.history.array()
    assert len(kept) == 6 and loop.snapshot["history"] is None   # no second copy of the history
    for _ in range(2):
        loop.execute(("step_iteration",))
    loop.execute(("restore",))
    t = loop.trainer
    assert t.updates == 6 and len(t.history) == 6
    np.testing.assert_array_equal(t.history.array(), kept)
    loop.execute(("step",))      # and it trains on from there
    assert t.updates == 7
