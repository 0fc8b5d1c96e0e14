"""Seconds per training iteration of a preset against the same preset with some settings
changed back, or against the preset as an earlier revision of ganviz had it (issue 15: the new
Stable must be no slower per iteration than the one of the day the issue was filed).

Both run A/B interleaved, one timed slice of each per round, at the protocol's batch of 512 on
the ring; the speeds are medians over rounds, and the ratio is new / before (also the median of
each round's own ratio, which the machine's drift from round to round does not move). With
--before-rev each side trains in its own process, the before side on that revision's code
(git archive).

    python benchmarks/preset_speed.py       # Stable against Stable's settings when issue 15 was filed
    python benchmarks/preset_speed.py --before-rev eab33c4    # ... against that day's code too
    python benchmarks/preset_speed.py --before-rev eab33c4 --pairs 6 --rounds 11 --seconds 2
                                                  # six fresh pairs of processes, rounds pooled
    python benchmarks/preset_speed.py --before g_ema=0.0 --rounds 9 --seconds 3
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Stable's settings when issue 15 asked for a new one "no slower per iteration": no noise
# clusters, no moving average of G, Adam betas (0.5, 0.999), R1 weight 1 (constant), decay to 1 %.
ISSUE_15_STABLE = "noise_clusters=0,g_ema=0.0,beta1=0.5,beta2=0.999,r1_gamma=1.0,r1_final=1.0,lr_final=0.01"
# The last commit before issue 15 was filed (2026-11-23): its code and its Stable preset.
ISSUE_15_REV = "eab33c4"


def rate(trainer, seconds: float) -> float:
    """Iterations a second over one slice of about `seconds` (records fetched every 50, as the CLI)."""
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.train(50)
        done += 50
    return done / (time.perf_counter() - t0)


def parse_changes(text: str) -> dict:
    return {k: json.loads(v) for k, v in (pair.split("=", 1) for pair in text.split(",") if pair)}


def make_trainer(root: str, preset: str, dataset: str, changes: dict, threads: int):
    """A warmed-up trainer of `preset` from the ganviz found in `root`."""
    sys.path[:0] = [os.path.join(root, "benchmarks"), root]
    import torch
    from _common import preset_config
    from ganviz.core.trainer import Trainer
    torch.set_num_threads(threads)
    config = preset_config(preset).replace(dataset=dataset, batch_size=512, device="cpu", **changes)
    trainer = Trainer(config)
    trainer.train(100)   # warm up
    return trainer


def serve(args) -> None:
    """Child process of --before-rev: one slice per line read (its length in seconds), the rate printed."""
    trainer = make_trainer(args.serve, args.preset, args.dataset, parse_changes(args.changes), args.threads)
    print("ready", flush=True)
    for line in sys.stdin:
        print(rate(trainer, float(line)), flush=True)


class Child:
    """A trainer in its own process, on the code in `root`."""

    def __init__(self, root: str, args, changes: str = ""):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", root, "--preset", args.preset,
             "--dataset", args.dataset, "--threads", str(args.threads), "--changes", changes],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise SystemExit(f"the trainer on {root} did not start")

    def rate(self, seconds: float) -> float:
        self.proc.stdin.write(f"{seconds}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):   # it died, or hangs
            self.proc.kill()
            self.proc.wait()


def export(rev: str, folder: str) -> str:
    """The files of revision `rev` of this repository, unpacked in `folder`."""
    got = subprocess.run(["git", "-C", HERE, "archive", rev], capture_output=True)
    if got.returncode:
        raise SystemExit(f"preset_speed.py: cannot read revision {rev!r}: {got.stderr.decode().strip()}")
    tar = got.stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(folder, filter="data")
    return folder


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="Stable")
    p.add_argument("--before", default=ISSUE_15_STABLE,
                   help="the settings of the run before, as NAME=JSON pairs separated by commas")
    p.add_argument("--before-rev", metavar="REV",
                   help=f"before: the preset in that git revision's code (issue 15: {ISSUE_15_REV}); --before is then ignored")
    p.add_argument("--dataset", default="ring")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--pairs", type=int, default=1,
                   help="pairs of trainers, each made afresh (with --before-rev, in fresh processes), rounds pooled")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    p.add_argument("--changes", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.pairs < 1 or args.rounds < 1:
        p.error("--pairs and --rounds must be at least 1")
    if args.serve:
        return serve(args)
    root = os.path.dirname(HERE)
    sys.path.insert(0, HERE)
    import torch
    from _common import machine_info, median, print_machine
    torch.set_num_threads(args.threads)
    print_machine(machine_info())
    with tempfile.TemporaryDirectory() as old:
        before_root = export(args.before_rev, old) if args.before_rev else None
        label = f"{args.preset} at {args.before_rev}" if args.before_rev else args.before
        pairs = [one_pair(args, root, before_root, p) for p in range(args.pairs)]
    speeds = {name: [v for pair in pairs for v in pair[name]] for name in ("new", "before")}
    m = {n: median(v) for n, v in speeds.items()}
    paired = median([a / b for a, b in zip(speeds["new"], speeds["before"])])   # drift cancels within a round
    if args.pairs > 1:
        print("each pair of trainers, median of its rounds' own ratios: " + ", ".join(
            f"{median([a / b for a, b in zip(pair['new'], pair['before'])]):.3f}" for pair in pairs))
    print(f"{args.preset} on {args.dataset}, batch 512, {args.threads} thread(s), median of {len(speeds['new'])} "
          f"rounds of {args.seconds:g} s ({args.pairs} pair(s) of trainers): new {m['new']:.1f} it/s, before "
          f"({label}) {m['before']:.1f} it/s, new / before {m['new'] / m['before']:.3f}; median of the rounds' "
          f"own ratios {paired:.3f}")


def one_pair(args, root: str, before_root: str | None, index: int) -> dict:
    """Speeds of `rounds` interleaved slices of a new trainer and a before one, made for this
    pair (with --before-rev each in a fresh process: a process's memory layout alone moves its
    speed by a few percent, so several pairs show that spread and pool it)."""
    sides = {}
    try:
        if before_root:
            sides["new"] = Child(root, args)
            sides["before"] = Child(before_root, args)
            timed = {name: child.rate for name, child in sides.items()}
        else:
            new = make_trainer(root, args.preset, args.dataset, {}, args.threads)
            before = make_trainer(root, args.preset, args.dataset, parse_changes(args.before), args.threads)
            timed = {"new": lambda s: rate(new, s), "before": lambda s: rate(before, s)}
        speeds = {name: [] for name in timed}
        for r in range(args.rounds):
            for name in (list(timed) if r % 2 == 0 else list(timed)[::-1]):
                speeds[name].append(timed[name](args.seconds))
            print(f"pair {index + 1} round {r + 1}: " + ", ".join(f"{n} {speeds[n][-1]:.1f} it/s" for n in timed),
                  flush=True)
        return speeds
    finally:   # a child that failed or died leaves no other one behind
        for child in sides.values():
            child.close()


if __name__ == "__main__":
    main()
