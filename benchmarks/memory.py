"""Resident memory of the headless trainer as a run grows: no leak beyond the history it keeps.

Trains the 2D default (Config()) with records fetched in batches as the CLI does
(trainer.train(50) in a loop), reads the process's resident set size (VmRSS from
/proc/self/status, else the peak from getrusage) after --first and after --second updates,
and prints the growth between the two. The trainer keeps its full history (about 136 bytes
per update as float64 columns, doubled capacity when full): that memory is expected and is
counted in the growth, and shown on its own. Goal: growth <= 50 MB.

    python benchmarks/memory.py                              # 10 000 and 200 000 updates
    python benchmarks/memory.py --first 200 --second 600     # smoke test
"""
from __future__ import annotations

import argparse
import gc
import resource
import sys
import time

import torch

from _common import Config, machine_info, print_machine, resolve_device

from ganviz.core.history import COLUMNS  # noqa: E402
from ganviz.core.trainer import Trainer  # noqa: E402

CHUNK = 50  # iterations per train() call: records are fetched once per chunk


def rss_mb(pid="self") -> tuple[float, str]:
    """(resident set size in MB, where it came from) of this process or of process `pid`."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024, "VmRSS"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024), "ru_maxrss (peak)"


def peak_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


def history_mb(trainer) -> tuple[float, float]:
    """(MB the history's rows use, MB its buffer has allocated)."""
    h = trainer.history
    used = len(h) * len(COLUMNS) * 8  # float64 columns; h.array() would copy them
    allocated = getattr(getattr(h, "_data", None), "nbytes", used)
    return used / 2**20, allocated / 2**20


def train_until(trainer, updates):
    while trainer.updates < updates:
        per_iteration = trainer.config.d_steps + 1
        n = min(CHUNK, max(1, -(-(updates - trainer.updates) // per_iteration)))
        trainer.train(n)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--first", type=int, default=10_000, help="updates at the first reading")
    p.add_argument("--second", type=int, default=200_000, help="updates at the second reading")
    p.add_argument("--rows", type=int, default=4, help="readings printed between the two")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda (RSS is host memory)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--goal-mb", type=float, default=50.0)
    args = p.parse_args()
    if args.second <= args.first:
        p.error("--second must be larger than --first")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print_machine(machine_info(device))
    config = Config(device=str(device))
    trainer = Trainer(config)
    print(f"config: Config() (dataset {config.dataset}, batch {config.batch_size}); "
          f"records fetched every {CHUNK} iterations")

    step = (args.second - args.first) / (args.rows + 1)
    marks = [0, args.first] + [round(args.first + step * i) for i in range(1, args.rows + 1)] + [args.second]
    print(f"{'updates':>9} {'RSS MB':>9} {'history MB':>11} {'allocated':>10} {'seconds':>9} {'updates/s':>10}")
    readings, t_start, source = {}, time.perf_counter(), ""
    last_t, last_u = t_start, 0
    for mark in marks:
        train_until(trainer, mark)
        gc.collect()
        mb, source = rss_mb()
        readings[mark] = mb
        used, allocated = history_mb(trainer)
        now = time.perf_counter()
        rate = (trainer.updates - last_u) / (now - last_t) if now > last_t else float("nan")
        last_t, last_u = now, trainer.updates
        print(f"{trainer.updates:9d} {mb:9.1f} {used:11.1f} {allocated:10.1f} {now - t_start:9.1f} "
              f"{rate if mark else float('nan'):10.1f}", flush=True)

    growth = readings[args.second] - readings[args.first]
    used, allocated = history_mb(trainer)
    peak = peak_mb()
    print(f"\nRSS ({source}): {readings[args.first]:.1f} MB after {args.first} updates, "
          f"{readings[args.second]:.1f} MB after {args.second} updates"
          + (f"; peak {peak:.1f} MB" if peak is not None else ""))
    print(f"growth {growth:+.1f} MB (goal <= {args.goal_mb:.0f} MB: "
          f"{'met' if growth <= args.goal_mb else 'NOT met'}); of it, the history buffer holds "
          f"{allocated:.1f} MB allocated ({used:.1f} MB in use) for {len(trainer.history)} records")


if __name__ == "__main__":
    main()
