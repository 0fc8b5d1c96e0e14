"""The generator of a saved run, on its own: all that `ganviz sample` and `ganviz eval` need.

A checkpoint holds G's weights and the config, and G's output shape can be read from its
weights, so sampling works wherever the training data went (a moved image folder, a deleted
CSV). Scores that need known modes (ring, grid) or the digit classifier get them from the
config; nothing here reads the user's data files.
"""
from __future__ import annotations

import math

from .checkpoint import CheckpointError, checkpoint_config, choose_device, read_checkpoint
from .data import BUILTIN_DATASETS, Dataset
from .inputs import report_note
from .models import build_models, draw_samples


class SavedGenerator:
    """G (or its moving average) of a checkpoint with its config and iteration. `dataset` is
    the built-in dataset it was trained on (for its modes and name), or None for user data."""

    def __init__(self, config, generator, device, iteration: int, dataset: Dataset | None,
                 note: str = "", classes: tuple | None = None, averaged: bool = False):
        self.config, self.generator, self.device = config, generator.eval(), device
        self.averaged = averaged   # `generator` is the checkpoint's moving average of G
        self.iteration, self.dataset, self.load_note = iteration, dataset, note
        self.classes = classes   # a conditional run's class names, else None

    def generate(self, n: int, batch: int = 4096, label: int | None = None,
                 with_labels: bool = False):
        """The same n samples Trainer.generate draws for this run (same seed, same batches,
        the same classes asked for); label, with_labels: as there."""
        samples, asked = draw_samples(self.generator, n, self.config.noise_dim, self.config.seed + 3,
                                      self.device, len(self.classes or ()), label, batch)
        return (samples, asked) if with_labels else samples


def open_generator(path, device=None) -> SavedGenerator:
    """The sampling generator of the checkpoint at `path`, on `device` (default: the saved
    one where it exists here, else the best available, with a note)."""
    state = read_checkpoint(path)
    config = checkpoint_config(state, path)
    device, config, note = choose_device(config, state, device)
    use_ema = config.g_ema > 0 and state.get("generator_ema") is not None
    weights = state["generator_ema"] if use_ema else state.get("generator")
    classes = tuple(state["classes"]) if config.conditional != "none" and state.get("classes") else None
    try:
        shape = sample_shape_from(weights)
        generator, _ = build_models(config, shape, len(classes or ()))
        generator.load_state_dict(weights)
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: checkpoint's generator does not match its config "
                              f"({first[:200]})") from None
    dataset = None
    if config.dataset in BUILTIN_DATASETS:  # generated or shipped: no user file is read
        from .trainer import dataset_for
        dataset = dataset_for(config)
    if note:
        report_note(f"{path}: {note}")
    iteration = int(state.get("counters", {}).get("iteration", 0))
    return SavedGenerator(config, generator.to(device), device, iteration, dataset, note, classes, use_ema)


def sample_shape_from(weights: dict) -> tuple:
    """One sample's shape, read from G's weights: (2,) for the MLP's points, (C, H, W) for
    the DCGAN generator (its projection's size and number of x2 up-convolutions)."""
    weights = {k.removeprefix("base."): v for k, v in weights.items()}   # a conditional G's own
    if "project.0.weight" in weights:
        convs = [v for k, v in weights.items() if k.startswith("body.") and v.dim() == 4]
        width, channels = convs[0].shape[0], convs[-1].shape[1]
        start = math.isqrt(weights["project.0.weight"].shape[0] // width)
        side = start * 2 ** len(convs)
        return (int(channels), side, side)
    layers = sorted((int(k.split(".")[1]), v) for k, v in weights.items()
                    if k.startswith("net.") and k.endswith(".weight"))
    return (int(layers[-1][1].shape[0]),)
