"""Seconds per training iteration of a preset against the same preset with some settings
changed back (issue 15: the new Stable must be no slower per iteration than the one before).

Both run A/B interleaved in one process, one timed slice of each per round, at the protocol's
batch of 512 on the ring; the speeds are medians over rounds, and the ratio is new / before.

    python benchmarks/preset_speed.py       # Stable against Stable as issue 15 found it
    python benchmarks/preset_speed.py --before g_ema=0.0 --rounds 9 --seconds 3
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from _common import machine_info, median, preset_config, print_machine

from ganviz.core.trainer import Trainer  # noqa: E402


# Stable's settings when issue 15 asked for a new one "no slower per iteration": no noise
# clusters, no moving average of G, Adam betas (0.5, 0.999), R1 weight 1, decay to 1 %.
ISSUE_15_STABLE = "noise_clusters=0,g_ema=0.0,beta1=0.5,beta2=0.999,r1_gamma=1.0,lr_final=0.01"


def rate(trainer: Trainer, seconds: float) -> float:
    """Iterations a second over one slice of about `seconds` (records fetched every 50, as the CLI)."""
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.train(50)
        done += 50
    return done / (time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="Stable")
    p.add_argument("--before", default=ISSUE_15_STABLE,
                   help="the settings of the run before, as NAME=JSON pairs separated by commas")
    p.add_argument("--dataset", default="ring")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print_machine(machine_info())
    new = preset_config(args.preset).replace(dataset=args.dataset, batch_size=512, device="cpu")
    before = new.replace(**{k: json.loads(v) for k, v in (pair.split("=", 1) for pair in args.before.split(","))})
    trainers = {"new": Trainer(new), "before": Trainer(before)}
    for t in trainers.values():
        t.train(100)   # warm up
    speeds = {name: [] for name in trainers}
    for r in range(args.rounds):
        order = list(trainers) if r % 2 == 0 else list(trainers)[::-1]
        for name in order:
            speeds[name].append(rate(trainers[name], args.seconds))
        print(f"round {r + 1}: " + ", ".join(f"{n} {speeds[n][-1]:.1f} it/s" for n in trainers), flush=True)
    m = {n: median(v) for n, v in speeds.items()}
    print(f"{args.preset} on {args.dataset}, batch 512, {args.threads} thread(s), median of {args.rounds} "
          f"rounds of {args.seconds:g} s: new {m['new']:.1f} it/s, before ({args.before}) {m['before']:.1f} "
          f"it/s, new / before {m['new'] / m['before']:.3f}")


if __name__ == "__main__":
    main()
