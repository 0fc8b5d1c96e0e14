"""Frames per second of the 2D field view while the window trains, offscreen, and how
responsive the GUI thread stays.

Opens MainWindow(Config()) (the 2D ring), starts training and runs the Qt event loop for
--seconds (after --warmup seconds not counted). Reports:
  field fps        window.fieldView.frames per second (one per field frame drawn)
  updates/s        training updates reaching the window (len(window.history) per second)
  timer lateness   a repeating 10 ms PreciseTimer's actual interval minus 10 ms, p50/p95/max:
                   how long the GUI thread is busy between two chances to react
  batch latency    from the training process starting the flush that sends a batch (its last
                   update has just finished) to MainWindow._on_batch receiving it, and to
                   _on_batch returning (drawn into the scene; the screen repaint follows in
                   the event loop), p50/p95 ms; goal <= 100 ms; split into the flush (metrics),
                   the pipe + the field computed in the window's worker thread + the signal
                   queue, and _on_batch itself. The first records of a batch waited up to one
                   emit interval longer.

    QT_QPA_PLATFORM=offscreen python benchmarks/field_fps.py [--seconds 10] [--warmup 2]
    python benchmarks/field_fps.py --seconds 3 --warmup 1                   # smoke test
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402  (before PySide6)

from _common import Config, machine_info, print_machine  # noqa: E402

from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402

from ganviz.service import training as loop  # noqa: E402
from ganviz.gui.main_window import MainWindow  # noqa: E402

PROBE_MS = 10


class Probe:
    """Times batches from the training process to the window by wrapping MainWindow._on_batch
    before the window is built. The training process stamps each batch with perf_counter()
    (one clock for every process on the machine) when its flush starts, right after the
    last update, and again just before sending."""

    def __init__(self):
        self.arrivals = []    # (flush start, sent, received, handled) while measuring
        self.measuring = False
        orig_on_batch = MainWindow._on_batch
        probe = self

        def _on_batch(window, payload):
            t = time.perf_counter()
            try:
                return orig_on_batch(window, payload)
            finally:
                if probe.measuring:
                    probe.arrivals.append((payload.time, payload.sent, t, time.perf_counter()))

        MainWindow._on_batch = _on_batch

    def latencies(self) -> dict:
        """ms lists: flush in the training process, pipe + field + signal queue, _on_batch,
        update done -> received / drawn."""
        out = {k: [] for k in ("flush", "queue", "on_batch", "received", "drawn")}
        for start, sent, received, handled in self.arrivals:
            for name, value in (("flush", sent - start), ("queue", received - sent),
                                ("on_batch", handled - received), ("received", received - start),
                                ("drawn", handled - start)):
                out[name].append(1000 * value)
        return out


def run_loop(seconds, until=None):
    """Run the Qt event loop for `seconds`, or until until() is true (polled every 20 ms)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    poll = None
    if until is not None:
        if until():
            return True
        poll = QTimer(interval=20)
        poll.timeout.connect(lambda: until() and loop.quit())
        poll.start()
    loop.exec()
    if poll is not None:
        poll.stop()
    return until() if until is not None else True


def pct(xs, q):
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="measured training time")
    p.add_argument("--warmup", type=float, default=2.0, help="training time before measuring")
    p.add_argument("--dataset", default="ring", help="a 2D data set (the field view is 2D only)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--shot", metavar="PNG", help="save a screenshot at the end")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from ganviz.gui.app import make_app

    probe = Probe()
    app = make_app()
    print_machine(machine_info("cpu"))
    print(f"Qt platform {app.platformName()}; training process emits every {1000 * loop.EMIT_INTERVAL:.0f} ms, "
          f"field at most every {1000 * loop.FIELD_INTERVAL:.0f} ms")
    config = Config(dataset=args.dataset)
    window = MainWindow(config)
    window.resize(1400, 900)
    window.show()
    if not run_loop(60, lambda: window.run_info is not None):
        raise SystemExit("the training process did not start a run within 60 s")
    run_loop(0.5)  # let runStarted reach the window
    window.toggle_training()
    if not run_loop(30, lambda: window.running):
        raise SystemExit("training did not start within 30 s")
    run_loop(args.warmup)

    ticks = []
    timer = QTimer(interval=PROBE_MS)
    timer.setTimerType(Qt.PreciseTimer)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    frames0, rows0 = window.fieldView.frames, len(window.history)
    probe.measuring = True
    timer.start()
    t0 = time.perf_counter()
    run_loop(args.seconds)
    elapsed = time.perf_counter() - t0
    timer.stop()
    probe.measuring = False
    frames, rows = window.fieldView.frames - frames0, len(window.history) - rows0

    window.toggle_training()
    run_loop(5, lambda: not window.running)
    if args.shot:
        window.grab().save(args.shot)
    window.shutdown()

    late = np.diff(ticks) * 1000 - PROBE_MS if len(ticks) > 1 else np.array([])
    print(f"\n{config.dataset}, batch {config.batch_size}, {elapsed:.1f} s measured after {args.warmup:.1f} s warm-up")
    print(f"{'measure':36s} {'value':>10s}")
    print(f"{'field frames':36s} {frames:10d}")
    print(f"{'field fps':36s} {frames / elapsed:10.1f}")
    print(f"{'training updates/s (window)':36s} {rows / elapsed:10.1f}")
    lat = probe.latencies()
    print(f"{'batches received':36s} {len(probe.arrivals):10d}")
    print(f"{'10 ms timer lateness p50 / p95':36s} {pct(late, 50):6.1f} / {pct(late, 95):.1f} ms"
          f"   (max {late.max() if len(late) else float('nan'):.1f}, {len(ticks)} ticks)")
    for name, label in (("flush", "training process flush (metrics)"),
                        ("queue", "pipe, field (window side), queue"),
                        ("on_batch", "window _on_batch"), ("received", "update done -> _on_batch"),
                        ("drawn", "update done -> drawn")):
        print(f"{label + ' p50 / p95':36s} {pct(lat[name], 50):6.1f} / {pct(lat[name], 95):.1f} ms")
    p95 = pct(lat["drawn"], 95)
    print(f"latency goal <= 100 ms (update done -> drawn, p95): {'met' if p95 <= 100 else 'NOT met'}")

if __name__ == "__main__":
    main()
