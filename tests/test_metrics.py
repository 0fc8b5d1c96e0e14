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


def test_width_says_when_samples_are_narrower_than_the_data(ring):
    # High quality past real data's 98.9 % means narrow modes; the width says how narrow.
    data = ring.data.numpy()
    assert mode_quality(data, ring.modes, ring.sigma)["width"] == pytest.approx(100, abs=3)
    mode = ring.modes[np.linalg.norm(data[:, None] - ring.modes[None], axis=2).argmin(1)]
    narrow = mode_quality(mode + 0.5 * (data - mode), ring.modes, ring.sigma)
    assert narrow["high_quality"] > 99.9 and narrow["width"] == pytest.approx(50, abs=3)
    assert math.isnan(mode_quality(np.full((10, 2), 5.0), ring.modes, ring.sigma)["width"])


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


# ------------------------------------------------------------------ honest image measures
@pytest.fixture(scope="module")
def digits_reference():
    from ganviz.core.sample_metrics import RealReference
    digits = load_dataset("digits")
    return digits, RealReference(digits.data)


def test_image_measures_order_the_known_cases(digits_reference):
    """Held-out real data scores high and 1-NN near 0.5; one class loses coverage and is told
    apart; noise is neither close nor covering; copies of the real images are memorised."""
    digits, ref = digits_reference
    real = ref.real
    assert min(real["precision"], real["recall"], real["coverage"]) > 0.9 and 0.9 < real["density"] < 1.1
    assert 0.4 < real["nn_accuracy"] < 0.6 and abs(real["kid"]) < 0.01 and real["memorisation"] == pytest.approx(1, abs=0.1)
    rng = np.random.default_rng(0)
    labels = np.asarray(digits.labels)
    one = ref.score(digits.data[rng.choice(np.flatnonzero(labels == 3), 600)])
    noise = ref.score(torch.rand(600, 1, 8, 8) * 2 - 1)
    copies = ref.score_features(ref.reference)
    assert one["coverage"] < 0.3 < 0.9 < one["precision"] and one["nn_accuracy"] > real["nn_accuracy"] + 0.2
    assert noise["precision"] == noise["coverage"] == noise["density"] == 0 and noise["nn_accuracy"] > 0.95
    assert copies["nn_accuracy"] < 0.05 and copies["memorisation"] < 0.05
    # copies of any training images (here, ones outside the reference set) are memorised too
    assert ref.score_features(ref.held_out)["memorisation"] < 0.05
    assert noise["kid"] > one["kid"] > 10 * abs(real["kid"])
    assert one["real"] == real   # every score carries real data's own beside it


def test_classes_count_only_where_samples_pass_as_real(digits_reference):
    digits, ref = digits_reference
    noise = torch.rand(1000, 1, 8, 8) * 2 - 1
    scorer = digit_scorer()
    assert scorer.score(noise)["classes_covered"] >= 4          # a classifier names some digit for noise
    assert scorer.score(noise, ref.inside(noise))["classes_covered"] == 0
    assert scorer.real_score(1000, reference=ref)["classes_covered"] == 10


def test_a_barely_trained_digits_run_scores_clearly_below_real_data():
    from ganviz.core.evaluate import evaluate, format_metrics
    from ganviz.core.config import Config
    from ganviz.core.trainer import Trainer
    trainer = Trainer(Config(dataset="digits", batch_size=32, channels=8, noise_dim=8, probe_size=8, device="cpu"))
    trainer.train(20)
    m = evaluate(trainer)
    assert set(("precision", "recall", "density", "coverage", "kid", "nn_accuracy", "memorisation")) <= set(m)
    assert m["coverage"] < m["real"]["coverage"] - 0.3 and m["nn_accuracy"] > 0.9
    assert m["classes_covered"] < 10
    assert format_metrics(m).startswith(f"coverage {m['coverage']:.2f} (real {m['real']['coverage']:.2f})")


def test_the_mixture_line_shows_reverse_kl_to_the_third_decimal():
    """The protocol's goal is reverse KL at most 0.01: at 2 decimals 0.005 and 0.014 would both
    read "0.01", so the CLI's last line and the window's status bar give 3."""
    from ganviz.core.evaluate import format_metrics
    line = format_metrics({"modes_covered": 25, "n_modes": 25, "high_quality": 97.04, "reverse_kl": 0.0054})
    assert line == "modes 25/25, high quality 97.0 %, reverse KL 0.005"
    line = format_metrics({"modes_covered": 25, "n_modes": 25, "high_quality": 99.64, "reverse_kl": 0.0054, "width": 81.6})
    assert line == "modes 25/25, high quality 99.6 %, reverse KL 0.005, mode width 82 % of real"


@pytest.mark.parametrize("g_ema", [0.0, 0.99])
def test_scores_of_g_moving_average_say_so(tmp_path, g_ema):
    """With g_ema the scores are of G's moving average while the 2D field draws G itself, so the
    line beside them names the average; a saved run's scores are of the same network."""
    from ganviz.core.checkpoint import save_checkpoint
    from ganviz.core.config import Config
    from ganviz.core.evaluate import evaluate, format_metrics
    from ganviz.core.saved_generator import open_generator
    from ganviz.core.trainer import Trainer
    trainer = Trainer(Config(dataset="ring", batch_size=32, probe_size=8, g_ema=g_ema, device="cpu"))
    trainer.train(30)
    save_checkpoint(trainer, tmp_path / "run.pt", fsync=False)
    saved = open_generator(tmp_path / "run.pt")
    for m in (evaluate(trainer), evaluate(saved)):
        assert format_metrics(m).startswith("modes ")
        assert format_metrics(m).endswith("(G's moving average)") == (g_ema > 0)
    assert evaluate(saved)["high_quality"] == evaluate(trainer)["high_quality"]
