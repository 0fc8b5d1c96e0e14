"""Where a 2D run's low-quality samples lie, and whether D sees them.

Trains one preset on the ring or the grid (batch 512, as the protocol) and prints the high-quality
share of G's moving average and of G itself as it goes. At the end, for G's samples (20 000 of
them) and for as many fresh real points:
- how far each lies from its nearest mode, in sigmas (under 3 counts as high quality),
- D's mean raw output (logit) in each band: a D that sees the off-mode samples scores them
  lower than the real points near the modes,
- with noise clusters (models.ClusteredNoise): how many clusters hold the off-mode samples, and
  where the worst ones land (a whole cluster beside a mode, or one split between two modes).

    python benchmarks/off_mode.py --dataset grid --seed 6
    python benchmarks/off_mode.py --dataset ring --seed 8 --set r1_gamma=0.03 --iterations 5000
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields

import numpy as np
import torch

from _common import preset_config
from ganviz.core.config import Config
from ganviz.core.metrics import mode_quality
from quality import parse_variants

BANDS = ((0, 2), (2, 3), (3, 4), (4, 6), (6, np.inf))


def distances(points: np.ndarray, modes: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(distance to the nearest mode in sigmas, that mode's index) per point."""
    d = np.linalg.norm(points[:, None, :] - modes[None], axis=2)
    return d.min(1) / sigma, d.argmin(1)


def report(trainer, n: int = 20_000) -> None:
    modes, sigma = np.asarray(trainer.dataset.modes), trainer.dataset.sigma
    z = torch.randn(n, trainer.config.noise_dim, generator=torch.Generator().manual_seed(123))
    rng = np.random.default_rng(0)
    real = modes[rng.integers(0, len(modes), n)] + rng.normal(size=(n, 2)) * sigma
    d = trainer.discriminator
    with torch.no_grad():
        d_real = d(torch.as_tensor(real, dtype=torch.float32)).numpy()
    near_real, _ = distances(real, modes, sigma)
    nets = [("G's average", trainer.generator_ema)] if trainer.generator_ema is not None else []
    for name, g in nets + [("G", trainer.generator)]:
        was = g.training
        with torch.no_grad():
            fake = g.eval()(z)
            d_fake = d(fake).numpy()
        g.train(was)
        near, mode = distances(fake.numpy(), modes, sigma)
        width = mode_quality(fake.numpy(), modes, sigma)["width"]
        print(f"\n{name}: {100 * (near < 3).mean():.1f} % within 3 sigma (real points: {100 * (near_real < 3).mean():.1f} %), "
              f"mode width {width:.0f} % of real")
        print("  sigmas from a mode   fakes   D on fakes    reals   D on reals")
        for lo, hi in BANDS:
            f, r = (near >= lo) & (near < hi), (near_real >= lo) & (near_real < hi)
            mean = lambda v, m: f"{v[m].mean():+11.4f}" if m.any() else "          -"
            print(f"  {lo:>4}-{hi:<4}          {100 * f.mean():5.2f} % {mean(d_fake, f)}  {100 * r.mean():5.2f} % {mean(d_real, r)}")
        if not hasattr(g, "cluster"):
            continue
        cluster, off = g.cluster(z).numpy(), near >= 3
        per = np.bincount(cluster[off], minlength=g.clusters)
        order = np.argsort(-per)
        held = np.cumsum(per[order]) / max(per.sum(), 1)
        print(f"  off-mode samples: {off.sum()}; the worst 5 of {g.clusters} clusters hold {held[4]:.0%}, the worst 20 {held[19]:.0%}")
        for j in order[:3]:
            mine = cluster == j
            hit = np.bincount(mode[mine], minlength=len(modes))
            print(f"    cluster {j}: {per[j]} of its {mine.sum()} samples off-mode, {near[mine].mean():.1f} sigma "
                  f"from a mode on average; nearest modes {np.nonzero(hit)[0].tolist()}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="Stable")
    p.add_argument("--dataset", default="grid", choices=("ring", "grid"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=25_000)
    p.add_argument("--every", type=int, default=2500, help="score every this many iterations")
    p.add_argument("--set", default="", help='settings on top of the preset, e.g. "r1_gamma=0.03,lr_g=1e-3"')
    args = p.parse_args(argv)
    from ganviz.core.evaluate import evaluate
    from ganviz.core.trainer import Trainer
    torch.set_num_threads(1)
    config = preset_config(args.preset)
    if config is None:
        return 2
    try:
        changes = parse_variants(args.set)[0][1]
        unknown = sorted(set(changes) - {f.name for f in fields(Config)})
        if unknown:
            raise ValueError(f"--set: no setting named {', '.join(unknown)}")
        trainer = Trainer(config.replace(dataset=args.dataset, seed=args.seed, batch_size=512, **changes))
    except (SystemExit, ValueError) as e:   # parse_variants exits with its message
        print(f"off_mode.py: {str(e).replace('--variants', '--set')}", file=sys.stderr)
        return 2
    while trainer.iteration < args.iterations:
        trainer.train(min(args.every, args.iterations - trainer.iteration))
        scores = [f"{evaluate(trainer)['high_quality']:5.1f} %"]
        if trainer.generator_ema is not None:
            keep, trainer.generator_ema = trainer.generator_ema, trainer.generator   # score G itself
            scores.append(f"G itself {evaluate(trainer)['high_quality']:5.1f} %")
            trainer.generator_ema = keep
        print(f"iteration {trainer.iteration}: high quality " + ", ".join(scores), flush=True)
    report(trainer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
