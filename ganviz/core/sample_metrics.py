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
- the memorisation ratio: the median distance from a sample to its nearest training image
  (every one, up to TRAINING_MAX), over the median distance from a training image to its
  nearest other (about 1 for new images; far below 1 for copies of any training image).

Feature space: every image as 8x8 grey pixels in [-1, 1] (64 numbers; colour averaged,
larger images shrunk with antialiasing). For the 8x8 digits that is the data itself. The
real images are split once into a reference set and a held-out set of the same size (held out
of the reference, not of training); the samples (as many) and the held-out set are each
compared with the reference set. Each measure costs a
few tens of milliseconds at 600 images.
"""
from __future__ import annotations

import numpy as np

K = 5                  # neighbours for the k-NN radii (Naeem et al.'s default)
MIN_REAL = 4 * K       # fewer real images than this: nothing to compare with (no scores)
SAMPLE_SIZE = 600      # images per set (reference, held-out, samples)
TRAINING_MAX = 50_000  # training images memorisation is measured against (a seeded subset beyond)
CHUNK = 4096           # images per chunk when comparing with the whole training set


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


def all_features(images, limit: int = TRAINING_MAX, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(features, rows): features() of every image (of `limit` of them, seeded, for a larger
    set; rows: which), computed a chunk at a time: a big folder of colour images is never
    copied whole."""
    pick = np.arange(len(images)) if len(images) <= limit else \
        np.sort(np.random.default_rng(seed).permutation(len(images))[:limit])
    return np.concatenate([features(images[pick[i: i + CHUNK]]) for i in range(0, len(pick), CHUNK)]), pick


def nearest(a: np.ndarray, b: np.ndarray, k: int = 1, skip_self: np.ndarray | None = None):
    """(distances, indices), each (len(a), k) and sorted: the k rows of b nearest each row of
    a, b read a chunk at a time. skip_self[i]: the row of b that is a[i] itself (not counted)."""
    best_d = np.full((len(a), k), np.inf)
    best_i = np.zeros((len(a), k), np.int64)
    for start in range(0, len(b), CHUNK):
        d = _distances(a, b[start: start + CHUNK])
        if skip_self is not None:
            rows = np.flatnonzero((skip_self >= start) & (skip_self < start + len(d[0])))
            d[rows, skip_self[rows] - start] = np.inf
        if k == 1:   # the common case: a minimum, no sorting
            j = d.argmin(1)
            dj = d[np.arange(len(d)), j]
            better = dj < best_d[:, 0]
            best_d[better, 0], best_i[better, 0] = dj[better], j[better] + start
            continue
        top = np.argpartition(d, min(k, d.shape[1]) - 1, axis=1)[:, :k]
        cand_d = np.concatenate([best_d, np.take_along_axis(d, top, 1)], 1)
        cand_i = np.concatenate([best_i, top + start], 1)
        order = np.argsort(cand_d, axis=1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(cand_d, order, 1), np.take_along_axis(cand_i, order, 1)
    return best_d, best_i


class RealReference:
    """The real images, split once (seeded) into a reference set and a held-out set of other
    real images (held out of the reference, not of training: G trained on all of them); the
    held-out set's own score against the reference is the ceiling to show beside a run's.
    Memorisation compares with every training image (up to TRAINING_MAX of them)."""

    def __init__(self, images, n: int = SAMPLE_SIZE, seed: int = 0):
        if len(images) < MIN_REAL:
            raise ValueError(f"{len(images)} real images are too few to compare with (at least {MIN_REAL})")
        n = min(n, len(images) // 2)
        order = np.random.default_rng(seed).permutation(len(images))
        pick = order[: 2 * n]   # before any copy
        x = features(images[pick])
        self.reference, self.held_out = x[:n], x[n:]
        self._real = _Real(self.reference, K)
        self.radii = self._real.radii
        self.n = n
        self.training, self.training_rows = all_features(images, seed=seed)
        # the typical distance from a training image to its nearest other: the yardstick
        yard = np.random.default_rng(seed + 1).permutation(len(self.training))[:n]
        self.typical = float(np.median(nearest(self.training[yard], self.training, skip_self=yard)[0][:, 0]))
        self.real = compare(self.held_out, self._real)
        if len(images) <= TRAINING_MAX:   # the held-out images against every other training image
            own = nearest(self.held_out, self.training, skip_self=pick[n:])[0][:, 0]
            self.real["memorisation"] = float(np.median(own) / max(self.typical, 1e-12))
        else:   # (their rows in the subset are not known: the same measure as the yardstick's)
            self.real["memorisation"] = 1.0

    def score_features(self, x: np.ndarray) -> dict:
        out = compare(x, self._real)
        out["memorisation"] = float(np.median(nearest(x, self.training)[0][:, 0]) / max(self.typical, 1e-12))
        return out

    def inside(self, images) -> np.ndarray:
        """Which images pass as real: inside some reference image's k-NN neighbourhood (the
        precision criterion)."""
        d = _distances(features(images), self.reference)
        return (d <= self.radii[None, :]).any(1)

    def score(self, images) -> dict:
        """Every measure for these samples (as many as the reference set: self.n; the 1-NN
        test and coverage assume equal sets), and `real`: held-out real data's own, measured
        the same way."""
        x = features(images[: self.n])
        if len(x) < 2 * K:
            raise ValueError(f"at least {2 * K} samples are needed to compare (got {len(x)})")
        return {**self.score_features(x), "real": dict(self.real)}
