"""Looking inside a trained generator: walks through its noise space and a check for copies.

- seed_noise: the noise vector of a seed (the same seed, the same z, in every run).
- slerp: the path between two noise vectors along the great circle. For Gaussian z, the
  straight line (lerp) passes through vectors far shorter than any G ever trained on (the
  midpoint of two independent z has about 71 % of their length); slerp keeps the length.
- plane_noise: a point of the plane spanned by four corner seeds (StyleGAN3's visualiser
  blends four seeds the same way): a bilinear blend of the corners, rescaled to the corners'
  mean length for the same reason.
- NearestReal: the training images nearest a sample (8x8 grey pixels, up to 50 000 of them,
  as sample_metrics.RealReference measures memorisation), and the distance ratio: its nearest
  distance over the median distance between a training image and its nearest other (the same
  yardstick). Near or above 1: a new image; far below 1: (nearly) a copy of a training image
  (stylegan2-ada-pytorch's memorisation check).
"""
from __future__ import annotations

import numpy as np
import torch

from .models import one_label
from .sample_metrics import features, nearest


def seed_noise(seed: int, noise_dim: int) -> torch.Tensor:
    """(noise_dim,) float32: z ~ N(0, I) drawn from `seed`."""
    return torch.randn(noise_dim, generator=torch.Generator().manual_seed(int(seed)))


def slerp(a: torch.Tensor, b: torch.Tensor, t: np.ndarray) -> torch.Tensor:
    """(len(t), dim): points from a (t = 0) to b (t = 1) along the great circle, their length
    moving linearly from |a| to |b|."""
    t = torch.as_tensor(np.asarray(t, dtype=np.float64))[:, None]
    na, nb = a.norm().double(), b.norm().double()
    ua, ub = a.double() / na, b.double() / nb
    omega = torch.arccos(torch.clamp((ua * ub).sum(), -1.0, 1.0))
    if omega < 1e-6:   # (nearly) the same direction: the straight line is the arc
        direction = (1 - t) * ua + t * ub
    else:
        direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).float()


def plane_noise(corners: torch.Tensor, u: float, v: float) -> torch.Tensor:
    """(dim,): the point (u, v) in [0, 1]^2 of the plane through four corner vectors (rows:
    (0, 0), (1, 0), (0, 1), (1, 1)), at the corners' mean length."""
    c = corners.double()
    z = (1 - u) * (1 - v) * c[0] + u * (1 - v) * c[1] + (1 - u) * v * c[2] + u * v * c[3]
    return (z / z.norm().clamp_min(1e-12) * c.norm(dim=1).mean()).float()


def generate(generator, noise: torch.Tensor, label: int | None = None) -> np.ndarray:
    """G's output on this noise (eval mode, no gradient), as CPU numpy; a conditional G is
    asked for class `label` for every sample."""
    device = next(generator.parameters()).device
    y = one_label(label, len(noise), device)
    with torch.no_grad():
        was = generator.training
        generator.eval()
        out = generator(noise.to(device), y)
        generator.train(was)
    return out.cpu().numpy()


class NearestReal:
    """Nearest-neighbour questions about the training images, in the features (and with the
    yardstick) a sample_metrics.RealReference of them already worked out."""

    def __init__(self, reference, images: torch.Tensor):
        self.images = images
        self.features, self.rows, self.typical = reference.training, reference.training_rows, reference.typical

    def __call__(self, sample, k: int = 4) -> dict:
        """{"indices", "distances", "ratio", "images"}: the k nearest training images to one sample."""
        d, order = nearest(features(np.asarray(sample)[None]), self.features, k=k)
        d, order = d[0], order[0]
        rows = self.rows[order]   # in the training images
        return {"indices": rows, "distances": d,
                "ratio": float(d[0] / max(self.typical, 1e-12)),
                "images": self.images[torch.as_tensor(rows)].cpu().numpy()}
