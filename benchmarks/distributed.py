"""Data-parallel training: `ganviz train` in one process against `torchrun --nproc_per_node N
-m ganviz train --distributed`, the same total batch and iterations, A/B interleaved rounds;
prints each round's iterations/s (as `ganviz train` reports them: training time only, without
start-up) and the medians' ratio. Every process gets --threads torch threads (default 1, the
fastest for the small networks); on GPUs each process gets a GPU (NCCL), on CPUs gloo. Run it
on an otherwise idle machine: N processes want N cores.

    python benchmarks/distributed.py --nproc 2 --dataset ring --batch-size 256 --steps 400
    python benchmarks/distributed.py --nproc 8 --preset "Digits (DCGAN)" --steps 2000   # a GPU box
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def rate(argv: list[str], env: dict) -> float:
    """Iterations per second from the run's last line ("trained N iterations in S s (R it/s)")."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
    found = re.search(r"\(([\d.]+) it/s\)", done.stdout)
    if done.returncode != 0 or not found:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return float(found.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--dataset", default="ring")
    p.add_argument("--preset")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch threads in every process (default 1)")
    args = p.parse_args()
    common = ["--steps", str(args.steps), "--checkpoint-every", "0", "--device", args.device]
    common += ["--preset", args.preset] if args.preset else ["--dataset", args.dataset]
    common += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    env = {**os.environ, "PYTHONPATH": ROOT}
    if env.get("GLOO_SOCKET_IFNAME") is None and sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"
    work = tempfile.mkdtemp(prefix="ganviz-dist-")
    one, many = [], []
    try:
        for r in range(args.rounds):
            out = os.path.join(work, f"one{r}")
            one.append(rate([sys.executable, "-m", "ganviz", "train", *common, "--threads", str(args.threads),
                             "--out", out], env))
            out = os.path.join(work, f"many{r}")
            many.append(rate([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                              str(args.nproc), "-m", "ganviz", "train", "--distributed", *common,
                              "--threads", str(args.threads), "--out", out], env))
            print(f"round {r + 1}: 1 process {one[-1]:.1f} it/s, {args.nproc} processes {many[-1]:.1f} it/s",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    a, b = statistics.median(one), statistics.median(many)
    print(f"median: 1 process {a:.1f} it/s, {args.nproc} processes {b:.1f} it/s, ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
