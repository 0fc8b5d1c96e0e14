"""The scores match the published protocols: perfect samples reach the 98.9 % ceiling, mode
collapse is visible, and the digit classifier is good enough to trust its class counts."""
import math

import numpy as np
import pytest
import torch

from ganviz.core.data import load_dataset
from ganviz.core.metrics import digit_scorer, mode_quality


@pytest.fixture(scope="module")
def ring():
    return load_dataset("ring", n_points=2500, seed=1)  # the protocol's 2500 samples


def test_perfect_samples_cover_all_modes_at_the_ceiling(ring):
    score = mode_quality(ring.data.numpy(), ring.modes, ring.sigma)
    assert score["modes_covered"] == 8 and score["n_modes"] == 8
    ceiling = 100 * (1 - math.exp(-4.5))  # 98.89 %: the 3-sigma disc of a 2D Gaussian
    assert abs(score["high_quality"] - ceiling) < 0.7
    assert score["reverse_kl"] < 0.01


def test_accepts_a_torch_tensor(ring):
    assert mode_quality(ring.data, ring.modes, ring.sigma)["modes_covered"] == 8


def test_collapse_onto_one_mode(ring):
    rng = np.random.default_rng(0)
    samples = ring.modes[3] + ring.sigma * rng.standard_normal((2500, 2))
    score = mode_quality(samples, ring.modes, ring.sigma)
    assert score["modes_covered"] == 1
    assert score["reverse_kl"] == pytest.approx(math.log(8))


def test_half_the_modes_gives_log_two(ring):
    samples = np.repeat(ring.modes[:4], 100, axis=0)
    score = mode_quality(samples, ring.modes, ring.sigma)
    assert score["modes_covered"] == 4 and score["high_quality"] == 100
    assert score["reverse_kl"] == pytest.approx(math.log(2))


def test_far_points_are_never_high_quality(ring):
    samples = np.full((2500, 2), 5.0)
    samples[0] = np.nan  # a diverged generator must not crash the score
    score = mode_quality(samples, ring.modes, ring.sigma)
    assert score["high_quality"] == 0 and score["modes_covered"] == 0
    assert score["reverse_kl"] == pytest.approx(math.log(8))  # documented convention


def test_grid_samples_cover_25_modes():
    grid = load_dataset("grid", n_points=2500)
    assert mode_quality(grid.data.numpy(), grid.modes, grid.sigma)["modes_covered"] == 25


def test_digit_scorer_is_accurate_and_cached():
    scorer = digit_scorer()
    assert scorer.accuracy >= 0.95
    assert digit_scorer() is scorer  # fitted once per process


def test_real_digits_cover_all_classes():
    real = digit_scorer().real_score(n=1000)
    assert real["classes_covered"] == 10 and real["kl"] < 0.05
    assert real["histogram"].shape == (10,) and real["histogram"].sum() == pytest.approx(1)


def test_the_dataset_tensor_scores_like_real_data():
    digits = load_dataset("digits")
    score = digit_scorer().score(digits.data)  # torch tensor in [-1, 1], as G would emit
    assert score["classes_covered"] == 10 and score["kl"] < 0.01


def test_identical_images_cover_one_class():
    digits = load_dataset("digits")
    batch = digits.data[:1].repeat(64, 1, 1, 1)
    score = digit_scorer().score(batch)
    assert score["classes_covered"] == 1 and score["histogram"].max() == 1
    assert score["kl"] == pytest.approx(math.log(10), abs=0.1)  # real classes are ~uniform
    assert np.isfinite(digit_scorer().score(torch.full((4, 1, 8, 8), float("nan")))["kl"])


def test_digit_scorer_rejects_other_sizes():
    with pytest.raises(ValueError, match="8x8"):
        digit_scorer().score(np.zeros((2, 1, 16, 16)))
