"""Named starting settings: a few Config changes on top of the defaults (or of the user's
dataset and other settings), chosen by measurement with the mode-coverage protocol
(evaluate.py: 2500 samples, 3-sigma rule) on the ring (8 modes, sigma 0.01) and the grid
(25 modes, sigma 0.05)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .config import Config


@dataclass(frozen=True)
class Preset:
    name: str
    description: str                  # one line shown in the app
    changes: dict = field(default_factory=dict)   # Config fields to set
    protocol_iterations: int | None = None        # benchmarks/quality.py budget, if not 25 000


# What every preset sets, so a preset never inherits a user's earlier tweak of these.
PLAIN = {"label_smoothing": 0.0, "optimizer": "adam", "beta1": 0.5, "beta2": 0.999, "d_steps": 1,
         "noise_dim": 64, "g_ema": 0.0, "conditional": "none", "noise_clusters": 0,
         "r1_final": 1.0, "r1_every": 1}

# Settings of the run itself rather than of the GAN: no preset touches them, so choosing
# one keeps the user's data, seed, device and measuring choices.
NOT_PRESET = ("dataset", "seed", "device", "ring_modes", "ring_radius", "ring_sigma",
              "probe_size", "probe_every", "grid_size")

# Config's own defaults, so a user can get back to them after trying another preset.
DEFAULT = Preset(
    name="Default",
    description="ganviz's defaults: non-saturating loss + R1 penalty, 2-layer leaky-ReLU MLP, "
                "Adam 1e-3 decaying over 6000 iterations: all 8 ring modes in about 1500",
    changes={f.name: f.default for f in fields(Config) if f.name not in NOT_PRESET},
)

# Non-saturating loss, zero-centred R1 penalty on real data (Mescheder et al. 2018) at weight
# 0.3 falling geometrically to 0.03 over the run, a 4-hidden-layer leaky-ReLU MLP, Adam at 2e-3
# without momentum (beta1 0, beta2 0.99, as StyleGAN) decaying linearly to 2e-6 over the
# protocol's budget (batch 512, 25 000 iterations), noise from 200 clusters
# (models.ClusteredNoise), and samples and scores from a moving average of G's weights (0.995 a
# step, about the last 200 iterations). The decay makes the samples precise; the clusters took
# away the samples between modes (4-6 % of them before). G itself still swings by up to 20
# points of high quality within a few hundred iterations late in a run; without momentum the
# seeds that had ended in a swing ended well (78.7 -> 99.8 %), and the average smooths the
# swings that remain. Its decay was chosen from six (0.99-0.998) scored on the same runs
# (quality.py --also-ema): a shorter one follows the ring's swings (0.99: ring seed 3 95.5 %),
# a longer one blurs the grid where G's clusters moved (0.998: grid seed 2 96.9 %).
# The falling R1 weight: with 0.3 throughout, held-out seeds ended at 95.1-96.8 %, their misses
# whole noise clusters 3-6 sigma beside a mode that a D held smooth by the penalty scored like
# real points (benchmarks/off_mode.py). A weak penalty from the start (0.03 or 0.1) fixes
# those seeds but lets the grid's mode masses drift apart (reverse KL up to 0.021); strong
# early and weak late does both (benchmarks/results.md, 2026-12-07 fourth session).
# Measured (25 000 iterations): every mode on every seed; high quality on seeds 0-4 grid
# 97.2-99.2 %, ring 99.2-100.0 %, on held-out seeds 5-9 grid 97.9-98.9 %, ring 98.9-100.0 %,
# reverse KL at most 0.006 (true data 98.9 %; GDPP, the best published: 8.0/71.7 %,
# 24.8/68.5 %), from modes narrower than the data's (72-82 % of its width on the grid, 52-80 %
# on the ring).
STABLE = Preset(
    name="Stable",
    description="R1 penalty falling from 0.3 to 0.03 + learning-rate decay, 4-layer leaky-ReLU "
                "MLP, Adam without momentum, "
                "noise from 200 clusters, scores of G's moving average: after 25 000 iterations "
                "every mode, and on average 98.4 % (grid) to 99.7 % (ring) of samples within 3 "
                "sigma of one (real data: 98.9 %), from modes narrower than the data's",
    changes={**PLAIN,
        "objective": "nonsaturating",
        "r1_gamma": 0.3,
        "r1_final": 0.1,
        "lr_d": 2e-3,
        "lr_g": 2e-3,
        "beta1": 0.0,
        "beta2": 0.99,
        "batch_size": 512,
        "lr_final": 0.001,
        "g_ema": 0.995,
        "decay_steps": 25_000,
        "hidden": 128,
        "depth": 4,
        "activation": "leaky_relu",
        "noise_clusters": 200,
    },
)

# The original GAN's non-saturating loss -log D(G(z)) (Goodfellow et al. 2014, who trained with
# SGD and momentum), no penalty, and plain Adam: its own defaults (lr 1e-3, beta1 0.9) for G and
# a twentieth of that rate for D (the published toy runs give D a tenth: Metz et al. 2017), on
# the Config's 2x128 ReLU MLPs, z in R^64, batch 512. Measured at 5000 iterations
# (benchmarks/results.md, seeds 0-9), modes held (the window's count) / modes with a sample
# within 3 sigma: on the ring 1-2 / 0-2 of 8, on the grid 1-4 / 1-4 of 25 (the published GAN
# row: 3.3). Traced to 25 000: grid seeds 0-2 held 1-6 modes throughout, ring seeds 0, 1 and 3
# held 1-2, and ring seed 2 held 1-2 until 17 500, then all 8 by 25 000. With D at a tenth of
# G's rate the ring escaped its collapse by 10 000 and 17 500 iterations (seeds 0 and 1). The
# minimax loss log(1 - D(G(z))) it had before collapsed on the ring too, but on the grid it
# scattered over the square and then crowded onto its edge (12-15 modes held at 25 000), so the
# grid showed no collapse.
VANILLA = Preset(
    name="Vanilla GAN",
    description="The original GAN with plain settings (non-saturating loss, Adam defaults, D at a "
                "twentieth of G's rate): it collapses onto 1-2 of the ring's 8 modes and 1-4 of the grid's 25",
    protocol_iterations=5000,   # collapse shows long before the 25 000 budget
    changes={**PLAIN,
        "objective": "nonsaturating",
        "r1_gamma": 0.0,
        "lr_d": 5e-5,
        "lr_g": 1e-3,
        "beta1": 0.9,
        "batch_size": 512,
        "lr_final": 1.0,
        "decay_steps": 0,
        "hidden": 128,
        "depth": 2,
        "activation": "relu",
    },
)

# GAN Lab's setting: 2-D noise and small MLPs, so the G manifold layer shows G's whole noise
# plane (z in [-2.5, 2.5]^2) folding onto the data. GAN Lab's own defaults (SGD at 0.1, one
# hidden layer, log loss) reached 4-6 of the ring's 8 modes in 3000 iterations here (seeds
# 0, 1), so the rest is ganviz's default recipe (Adam 1e-3 decaying, R1) with 2x32 MLPs.
# Measured on the ring (seeds 0-4, one thread, ~5 s per 1000 iterations): 8/8 modes at
# 1000 iterations for every seed, high quality 28-47 % at 3000.
GAN_LAB = Preset(
    name="GAN Lab (2-D noise)",
    description="2-D noise and small 2x32 MLPs, as in GAN Lab: the G manifold shows how G folds "
                "its noise plane onto the data; all 8 ring modes in about 1000 iterations",
    protocol_iterations=3000,
    changes={**PLAIN,
        "noise_dim": 2,
        "objective": "nonsaturating",
        "r1_gamma": 1.0,
        "lr_d": 1e-3,
        "lr_g": 1e-3,
        "batch_size": 512,
        "lr_final": 0.01,
        "decay_steps": 6000,
        "hidden": 32,
        "depth": 2,
        "activation": "leaky_relu",
    },
)

# The PyTorch DCGAN example's settings on scikit-learn's 8x8 digits. Measured (seed 0, one
# thread), in the stricter count (classes held by samples that pass as real digits): 9 classes
# at 1000 iterations, 10 at 2000, with coverage 0.52 against real data's 0.97.
DIGITS = Preset(
    name="Digits (DCGAN)",
    description="The PyTorch DCGAN example's settings on the 8x8 digits: every class by about 2000 "
                "iterations (the quality panel shows how far from real digits)",
    protocol_iterations=2000,
    changes={**PLAIN,
        "dataset": "digits",
        "objective": "nonsaturating",
        "r1_gamma": 0.0,
        "lr_d": 2e-4,
        "lr_g": 2e-4,
        "batch_size": 64,
        "lr_final": 1.0,
        "decay_steps": 0,
        "channels": 32,
    },
)

# The PyTorch DCGAN example's own settings (64x64 colour images, z in R^100, 64 base
# channels, batch 128, Adam 2e-4 with beta1 0.5) for a folder of the user's images.
FOLDER_64 = Preset(
    name="Image folder 64 (DCGAN)",
    description="The DCGAN example's settings for your own folder of images at 64x64 in colour "
                "(pick the folder under Dataset); a GPU helps",
    changes={**PLAIN,
        "objective": "nonsaturating",
        "r1_gamma": 0.0,
        "lr_d": 2e-4,
        "lr_g": 2e-4,
        "batch_size": 128,
        "lr_final": 1.0,
        "decay_steps": 0,
        "noise_dim": 100,
        "channels": 64,
        "image_size": 64,
        "grey": False,
        "model": "dcgan",
    },
)

# ganviz's own settings (its defaults: R1 penalty, batch 512, Adam 1e-3 decaying over 6000
# iterations) on the digits, unconditional. Measured (seed 0, one thread, against held-out
# real digits' coverage 0.97 / density 0.99): 0.88 / 0.73 at 2000 iterations, 0.96 / 0.87 at
# 4000, 0.98 / 0.96 at 5000; with samples from a moving average of G's weights (decay 0.99,
# this preset) 0.89 / 0.76 at 2000, 0.94 / 0.89 at 4000, 0.97 / 0.97 at 5000.
DIGITS_GANVIZ = Preset(
    name="Digits (ganviz)",
    description="ganviz's defaults on the 8x8 digits, samples from G's moving average: as close "
                "to real digits as held-out real digits are (coverage, density within 0.1) by 5000 iterations",
    protocol_iterations=5000,
    changes={**DEFAULT.changes, "dataset": "digits", "g_ema": 0.99},
)

# ganviz's defaults on the digits, conditioned on the class the cGAN way (the one-hot label
# joined to z and to D's input). Measured (benchmarks/quality.py --digit-runs concat, seed 0,
# one thread, 2000 iterations): coverage 0.95 and density 1.00 against held-out real digits'
# 0.97 / 0.99, and the digit classifier names the asked-for digit in 99.9 % of the samples
# (99.1 % of real digits). Projection and AC-GAN: see benchmarks/results_digits.md.
CONDITIONAL_DIGITS = Preset(
    name="Conditional digits (cGAN)",
    description="ganviz's defaults on the 8x8 digits with the class label joined to z and to D's "
                "input: a row per digit, each the digit asked for, near real digits by 2000 iterations",
    protocol_iterations=2000,
    changes={**DEFAULT.changes, "dataset": "digits", "conditional": "concat"},
)

PRESETS: dict[str, Preset] = {p.name: p for p in (DEFAULT, STABLE, VANILLA, GAN_LAB, DIGITS,
                                                  DIGITS_GANVIZ, CONDITIONAL_DIGITS, FOLDER_64)}


def apply_preset(config: Config, name: str) -> Config:
    """`config` with the preset's changes. A preset made for one dataset (Digits) switches to
    it; the others keep the user's dataset, and everything a preset does not name (the seed)
    stays as it was."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
    return config.replace(**preset.changes)


def matching_presets(config: Config) -> list[str]:
    """The presets whose every setting `config` has (in PRESETS order): what the preset box
    can truthfully show for it. Empty: the settings differ from every preset ("Custom")."""
    return [name for name, p in PRESETS.items()
            if all(getattr(config, k) == v for k, v in p.changes.items())]
