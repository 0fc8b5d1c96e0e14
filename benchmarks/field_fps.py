"""Frames per second of the 2D field view while the window trains, offscreen, and how
responsive the GUI thread stays.

Opens MainWindow(Config()) (the 2D ring), starts training and runs the Qt event loop for
--seconds (after --warmup seconds not counted). Reports:
  field fps        window.fieldView.frames per second (one per field frame drawn)
  updates/s        training updates reaching the window (len(window.history) per second)
  timer lateness   a repeating 10 ms PreciseTimer's actual interval minus 10 ms, p50/p95/max:
                   how long the GUI thread is busy between two chances to react
  batch latency    from the worker starting the _flush that emits a batch (its last update
                   has just finished) to MainWindow._on_batch receiving it, and to _on_batch
                   returning (drawn into the scene; the screen repaint follows in the event
                   loop), p50/p95 ms; goal <= 100 ms; split into the worker's _flush (field
                   and metrics computed), the wait in the signal queue and _on_batch itself.
                   The first records of a batch waited up to one emit interval longer.

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

from ganviz.gui import worker as worker_module  # noqa: E402
from ganviz.gui.main_window import MainWindow  # noqa: E402

PROBE_MS = 10


class Probe:
    """Times batches from the worker's _flush to the window's _on_batch, by monkeypatching both
    classes before the window is built (the signal connects to the patched method). A batch
    is emitted as _flush's last act, so _flush's end is its emit time; batches are paired by
    the identity of their records list (payload["records"] is the worker's outbox)."""

    def __init__(self):
        self.flushes = {}     # id(outbox) -> [start, end, outbox kept alive so ids stay unique]
        self.arrivals = []    # (id(records), received, handled) while measuring
        self.measuring = False
        orig_flush, orig_on_batch = worker_module.TrainingWorker._flush, MainWindow._on_batch
        probe = self

        def _flush(worker, *args, **kwargs):
            box = worker._outbox
            probe.flushes[id(box)] = entry = [time.perf_counter(), None, box]  # before: the GUI may be quick
            try:
                return orig_flush(worker, *args, **kwargs)
            finally:
                if worker._outbox is box:  # nothing emitted
                    del probe.flushes[id(box)]
                else:
                    entry[1] = time.perf_counter()

        def _on_batch(window, payload):
            t = time.perf_counter()
            try:
                return orig_on_batch(window, payload)
            finally:
                if probe.measuring:
                    probe.arrivals.append((id(payload.get("records")), t, time.perf_counter()))

        worker_module.TrainingWorker._flush = _flush
        MainWindow._on_batch = _on_batch

    def latencies(self) -> dict:
        """ms lists: worker flush work, queue wait, _on_batch time, flush start to received / drawn."""
        out = {k: [] for k in ("flush", "queue", "on_batch", "received", "drawn")}
        for key, received, handled in self.arrivals:
            start, end, _ = self.flushes.get(key, (None, None, None))
            if start is None or end is None:
                continue
            for name, value in (("flush", end - start), ("queue", max(0.0, received - end)),
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
    print(f"Qt platform {app.platformName()}; worker emits every {1000 * worker_module.EMIT_INTERVAL:.0f} ms, "
          f"field at most every {1000 * worker_module.FIELD_INTERVAL:.0f} ms")
    config = Config(dataset=args.dataset)
    window = MainWindow(config)
    window.resize(1400, 900)
    window.show()
    if not run_loop(60, lambda: window.worker.trainer is not None):
        raise SystemExit("the worker did not build a trainer within 60 s")
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
    for name, label in (("flush", "worker _flush (fields, metrics)"), ("queue", "signal queue wait"),
                        ("on_batch", "window _on_batch"), ("received", "update done -> _on_batch"),
                        ("drawn", "update done -> drawn")):
        print(f"{label + ' p50 / p95':36s} {pct(lat[name], 50):6.1f} / {pct(lat[name], 95):.1f} ms")
    p95 = pct(lat["drawn"], 95)
    print(f"latency goal <= 100 ms (update done -> drawn, p95): {'met' if p95 <= 100 else 'NOT met'}")

if __name__ == "__main__":
    main()
