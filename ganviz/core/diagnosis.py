"""Named states of a run, in plain words, drawn from its numbers: mode collapse, D overpowering
G, near equilibrium. Each says what it is, the numbers that show it, and what to try.

Read from the history (the probe columns, measured on every Step and on every probe_every-th
iteration while training) and the latest quality metrics (evaluate.py). Every number a state
quotes is the one its rule tested, so the words never claim more than the numbers show.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .history import COLUMNS

RECENT = 10                 # probe measurements averaged
EQUILIBRIUM_BAND = 0.1      # scores within 0.5 +- this ...
GUESSING_BAND = 0.1         # ... and accuracy within 50 % +- 10 points: near equilibrium
CONFIDENT = 0.9             # D(x) above, D(G(z)) below 1 - this: D is sure
VANISHED = 0.1              # G's gradient norm under this fraction of its early value
COLLAPSED_SHARE = 0.5       # at most this share of the modes ...
SMALL_SPREAD = 40.0         # or spread under this % of the data's: one blob
CROWDED = 15.0              # ... held by at least this % of the samples lying close to a mode
CLASS_SHARE = 0.05          # a digit class "holds" samples with at least this share
FEW_CLASSES = 3
LOOKS_REAL = 0.5            # images: precision from which samples pass as real ...
LOW_COVERAGE = 0.4          # ... while covering under this share of what real data covers: collapse
SETTLED = 200               # iterations before collapse or equilibrium can be named


@dataclass(frozen=True)
class State:
    key: str            # "collapse", "d_overpowers", "equilibrium"
    name: str           # shown in bold
    what: str           # what it is, with its numbers
    advice: str         # what to try
    severity: str       # "warning" or "good"


def diagnose(recent: np.ndarray, early: np.ndarray, metrics: dict | None, objective,
             metrics_iteration: int | None = None) -> list[State]:
    """States that hold now. recent / early: the last and the first few thousand history rows
    (numpy, COLUMNS, oldest first); metrics: the latest quality metrics or None, measured at
    metrics_iteration (None: at the history's last); objective: core.objectives.Objective of
    the run."""
    if recent is None or len(recent) == 0:
        return []
    states = []
    iteration = int(_col(recent, "iteration")[-1])
    measured_at = iteration if metrics_iteration is None else metrics_iteration
    if metrics and measured_at >= SETTLED:   # an untrained G's blob is not a collapse
        collapse = _collapse(metrics)
        if collapse:
            states.append(collapse)
    probe = _recent_probe(recent)
    if probe is not None:
        collapsed = bool(states)      # only a collapse can be named before this point
        states.append(_overpowering(probe, recent, early, objective))
        if not collapsed:
            # a collapsed G fools D on its few modes, so D's scores sit near 0.5 too: "near
            # equilibrium, this is the goal" beside a collapse would contradict it
            states.append(_equilibrium(probe, objective, iteration))
    return [s for s in states if s]


def _col(rows, name):
    return rows[:, COLUMNS.index(name)]


def _recent_probe(rows):
    """Means over the last RECENT measured updates, or None before any measurement."""
    if rows is None or len(rows) == 0:
        return None
    measured = rows[np.isfinite(_col(rows, "d_real_after"))][-RECENT:]
    if len(measured) == 0:
        return None
    return {name: float(np.mean(_col(measured, name))) for name in
            ("d_real_after", "d_fake_after", "acc_real", "acc_fake")} | {"n": len(measured)}


def _collapse(m: dict) -> State | None:
    if "modes_held" in m:
        total, advice = m["n_modes"], ("Try the Default or Stable preset (non-saturating loss with the R1 "
                                       "penalty), or a lower learning rate for G, then Reset.")
        why = ("G found outputs that fool D and stopped exploring the rest. (The quality panel's stricter "
               f"count, modes with a sample within 3 σ, is {m['modes_covered']} of {total}.)")
        if m["spread"] < SMALL_SPREAD and m["modes_nearest"] <= COLLAPSED_SHARE * total:
            return State("collapse", "Mode collapse",
                         f"G's samples crowd into one small region: their spread is {m['spread']:.0f} % of "
                         f"the data's, and they are nearest to only {m['modes_nearest']} of the {total} "
                         f"modes. {why}", advice, "warning")
        held, near = m["modes_held"], m["near_mode"]
        if held <= COLLAPSED_SHARE * total and near >= CROWDED:
            return State("collapse", "Mode collapse",
                         f"G's samples crowd onto {held} of the {total} modes: {near:.0f} % of them lie "
                         f"close to a mode, and {m['held_share']:.0f} % of those sit at "
                         f"{'that mode' if held == 1 else 'those'}. {why}", advice, "warning")
        return None
    if "coverage" in m:   # images (sample_metrics.py): few kinds of image, each believable
        real = m.get("real", {}).get("coverage", 1.0)
        if m["precision"] >= LOOKS_REAL and m["coverage"] < LOW_COVERAGE * real:
            return State("collapse", "Mode collapse",
                         f"G's samples look like real images ({100 * m['precision']:.0f} % of them sit among "
                         f"real ones), but they reach only {100 * m['coverage']:.0f} % of the real images' "
                         f"neighbourhoods (real data itself reaches {100 * real:.0f} %): G makes few kinds of "
                         "image.", "Try a lower learning rate for G, the R1 penalty, or Reset with another seed; "
                         "watch whether coverage grows.", "warning")
        return None   # coverage says it; a classifier's class histogram would only guess
    if "histogram" in m:
        hist = np.asarray(m["histogram"], dtype=float)
        held = np.sort(hist[hist >= CLASS_SHARE])[::-1]
        if len(held) > FEW_CLASSES or held.sum() < 0.8:
            return None
        return State("collapse", "Mode collapse (likely)",
                     f"The digit classifier puts {100 * held.sum():.0f} % of G's samples in {len(held)} of "
                     f"{len(hist)} classes: G produces few kinds of digit. (Early blurry samples can "
                     f"look like this too: check the sample grid.)",
                     "Try a lower learning rate for G, or Reset with another seed; watch whether more "
                     "classes appear.", "warning")
    return None


def _overpowering(p: dict, recent, early, objective) -> State | None:
    real, fake = p["d_real_after"], p["d_fake_after"]
    accuracy = 0.5 * (p["acc_real"] + p["acc_fake"])
    if objective.probability:
        if not (real >= CONFIDENT and fake <= 1 - CONFIDENT):
            return None
        what = (f"D scores real data {real:.2f} and G's samples {fake:.2f} on average over the last "
                f"{p['n']} probe measurements (accuracy {100 * accuracy:.0f} %): it tells them apart "
                f"almost perfectly.")
    else:
        if accuracy < 0.95:
            return None
        what = (f"D classifies {100 * accuracy:.0f} % of the probe batch correctly over the last "
                f"{p['n']} measurements: it tells real from fake almost perfectly.")
    vanishing = _g_gradient_fall(recent, early)
    if objective.name == "minimax" and vanishing is not None:
        what += (f" With the minimax loss log(1 − D(G(z))), G's gradient vanishes when D is this sure: "
                 f"its norm fell to {100 * vanishing:.1f} % of its early value.")
    advice = ("Try the non-saturating loss (Objective), a lower learning rate for D, one-sided label "
              "smoothing, or the R1 penalty (Default preset).")
    return State("d_overpowers", "D overpowers G", what, advice, "warning")


def _g_gradient_fall(recent, early) -> float | None:
    """G's recent gradient norm (median of the last RECENT measured) as a fraction of its early
    one (median of the run's first RECENT), if it fell under VANISHED."""
    def g_norms(rows):
        g = rows[(_col(rows, "phase") == 1) & np.isfinite(_col(rows, "grad_norm"))]
        return _col(g, "grad_norm")

    first, last = g_norms(early)[:RECENT], g_norms(recent)[-RECENT:]
    if len(first) < RECENT or len(last) < RECENT:
        return None
    start, now = float(np.median(first)), float(np.median(last))
    if start <= 0:
        return None
    fall = now / start
    return fall if fall < VANISHED else None


def _equilibrium(p: dict, objective, iteration: int) -> State | None:
    if iteration < SETTLED:
        return None   # an untrained D scores everything near 0.5 too: that is no equilibrium
    accuracy = 0.5 * (p["acc_real"] + p["acc_fake"])
    if abs(accuracy - 0.5) > GUESSING_BAND:
        return None
    real, fake = p["d_real_after"], p["d_fake_after"]
    if objective.probability:
        if abs(real - 0.5) > EQUILIBRIUM_BAND or abs(fake - 0.5) > EQUILIBRIUM_BAND:
            return None
        what = (f"D(x) {real:.2f} and D(G(z)) {fake:.2f}, accuracy {100 * accuracy:.0f} % (averages of the "
                f"last {p['n']} probe measurements): D can barely tell real from fake.")
    else:
        what = (f"D's accuracy is {100 * accuracy:.0f} % (average of the last {p['n']} probe measurements): "
                f"the critic can barely tell real from fake.")
    return State("equilibrium", "Near equilibrium", what,
                 "If the samples match the data (see the quality panel), this is the goal. If they do "
                 "not, D is too weak to guide G: try a higher learning rate for D or more D updates per G.",
                 "good")
