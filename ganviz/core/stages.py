"""Slow motion's numbers: what each stage of one update saw and did, as plain floats.

Measured around a real update without altering it (the trainer's step_discriminator /
step_generator fill a dict when asked): only reads of tensors the update computed anyway,
under no_grad, plus a copy of the weights taken just before the optimizer step to measure
how far it moved them. Nothing here draws random numbers or writes to a network.
"""
from __future__ import annotations

import math

import torch

NAN = float("nan")


def targets(objective, smoothing: float = 0.0) -> dict:
    """The output D is pushed toward on real and fake samples, and G's aim for its fakes;
    nan where the objective has no target (a critic just pushes its outputs up or down).
    Log-loss and least squares: 1 (or 1 - label smoothing) and 0; hinge: margins 1 and -1."""
    if objective.name in ("nonsaturating", "minimax", "least_squares"):
        return {"real_target": 1.0 - smoothing, "fake_target": 0.0, "g_target": 1.0}
    if objective.name == "hinge":
        return {"real_target": 1.0 - smoothing, "fake_target": -1.0, "g_target": NAN}
    return {"real_target": NAN, "fake_target": NAN, "g_target": NAN}


def mean_score(objective, out: torch.Tensor) -> float:
    """Mean score of a batch of D outputs as the plots mean it (sigmoid or raw value)."""
    with torch.no_grad():
        return objective.score(out.detach()).mean().item()


def value(t) -> float:
    return float(t.detach().item()) if isinstance(t, torch.Tensor) else float(t)


def _grads(net) -> list:
    return [None if p.grad is None else p.grad.detach().clone() for p in net.parameters()]


def _norm(tensors) -> float:
    tensors = [t for t in tensors if t is not None]
    if not tensors:
        return 0.0
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in tensors))


class UpdateWatch:
    """Around one update: the frozen network's gradients before it (to show it got none) and
    the updated network's weights just before the optimizer step (to show how far they moved)."""

    def __init__(self, frozen: torch.nn.Module):
        self.frozen = frozen
        self.frozen_grads = _grads(frozen)
        self.weights = None

    @torch.no_grad()
    def before_step(self, net: torch.nn.Module):
        self.weights = [p.detach().clone() for p in net.parameters()]

    @torch.no_grad()
    def after_step(self, net: torch.nn.Module) -> dict:
        change = _norm([p.detach() - w for p, w in zip(net.parameters(), self.weights)])
        size = _norm(self.weights)
        frozen_change = _norm([_diff(p.grad, g) for p, g in zip(self.frozen.parameters(), self.frozen_grads)])
        return {"weight_change": change, "weight_norm": size,
                "weight_change_relative": change / size if size > 0 else NAN,
                "frozen_grad_change": frozen_change}


def _diff(now, before):
    if now is None and before is None:
        return None
    if now is None:
        return before
    if before is None:
        return now
    return now - before


def probe_values(before, after) -> dict:
    """D(x), D(G(z)) on the probe batch before and after the update (nan if not measured)."""
    if before is None:
        return {k: NAN for k in ("probe_real_before", "probe_real_after", "probe_fake_before", "probe_fake_after")}
    b, a = before.tolist(), after.tolist()
    return {"probe_real_before": b[0], "probe_real_after": a[0],
            "probe_fake_before": b[1], "probe_fake_after": a[1]}


def grad_norm_value(net, grad_norm: torch.Tensor) -> float:
    """The updated network's gradient norm: the record's when it measured one, else computed
    here from the gradients already there (a read, nothing more)."""
    v = value(grad_norm)
    if math.isnan(v):
        v = _norm([p.grad for p in net.parameters()])
    return v


def per_sample_grad(fake: torch.Tensor) -> float:
    """Mean length of the gradient each fake sample receives from its own loss term (the mean
    loss divides it by the batch size; this undoes that)."""
    if fake.grad is None:
        return NAN
    g = fake.grad.detach().flatten(1)
    return (g.norm(dim=1).mean() * len(g)).item()
