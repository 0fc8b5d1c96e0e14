"""What writing the run store costs headless training (goal: at most 3 % slower), on the 2D
default and on digits.

A/B interleaved: two trainers of the same config train in alternating blocks of BLOCK seconds
(order ABBA...), one with a RunStore fed as `ganviz train` feeds it (records every chunk,
frames every 0.5 s, snapshots every 10 s), one without; the ratio of median updates/s. A
snapshot is rarer than a block, so its cost is measured on its own and added as its share of
its 10 s interval. On a machine shared with other work the A/B ratio swings by tens of percent
between blocks, so the goal is also judged directly: the share of the with-store blocks' time
spent inside the store's calls (add_records, maybe_frame, maybe_snapshot and the commits they make).
    python benchmarks/store_cost.py [--block 1.5] [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

from _common import digits_config, machine_info, print_machine  # noqa: E402
from ganviz.core import store as store_module  # noqa: E402
from ganviz.core.config import Config  # noqa: E402
from ganviz.core.store import RunStore  # noqa: E402
from ganviz.core.trainer import Trainer  # noqa: E402

CHUNK_SECONDS = 0.25   # as cli_train: train() this long between looks at the store


def block(trainer, store, seconds: float) -> tuple[float, float, float]:
    """Over `seconds` of cli_train-like chunks: updates per wall-clock second, per CPU second
    of this process, and the share of the time spent inside the store's calls."""
    start_updates, chunk, in_store = trainer.updates, 1, 0.0
    t0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        c0 = time.perf_counter()
        records = trainer.train(chunk)
        if store is not None:
            s0 = time.perf_counter()
            store.add_records(records)
            store.maybe_frame(trainer)
            store.maybe_snapshot(trainer)
            in_store += time.perf_counter() - s0
        took = time.perf_counter() - c0
        chunk = max(1, min(200, int(CHUNK_SECONDS * chunk / max(took, 1e-9))))
    done, wall = trainer.updates - start_updates, time.perf_counter() - t0
    return done / wall, done / (time.process_time() - cpu0), in_store / wall


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(label: str, config: Config, seconds: float, rounds: int) -> None:
    without, with_store = Trainer(config), Trainer(config)
    without.train(5), with_store.train(5)   # warm both
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(os.path.join(folder, "run"), with_store)
        speeds = {"A": [], "B": []}
        for r in range(rounds):
            for who in ("AB" if r % 2 == 0 else "BA"):
                speeds[who].append(block(without, None, seconds) if who == "A" else block(with_store, store, seconds))
        frames = len(store.db.execute("SELECT at_update FROM frames").fetchall())
        frame_s = timed(lambda: store.maybe_frame(with_store, force=True) or store.commit())
        snapshot_s = timed(lambda: (with_store.train(1), store.maybe_snapshot(with_store, force=True)), 3) \
            - timed(lambda: with_store.train(1), 3)
        frame_bytes = store.frame_bytes / max(1, frames + 5)
        store.close()
    a, b = (statistics.median(s[0] for s in speeds[w]) for w in "AB")
    a_cpu, b_cpu = (statistics.median(s[1] for s in speeds[w]) for w in "AB")
    snapshot_share = snapshot_s / store_module.SNAPSHOT_INTERVAL
    in_store = statistics.median(s[2] for s in speeds["B"]) + snapshot_share
    ratio = 1 - in_store
    print(f"{label}: without the store {a:7.1f} updates/s ({a_cpu:7.1f} per CPU second), with {b:7.1f} "
          f"({b_cpu:7.1f}); medians of {rounds} blocks of {seconds:g} s each, A/B interleaved; "
          f"{frames} frames kept; wall-clock ratio {100 * b / a:.1f} %")
    print(f"    one frame {1000 * frame_s:.1f} ms ({frame_bytes / 1e3:.0f} KB) every "
          f"{store_module.FRAME_INTERVAL} s = {100 * frame_s / store_module.FRAME_INTERVAL:.2f} %; one snapshot "
          f"{1000 * snapshot_s:.0f} ms every {store_module.SNAPSHOT_INTERVAL:.0f} s = {100 * snapshot_share:.2f} %")
    print(f"    A/B per CPU second: {100 * b_cpu / a_cpu:.1f} % (noise on a shared machine: see the spread "
          f"{_spread(speeds['A'])} without, {_spread(speeds['B'])} with)")
    print(f"    time inside the store's calls: {100 * in_store:.2f} % of training (median block, snapshots "
          f"added): training keeps {100 * ratio:.1f} % of its speed; goal >= 97 %: "
          f"{'met' if ratio >= 0.97 else 'NOT met'}")


def _spread(blocks) -> str:
    cpu = [b[1] for b in blocks]
    return f"{min(cpu):.0f}-{max(cpu):.0f} per CPU s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=float, default=1.5, help="seconds per block (default 1.5)")
    parser.add_argument("--rounds", type=int, default=7, help="blocks per side (default 7)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print_machine(machine_info(args.device))
    measure("2D default (ring)", Config(dataset="ring", device=args.device), args.block, args.rounds)
    label, config = digits_config()
    measure(f"digits, {label}", config.replace(device=args.device), args.block, args.rounds)


if __name__ == "__main__":
    main()
