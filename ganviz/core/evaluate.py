"""Quality scores for a trainer's generator, by the published protocols in metrics.py and
sample_metrics.py: mode coverage for 2D mixtures with known modes (ring, grid); for every image
run precision, recall, density, coverage, KID, the 1-NN test and memorisation against its real
images (with held-out real data's own scores under "real"); for digits also the classes a
classifier names confidently."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .metrics import digit_scorer, mode_quality
from .sample_metrics import MIN_REAL, SAMPLE_SIZE, RealReference

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
    out = {}
    if not dataset.is_image or len(dataset.data) < MIN_REAL:   # a handful of images: nothing to compare
        return out
    digits = dataset.name == "digits"
    samples = trainer.generate(n or (DIGIT_SAMPLES if digits else SAMPLE_SIZE))   # one batch for all
    reference = real_reference(dataset)   # every image run: compared with its real images
    out.update(reference.score(samples))   # as many as its reference set (score() takes them)
    if digits:
        scorer = digit_scorer()
        images = _as_8x8(samples)
        # a class counts only where samples that pass as real digits hold it
        fake = scorer.score(images, reference.inside(images))
        real = scorer.real_score(DIGIT_SAMPLES, reference=reference)
        out.update(fake, real_kl=real["kl"], real_classes_covered=real["classes_covered"])
    return out


_references: dict = {}


def real_reference(dataset) -> RealReference:
    """The dataset's real images split into reference and held-out sets, once per dataset."""
    key = (dataset.name, tuple(dataset.data.shape))
    if key not in _references:
        _references.clear()   # one dataset at a time: a new run's data replaces the last
        _references[key] = RealReference(dataset.data)
    return _references[key]


def format_metrics(d: dict) -> str:
    """One line for people, e.g. "modes 8/8, high quality 93.1 %, reverse KL 0.01";
    "" when there is nothing to say."""
    if "modes_covered" in d:
        return (f"modes {d['modes_covered']}/{d['n_modes']}, high quality {d['high_quality']:.1f} %, "
                f"reverse KL {d['reverse_kl']:.2f}")
    if "coverage" in d:
        real = d.get("real", {})
        line = (f"coverage {d['coverage']:.2f} (real {real.get('coverage', float('nan')):.2f}), "
                f"precision {d['precision']:.2f} (real {real.get('precision', float('nan')):.2f}), "
                f"1-NN {d['nn_accuracy']:.2f} (real {real.get('nn_accuracy', float('nan')):.2f})")
        if "classes_covered" in d:
            line += f", digit classes {d['classes_covered']}/10"
        return line
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
