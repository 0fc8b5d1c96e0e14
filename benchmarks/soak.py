"""Soak: train with the window open (offscreen) for a long time and report, at the start and
every --every seconds, resident memory of the window's process and of the training process,
training updates/s, field frames/s, the GUI thread's responsiveness (lateness of a 10 ms
timer, p95) and its share of a CPU, and the machine's steal time (a busy host slows every
column but memory). The run is kept in a run store in a temporary folder, as the window keeps
every run; goals (issue 12): both processes within 50 MB of their start after an hour, and
lateness p95 under 16 ms at its end.

    QT_QPA_PLATFORM=offscreen python benchmarks/soak.py --minutes 60
    python benchmarks/soak.py --minutes 1 --every 15          # smoke test
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6)

from _common import Config, machine_info, print_machine  # noqa: E402
from memory import rss_mb  # noqa: E402
from field_fps import run_loop  # noqa: E402

from PySide6.QtCore import Qt, QTimer  # noqa: E402


def cpu_times():
    """The machine's (steal, all) CPU time so far (/proc/stat; zeros where there is none):
    steal is time the virtual machine's CPUs waited for the host, which slows everything here."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0, 0
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


def gui_thread_seconds() -> float:
    """CPU seconds the GUI thread (this process's main thread) has run; 0 where unknown."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--every", type=float, default=300.0, help="seconds between report rows")
    p.add_argument("--dataset", default="ring")
    args = p.parse_args()
    from ganviz.gui.app import make_app
    from ganviz.gui.main_window import MainWindow

    make_app()
    print_machine(machine_info("cpu"))
    runs = tempfile.mkdtemp(prefix="ganviz-soak-")
    window = MainWindow(Config(dataset=args.dataset), runs_folder=runs)
    window.resize(1400, 900)
    window.show()
    run_loop(60, lambda: window.run_info is not None)
    run_loop(0.5)
    window.toggle_training()
    ticks = []
    timer = QTimer(interval=10)
    timer.setTimerType(Qt.PreciseTimer)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    print("MB columns: resident memory of each process; in memory: the history rows the window holds "
          "(the rest are in the run store on disk)")
    print(f"{'minute':>7s} {'window MB':>10s} {'training MB':>12s} {'in memory':>10s} {'updates':>10s} "
          f"{'updates/s':>10s} {'field fps':>10s} {'lateness p95 ms':>16s} {'GUI thread %':>13s} {'steal %':>8s}")
    start = time.perf_counter()
    rows = []
    while True:
        t0, u0, f0 = time.perf_counter(), len(window.history), window.fieldView.frames
        ticks.clear()
        cpu0, gui0 = cpu_times(), gui_thread_seconds()
        run_loop(min(args.every, 10.0))  # a 10 s measuring window at each report
        dt = time.perf_counter() - t0
        cpu1 = cpu_times()
        steal = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1]) * 100
        gui = (gui_thread_seconds() - gui0) / dt * 100
        late = np.diff(ticks) * 1000 - 10 if len(ticks) > 1 else np.array([np.nan])
        row = ((time.perf_counter() - start) / 60, rss_mb()[0], rss_mb(window.worker.process.pid)[0],
               len(window.history),
               (len(window.history) - u0) / dt, (window.fieldView.frames - f0) / dt, np.percentile(late, 95))
        rows.append(row)
        print(f"{row[0]:7.1f} {row[1]:10.1f} {row[2]:12.1f} {window.history.in_memory:10d} "
              f"{row[3]:10d} {row[4]:10.1f} {row[5]:10.1f} {row[6]:16.1f} {gui:13.0f} {steal:8.1f}", flush=True)
        if time.perf_counter() - start >= args.minutes * 60:
            break
        run_loop(max(0.0, args.every - 10.0))
    timer.stop()
    window.shutdown()
    shutil.rmtree(runs, ignore_errors=True)
    first, last = rows[0], rows[-1]
    print(f"start -> end: RSS window {first[1]:.1f} -> {last[1]:.1f} MB, training process {first[2]:.1f} -> "
          f"{last[2]:.1f} MB, updates/s {first[4]:.0f} -> {last[4]:.0f}, field fps {first[5]:.1f} -> "
          f"{last[5]:.1f}, lateness p95 {first[6]:.1f} -> {last[6]:.1f} ms")
    grew = (last[1] - first[1], last[2] - first[2])
    print(f"memory growth over {last[3]} updates: window {grew[0]:+.1f} MB, training process {grew[1]:+.1f} MB "
          f"(goal: each within 50 MB: {'met' if max(grew) <= 50 else 'NOT met'}); "
          f"lateness p95 at the end {last[6]:.1f} ms (goal 16: {'met' if last[6] <= 16 else 'NOT met'})")


if __name__ == "__main__":
    main()
