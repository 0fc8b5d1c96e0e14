"""How fast a long run opens (goal: RunReader(folder) + columns() under 2 s for a million
updates) and how fast a moment is found (goal: frame(u) under 100 ms).

The store is written directly, fast: a million updates of a real 2D default run's rows (its
first 2000 updates repeated, renumbered) in blocks of 500 rows, as a run at 1000 updates/s
commits them every 0.5 s; and FRAMES real 2D default frames (169 KB each) spread over the run.
Then, timed (the files are in the page cache, as after a run was written or opened once):
RunReader(folder) + columns() of every column; frame(u) at random u; and, for the timeline,
frame(u) plus recomputing the field from it (what the window does on a move).
    python benchmarks/store_open.py [--updates 1000000] [--frames 600]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import machine_info, print_machine  # noqa: E402
from ganviz.core.config import Config  # noqa: E402
from ganviz.core.field import FieldMirror  # noqa: E402
from ganviz.core.history import COLUMNS  # noqa: E402
from ganviz.core.store import RunReader, RunStore, frame_payload  # noqa: E402
from ganviz.core.frames import encode_frame  # noqa: E402
from ganviz.core.trainer import Trainer  # noqa: E402

BLOCK = 500


def write_store(folder: str, updates: int, frames: int) -> float:
    trainer = Trainer(Config(dataset="ring"))
    trainer.train(1000)
    pattern = trainer.history.array()
    store = RunStore(folder, Trainer(Config(dataset="ring")), budget_mb=10_000)
    frame = encode_frame(frame_payload(trainer))
    frame_at = set(np.linspace(1, updates, frames).astype(int).tolist())
    t0 = time.perf_counter()
    u_col, i_col = COLUMNS.index("update"), COLUMNS.index("iteration")
    for start in range(0, updates, BLOCK):
        n = min(BLOCK, updates - start)
        rows = pattern[np.arange(start, start + n) % len(pattern)].copy()
        rows[:, u_col] = np.arange(start + 1, start + n + 1)
        rows[:, i_col] = (rows[:, u_col] + 1) // 2
        store._pending_rows.append(rows)   # as add_records() buffers them, without making Records
        store.rows += n
        for u in range(start + 1, start + n + 1):
            if u in frame_at:
                store._pending_frames.append((u, (u + 1) // 2, len(frame), frame))
        store.commit()
    store.close()
    return time.perf_counter() - t0


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print_machine(machine_info())
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "run")
        took = write_store(folder, args.updates, args.frames)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)
        print(f"wrote {args.updates:,} updates and {args.frames} frames in {took:.1f} s; "
              f"the folder holds {size / 1e6:.0f} MB")

        def open_all():
            reader = RunReader(folder)
            columns = reader.columns()
            assert len(columns["update"]) == args.updates
            reader.close()

        def open_two():
            reader = RunReader(folder)
            reader.columns(["x", "loss_d"])
            reader.close()

        opens = timed(open_all, 5)
        print(f"RunReader(folder) + columns() of all {len(COLUMNS)} columns: median {statistics.median(opens):.2f} s, "
              f"max {max(opens):.2f} s (5 times); goal < 2 s: {'met' if max(opens) < 2 else 'NOT met'}")
        two = timed(open_two, 5)
        print(f"RunReader(folder) + columns(['x', 'loss_d']): median {statistics.median(two):.2f} s")

        reader = RunReader(folder)
        rng = np.random.default_rng(0)
        asked = rng.integers(1, args.updates + 1, 200)
        moves = [timed(lambda u=int(u): reader.frame(u), 1)[0] for u in asked]
        p95 = float(np.percentile(moves, 95))
        print(f"frame(u) at {len(asked)} random u: median {1000 * statistics.median(moves):.1f} ms, "
              f"p95 {1000 * p95:.1f} ms, max {1000 * max(moves):.1f} ms; goal < 100 ms: "
              f"{'met' if max(moves) < 0.1 else 'NOT met'}")
        mirror = FieldMirror.of_run(reader)

        def move(u):
            mirror.load(reader.frame(u)[1]["weights"])
            mirror.field((-1.5, 1.5, -1.5, 1.5))
        field = [timed(lambda u=int(u): move(u), 1)[0] for u in asked[:50]]
        print(f"frame(u) + the field recomputed from it (64x64 heatmap, fakes, arrows, manifold): "
              f"median {1000 * statistics.median(field):.1f} ms, p95 {1000 * np.percentile(field, 95):.1f} ms")
        reader.close()


if __name__ == "__main__":
    main()
