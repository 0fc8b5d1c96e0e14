"""Training speed with the window open (offscreen) against the headless trainer, same config.

A/B interleaved rounds; prints each round and the medians and their ratio. The headless
rounds run in this process with one torch thread, as `ganviz train` does on 2 cores; the
window's rounds train in its training process (every core but one: one here).
    python benchmarks/gui_throughput.py [--dataset ring] [--rounds 5] [--seconds 4]
    python benchmarks/gui_throughput.py --preset "Digits (DCGAN)"
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402,F401

from ganviz.core.config import Config  # noqa: E402
from ganviz.core.trainer import Trainer  # noqa: E402


def headless_rate(config, seconds):
    """Updates per second of the bare trainer, fetched in chunks as `ganviz train` does."""
    t = Trainer(config)
    t.train(20)
    n0, t0 = t.updates, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t.train(50)
    return (t.updates - n0) / (time.perf_counter() - t0)


def window_rate(app, window, config, seconds):
    """Updates per second with the window training and drawing live."""
    old = window.run_info
    window.worker.reset(config)
    _wait(app, lambda: window.run_info is not old and len(window.history) == 0, 60)
    window.toggle_training()
    _wait(app, lambda: len(window.history) > 40, 60)
    n0, t0 = len(window.history), time.perf_counter()
    _wait(app, lambda: False, seconds)
    n1, t1 = len(window.history), time.perf_counter()
    window.toggle_training()
    _wait(app, lambda: not window.running, 10)
    return (n1 - n0) / (t1 - t0)


def _wait(app, condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="ring")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--preset", default=None, help='e.g. "Digits (DCGAN)" (it picks its own dataset)')
    p.add_argument("--no-recovery", action="store_true",
                   help="keep no recovery state on disk (to measure what keeping it costs)")
    p.add_argument("--no-store", action="store_true",
                   help="keep no run store (the timeline's record) on disk, to measure what it costs")
    args = p.parse_args()

    from ganviz.service import process
    from ganviz.gui.app import make_app
    from ganviz.gui.main_window import MainWindow

    config = Config(dataset=args.dataset)
    if args.preset:
        from ganviz.core.presets import apply_preset
        config = apply_preset(config, args.preset)
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    app = make_app()
    runs = tempfile.mkdtemp(prefix="ganviz-bench-runs-")   # the window's run stores, removed at the end
    window = MainWindow(config, runs_folder=runs)
    window.resize(1400, 900)
    window.show()
    if args.no_recovery:
        window.worker.set_recovery_folder(None)
    if args.no_store:
        window.worker.set_runs_folder(None)
    headless, gui = [], []
    print(f"dataset {config.dataset}, preset {args.preset}, batch {config.batch_size}, "
          f"torch threads {torch.get_num_threads()} (headless; the training process: {process.default_threads()})")
    for r in range(args.rounds):
        headless.append(headless_rate(config, args.seconds))
        gui.append(window_rate(app, window, config, args.seconds))
        print(f"round {r + 1}: headless {headless[-1]:7.1f} updates/s   window {gui[-1]:7.1f} updates/s"
              f"   ratio {gui[-1] / headless[-1]:.3f}", flush=True)
    window.shutdown()
    shutil.rmtree(runs, ignore_errors=True)
    h, g = statistics.median(headless), statistics.median(gui)
    print(f"median: headless {h:.1f} updates/s, window {g:.1f} updates/s, ratio {g / h:.3f} "
          f"(goal >= 0.95; run store {'off' if args.no_store else 'on'})")


if __name__ == "__main__":
    main()
