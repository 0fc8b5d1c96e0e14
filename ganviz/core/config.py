"""The run configuration: one frozen dataclass, validated on construction, saved as JSON."""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, fields

from .settings import problems_of, setting, settings_of

OBJECTIVES = ("nonsaturating", "minimax", "least_squares", "hinge", "wgan_gp")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "elu")
MODELS = ("auto", "mlp", "dcgan")
IMAGE_SIZES = (0, 8, 16, 28, 32, 64)
CONDITIONINGS = ("none", "concat", "projection", "acgan")   # models.py builds each   # 0: folder images at 32, other images as stored


class ConfigError(ValueError):
    """A setting a person has to change; the message says which and why."""


@dataclass(frozen=True)
class Config:
    """Every setting of a run. The defaults train the 2D ring well and fast on a CPU: all 8
    modes within about 1500 iterations (non-saturating loss, R1 penalty, leaky-ReLU MLPs, Adam
    at 1e-3 decaying to 1 % over 6000 iterations); presets.py holds named alternatives."""
    # data (--dataset is written by hand in cli.py: the gui and screenshot commands share it)
    dataset: str = setting(
        "ring", "dataset", help="a built-in dataset (ring, grid, ...) or your data as KIND:PATH",
        cli=False, check=lambda v: None if isinstance(v, str) and v else
        "must be a name (ring, grid, ...) or KIND:PATH")
    # objective
    objective: str = setting("nonsaturating", "objective", help="GAN loss", choices=OBJECTIVES,
                             widget="choice", row=1)
    conditional: str = setting(
        "none", "conditioning", help="for data with class labels: the label goes into both networks. "
        "concat: joined to z and to D's input (cGAN); projection: D scores its features against "
        "the label (projection discriminator); acgan: D also names the class (auxiliary "
        "classifier); none: unconditional", choices=CONDITIONINGS, widget="choice", row=1)
    label_smoothing: float = setting(
        0.0, "label smoothing", help="one-sided: D's target for real data is 1 - S", live=True,
        range="[0, 0.5)", metavar="S", widget="double", decimals=2, step=0.05, row=10)
    gp_weight: float = setting(10.0, "gradient penalty weight", help="weight of WGAN-GP's gradient "
                               "penalty", live=True, range="[0, inf)", metavar="W")
    r1_gamma: float = setting(1.0, "R1 penalty weight", help="weight of the R1 penalty on D's "
                              "gradient at real data; 0: off", live=True, range="[0, inf)", metavar="W")
    # optimisation
    optimizer: str = setting("adam", "optimizer", help="optimizer of both networks",
                             choices=OPTIMIZERS, widget="choice", row=2)
    lr_d: float = setting(1e-3, "learning rate D", help="step size of the discriminator's optimizer",
                          live=True, range="(0, inf)", metavar="LR", widget="double",
                          span=(1e-6, 1.0), decimals=6, step=1e-5, row=3)
    lr_g: float = setting(1e-3, "learning rate G", help="step size of the generator's optimizer",
                          live=True, range="(0, inf)", metavar="LR", widget="double",
                          span=(1e-6, 1.0), decimals=6, step=1e-5, row=4)
    beta1: float = setting(0.5, "Adam beta1", help="Adam's momentum; 0.5 is the DCGAN choice",
                           live=True, range="[0, 1)", metavar="B", widget="double", decimals=3,
                           step=0.05, row=5)
    beta2: float = setting(0.999, "Adam beta2", help="Adam's second-moment decay", live=True,
                           range="[0, 1)", metavar="B", widget="double", decimals=4, step=0.001, row=6)
    momentum: float = setting(0.0, "momentum", help="momentum of SGD and RMSprop", live=True,
                              range="[0, 1)", metavar="M")
    batch_size: int = setting(512, "batch size", help="samples per update", range="(0, inf)",
                              most=65536, metavar="N", widget="spin", step=32, row=7)
    d_steps: int = setting(1, "D updates per G", help="k: discriminator updates before each "
                           "generator update", live=True, range="(0, inf)", most=1000, metavar="K",
                           widget="spin", row=9)   # the panel holds what the CLI allows (a loaded k=50 stays 50)
    lr_final: float = setting(0.01, "final learning-rate fraction", help="the learning rates decay "
                              "linearly to this fraction of their set value", live=True,
                              range="[0, 1]", metavar="F")
    decay_steps: int = setting(6000, "decay length", help="iterations the learning rates take to "
                               "decay (the R1 weight too, with a final R1 fraction under 1); 0: no "
                               "decay", live=True, range="[0, inf)", metavar="N")
    r1_final: float = setting(1.0, "final R1 fraction", help="the R1 weight decays geometrically "
                              "over the decay length to this fraction of its set value; 1: constant",
                              live=True, range="(0, 1]", metavar="F")
    r1_every: int = setting(1, "R1 every", help="lazy R1 (as StyleGAN2): the penalty on every Nth D "
                            "update only, at N times the weight, for a fraction of its cost (it trains "
                            "differently: see benchmarks/results.md); 1: every update",
                            live=True, range="(0, inf)", most=1000, metavar="N")
    # models
    model: str = setting("auto", "network type", help="auto: MLP for 2D data, DCGAN for images",
                         choices=MODELS)
    noise_dim: int = setting(64, "noise dimension", help="length of the noise vector z",
                             range="(0, inf)", most=4096, metavar="N", widget="spin", row=8)
    noise_clusters: int = setting(
        0, "noise clusters", help="draw z from a mixture of K Gaussians (z's first coordinate picks "
        "one; their centres are drawn from the seed), so G can jump between separate modes "
        "instead of drawing samples in the gaps", range="[0, inf)", most=65536, metavar="K",
        widget="spin", row=8, default_text="0: off, one Gaussian")
    # the limits are far past any useful setting yet well before one exhausts a machine: a typo
    # such as --noise-dim 100000000 is refused by name instead of allocating
    hidden: int = setting(128, "network width", help="units in each hidden layer of the MLPs",
                          range="(0, inf)", most=8192, metavar="N")   # 8192^2: 67 M weights a layer
    depth: int = setting(2, "hidden layers", help="hidden layers of the MLPs", range="(0, inf)",
                         most=64, metavar="N")
    activation: str = setting("leaky_relu", "activation", help="activation of the MLPs' hidden "
                              "layers", choices=ACTIVATIONS)
    channels: int = setting(32, "image network channels", help="base channel count of the DCGAN "
                            "networks; the DCGAN paper used 64 to 128", range="(0, inf)", most=1024,
                            metavar="N")
    g_ema: float = setting(
        0.0, "G weight averaging", help="samples and scores from an exponential moving average of "
        "the generator's weights with this decay, e.g. 0.999", range="[0, 1)",
        why=": 0 for off, else a decay such as 0.999", metavar="DECAY", default_text="0: off")
    # data
    ring_modes: int = setting(8, "ring modes", help="Gaussians of the ring dataset",
                              range="(0, inf)", most=10000, metavar="N")
    ring_radius: float = setting(1.0, "ring radius", help="radius of the ring dataset",
                                 range="(0, inf)", metavar="R")
    ring_sigma: float = setting(0.01, "ring mode spread", help="standard deviation of each of the "
                                "ring's Gaussians", range="(0, inf)", metavar="SIGMA")
    image_size: int = setting(
        0, "image size", help="side in pixels images are resized to; 0: folder images at "
        "32, other images as stored", metavar="PX",
        check=lambda v: None if v in IMAGE_SIZES else f"must be 8, 16, 28, 32 or 64 (got {v})")
    grey: bool = setting(True, "grey images", help="read folder images in grey (--no-grey: in "
                         "colour)", default_text="grey")
    # run
    seed: int = setting(0, "seed", help="random seed: the same seed and settings give the same run",
                        whole=False, metavar="S", widget="spin", span=(0, 2**31 - 1), row=11,
                        check=lambda v: None if isinstance(v, int) and not isinstance(v, bool)
                        and v >= 0 else f"must be a non-negative integer (got {v!r})")
    device: str = setting("auto", "device", help="where to train: auto picks CUDA, then Apple MPS, "
                          "then CPU; or cpu, cuda, mps", metavar="DEVICE", widget="choice", row=12)
    probe_size: int = setting(64, "probe batch size", help="size of the fixed real and noise batch "
                              "that D(x), D(G(z)) are measured on (on every Step: it must stay "
                              "quick)", range="(0, inf)", most=4096, metavar="N")
    probe_every: int = setting(
        20, "probe interval", help="measure D(x), D(G(z)) on the probe batch on every Nth iteration "
        "while training freely (Steps: always); 1: every update, at about a third more time per "
        "update", live=True, range="(0, inf)", metavar="N")
    grid_size: int = setting(0, "samples shown", help="fixed-noise samples shown in the grid or the "
                             "field view; 0: 64 images (8x8) or 512 points", range="[0, inf)",
                             most=4096, metavar="N")

    def __post_init__(self):
        problems = list(problems_of(self, SETTINGS))
        if self.noise_clusters and isinstance(self.noise_dim, int) and self.noise_dim < 3:
            problems.append(f"noise_clusters needs noise_dim of at least 3: z1 picks the cluster and G's "
                            f"manifold is drawn over z2, z3 (noise_dim is {self.noise_dim})")
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
        return [name for name, s in SETTINGS.items()
                if getattr(self, name) != getattr(other, name) and not s.live]


# Read from the declarations above; nothing else lists the settings.
SETTINGS = settings_of(Config)
# Settings the trainer can change between two updates without rebuilding anything.
LIVE_FIELDS = tuple(name for name, s in SETTINGS.items() if s.live)
# What each setting is called on screen (panel rows, "Needs Reset" lists, messages): internal
# field names never reach a person.
LABELS = {name: s.label for name, s in SETTINGS.items()}


def label(name: str) -> str:
    """The on-screen words for a setting (its name itself if it has none)."""
    return LABELS.get(name, name.replace("_", " "))


def in_words(error: Exception) -> str:
    """A ConfigError's problems with each setting named in words ("batch size must be a
    positive number (got 0)"): the message for a window; the CLI keeps the option names."""
    return "; ".join(re.sub(r"^\w+", lambda m: LABELS.get(m.group(0), m.group(0)), part)
                     for part in str(error).split("; "))
