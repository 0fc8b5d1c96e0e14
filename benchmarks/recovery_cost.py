"""What keeping the run's recovery state on disk costs the training process (core/recovery.py):
the time of one write (state.pt without fsync, plus the history rows since the last write), for
the default ring run and the Digits (DCGAN) preset, and with a long history. The loop writes
once every 10 s of training and after every pause and step, so the share of training time is
about (one write) / 10 s.
    python benchmarks/recovery_cost.py
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ganviz.core.config import Config  # noqa: E402
from ganviz.core.history import History  # noqa: E402
from ganviz.service.training import RECOVERY_INTERVAL  # noqa: E402
from ganviz.core.presets import apply_preset  # noqa: E402
from ganviz.core.recovery import RecoveryStore  # noqa: E402
from ganviz.core.trainer import Trainer  # noqa: E402


def cost(trainer, rows_between: int, repeats: int = 10) -> float:
    """Median seconds of one write after `rows_between` new updates."""
    with tempfile.TemporaryDirectory() as folder:
        store = RecoveryStore(folder)
        store.write(trainer)
        times = []
        for _ in range(repeats):
            trainer.train(max(1, rows_between // 2))
            t0 = time.perf_counter()
            store.write(trainer)
            times.append(time.perf_counter() - t0)
        size = os.path.getsize(os.path.join(folder, "state.pt"))
    return statistics.median(times), size


def main():
    torch.set_num_threads(1)
    for name, config in (("ring (default)", Config(dataset="ring")),
                         ("Digits (DCGAN)", apply_preset(Config(), "Digits (DCGAN)"))):
        t = Trainer(config)
        t.train(20)
        seconds, size = cost(t, 20)
        print(f"{name:15s}: one write {1000 * seconds:6.1f} ms (state.pt {size / 1e6:.2f} MB), "
              f"{100 * seconds / RECOVERY_INTERVAL:.2f} % of training at one write per {RECOVERY_INTERVAL:.0f} s")
    t = Trainer(Config(dataset="ring"))
    t.train(20)
    rows = t.history.array()
    t.history = History.from_array_state(np.tile(rows, (200_000 // len(rows), 1)))   # a long run's history
    seconds, size = cost(t, 20)
    print(f"ring with {len(t.history)} updates of history: one write {1000 * seconds:6.1f} ms "
          "(only the rows since the last write are appended)")


if __name__ == "__main__":
    main()
