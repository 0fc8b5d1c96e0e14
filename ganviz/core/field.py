"""What both networks look like over the 2D plane (GAN Lab's layered view, computed here):
D's output on a grid, G's samples on the fixed noise, the move G's loss asks of each sample,
and how G warps a grid of its noise space."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .models import build_models
from .objectives import get_objective


@dataclass
class Field:
    bounds: tuple            # (x0, x1, y0, y1) of the heatmap
    heatmap: np.ndarray      # (res, res) D's score, row = y, column = x
    fake: np.ndarray         # (N, 2) G(fixed noise)
    push: np.ndarray         # (N, 2) -d loss_G / d G(z): where G's loss asks each fake to move
    manifold: np.ndarray     # (rows, cols, 2) G applied to a regular grid of noise
    probability: bool        # heatmap is a probability (else a critic value)


def manifold_noise(fixed_noise: torch.Tensor, steps: int = 21, span: float = 2.0) -> torch.Tensor:
    """A regular steps x steps grid in noise space: the whole plane for 2D noise, otherwise a
    2D slice through the mean fixed noise along the first two noise coordinates."""
    a = torch.linspace(-span, span, steps, device=fixed_noise.device)
    u, v = torch.meshgrid(a, a, indexing="ij")
    base = fixed_noise.mean(0, keepdim=True).expand(steps * steps, -1).clone()
    base[:, 0] = u.reshape(-1)
    base[:, 1] = v.reshape(-1)
    return base


def compute_field(trainer, bounds, resolution: int = 64, manifold_steps: int = 21,
                  fresh: bool = False) -> Field:
    """The field over `bounds` (x0, x1, y0, y1); fake points from the fixed noise, or from
    fresh noise if asked."""
    g, d, obj = trainer.generator, trainer.discriminator, trainer.objective
    x0, x1, y0, y1 = bounds
    xs = torch.linspace(x0, x1, resolution, device=trainer.device)
    ys = torch.linspace(y0, y1, resolution, device=trainer.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    plane = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    g_was, d_was = g.training, d.training
    g.eval(), d.eval()
    try:
        with torch.no_grad():
            heat = obj.score(d(plane)).reshape(resolution, resolution)
            noise = torch.randn_like(trainer.fixed_noise) if fresh else trainer.fixed_noise
            fake = g(noise)
            noise_dim = trainer.fixed_noise.shape[1]
            grid_noise = manifold_noise(trainer.fixed_noise, manifold_steps) if noise_dim >= 2 else None
            manifold = g(grid_noise).reshape(manifold_steps, manifold_steps, 2) if grid_noise is not None \
                else g(torch.linspace(-2, 2, manifold_steps, device=trainer.device)[:, None]).reshape(1, -1, 2)
        # The gradient of G's loss with respect to each fake sample: the direction the
        # generator's update pulls that point (D held fixed).
        with torch.enable_grad():
            points = fake.detach().requires_grad_(True)
            d.requires_grad_(False)
            try:
                loss = obj.g_loss(d(points)) * len(points)
                (grad,) = torch.autograd.grad(loss, points)
            finally:
                d.requires_grad_(True)
    finally:
        g.train(g_was), d.train(d_was)
    return Field(bounds=tuple(float(b) for b in bounds), heatmap=heat.cpu().numpy().copy(),
                 fake=fake.cpu().numpy().copy(), push=(-grad).cpu().numpy().copy(),
                 manifold=manifold.cpu().numpy().copy(), probability=obj.probability)


def network_weights(trainer) -> dict:
    """Numpy copies of G's and D's weights: what the window needs to draw the field itself."""
    def copy(net):
        return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    return {"G": copy(trainer.generator), "D": copy(trainer.discriminator)}


class FieldMirror:
    """A CPU copy of a 2D run's G and D, loaded with network_weights(), so the window computes
    the field in its own process and the training process spends its time training."""

    device = torch.device("cpu")

    def __init__(self, config, sample_shape, fixed_noise: np.ndarray):
        self.generator, self.discriminator = build_models(config, sample_shape)
        self.objective = get_objective(config.objective)
        self.fixed_noise = torch.from_numpy(fixed_noise)

    def load(self, weights: dict):
        for net, key in ((self.generator, "G"), (self.discriminator, "D")):
            net.load_state_dict({k: torch.from_numpy(v) for k, v in weights[key].items()})

    def field(self, bounds, fresh: bool = False) -> Field:
        return compute_field(self, bounds, fresh=fresh)


def d_output_histogram(trainer, bins: int = 20):
    """Histogram of D's scores on the probe reals and on probe fakes (for the quality panel)."""
    g, d, obj = trainer.generator, trainer.discriminator, trainer.objective
    g_was, d_was = g.training, d.training
    g.eval(), d.eval()
    with torch.no_grad():
        real = obj.score(d(trainer.probe_real)).cpu().numpy()
        fake = obj.score(d(g(trainer.probe_noise))).cpu().numpy()
    g.train(g_was), d.train(d_was)
    if obj.probability:
        edges = np.linspace(0, 1, bins + 1)
    else:
        both = np.concatenate([real, fake])
        both = both[np.isfinite(both)]
        lo, hi = (both.min(), both.max()) if len(both) else (-1.0, 1.0)
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    return edges, np.histogram(real, edges)[0], np.histogram(fake, edges)[0]
