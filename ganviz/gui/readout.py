"""Words for what one update did, measured on the probe batch.

The words are chosen from the numbers AS SHOWN (three decimals): a change the readout cannot
show is called "no visible change at this precision", never "higher" or "lower", so the
sentence under the numbers can never contradict them.
"""
from __future__ import annotations

DECIMALS = 3


def shown(value: float) -> str:
    return f"{value:.{DECIMALS}f}"


def direction(before: float, after: float) -> str:
    """"up", "down" or "same", comparing the two values as the readout prints them."""
    a, b = float(shown(before)), float(shown(after))
    return "up" if b > a else "down" if b < a else "same"


def _arrow(a, b):
    return f"{shown(a)} → {shown(b)}"


def explain_step(record, objective, field: bool = False) -> tuple[str, str]:
    """(readout, plain explanation) for a single D or G update."""
    score = "D" if objective.probability else "critic"
    if record.phase == "D":
        readout = (f"D update: {score}(x) {_arrow(record.d_real_before, record.d_real_after)}, "
                   f"{score}(G(z)) {_arrow(record.d_fake_before, record.d_fake_after)}  (G frozen)")
        why = _explain_d(score, direction(record.d_real_before, record.d_real_after),
                         direction(record.d_fake_before, record.d_fake_after))
    else:
        readout = (f"G update: {score}(G(z)) {_arrow(record.d_fake_before, record.d_fake_after)}  "
                   f"(D frozen: {score}(x) stays {shown(record.d_real_after)})")
        why = _explain_g(score, direction(record.d_fake_before, record.d_fake_after))
    if field:
        why += (" On the field: the heatmap (D) changed, the points (G) stayed put." if record.phase == "D" else
                " On the field: the points (G) moved, the heatmap (D) stayed put.")
    return readout, why


def _explain_d(score: str, real: str, fake: str) -> str:
    """A D step aims to push D(x) up and D(G(z)) down; each score is spoken of separately."""
    intro = "The discriminator took one gradient step on a fresh batch; the generator did not change. "
    if real == "same" and fake == "same":
        return intro + ("On the probe batch: no visible change at this precision (each score moved by less "
                        "than 0.001). Near equilibrium one step is small.")
    parts = {
        ("real", "up"): f"it now scores real data higher ({score}(x) up, as D aims)",
        ("real", "down"): f"it scores real data lower ({score}(x) down, against D's aim)",
        ("real", "same"): f"{score}(x): no visible change at this precision",
        ("fake", "down"): f"it scores the fakes lower ({score}(G(z)) down, as D aims)",
        ("fake", "up"): f"it scores the fakes higher ({score}(G(z)) up, against D's aim)",
        ("fake", "same"): f"{score}(G(z)): no visible change at this precision",
    }
    text = intro + f"On the probe batch, {parts['real', real]}; {parts['fake', fake]}."
    if real == "up" and fake == "down":
        text += " D got better at telling real from fake."
    elif "up" == fake or "down" == real:
        text += (" One batch is a noisy estimate: a step that helps on its own batch can hurt on the "
                 "fixed probe batch.")
    return text


def _explain_g(score: str, fake: str) -> str:
    """A G step aims to push D(G(z)) up, through the frozen D."""
    intro = "The generator took one gradient step through the frozen discriminator; D did not change. "
    if fake == "up":
        return intro + (f"Its samples moved toward where D says 'real': D now scores them higher "
                        f"({score}(G(z)) up, as G aims).")
    if fake == "down":
        return intro + (f"On the probe batch D now scores its samples lower ({score}(G(z)) down, against "
                        f"G's aim): the step, taken on fresh noise, overshot or that noise disagreed "
                        f"with the probe's.")
    return intro + (f"{score}(G(z)) on the probe batch: no visible change at this precision (it moved by less "
                    "than 0.001).")
