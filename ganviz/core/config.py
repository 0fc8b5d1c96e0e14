"""The run configuration: one frozen dataclass, validated on construction, saved as JSON."""
from __future__ import annotations

import dataclasses
import json
import numbers
import re
from dataclasses import dataclass, fields

OBJECTIVES = ("nonsaturating", "minimax", "least_squares", "hinge", "wgan_gp")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "elu")
MODELS = ("auto", "mlp", "dcgan")

# Settings the trainer can change between two updates without rebuilding anything.
LIVE_FIELDS = ("lr_d", "lr_g", "beta1", "beta2", "momentum", "d_steps", "label_smoothing",
               "gp_weight", "r1_gamma", "lr_final", "decay_steps", "probe_every")


# Upper limits for sizes, each far past any useful setting yet well before one exhausts a
# machine: a typo such as --noise-dim 100000000 is refused by name instead of allocating.
LIMITS = {
    "noise_dim": 4096,     # DCGAN uses 100, StyleGAN 512
    "batch_size": 65536,
    "hidden": 8192,        # MLP width; 8192 x 8192 is already 67 M weights per layer
    "depth": 64,           # MLP hidden layers
    "channels": 1024,      # DCGAN base channels (the DCGAN paper: 64 to 128)
    "probe_size": 4096,    # measured on every Step: it must stay quick
    "grid_size": 4096,     # samples drawn on the fixed noise for the grid or the field view
    "ring_modes": 10000,
    "d_steps": 1000,
}
INTEGER_FIELDS = ("batch_size", "d_steps", "decay_steps", "noise_dim", "hidden", "depth",
                  "channels", "ring_modes", "image_size", "probe_size", "probe_every", "grid_size")


class ConfigError(ValueError):
    """A setting a person has to change; the message says which and why."""


@dataclass(frozen=True)
class Config:
    """Every setting of a run. The defaults train the 2D ring well and fast on a CPU: all 8
    modes within about 1500 iterations (non-saturating loss, R1 penalty, leaky-ReLU MLPs, Adam
    at 1e-3 decaying to 1 % over 6000 iterations); presets.py holds named alternatives."""
    dataset: str = "ring"
    # objective
    objective: str = "nonsaturating"
    label_smoothing: float = 0.0   # one-sided: real target becomes 1 - label_smoothing
    gp_weight: float = 10.0        # WGAN-GP gradient penalty weight
    r1_gamma: float = 1.0          # R1 penalty on D's gradient at real data (0 = off)
    # optimisation
    optimizer: str = "adam"
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    momentum: float = 0.0          # SGD and RMSprop
    batch_size: int = 512
    d_steps: int = 1               # k: discriminator updates per generator update
    lr_final: float = 0.01         # learning rates decay linearly to this fraction of their
    decay_steps: int = 6000        # ... set value over decay_steps iterations (0 = no decay)
    # models
    model: str = "auto"            # auto: MLP for 2D data, DCGAN for images
    noise_dim: int = 64
    hidden: int = 128              # MLP width
    depth: int = 2                 # MLP hidden layers
    activation: str = "leaky_relu"
    channels: int = 32             # DCGAN base channel count
    g_ema: float = 0.0             # decay of an exponential moving average of G's weights,
                                   # which then makes the samples and scores (0 = off)
    # data
    ring_modes: int = 8
    ring_radius: float = 1.0
    ring_sigma: float = 0.01
    image_size: int = 0            # folder images: 0 = 32
    grey: bool = True              # folder images: grey or colour
    # run
    seed: int = 0
    device: str = "auto"
    probe_size: int = 64           # fixed real/noise batch D(x), D(G(z)) are measured on
    probe_every: int = 20          # while training freely, measure it on every Nth iteration (Steps: always)
    grid_size: int = 0             # fixed-noise samples shown; 0: 64 images (8x8) or 512 points

    def __post_init__(self):
        problems = list(_problems(self))
        if problems:
            raise ConfigError("; ".join(problems))

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**d)

    def needs_reset(self, other: "Config") -> list[str]:
        """Names of settings that differ from `other` and need a new model to apply."""
        return [f.name for f in fields(self)
                if getattr(self, f.name) != getattr(other, f.name) and f.name not in LIVE_FIELDS]


