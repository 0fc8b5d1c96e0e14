"""Words for what one update did, measured on the probe batch."""
from __future__ import annotations


def _arrow(a, b):
    return f"{a:.3f} → {b:.3f}"


def explain_step(record, objective, field: bool = False) -> tuple[str, str]:
    """(readout, plain explanation) for a single D or G update."""
    score = "D" if objective.probability else "critic"
    dx = record.d_real_after - record.d_real_before
    dz = record.d_fake_after - record.d_fake_before
    if record.phase == "D":
        readout = (f"D update: {score}(x) {_arrow(record.d_real_before, record.d_real_after)}, "
                   f"{score}(G(z)) {_arrow(record.d_fake_before, record.d_fake_after)}  (G frozen)")
        if dx >= 0 and dz <= 0:
            why = ("The discriminator got better at telling real from fake: it now scores real data "
                   "higher and the generator's fakes lower. The generator did not change.")
        else:
            why = ("The discriminator took one gradient step on a fresh batch; on this fixed probe batch "
                   "that moved its scores this way (one batch is a noisy estimate). The generator did not change.")
    else:
        readout = (f"G update: {score}(G(z)) {_arrow(record.d_fake_before, record.d_fake_after)}  "
                   f"(D frozen: {score}(x) stays {record.d_real_after:.3f})")
        if dz >= 0:
            why = ("The generator moved its samples toward where the frozen discriminator says 'real', "
                   "so D now scores them higher. D itself did not change.")
        else:
            why = ("The generator took one step against the frozen discriminator, but on this probe batch "
                   "D(G(z)) fell: the step overshot or the batch disagreed. D itself did not change.")
    if field:
        why += (" On the field: the heatmap changed, the points stayed put." if record.phase == "D" else
                " On the field: the points moved along their arrows, the heatmap stayed put.")
    return readout, why
