"""Offline scores for generated samples: mode coverage on 2D mixtures, class coverage on digits.

Both follow the published protocols in /work/shared/ANCHORS.md (sections 2 and 3) so the
numbers ganviz shows can be set beside the papers' tables. Neither needs a download: FID's
Inception weights are out of reach, so digits are judged by a small classifier fitted here.
"""
from __future__ import annotations

import functools
import math

import numpy as np

N_DIGIT_CLASSES = 10
KL_EPSILON = 1e-12  # keeps log(p / q) finite where the reference histogram has an empty bin
CLASS_SHARE = 0.01  # a digit class counts where this share of the images (that pass as real) holds it


# Real data's RMS distance from its mode, in sigmas, over the points within 3 sigma (the
# high-quality ones): for a 2D Gaussian E[r^2 | r < 3] = 2 (1 - 5.5 e^-4.5) / (1 - e^-4.5).
REAL_WIDTH = math.sqrt(2 * (1 - 5.5 * math.exp(-4.5)) / (1 - math.exp(-4.5)))   # 1.378


def mode_quality(samples: np.ndarray, modes: np.ndarray, sigma: float) -> dict:
    """Score generated 2D points against a known Gaussian mixture (VEEGAN / GDPP / PacGAN protocol).

    samples: (N, 2) generated points (the protocol draws N = 2500); modes: (M, 2) centres;
    sigma: the std of each component. A sample is high quality if it lies within 3*sigma of
    its nearest mode; perfect samples reach 1 - exp(-4.5) = 98.9 %. Non-finite samples (a
    diverged generator) count as low quality.

    Returns {"modes_covered": modes nearest to at least one high-quality sample,
             "n_modes": M,
             "high_quality": percent (0..100) of samples that are high quality,
             "reverse_kl": KL(p_gen || uniform over modes),
             "width": the high-quality samples' RMS distance from their mode, as a percent of
             real data's (REAL_WIDTH): under 100, G draws each mode narrower than the data, and
             high_quality can then pass the 98.9 % that real data reaches}, where p_gen is the histogram of
    the high-quality samples' nearest modes (0 log 0 = 0). Convention when NO sample is
    high quality: reverse_kl = log(M), the value of total collapse onto one mode; it is the
    same value a single high-quality sample gives, so the score does not jump there.
    """
    samples, modes = _as_numpy(samples), np.asarray(modes, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape (N, 2), got {samples.shape}")
    if modes.ndim != 2 or modes.shape[1] != 2 or len(modes) == 0:
        raise ValueError(f"modes must have shape (M, 2) with M >= 1, got {modes.shape}")
    n_modes = len(modes)
    if len(samples) == 0:
        return {"modes_covered": 0, "n_modes": n_modes, "high_quality": 0.0,
                "reverse_kl": float(np.log(n_modes)), "width": float("nan")}
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=2)  # (N, M)
    distances = np.nan_to_num(distances, nan=np.inf)  # NaN samples: far from every mode
    nearest = distances.argmin(axis=1)
    nearest_distance = distances[np.arange(len(samples)), nearest]
    high_quality = nearest_distance <= 3 * sigma
    counts = np.bincount(nearest[high_quality], minlength=n_modes)
    if counts.sum() == 0:
        reverse_kl = float(np.log(n_modes))
    else:
        p_gen = counts / counts.sum()
        p = p_gen[p_gen > 0]
        reverse_kl = float(np.sum(p * np.log(p * n_modes)))  # log(p / (1/M))
    near = nearest_distance[high_quality]
    width = 100.0 * np.sqrt(np.mean(near ** 2)) / (REAL_WIDTH * sigma) if len(near) else float("nan")
    return {"modes_covered": int((counts > 0).sum()), "n_modes": n_modes,
            "high_quality": float(100.0 * high_quality.mean()), "reverse_kl": reverse_kl,
            "width": float(width), **_crowding(samples, distances, nearest, modes, sigma)}


def _crowding(samples, distances, nearest, modes, sigma) -> dict:
    """Where the samples crowd, by looser rules than 3 sigma (a collapsed blob is seldom that
    sharp, and it may sit between modes):
    "spread": the samples' RMS distance from their mean, as a percent of the data's own;
    "modes_nearest": modes that are the nearest mode of at least half an even share (1/2M) of
    the samples; "near_mode": percent of samples within a quarter of the smallest gap between
    two modes of their nearest mode; "modes_held": modes holding at least half an even share
    of those near samples; "held_share": the percent of the near samples that the held modes
    hold. (Half an even share, not a fixed percent: on the grid's 25 modes an even share is
    4 %, so a fixed 5 % would call perfect samples "0 modes held".)"""
    share = 0.5 / len(modes)
    finite = samples[np.isfinite(samples).all(1)]
    data_rms = np.sqrt(((modes - modes.mean(0)) ** 2).sum(1).mean() + 2 * sigma ** 2)
    rms = np.sqrt(((finite - finite.mean(0)) ** 2).sum(1).mean()) if len(finite) else 0.0
    per_mode = np.bincount(nearest, minlength=len(modes))
    out = {"spread": float(100.0 * rms / data_rms),
           "modes_nearest": int((per_mode >= share * len(nearest)).sum())}
    gaps = np.linalg.norm(modes[:, None] - modes[None], axis=2)
    gap = gaps[gaps > 0].min() if len(modes) > 1 else np.inf
    close = distances[np.arange(len(nearest)), nearest] <= 0.25 * gap
    if not close.any():
        return {**out, "near_mode": 0.0, "modes_held": 0, "held_share": 0.0}
    counts = np.bincount(nearest[close], minlength=len(modes))
    held = counts >= share * close.sum()
    return {**out, "near_mode": float(100.0 * close.mean()), "modes_held": int(held.sum()),
            "held_share": float(100.0 * counts[held].sum() / close.sum())}


