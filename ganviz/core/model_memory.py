"""How much memory a pair of networks will take, measured before they exist: the pair is
built on PyTorch's "meta" device (shapes only, no storage), and one sample's shape is walked
through its layers to count the activations kept for the backward pass. (A forward pass on
"meta" would count them too, but its first call costs seconds of set-up.)"""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import ConfigError
from .inputs import available_memory, human_bytes

MEMORY_SHARE = 0.5  # of the memory free now, the networks and one training step may take
# Per float32 weight: the weight, its gradient and Adam's two moments (+ G's moving average).
BYTES_PER_WEIGHT = 4 * 5
# Per activation value of one sample: the value kept for backward, its gradient, and the
# second backward of the R1 / gradient penalties.
BYTES_PER_ACTIVATION = 4 * 3


def estimate(config, sample_shape, build) -> tuple[int, int]:
    """(weights of G and D together, activation values of one sample through G then D)."""
    with torch.device("meta"):
        g, d = build(config, sample_shape, init=False)
    weights = sum(p.numel() for net in (g, d) for p in net.parameters())
    shape = _walk(g, (config.noise_dim,))
    return weights, _walk.total(g, (config.noise_dim,)) + _walk.total(d, shape)


def _leaves(net):
    return [m for m in net.modules() if not list(m.children())]


def _next_shape(layer, shape: tuple) -> tuple:
    """The output shape of one layer for one sample (no batch dimension)."""
    if isinstance(layer, nn.Linear):
        return (layer.out_features,)
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        if len(shape) == 1:  # a projection reshaped into feature maps (the DCGAN generator)
            side = int(round((shape[0] / layer.in_channels) ** 0.5))
            shape = (layer.in_channels, side, side)
        k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]
        h = shape[1]
        if isinstance(layer, nn.Conv2d):
            side = (h + 2 * p - k) // s + 1
        else:
            side = (h - 1) * s - 2 * p + k + layer.output_padding[0]
        return (layer.out_channels, side, side)
    return shape  # activations, normalisation: same shape


class _Walk:
    def __call__(self, net, shape):
        for layer in _leaves(net):
            shape = _next_shape(layer, shape)
        return shape

    def total(self, net, shape) -> int:
        values = 0
        for layer in _leaves(net):
            shape = _next_shape(layer, shape)
            values += math.prod(shape)
        return values


_walk = _Walk()


def check_model_memory(config, sample_shape, build) -> None:
    """Refuse networks or batches that would not fit in memory, naming the settings."""
    weights, per_sample = estimate(config, sample_shape, build)
    budget = int(available_memory() * MEMORY_SHARE)
    where = f"half of the {human_bytes(2 * budget)} of memory free now"
    is_mlp = len(sample_shape) == 1 or config.model == "mlp"
    model_bytes = weights * BYTES_PER_WEIGHT
    if model_bytes > budget:
        knobs = (f"hidden {config.hidden}, depth {config.depth}" if is_mlp
                 else f"channels {config.channels}")
        raise ConfigError(f"the networks would have {weights / 1e6:,.0f} million weights "
                          f"({knobs}, noise_dim {config.noise_dim}): {human_bytes(model_bytes)} with "
                          f"gradients and optimizer state, more than {where}; lower "
                          f"{'hidden or depth' if is_mlp else 'channels'}")
    step_bytes = config.batch_size * per_sample * BYTES_PER_ACTIVATION
    if model_bytes + step_bytes > budget:
        fits = max(1, (budget - model_bytes) // max(1, per_sample * BYTES_PER_ACTIVATION))
        raise ConfigError(f"batch_size {config.batch_size} needs about {human_bytes(step_bytes)} "
                          f"per update for these networks, more than {where}; "
                          f"use a batch_size of at most {fits}")
