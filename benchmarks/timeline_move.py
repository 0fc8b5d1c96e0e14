"""How fast the timeline answers a move: from setting the slider to the window painted (the
stored frame read, the samples or the 2D field drawn, the quality panel and the plots' cursors
updated), in the real window offscreen, on a recorded run. Goal: under 100 ms.

    python benchmarks/timeline_move.py [--dataset ring|digits] [--run DIR] [--moves 40]

Without --run it first records a run (--iterations, a frame every --every iterations)."""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def record(folder, dataset: str, iterations: int, every: int):
    from ganviz.core.config import Config
    from ganviz.core.store import RunStore
    from ganviz.core.trainer import Trainer
    trainer = Trainer(Config(dataset=dataset))
    with RunStore(folder, trainer) as store:
        for i in range(iterations):
            store.add_records(trainer.step_iteration())
            if (i + 1) % every == 0:
                store.maybe_frame(trainer, force=True)
        store.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ring")
    parser.add_argument("--run", help="a recorded run folder (else one is recorded first)")
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from ganviz.core.config import Config
    from ganviz.gui.main_window import MainWindow

    folder = args.run
    if folder is None:
        folder = os.path.join(tempfile.mkdtemp(prefix="ganviz-timeline-"), "run")
        t0 = time.perf_counter()
        record(folder, args.dataset, args.iterations, args.every)
        print(f"recorded {args.iterations} iterations of {args.dataset} in {time.perf_counter() - t0:.0f} s")
    window = MainWindow(Config(dataset="ring", batch_size=64, hidden=32, probe_size=64, decay_steps=0))
    window.resize(1400, 900)
    window.show()
    deadline = time.time() + 120
    while window.run_info is None and time.time() < deadline:
        app.processEvents()
        time.sleep(0.02)
    t0 = time.perf_counter()
    assert window.open_run(folder)
    app.processEvents()
    opened = time.perf_counter() - t0
    timeline = window.timeline
    n = len(timeline.frames)
    rng = random.Random(0)
    moves = [rng.randrange(n) for _ in range(args.moves + 3)]
    for v in moves[:3]:   # warm: first paints, first field
        timeline.slider.setValue(v)
        app.processEvents()
    total, read = [], []
    for v in moves[3:]:
        t0 = time.perf_counter()
        timeline.slider.setValue(v)
        t1 = time.perf_counter()
        app.processEvents()   # the paint
        total.append(1000 * (time.perf_counter() - t0))
        read.append(1000 * (t1 - t0))
    window.shutdown()
    total.sort()
    print(f"{folder}: {len(window.history)} updates, {n} recorded moments, opened in {opened:.2f} s")
    print(f"move to painted (ms): median {statistics.median(total):.1f}, p90 {total[int(0.9 * len(total))]:.1f}, "
          f"max {total[-1]:.1f}   (of which frame read + views updated: median {statistics.median(read):.1f})   "
          f"goal < 100; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
