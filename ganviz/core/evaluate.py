"""Quality scores for a trainer's generator, by the published protocols in metrics.py:
mode coverage for 2D mixtures with known modes (ring, grid), class coverage for digits."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .metrics import digit_scorer, mode_quality

MIXTURE_SAMPLES = 2500  # VEEGAN / GDPP / PacGAN draw 2500 samples
DIGIT_SAMPLES = 1000


def evaluate(trainer, n: int | None = None) -> dict:
    """Scores for the trainer's data, or {} where ganviz has no score for it.

    Mixtures: mode_quality's keys (modes_covered, n_modes, high_quality, reverse_kl).
    Digits: DigitScorer's keys (classes_covered, kl, histogram) plus real_kl and
    real_classes_covered, the same score on real digits: the ceiling to compare with.
    `trainer` is a Trainer or a saved_generator.SavedGenerator (whose dataset is None for
    the user's own data: nothing to score against).
    """
    dataset = trainer.dataset
    if dataset is None:
        return {}
    if dataset.modes is not None:
        return mode_quality(trainer.generate(n or MIXTURE_SAMPLES), dataset.modes, dataset.sigma)
    if dataset.name == "digits":
        scorer = digit_scorer()
        fake = scorer.score(_as_8x8(trainer.generate(n or DIGIT_SAMPLES)))
        real = scorer.real_score(DIGIT_SAMPLES)
        return {**fake, "real_kl": real["kl"], "real_classes_covered": real["classes_covered"]}
    return {}


def format_metrics(d: dict) -> str:
    """One line for people, e.g. "modes 8/8, high quality 93.1 %, reverse KL 0.01";
    "" when there is nothing to say."""
    if "modes_covered" in d:
        return (f"modes {d['modes_covered']}/{d['n_modes']}, high quality {d['high_quality']:.1f} %, "
                f"reverse KL {d['reverse_kl']:.2f}")
    if "classes_covered" in d:
        n_classes = len(d["histogram"]) if "histogram" in d else 10
        line = f"digit classes {d['classes_covered']}/{n_classes}, KL {d['kl']:.2f}"
        if "real_kl" in d:
            line += f" (real data {d['real_kl']:.2f})"
        return line
    return ""


def _as_8x8(images):
    """The digit classifier reads 8x8 images; digits trained at a larger size are shrunk
    the way the data loader shrinks them (antialiased bilinear)."""
    if images.shape[-1] == 8:
        return images
    x = torch.from_numpy(images).float()
    return F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False,
                         antialias=True).clamp_(-1, 1).numpy()
