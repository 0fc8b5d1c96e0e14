"""A window attached to `ganviz serve`, straight (127.0.0.1) against over a far, thin link
(a relay adding --delay seconds each way, at most --rate bytes/s each way), A/B interleaved on
one server that trains all along: the GUI thread's lateness (a 10 ms timer, p95), batches and
records reaching the window per second, field frames per second, bytes per second from the
server. At the end, training paused: the window's history against the run store's (every row
the same, or the figures say not).

    QT_QPA_PLATFORM=offscreen python benchmarks/remote_link.py --rounds 3 --seconds 10
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6)

from _common import machine_info, print_machine  # noqa: E402
from field_fps import run_loop  # noqa: E402

from PySide6.QtCore import Qt, QTimer  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from serving import SlowLink  # noqa: E402


def start_server(out: str, dataset: str):
    proc = subprocess.Popen([sys.executable, "-m", "ganviz", "serve", "--dataset", dataset, "--port", "0",
                             "--out", out, "--threads", "1"], stdout=subprocess.PIPE, text=True)
    first, token = proc.stdout.readline(), proc.stdout.readline().split()[1]
    return proc, first.split("listening on ")[1].split(";")[0], token


def measure(window, seconds: float, link=None):
    ticks, batches = [], []
    timer = QTimer(interval=10)
    timer.setTimerType(Qt.PreciseTimer)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    count = lambda b: batches.append(len(b.records))   # noqa: E731
    window.worker.batchReady.connect(count)
    rows0, frames0, bytes0 = len(window.history), window.fieldView.frames, link.carried if link else 0
    t0 = time.perf_counter()
    timer.start()
    run_loop(seconds)
    timer.stop()
    dt = time.perf_counter() - t0
    window.worker.batchReady.disconnect(count)
    late = np.diff(ticks) * 1000 - 10
    return {"lateness p95 ms": float(np.percentile(late, 95)), "batches/s": len(batches) / dt,
            "records/s": (len(window.history) - rows0) / dt, "field fps": (window.fieldView.frames - frames0) / dt,
            "kB/s in": ((link.carried - bytes0) / dt / 1000) if link else float("nan")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per attachment")
    p.add_argument("--delay", type=float, default=0.2, help="seconds each way on the far link")
    p.add_argument("--rate", type=float, default=250_000, help="bytes/s each way on the far link")
    p.add_argument("--dataset", default="ring")
    args = p.parse_args()
    from ganviz.core.run_reader import RunReader
    from ganviz.gui.app import make_app
    from ganviz.gui.main_window import MainWindow

    make_app()
    print_machine(machine_info("cpu"))
    out = os.path.join(tempfile.mkdtemp(prefix="ganviz-remote-"), "run")
    proc, address, token = start_server(out, args.dataset)
    link = SlowLink(address, args.delay, args.rate)
    window = MainWindow(transport="inprocess", runs_folder=os.path.join(out, "..", "local"))
    window.resize(1400, 900)
    window.show()
    print(f"server: {address}; far link: {args.delay * 1000:.0f} ms each way, {args.rate / 1000:.0f} kB/s")
    results = {"straight": [], "far": []}
    try:
        for _ in range(args.rounds):
            for name, where in (("straight", address), ("far", link.address)):
                window.connect_to_server(where, token)
                run_loop(30, lambda: window.attached_to == where and window.run_info is not None)
                run_loop(2.0)   # the run's history in, the first batches drawn
                results[name].append(measure(window, args.seconds, link if name == "far" else None))
                print(name, {k: round(v, 1) for k, v in results[name][-1].items()}, flush=True)
        print(f"medians of {args.rounds} rounds:")
        keys = list(results["straight"][0])
        print(f"{'':10s}" + "".join(f"{k:>17s}" for k in keys))
        for name in results:
            print(f"{name:10s}" + "".join(f"{np.median([r[k] for r in results[name]]):17.1f}" for k in keys))
        window.worker.pause()
        paused = time.perf_counter()
        run_loop(1.0)   # the pause reaches the server
        with RunReader(out) as reader:
            stored = reader.columns(["update"])["update"]
        run_loop(30, lambda: len(window.history) >= len(stored))   # the last batches on their way
        waited = time.perf_counter() - paused
        shown = window.history.column("update")
        same = len(shown) == len(stored) and np.array_equal(shown, stored)
        print(f"after pausing, over the far link: the window holds {len(shown)} rows, the store {len(stored)}: "
              f"{'every row the same' if same else 'NOT the same'} ({waited:.1f} s after Pause)")
    finally:
        window.shutdown()
        link.close()
        proc.send_signal(2)
        proc.wait(30)


if __name__ == "__main__":
    main()
