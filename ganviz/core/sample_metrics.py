"""Honest numbers for generated images: how much of the real data they cover, how close they
sit to it, whether they can be told from it, and whether they copy it.

A classifier labels anything as some digit, so counting the classes hit says little (one
class of blobs still "hits" four). These measures compare the samples with real images in a
stated feature space and are reported beside held-out real data's own score:

- precision and recall (Kynkäänniemi et al. 2019): the share of samples inside the real data's
  k-NN manifold, and of real images inside the samples';
- density and coverage (Naeem et al. 2020): how many real neighbourhoods hold each sample (1 on
  average for real data), and the share of real neighbourhoods holding at least one sample;
- KID (Bińkowski et al. 2018): the unbiased squared MMD with the cubic polynomial kernel;
- the 1-NN two-sample test (Lopez-Paz & Oquab 2017): leave-one-out 1-nearest-neighbour
  accuracy telling samples from real images; 0.5 when they cannot be told apart, 1 when
  they always can, near 0 when the samples are copies of the real images;
- the memorisation ratio: the median distance from a sample to its nearest real image, over
  the same for held-out real images (about 1; far below 1 for copies).

Feature space: every image as 8x8 grey pixels in [-1, 1] (64 numbers; colour averaged,
larger images shrunk with antialiasing). For the 8x8 digits that is the data itself. The
real images are split once into a reference set and a held-out set of the same size; the
samples and the held-out set are each compared with the reference set. Each measure costs a
few tens of milliseconds at 600 images.
"""
from __future__ import annotations

import numpy as np

K = 5                  # neighbours for the k-NN radii (Naeem et al.'s default)
MIN_REAL = 4 * K       # fewer real images than this: nothing to compare with (no scores)
SAMPLE_SIZE = 600      # images per set (reference, held-out, samples)
KEYS = ("precision", "recall", "density", "coverage", "kid", "nn_accuracy", "memorisation")


def features(images) -> np.ndarray:
    """(N, 64) float64: images (N, C, H, W) in [-1, 1] as 8x8 grey pixels."""
    import torch
    import torch.nn.functional as F
    x = images.detach().cpu().float() if hasattr(images, "detach") else torch.as_tensor(np.asarray(images, np.float32))
    if x.ndim == 3:
        x = x[:, None]
    x = torch.nan_to_num(x, nan=0.0).clamp(-1, 1).mean(1, keepdim=True)   # grey
    if x.shape[-2:] != (8, 8):
        x = F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False, antialias=True)
    return x.reshape(len(x), 64).double().numpy()


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d, 0.0))


def _radii(x: np.ndarray, k: int, d: np.ndarray | None = None) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (d: x's distances to itself,
    if already worked out; its diagonal is set to inf)."""
    d = _distances(x, x) if d is None else d
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


class _Real:
    """What compare() needs of the real set, worked out once per reference set."""

    def __init__(self, real: np.ndarray, k: int):
        d = _distances(real, real)
        self.x, self.radii = real, _radii(real, k, d)
        self.nearest = d.min(1)                                  # to another real image
        n = len(real)
        kyy = _kernel(real, real)
        self.kyy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))


def compare(fake: np.ndarray, real, k: int = K) -> dict:
    """Every measure of fake features against real (reference) features, both (N, D); real
    may be a _Real made once for many comparisons."""
    real = real if isinstance(real, _Real) else _Real(real, k)
    dff = _distances(fake, fake)
    fake_r = _radii(fake, k, dff)                    # (leaves dff's diagonal at inf)
    d = _distances(fake, real.x)                     # (fakes, reals)
    inside = d <= real.radii[None, :]                # fake i inside real j's neighbourhood
    to_real, to_fake = d.min(1), d.min(0)
    # leave-one-out 1-NN: a fake is told right when its nearest is a fake, a real when a real
    right = (dff.min(1) < to_real).sum() + (real.nearest < to_fake).sum()
    m = len(fake)
    kxx = _kernel(fake, fake)
    return {
        "precision": float(inside.any(1).mean()),
        "recall": float((d <= fake_r[:, None]).any(0).mean()),
        "density": float(inside.sum() / (k * m)),
        "coverage": float((to_fake <= real.radii).mean()),
        "kid": float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + real.kyy - 2.0 * _kernel(fake, real.x).mean()),
        "nn_accuracy": float(right / (m + len(real.x))),
    }


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """KID's cubic polynomial kernel, (a.b / dim + 1)^3."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


class RealReference:
    """The real images, split once (seeded) into a reference set and a held-out set; the
    held-out set's own score against the reference is the ceiling to show beside a run's."""

    def __init__(self, images, n: int = SAMPLE_SIZE, seed: int = 0):
        if len(images) < MIN_REAL:
            raise ValueError(f"{len(images)} real images are too few to compare with (at least {MIN_REAL})")
        n = min(n, len(images) // 2)
        pick = np.random.default_rng(seed).permutation(len(images))[: 2 * n]   # before any copy
        x = features(images[pick])
        self.reference, self.held_out = x[:n], x[n:]
        self._real = _Real(self.reference, K)
        self.radii = self._real.radii
        self.n = n
        self._nearest_held_out = np.median(_distances(self.held_out, self.reference).min(1))
        self.real = self.score_features(self.held_out)

    def score_features(self, x: np.ndarray) -> dict:
        out = compare(x, self._real)
        nearest = np.median(_distances(x, self.reference).min(1))
        out["memorisation"] = float(nearest / max(self._nearest_held_out, 1e-12))
        return out

    def inside(self, images) -> np.ndarray:
        """Which images pass as real: inside some reference image's k-NN neighbourhood (the
        precision criterion)."""
        d = _distances(features(images), self.reference)
        return (d <= self.radii[None, :]).any(1)

    def score(self, images) -> dict:
        """Every measure for these samples (use about self.n of them), and `real`: held-out
        real data's own, measured the same way."""
        x = features(images)
        if len(x) < 2 * K:
            raise ValueError(f"at least {2 * K} samples are needed to compare (got {len(x)})")
        return {**self.score_features(x), "real": dict(self.real)}