# What each setting is called on screen (panel rows, "Needs Reset" lists, messages): internal
# field names never reach a person. Kept next to the fields until settings carry their own
# metadata; a test checks every field has one.
LABELS = {
    "dataset": "dataset",
    "objective": "objective",
    "label_smoothing": "label smoothing",
    "gp_weight": "gradient penalty weight",
    "r1_gamma": "R1 penalty weight",
    "optimizer": "optimizer",
    "lr_d": "learning rate D",
    "lr_g": "learning rate G",
    "beta1": "Adam beta1",
    "beta2": "Adam beta2",
    "momentum": "momentum",
    "batch_size": "batch size",
    "d_steps": "D updates per G",
    "lr_final": "final learning-rate fraction",
    "decay_steps": "decay length",
    "model": "network type",
    "noise_dim": "noise dimension",
    "hidden": "network width",
    "depth": "hidden layers",
    "activation": "activation",
    "channels": "image network channels",
    "g_ema": "G weight averaging",
    "ring_modes": "ring modes",
    "ring_radius": "ring radius",
    "ring_sigma": "ring mode spread",
    "image_size": "image size",
    "grey": "grey images",
    "seed": "seed",
    "device": "device",
    "probe_size": "probe batch size",
    "probe_every": "probe interval",
    "grid_size": "samples shown",
}


def label(name: str) -> str:
    """The on-screen words for a setting (its name itself if it has none)."""
    return LABELS.get(name, name.replace("_", " "))


def in_words(error: Exception) -> str:
    """A ConfigError's problems with each setting named in words ("batch size must be a
    positive number (got 0)"): the message for a window; the CLI keeps the option names."""
    return "; ".join(re.sub(r"^\w+", lambda m: LABELS.get(m.group(0), m.group(0)), part)
                     for part in str(error).split("; "))


def _problems(c: Config):
    def choice(name, options):
        if getattr(c, name) not in options:
            yield f"{name} must be one of {', '.join(options)} (got {getattr(c, name)!r})"

    yield from choice("objective", OBJECTIVES)
    yield from choice("optimizer", OPTIMIZERS)
    yield from choice("activation", ACTIVATIONS)
    yield from choice("model", MODELS)
    positive = ("lr_d", "lr_g", "batch_size", "d_steps", "noise_dim", "hidden", "depth",
                "channels", "ring_modes", "ring_radius", "ring_sigma", "probe_size", "probe_every")
    for name in positive:
        v = getattr(c, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
            yield f"{name} must be a positive number (got {v!r})"
    for name in ("beta1", "beta2", "momentum"):
        v = getattr(c, name)
        if not 0.0 <= v < 1.0:
            yield f"{name} must be in [0, 1) (got {v!r})"
    if not isinstance(c.g_ema, (int, float)) or isinstance(c.g_ema, bool) or not 0.0 <= c.g_ema < 1.0:
        yield f"g_ema must be in [0, 1): 0 for off, else a decay such as 0.999 (got {c.g_ema!r})"
    if not 0.0 <= c.label_smoothing < 0.5:
        yield f"label_smoothing must be in [0, 0.5) (got {c.label_smoothing!r})"
    for name in ("gp_weight", "r1_gamma", "decay_steps", "grid_size"):
        if getattr(c, name) < 0:
            yield f"{name} must not be negative (got {getattr(c, name)!r})"
    if not 0.0 <= c.lr_final <= 1.0:
        yield f"lr_final must be in [0, 1] (got {c.lr_final!r})"
    for name in INTEGER_FIELDS:
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            yield f"{name} must be a whole number (got {v!r})"
    for name, limit in LIMITS.items():
        v = getattr(c, name)
        if isinstance(v, (int, float)) and v > limit:
            yield f"{name} must be at most {limit} (got {v})"
    if c.image_size not in (0, 8, 16, 28, 32, 64):
        yield f"image_size must be 8, 16, 28, 32 or 64 (got {c.image_size})"
    if not isinstance(c.seed, int) or c.seed < 0:
        yield f"seed must be a non-negative integer (got {c.seed!r})"
    if not isinstance(c.dataset, str) or not c.dataset:
        yield "dataset must be a name (ring, grid, ...) or KIND:PATH"