class DigitScorer:
    """A classifier trained on scikit-learn's real 8x8 digits labels generated digit images.

    Report beside a generator's score the same score on real digits (`real_score`): that is
    the ceiling, since the classifier is not perfect and a sample of 1000 is not exact.
    """

    def __init__(self, seed: int = 0):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.svm import SVC

        digits = load_digits()
        self._real_images = digits.images.astype(np.float32) / 8.0 - 1.0  # as data.py scales them
        self._real_labels = digits.target
        # The real class frequencies: what a generator that matched the data would produce.
        counts = np.bincount(digits.target, minlength=N_DIGIT_CLASSES)
        self.real_histogram = counts / counts.sum()
        train_x, test_x, train_y, test_y = train_test_split(
            digits.data, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)
        # gamma=0.001 on the 0..16 pixel scale: the scikit-learn digits example's setting.
        self._classifier = SVC(gamma=0.001).fit(train_x, train_y)
        predicted = self._classifier.predict(test_x)
        self.accuracy = float((predicted == test_y).mean())  # held out: honest
        # per class: the share of held-out real k's it names k (the ceiling of a conditional G's)
        self.class_accuracy = np.array([(predicted[test_y == k] == k).mean() for k in range(N_DIGIT_CLASSES)])

    def predict(self, images) -> np.ndarray:
        """Class (0..9) of each image; images (N, 1, 8, 8) or (N, 8, 8) in [-1, 1]."""
        x = _as_numpy(images)
        if x.ndim not in (3, 4) or x.shape[-2:] != (8, 8) or (x.ndim == 4 and x.shape[1] != 1):
            raise ValueError(f"DigitScorer labels grey 8x8 images (N, 1, 8, 8); got {x.shape}")
        # A diverged generator can emit NaN: treat it as background rather than crash the GUI.
        x = np.clip(np.nan_to_num(x.reshape(len(x), 64), nan=-1.0), -1.0, 1.0)
        return self._classifier.predict((x + 1.0) * 8.0)  # back to the 0..16 scale it learnt

    def score(self, images, real_like=None) -> dict:
        """{"classes_covered": classes (of 10) predicted at least once, or, given real_like (a
                mask of the images that pass as real digits: sample_metrics.RealReference.
                inside), classes held by at least CLASS_SHARE of the images (and 2) among those
                only: a classifier names some digit for anything, noise included,
            "kl": KL(p_gen || p_real) of class histograms (finite: see KL_EPSILON),
            "histogram": np.ndarray(10) of the fraction of images in each class}"""
        predictions = self.predict(images)
        if len(predictions) == 0:
            raise ValueError("DigitScorer.score needs at least one image")
        histogram = np.bincount(predictions, minlength=N_DIGIT_CLASSES) / len(predictions)
        p = histogram[histogram > 0]
        q = self.real_histogram[histogram > 0] + KL_EPSILON
        if real_like is None:
            covered = int((histogram > 0).sum())
        else:
            held = np.bincount(predictions[np.asarray(real_like, bool)], minlength=N_DIGIT_CLASSES)
            covered = int((held >= max(2, CLASS_SHARE * len(predictions))).sum())
        return {"classes_covered": covered, "kl": float(np.sum(p * np.log(p / q))), "histogram": histogram}

    @functools.lru_cache(maxsize=4)  # the real data does not change: score it once
    def real_score(self, n: int = 1000, seed: int = 0, reference=None) -> dict:
        """The same score on n real digits (drawn without replacement while there are enough);
        with `reference` (a RealReference), classes counted as score(real_like=) counts them."""
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(self._real_images), size=n, replace=n > len(self._real_images))
        images = self._real_images[pick][:, None]
        return self.score(images, None if reference is None else reference.inside(images))


@functools.lru_cache(maxsize=1)
def digit_scorer() -> DigitScorer:
    """The process-wide scorer, fitted once on first use (about a tenth of a second)."""
    return DigitScorer()


def _as_numpy(x) -> np.ndarray:
    """A float64 numpy copy of a numpy array or a (possibly GPU, possibly grad) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)
