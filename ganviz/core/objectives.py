"""GAN objectives. D always outputs a raw value (a logit or a critic score); each objective
turns raw outputs into the two losses, the score people plot, and its equilibrium values."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Objective:
    name: str
    label: str
    probability: bool           # True: scores are "probability of real" in [0, 1]
    threshold: float            # D says "real" when the score is above this
    equilibrium_d: float | None  # loss_d where D cannot tell real from fake (None: undefined)
    equilibrium_g: float | None
    formula_d: str
    formula_g: str

    def score(self, out: torch.Tensor) -> torch.Tensor:
        """What D(x) means on the plots: sigmoid of the logit, or the raw value."""
        return torch.sigmoid(out) if self.name in ("nonsaturating", "minimax") else out

    def d_losses(self, real_out, fake_out, smoothing: float = 0.0):
        """(loss on real, loss on fake); loss_d is their sum. Real target is 1 - smoothing."""
        target = 1.0 - smoothing
        if self.name in ("nonsaturating", "minimax"):
            # BCE with logits, written out so the one-sided smoothed target stays cheap.
            real = (target * F.softplus(-real_out) + (1 - target) * F.softplus(real_out)).mean()
            return real, F.softplus(fake_out).mean()
        if self.name == "least_squares":
            return 0.5 * ((real_out - target) ** 2).mean(), 0.5 * (fake_out ** 2).mean()
        if self.name == "hinge":
            return F.relu(target - real_out).mean(), F.relu(1.0 + fake_out).mean()
        # wgan_gp: the critic maximises D(x) - D(G(z)); the penalty is added by the trainer
        return -real_out.mean(), fake_out.mean()

    def g_loss(self, fake_out):
        if self.name == "nonsaturating":
            return F.softplus(-fake_out).mean()          # -log D(G(z))
        if self.name == "minimax":
            return -F.softplus(fake_out).mean()          # log(1 - D(G(z)))
        if self.name == "least_squares":
            return 0.5 * ((fake_out - 1.0) ** 2).mean()
        return -fake_out.mean()                           # hinge, wgan_gp


LN2 = math.log(2.0)

OBJECTIVES = {
    "nonsaturating": Objective(
        "nonsaturating", "Non-saturating (DCGAN)", True, 0.5, 2 * LN2, LN2,
        "loss_D = -log D(x) - log(1 - D(G(z)))", "loss_G = -log D(G(z))"),
    "minimax": Objective(
        "minimax", "Minimax (original)", True, 0.5, 2 * LN2, -LN2,
        "loss_D = -log D(x) - log(1 - D(G(z)))", "loss_G = log(1 - D(G(z)))"),
    "least_squares": Objective(
        "least_squares", "Least squares (LSGAN)", True, 0.5, 0.25, 0.125,
        "loss_D = ½(D(x) - 1)² + ½D(G(z))²", "loss_G = ½(D(G(z)) - 1)²"),
    "hinge": Objective(
        "hinge", "Hinge", False, 0.0, 2.0, 0.0,
        "loss_D = max(0, 1 - D(x)) + max(0, 1 + D(G(z)))", "loss_G = -D(G(z))"),
    "wgan_gp": Objective(
        "wgan_gp", "Wasserstein + gradient penalty", False, 0.0, 0.0, None,
        "loss_D = D(G(z)) - D(x) + λ(‖∇D(x̂)‖ - 1)²", "loss_G = -D(G(z))"),
}


def get_objective(name: str) -> Objective:
    return OBJECTIVES[name]


def gradient_penalty(discriminator, real, fake, alpha):
    """WGAN-GP: (|grad D| - 1)^2 at random points between real and fake samples; alpha (one
    per sample in [0, 1), shaped to broadcast): where between them (the trainer draws it)."""
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = discriminator(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def r1_penalty(real_out, real):
    """R1 (Mescheder et al. 2018): squared norm of D's gradient at real data."""
    (grad,) = torch.autograd.grad(real_out.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()
