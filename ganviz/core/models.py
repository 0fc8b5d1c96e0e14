"""The two networks: an MLP pair for 2D points, a DCGAN-style pair for images."""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}

# Image size -> (start size after G's projection, number of x2 upsamplings).
DCGAN_LAYOUT = {8: (2, 2), 16: (4, 2), 28: (7, 2), 32: (4, 3), 64: (4, 4)}


def mlp(n_in: int, n_out: int, hidden: int, depth: int, activation: str) -> nn.Sequential:
    layers, width = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    def __init__(self, noise_dim, hidden, depth, activation, out_dim=2):
        super().__init__()
        self.net = mlp(noise_dim, out_dim, hidden, depth, activation)

    def forward(self, z):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Outputs one raw value per sample (a logit or a critic score)."""

    def __init__(self, hidden, depth, activation, in_dim=2):
        super().__init__()
        self.net = mlp(in_dim, 1, hidden, depth, activation)

    def forward(self, x):
        return self.net(x).squeeze(1)


class DCGANGenerator(nn.Module):
    """z -> linear projection -> transposed convolutions (x2 each) with BatchNorm -> tanh."""

    def __init__(self, noise_dim, image_size, image_channels, channels):
        super().__init__()
        start, ups = DCGAN_LAYOUT[image_size]
        width = channels * 2 ** (ups - 1)
        self.start, self.width = start, width
        self.project = nn.Sequential(
            nn.Linear(noise_dim, width * start * start, bias=False),
            nn.BatchNorm1d(width * start * start), nn.ReLU(True))
        blocks = []
        for _ in range(ups - 1):
            blocks += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        blocks += [nn.ConvTranspose2d(width, image_channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*blocks)

    def forward(self, z):
        x = self.project(z).view(-1, self.width, self.start, self.start)
        return self.body(x)


class DCGANDiscriminator(nn.Module):
    """Strided convolutions (/2 each) with LeakyReLU -> one raw value per image.
    BatchNorm is left out for WGAN-GP, whose penalty is per sample."""

    def __init__(self, image_size, image_channels, channels, batch_norm=True):
        super().__init__()
        start, downs = DCGAN_LAYOUT[image_size]
        layers, width = [], channels
        layers += [nn.Conv2d(image_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(downs - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(width * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            width *= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width * start * start, 1)

    def forward(self, x):
        return self.head(self.body(x).flatten(1)).squeeze(1)


def build_models(config, sample_shape) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for data whose samples have `sample_shape`; their memory is
    estimated first, and networks or batches too large for the machine are refused."""
    from .model_memory import check_model_memory
    check_model_memory(config, tuple(sample_shape), _build_pair)
    return _build_pair(config, sample_shape)


def _build_pair(config, sample_shape, init: bool = True) -> tuple[nn.Module, nn.Module]:
    is_image = len(sample_shape) == 3
    kind = config.model if config.model != "auto" else ("dcgan" if is_image else "mlp")
    if kind == "mlp":
        n = int(torch.Size(sample_shape).numel())
        if is_image:
            raise ValueError("the MLP models are for 2D points; use model 'dcgan' for images")
        g = MLPGenerator(config.noise_dim, config.hidden, config.depth, config.activation, n)
        d = MLPDiscriminator(config.hidden, config.depth, config.activation, n)
        return g, d
    if not is_image:
        raise ValueError("the DCGAN models are for images; use model 'mlp' for 2D points")
    c, h, w = sample_shape
    if h not in DCGAN_LAYOUT or h != w:
        raise ValueError(f"DCGAN models support square images of {sorted(DCGAN_LAYOUT)} pixels, not {h}x{w}")
    g = DCGANGenerator(config.noise_dim, h, c, config.channels)
    d = DCGANDiscriminator(h, c, config.channels, batch_norm=config.objective != "wgan_gp")
    for net in (g, d) if init else ():  # no init for shapes only (model_memory)
        net.apply(_dcgan_init)
    return g, d


def _dcgan_init(m):
    # The DCGAN paper's initialisation: N(0, 0.02) weights, BatchNorm scale N(1, 0.02).
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
