"""Run by test_distributed under torchrun, once per rank (gloo, CPU):

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/distributed_worker.py OUT

On every rank: the trainer's one-network-per-update tests (test_trainer's D and G isolation
tests, every conditioning, the ring's MLPs and the digits' convolutional networks with
BatchNorm) with distributed trainers; then a few updates of the ring, whose state and records
go to OUT/rank<R>.pt for the test to compare across ranks and with one process."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_trainer  # noqa: E402
from ganviz.core.config import Config  # noqa: E402
from ganviz.core.data import load_dataset  # noqa: E402
from ganviz.core.distributed import start  # noqa: E402
from ganviz.core.trainer import Trainer  # noqa: E402

EQUIVALENCE = dict(dataset="ring", batch_size=64, hidden=32, noise_dim=8, probe_size=64, device="cpu")
UPDATES = 7   # D, G, D, G, ...: three iterations and a D update


def main(out: str):
    torch.set_num_threads(1)
    ranks = start("cpu")
    datasets = {"ring": load_dataset("ring"), "digits": load_dataset("digits")}

    def make(name="ring", **changes):
        t = Trainer(Config(dataset=name, **{**test_trainer.TINY[name], **changes}), dataset=datasets[name])
        t.distribute(ranks)
        return t

    checked = 0
    for name in ("ring", "digits"):
        for conditional, g_ema in test_trainer.CONDITIONINGS:
            test_trainer.test_d_update_leaves_g_untouched(make, name, g_ema, conditional)
            test_trainer.test_g_update_leaves_d_untouched_but_gradients_flow_through_it(make, name, g_ema, conditional)
            checked += 2

    t = Trainer(Config(**EQUIVALENCE))   # as the test builds the one-process run
    t.distribute(ranks)
    for _ in range(UPDATES):
        t.step(fetch=False)
    records = t.fetch_records()
    torch.save({"state": t.state_dict(history=False), "history": t.history.array(), "checked": checked,
                "world": ranks.world, "part": ranks.part(EQUIVALENCE["batch_size"]),
                "phases": [r.phase for r in records]}, os.path.join(out, f"rank{ranks.rank}.pt"))
    ranks.close()


if __name__ == "__main__":
    main(sys.argv[1])
