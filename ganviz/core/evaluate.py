"""Quality scores for a trainer's generator, by the published protocols in metrics.py and
sample_metrics.py: mode coverage for 2D mixtures with known modes (ring, grid); for every image
run precision, recall, density, coverage, KID, the 1-NN test and memorisation against its real
images (with held-out real data's own scores under "real"); for digits also the classes a
classifier names confidently."""
from __future__ import annotations

import numpy as np
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
    With g_ema the samples are G's moving average's: "averaged" is then True, so the words
    beside the scores can say so (the 2D field draws G itself).
    """
    out = _evaluate(trainer, n)
    if out and trainer.averaged:
        out["averaged"] = True
    return out


def _evaluate(trainer, n: int | None) -> dict:
    dataset = trainer.dataset
    if dataset is None:
        return {}
    if dataset.modes is not None:
        samples, asked = trainer.generate(n or MIXTURE_SAMPLES, with_labels=True)
        out = mode_quality(samples, dataset.modes, dataset.sigma)
        if asked is not None:   # conditional: each class is a mode; is each sample at its own?
            out.update(_mode_label_accuracy(samples, asked, dataset))
        return out
    out = {}
    if not dataset.is_image or len(dataset.data) < MIN_REAL:   # a handful of images: nothing to compare
        return out
    digits = dataset.name == "digits"
    samples, asked = trainer.generate(n or (DIGIT_SAMPLES if digits else SAMPLE_SIZE), with_labels=True)
    reference = real_reference(dataset)   # every image run: compared with its real images
    out.update(reference.score(samples))   # as many as its reference set (score() takes them)
    if digits:
        scorer = digit_scorer()
        images = _as_8x8(samples)
        # a class counts only where samples that pass as real digits hold it
        fake = scorer.score(images, reference.inside(images))
        real = scorer.real_score(DIGIT_SAMPLES, reference=reference)
        out.update(fake, real_kl=real["kl"], real_classes_covered=real["classes_covered"])
        if asked is not None:   # conditional: does G draw the digit it was asked for?
            out.update(_digit_label_accuracy(scorer, images, asked))
    return out


def _digit_label_accuracy(scorer, images, asked) -> dict:
    """The share of samples the digit classifier names as the class G was asked for, overall
    and per class, beside the classifier's own accuracy on held-out real digits (its ceiling)."""
    right = scorer.predict(images) == asked
    per_class = [float(right[asked == k].mean()) if (asked == k).any() else float("nan")
                 for k in range(len(scorer.class_accuracy))]
    return {"label_accuracy": float(right.mean()), "label_accuracy_per_class": per_class,
            "real_label_accuracy": scorer.accuracy,
            "real_label_accuracy_per_class": [float(a) for a in scorer.class_accuracy]}


def _mode_label_accuracy(samples, asked, dataset) -> dict:
    """Conditional mixtures: the share of samples nearest the mode (class) they were asked for
    (as the digit classifier names a class: how sharp they are is high_quality's business);
    the same for real points of each class beside it."""
    modes = np.asarray(dataset.modes)

    def at_own_mode(points, labels):
        nearest = np.argmin(((points[:, None, :] - modes[None]) ** 2).sum(-1), axis=1)
        return float((nearest == labels).mean())
    pick = np.random.default_rng(0).choice(len(dataset.data), size=min(len(dataset.data), 2500), replace=False)
    real = at_own_mode(dataset.data.numpy()[pick], dataset.labels[pick])
    return {"label_accuracy": at_own_mode(np.asarray(samples, float), np.asarray(asked)),
            "real_label_accuracy": real}


_references: dict = {}


def real_reference(dataset) -> RealReference:
    """The dataset's real images split into reference and held-out sets, once per dataset."""
    key = (dataset.name, tuple(dataset.data.shape))
    if key not in _references:
        _references.clear()   # one dataset at a time: a new run's data replaces the last
        _references[key] = RealReference(dataset.data)
    return _references[key]


def format_metrics(d: dict) -> str:
    """One line for people, e.g. "modes 8/8, high quality 93.1 %, reverse KL 0.012";
    "" when there is nothing to say. Scores of G's moving average end by saying so."""
    line = _format_metrics(d)
    return line + " (G's moving average)" if line and d.get("averaged") else line


def _format_metrics(d: dict) -> str:
    if "modes_covered" in d:
        line = (f"modes {d['modes_covered']}/{d['n_modes']}, high quality {d['high_quality']:.1f} %, "
                f"reverse KL {d['reverse_kl']:.3f}")
        if np.isfinite(d.get("width", np.nan)):   # under 100: modes drawn narrower than the data's
            line += f", mode width {d['width']:.0f} % of real"
        if "label_accuracy" in d:
            line += f", nearest the asked-for mode {100 * d['label_accuracy']:.1f} % (real {100 * d['real_label_accuracy']:.1f} %)"
        return line
    if "coverage" in d:
        real = d.get("real", {})
        line = (f"coverage {d['coverage']:.2f} (real {real.get('coverage', float('nan')):.2f}), "
                f"precision {d['precision']:.2f} (real {real.get('precision', float('nan')):.2f}), "
                f"1-NN {d['nn_accuracy']:.2f} (real {real.get('nn_accuracy', float('nan')):.2f})")
        if "classes_covered" in d:
            line += f", digit classes {d['classes_covered']}/10"
        if "label_accuracy" in d:
            line += f", asked-for digit {d['label_accuracy']:.2f} (real {d['real_label_accuracy']:.2f})"
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
