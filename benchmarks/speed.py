"""Headless training speed: ganviz's Trainer against a bare PyTorch loop on the same models.

The bare loop is the physical limit (ANCHORS.md section 4): the same networks (build_models
with the same Config and seed), the same data tensor (trainer.data), batch size, optimizer
and non-saturating BCE-with-logits objective, DCGAN-example style, with no records, no probe
batch and no gradient norms. Variants run A/B interleaved in one process, one timed slice
each per round; speeds are medians over rounds. Goal: ganviz / bare >= 0.97.

    python benchmarks/speed.py                                   # ring and digits, 5 x 4 s
    python benchmarks/speed.py --config ring --rounds 2 --seconds 0.5   # smoke test
    python benchmarks/speed.py --device cuda --threads 1

Variants: "ganviz" (step_iteration(fetch=False), records fetched once per slice),
"ganviz fetch/50" (records fetched every 50 iterations: trainer.train(50) in a loop), "bare" (the
plain loop; fakes for D made under no_grad and D frozen in G's step: the same work ganviz
does) and, with --dcgan-literal, "bare DCGAN" (the example's literal loop, which also builds
G's graph for the D step and computes D's weight gradients in G's step: slower, shown only
for reference).
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import os
import tempfile

from _common import Config, digits_config, folder64_config, machine_info, median, print_machine, resolve_device

from ganviz.core.models import build_models  # noqa: E402
from ganviz.core.trainer import Trainer  # noqa: E402

CHUNK = 1  # iterations between looks at the clock (a clock read costs ~0.1 us)
WARMUP = 5  # chunks each contender runs before the first round
FETCH_EVERY = 50  # as `ganviz train` and the CLI's chunks fetch records


class BareLoop:
    """The DCGAN example's body with nothing else: D on real + detached fake, G on fresh noise."""

    def __init__(self, config: Config, data: torch.Tensor, device, literal: bool = False):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # the same initial weights as the Trainer's
            g, d = build_models(config, tuple(data.shape[1:]))
        self.g, self.d = g.to(device), d.to(device)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=config.lr_d, betas=betas)
        self.data, self.device, self.literal = data, device, literal
        self.batch, self.noise_dim, self.d_steps = config.batch_size, config.noise_dim, config.d_steps
        self.perm, self.pos = None, len(data)
        self.iterations = 0

    def real_batch(self):
        if self.pos + self.batch > len(self.data):
            self.perm, self.pos = torch.randperm(len(self.data), device=self.device), 0
        idx = self.perm[self.pos: self.pos + self.batch]
        self.pos += self.batch
        return self.data[idx]

    def noise(self):
        return torch.randn(self.batch, self.noise_dim, device=self.device)

    def iteration(self):
        g, d = self.g, self.d
        for _ in range(self.d_steps):
            real = self.real_batch()
            if self.literal:
                fake = g(self.noise()).detach()
            else:
                with torch.no_grad():
                    fake = g(self.noise())
            out_real, out_fake = d(real), d(fake)
            loss_d = (F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real))
                      + F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake)))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        if not self.literal:
            d.requires_grad_(False)
        out = d(g(self.noise()))
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        d.requires_grad_(True)
        self.iterations += 1

    def run(self, n):
        for _ in range(n):
            self.iteration()


def timed(run_chunk, count, finish, seconds, device):
    """Iterations per second of run_chunk() called until `seconds` have passed, then finish()."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    n0, t0 = count(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run_chunk()
    finish()
    sync()
    return (count() - n0) / (time.perf_counter() - t0)


def variants(config, device, literal):
    """name -> (run one chunk, iteration counter, end of slice) for each contender, warmed up."""
    trainer = Trainer(config, device=str(device))
    fetching = Trainer(config, device=str(device))
    bare = BareLoop(config, trainer.data, device)

    def ganviz_chunk():
        for _ in range(CHUNK):
            trainer.step_iteration(fetch=False)

    def fetching_chunk():  # trainer.train(50) in a loop, cut into CHUNKs to keep slices exact
        for _ in range(CHUNK):
            fetching.step_iteration(fetch=False)
            if fetching.iteration % FETCH_EVERY == 0:
                fetching.fetch_records()

    nothing = lambda: None  # noqa: E731
    out = {"ganviz": (ganviz_chunk, lambda: trainer.iteration, trainer.fetch_records),
           "ganviz fetch/50": (fetching_chunk, lambda: fetching.iteration, nothing),
           "bare": (lambda: bare.run(CHUNK), lambda: bare.iterations, nothing)}
    if literal:
        lit = BareLoop(config, trainer.data, device, literal=True)
        out["bare DCGAN"] = (lambda: lit.run(CHUNK), lambda: lit.iterations, nothing)
    for run_chunk, _, finish in out.values():  # warm-up: allocator, autograd caches, CUDA kernels
        for _ in range(WARMUP):
            run_chunk()
        finish()
    return out


def bench(label, config, device, args):
    print(f"\n== {label}: dataset {config.dataset}, batch {config.batch_size}, "
          f"objective {config.objective}, d_steps {config.d_steps}")
    if config.objective != "nonsaturating":
        print(f"note: the bare loop uses the non-saturating objective; the config uses {config.objective}")
    contenders = variants(config, device, args.dcgan_literal)
    names = list(contenders)
    rates = {n: [] for n in names}
    print("round  " + "".join(f"{n:>17}" for n in names) + "   ganviz/bare   (iterations/s)")
    for r in range(args.rounds):
        # rotate the order each round, so no contender always runs right after another
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            rates[name].append(timed(*contenders[name], args.seconds, device))
        ratio = rates["ganviz"][-1] / rates["bare"][-1]
        print(f"{r + 1:5d}  " + "".join(f"{rates[n][-1]:17.1f}" for n in names) + f"   {ratio:11.3f}",
              flush=True)
    med = {n: median(rates[n]) for n in names}
    ratio = med["ganviz"] / med["bare"]
    print("median " + "".join(f"{med[n]:17.1f}" for n in names) + f"   {ratio:11.3f}")
    ups = 1 + config.d_steps
    print(f"updates/s (x{ups}): " + ", ".join(f"{n} {med[n] * ups:.1f}" for n in names))
    print(f"ganviz / bare = {ratio:.3f} (goal >= 0.97: {'met' if ratio >= 0.97 else 'NOT met'}); "
          f"ganviz fetch/50 / bare = {med['ganviz fetch/50'] / med['bare']:.3f}")
    return med


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=("ring", "digits", "folder64", "all"), default="all",
                   help="all: ring and digits, and folder64 on a GPU (64x64 DCGAN: too slow for a CPU)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=4.0, help="length of one timed slice")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--dcgan-literal", action="store_true", help="also time the example's literal loop")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print_machine(machine_info(device))
    configs = []
    if args.config in ("ring", "all"):
        # The bare loop has no R1 penalty and no LR schedule: compare like with like.
        configs.append(("ring (Config(r1_gamma=0, decay_steps=0))", Config(r1_gamma=0.0, decay_steps=0)))
    if args.config in ("digits", "all"):
        configs.append(digits_config())
    if args.config == "folder64" or (args.config == "all" and device.type == "cuda"):
        configs.append(folder64_config(os.path.join(tempfile.gettempdir(), "ganviz-folder64")))
    for label, config in configs:
        bench(label, config, device, args)


if __name__ == "__main__":
    main()
