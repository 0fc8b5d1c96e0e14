"""Slow motion's words: one update told as its stages, each with the numbers the trainer
measured on it (core/stages.py), and the objective's formula with each term's value.

No Qt here: the panel (slow_motion.py) shows these, the diagram (pipeline.py) animates the
edges each stage names. Edges: "z-G", "G-fake", "fake-D", "real-D", "D-score".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MINUS = "\u2212"


@dataclass(frozen=True)
class Stage:
    title: str
    text: str
    forward: tuple = ()       # groups of edges data flows along, one group after the other
    backward: tuple = ()      # groups of edges the gradient flows back along
    blocked: tuple = ()       # edges no gradient crosses (drawn crossed out)
    score_label: str = ""     # what the score box shows in this stage
    changed: str = ""         # the network whose weights change in this stage ("D" or "G")


def num(v: float, digits: int = 3) -> str:
    """A number as shown: fixed decimals, a true minus sign, never "-0.000"."""
    if v is None or math.isnan(v):
        return "n/a"
    s = f"{v:.{digits}f}"
    if float(s) == 0:
        s = s.lstrip("-")
    return s.replace("-", MINUS)


def sig(v: float) -> str:
    """Three significant digits for sizes that span decades (gradients, weight changes)."""
    if v is None or math.isnan(v):
        return "n/a"
    return f"{v:.3g}".replace("-", MINUS)


def sum_digits(terms, total, start: int = 3) -> int:
    """The fewest decimals (3 or more) at which the shown terms add up to the shown total,
    so "a + b = c" is true as printed; up to 6."""
    for d in range(start, 7):
        if round(sum(round(t, d) for t in terms), d) == round(total, d):
            return d
    return 6


def written_sum(terms, total) -> str:
    d = sum_digits(terms, total)
    out = num(terms[0], d)
    for t in terms[1:]:
        out += f" {MINUS} {num(-t, d)}" if round(t, d) < 0 else f" + {num(t, d)}"
    return f"{out} = {num(total, d)}"


def _penalties(stages, config):
    """[(formula term, value, name)] for the penalties (and AC-GAN's class term) this D update
    added."""
    out = []
    if not math.isnan(stages.get("class_loss", math.nan)):
        out.append(("[CE(class of x) + CE(class of G(z, y))]", stages["class_loss"], "class"))
    if not math.isnan(stages.get("penalty_gp", math.nan)):
        out.append((f"{config.gp_weight:g}·E[(‖∇D(x̂)‖ {MINUS} 1)²]", stages["penalty_gp"], "gradient penalty"))
    if not math.isnan(stages.get("penalty_r1", math.nan)):
        weight = stages.get("r1_weight", config.r1_gamma)   # this update's (r1_final decays it)
        name = "R1 penalty" if config.r1_every == 1 else \
            f"R1 penalty, once in {config.r1_every} D updates at {config.r1_every}× weight"
        out.append((f"{weight / 2:.3g}·E[‖∇D(x)‖²]", stages["penalty_r1"], name))
    return out


def loss_terms(objective_name: str, smoothing: float = 0.0) -> tuple[str, str, str]:
    """(real term, fake term, G's loss) of each objective, as the trainer computes them."""
    t = 1.0 - smoothing
    if objective_name in ("nonsaturating", "minimax"):
        real = (f"{MINUS}E[log D(x)]" if smoothing == 0 else
                f"{MINUS}E[{t:g} log D(x) + {smoothing:g} log(1 {MINUS} D(x))]")
        g = f"{MINUS}E[log D(G(z))]" if objective_name == "nonsaturating" else f"E[log(1 {MINUS} D(G(z)))]"
        return real, f"{MINUS}E[log(1 {MINUS} D(G(z)))]", g
    if objective_name == "least_squares":
        return f"½E[(D(x) {MINUS} {t:g})²]", "½E[D(G(z))²]", f"½E[(D(G(z)) {MINUS} 1)²]"
    if objective_name == "hinge":
        return f"E[max(0, {t:g} {MINUS} D(x))]", "E[max(0, 1 + D(G(z)))]", f"{MINUS}E[D(G(z))]"
    return f"{MINUS}E[D(x)]", "E[D(G(z))]", f"{MINUS}E[D(G(z))]"   # wgan_gp


def formula(phase: str, stages: dict, objective, config) -> str:
    """The loss this update minimised, written out, then each term's value and the total."""
    real, fake, g = loss_terms(objective.name, config.label_smoothing)
    if phase == "G":
        if not math.isnan(stages.get("class_loss", math.nan)):   # AC-GAN: G wants its class named too
            adv = stages["loss_g"] - stages["class_loss"]
            return (f"loss_G = {g} + CE(class of G(z, y))\n       = "
                    f"{written_sum([adv, stages['class_loss']], stages['loss_g'])}")
        return f"loss_G = {g}\n       = {num(stages['loss_g'])}"
    pens = _penalties(stages, config)
    written = _joined([real, fake, *(p[0] for p in pens)])
    values = [stages["loss_real"], stages["loss_fake"], *(p[1] for p in pens)]
    return f"loss_D = {written}\n       = {written_sum(values, stages['loss_total'])}"


def _joined(terms) -> str:
    out = terms[0]
    for t in terms[1:]:
        out += f" {MINUS} {t[1:]}" if t.startswith(MINUS) else f" + {t}"
    return out


def _aim(objective, target: float, side: str) -> str:
    """What the update wants this output to be, in the objective's own terms."""
    if objective.name in ("nonsaturating", "minimax", "least_squares"):
        return f"target {target:g}"
    if objective.name == "hinge" and side == "real":
        return f"D pushes it up to at least {target:g}"
    if objective.name == "hinge" and side == "fake":
        return f"D pushes it down to at most {num(target, 0)}"
    if side == "g":
        return "G pushes it up"
    return "the critic pushes it up" if side == "real" else "the critic pushes it down"


def moved(before: float, after: float) -> str:
    """before → after, or one value where the two print the same."""
    if num(before) == num(after):
        return f"{num(after)} (no change at this precision)"
    return f"{num(before)} → {num(after)}"


def _change(net: str, stages: dict, lr: float, set_lr: float | None = None) -> str:
    rel = stages["weight_change_relative"] * 100
    rate = f"learning rate {sig(lr)}"
    if set_lr is not None and sig(lr) != sig(set_lr):   # the decay schedule has lowered it (as shown)
        rate += f" (the set {sig(set_lr)}, lowered by the learning-rate decay)"
    return (f"{net}'s weights change by {sig(stages['weight_change'])} in all: {sig(rel)} % of "
            f"their overall size ({sig(stages['weight_norm'])}), one optimizer step at {rate}.")


def _none_to(net: str, stages: dict) -> str:
    moved = stages["frozen_grad_change"]
    return f"{net} is frozen and gets none." if moved == 0 else \
        f"{net}'s gradients changed by {sig(moved)}."   # never expected: said if it happens


LABEL_INTO_D = {
    "concat": "the label joins D's input",
    "projection": "D scores its features against the label's embedding (projection)",
    "acgan": "D also names the class it sees (auxiliary classifier)",
}


def _with_labels(config) -> tuple[str, str, str]:
    """(the real batch's words, the fakes' words, how D takes the label) for a conditional
    run; empty for an unconditional one."""
    if config.conditional == "none":
        return "", "", ""
    real = " with its labels (the targets of D's class guess)" if config.conditional == "acgan" else " with its labels"
    return (real, ", each asked for the class of a real sample (label y into G with z)",
            f"; {LABEL_INTO_D[config.conditional]}")


def d_stages(record, stages: dict, objective, config) -> list[Stage]:
    score = "D" if objective.probability else "critic"
    n = config.batch_size
    real_y, fake_y, into_d = _with_labels(config)
    pens = _penalties(stages, config)
    values = [stages["loss_real"], stages["loss_fake"], *(p[1] for p in pens)]
    d = sum_digits(values, stages["loss_total"])
    loss = _joined([f"{num(v, d)} ({name})" for v, name in zip(values, ["real", "fake", *(p[2] for p in pens)])])
    probe = (f"New outputs on the probe batch: {score}(x) {moved(record.d_real_before, record.d_real_after)}, "
             f"{score}(G(z)) {moved(record.d_fake_before, record.d_fake_after)}. G did not change.")
    return [
        Stage("Real batch through D",
              f"A real batch ({n} samples){real_y} goes through D{into_d}: real output {num(stages['real_score'])}, "
              f"{_aim(objective, stages['real_target'], 'real')}.",
              forward=(("real-D",), ("D-score",)), score_label=f"{score}(x) {num(stages['real_score'])}"),
        Stage("Fakes through D",
              f"Noise goes through G (frozen){fake_y}, the {n} fakes through D: fake output "
              f"{num(stages['fake_score'])}, {_aim(objective, stages['fake_target'], 'fake')}.",
              forward=(("z-G",), ("G-fake",), ("fake-D",), ("D-score",)),
              score_label=f"{score}(G(z)) {num(stages['fake_score'])}"),
        Stage("D's loss",
              f"loss_D = {loss} = {num(stages['loss_total'], d)}.",
              score_label=f"loss_D {num(stages['loss_total'], d)}"),
        Stage("Gradient into D",
              f"The gradient flows back into D only (its length {sig(stages['grad_norm'])}); "
              + _none_to("G", stages),
              backward=(("D-score",),), blocked=("G-fake",), score_label=f"loss_D {num(stages['loss_total'], d)}"),
        Stage("D's weights change", _change("D", stages, record.lr, config.lr_d), changed="D"),
        Stage("New outputs", probe, forward=(("real-D", "fake-D"), ("D-score",)),
              score_label=f"{score}(x) {num(record.d_real_after)}"),
    ]


def g_stages(record, stages: dict, objective, config) -> list[Stage]:
    score = "D" if objective.probability else "critic"
    n = config.batch_size
    asked = {"none": "", "acgan": " (each fake asked for a random class: label y into G with z; D's class "
                                  "guess is scored against it)"}.get(
        config.conditional, " (each fake asked for a random class: label y into G with z, and into D with the fake)")
    lower = ("by bringing the fakes' outputs to 1" if objective.name == "least_squares"
             else f"by making {'D' if objective.probability else 'the critic'} score the fakes higher")
    return [
        Stage("Fakes through the frozen D",
              f"Noise goes through G and the frozen D ({n} fakes{asked}): fake output {num(stages['fake_score'])}, "
              f"{_aim(objective, stages['g_target'], 'g')}.",
              forward=(("z-G",), ("G-fake",), ("fake-D",), ("D-score",)),
              score_label=f"{score}(G(z)) {num(stages['fake_score'])}"),
        Stage("G's loss", f"loss_G = {num(stages['loss_g'])}: G lowers it {lower}.",
              score_label=f"loss_G {num(stages['loss_g'])}"),
        Stage("Gradient through D into G",
              f"The gradient flows back through the frozen D into G: {sig(stages['fake_grad'])} per fake "
              f"sample at D's input, {sig(stages['grad_norm'])} over G's weights. D's weights get none "
              f"({'unchanged' if stages['frozen_grad_change'] == 0 else 'changed by ' + sig(stages['frozen_grad_change'])}).",
              backward=(("D-score",), ("fake-D",), ("G-fake",)), score_label=f"loss_G {num(stages['loss_g'])}"),
        Stage("G's weights change", _change("G", stages, record.lr, config.lr_g), changed="G"),
        Stage("New output",
              f"New {score}(G(z)) on the probe batch: {moved(record.d_fake_before, record.d_fake_after)}; "
              f"{score}(x) stays {num(record.d_real_after)} (D did not change).",
              forward=(("z-G",), ("G-fake",), ("fake-D",), ("D-score",)),
              score_label=f"{score}(G(z)) {num(record.d_fake_after)}"),
    ]


def story(record, stages: dict, objective, config) -> list[Stage]:
    return (d_stages if record.phase == "D" else g_stages)(record, stages, objective, config)
