"""Named starting settings: a few Config changes on top of the defaults (or of the user's
dataset and other settings), chosen by measurement with the mode-coverage protocol
(evaluate.py: 2500 samples, 3-sigma rule) on the ring (8 modes, sigma 0.01) and the grid
(25 modes, sigma 0.05)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import Config


@dataclass(frozen=True)
class Preset:
    name: str
    description: str                  # one line shown in the app
    changes: dict = field(default_factory=dict)   # Config fields to set

    @property
    def config_changes(self) -> dict:
        """The same changes (the name cli_train.py reads)."""
        return dict(self.changes)


# Non-saturating loss, zero-centred R1 penalty on real data (Mescheder et al. 2018), a
# 3-hidden-layer leaky-ReLU MLP, Adam at 1e-3 decaying linearly to 1e-5 over the protocol's
# budget (batch 512, 25 000 iterations). The decay is what makes the samples precise.
STABLE = Preset(
    name="Stable",
    description="R1 penalty + learning-rate decay, 3-layer leaky-ReLU MLP: every mode, sharp "
                "samples by 25 000 iterations",
    changes={
        "objective": "nonsaturating",
        "r1_gamma": 1.0,
        "label_smoothing": 0.0,
        "optimizer": "adam",
        "lr_d": 1e-3,
        "lr_g": 1e-3,
        "beta1": 0.5,
        "beta2": 0.999,
        "batch_size": 512,
        "d_steps": 1,
        "lr_final": 0.01,
        "decay_steps": 25_000,
        "noise_dim": 64,
        "hidden": 128,
        "depth": 3,
        "activation": "leaky_relu",
    },
)

# The original minimax loss log(1 - D(G(z))) with the Metz et al. / VEEGAN networks and
# learning rates (2x128 tanh MLPs, z in R^256, lr D 1e-4 / G 1e-3, batch 512): on the ring
# it collapses onto one or two modes.
VANILLA = Preset(
    name="Vanilla GAN",
    description="The original minimax GAN with plain settings: watch it collapse onto a few modes",
    changes={
        "objective": "minimax",
        "r1_gamma": 0.0,
        "label_smoothing": 0.0,
        "optimizer": "adam",
        "lr_d": 1e-4,
        "lr_g": 1e-3,
        "beta1": 0.5,
        "beta2": 0.999,
        "batch_size": 512,
        "d_steps": 1,
        "lr_final": 1.0,
        "decay_steps": 0,
        "noise_dim": 256,
        "hidden": 128,
        "depth": 2,
        "activation": "tanh",
    },
)

PRESETS: dict[str, Preset] = {p.name: p for p in (STABLE, VANILLA)}


def apply_preset(config: Config, name: str) -> Config:
    """`config` with the preset's changes; the dataset (and anything the preset does not
    name, such as the seed) stays as it was."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
    changes = {k: v for k, v in preset.changes.items() if k != "dataset"}
    return config.replace(**changes)
