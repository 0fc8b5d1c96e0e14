"""The two networks: an MLP pair for 2D points, a DCGAN-style pair for images; and, for data
with class labels, the same networks conditioned on the label (three ways, config.conditional).

Every network is called net(input, labels); unconditional ones ignore the labels (None)."""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}

# The spread of ClusteredNoise's centres (in noise units). Measured on the grid (Stable + 200
# clusters, seed 4, 25 000 iterations, centres then learned): spread 1 left 3.4 % of the
# samples in the gaps between modes (92.6 % high quality), spread 3 none (97.8 %).
CLUSTER_SPREAD = 3.0

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

    def forward(self, z, y=None):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Outputs one raw value per sample (a logit or a critic score)."""

    def __init__(self, hidden, depth, activation, in_dim=2):
        super().__init__()
        self.net = mlp(in_dim, 1, hidden, depth, activation)
        self.feature_dim = hidden if depth else in_dim

    def features(self, x):
        return self.net[:-1](x)

    def head(self, h):
        return self.net[-1](h)

    def forward(self, x, y=None):
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

    def forward(self, z, y=None):
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
        self.feature_dim = width * start * start
        self.head = nn.Linear(self.feature_dim, 1)

    def features(self, x):
        return self.body(x).flatten(1)

    def forward(self, x, y=None):
        return self.head(self.body(x).flatten(1)).squeeze(1)


def one_hot(y: torch.Tensor, classes: int, like: torch.Tensor) -> torch.Tensor:
    return F.one_hot(y, classes).to(like.dtype)


def one_label(label: int | None, n: int, device) -> torch.Tensor | None:
    """n times class `label` (None: no labels, for an unconditional network)."""
    return None if label is None else torch.full((n,), int(label), dtype=torch.long, device=device)


def ask_labels(n: int, classes: int, gen: torch.Generator, device, label: int | None = None) -> torch.Tensor:
    """The classes a conditional G is asked for in one batch: all `label`, or each class
    equally likely (drawn from `gen`; the same draws wherever G is, even without the data)."""
    if label is not None:
        return one_label(label, n, device)
    return torch.randint(classes, (n,), device=device, generator=gen)


@torch.no_grad()
def draw_samples(generator, n: int, noise_dim: int, seed: int, device, classes: int = 0,
                 label: int | None = None, batch: int = 4096):
    """(n samples of `generator` from fresh noise drawn with `seed`, the classes asked for or
    None): for metrics and `ganviz sample`, the same draws from a trainer or a checkpoint. A
    conditional G (classes > 0) is asked for every class equally often, or all for `label`."""
    gen = torch.Generator(device=device).manual_seed(seed)
    out, asked = [], []
    for i in range(0, n, batch):
        z = torch.randn(min(batch, n - i), noise_dim, device=device, generator=gen)
        y = ask_labels(len(z), classes, gen, device, label) if classes else None
        out.append(generator(z, y).cpu())
        asked.append(None if y is None else y.cpu())
    return torch.cat(out).numpy(), (torch.cat(asked).numpy() if classes else None)


class ConditionalGenerator(nn.Module):
    """G(z, y): the label, one-hot, joined to the noise (Mirza & Osindero 2014). All three
    conditionings use this generator; they differ in the discriminator."""

    def __init__(self, base: nn.Module, classes: int):
        super().__init__()
        self.base, self.classes = base, classes

    def forward(self, z, y):
        return self.base(torch.cat([z, one_hot(y, self.classes, z)], 1))


class ClusteredNoise(nn.Module):
    """G fed from a mixture of K Gaussians instead of one (config.noise_clusters = K): z's
    first coordinate z1 picks a cluster (Phi(z1) is uniform on [0, 1), so each of the K is drawn
    equally often), and that cluster's centre is added to z. The centres are drawn once, with
    the run's seed, and kept (a buffer, not a weight): learned, each centre took Adam steps on
    the gradients of the two or three samples of its cluster in a batch, a random walk that G
    kept chasing (grid seed 0: 96.5 % high quality at 20 000 iterations, 70.9 % at 25 000;
    with fixed centres 97.8 % at 25 000).

    Why: G is continuous, so from one connected blob of noise it cannot reach two separate
    modes without drawing samples on the way between them; the better separated the modes,
    the more of them there are (Tanielian et al. 2020, "Learning disconnected manifolds").
    The jump from one cluster's centre to the next gives G a place to jump from one mode to
    another without samples in between. The noise itself is drawn as before, so fixed noise,
    checkpoints and Explore G work unchanged."""

    buffers_constant = True   # forward only reads the centres: nothing to save or average (trainer.written_buffers)

    def __init__(self, base: nn.Module, clusters: int, noise_dim: int):
        super().__init__()
        self.base, self.clusters = base, clusters
        self.register_buffer("centres", torch.randn(clusters, noise_dim) * CLUSTER_SPREAD)

    def cluster(self, z):
        """The cluster each noise vector draws from."""
        return (torch.special.ndtr(z[:, 0]) * self.clusters).long().clamp_(0, self.clusters - 1)

    def forward(self, z, y=None):
        # index_select copies the same rows as centres[...], in a fifth of the time on a CPU
        return self.base(z + torch.index_select(self.centres, 0, self.cluster(z)), y)


class ConditionalDiscriminator(nn.Module):
    """D(x, y), one raw value per sample, in one of three ways:
    concat: the one-hot label joined to D's input (for images, as constant planes);
    projection: D's last features h scored as head(h) + <embed(y), h> (Miyato & Koyama 2018);
    acgan: D is unconditional but also predicts the class from h (Odena et al. 2017); the
    trainer adds the cross-entropy of those logits, raw, to both losses."""

    def __init__(self, base: nn.Module, classes: int, kind: str):
        super().__init__()
        self.base, self.classes, self.kind = base, classes, kind
        if kind == "projection":
            self.embed = nn.Embedding(classes, base.feature_dim)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        elif kind == "acgan":
            self.classifier = nn.Linear(base.feature_dim, classes)

    def forward(self, x, y):
        return self.score_and_logits(x, y)[0]

    def score_and_logits(self, x, y):
        """(D's raw value per sample, class logits (acgan) or None), from one pass."""
        if self.kind == "concat":
            labels = one_hot(y, self.classes, x)
            if x.dim() == 4:   # images: one constant plane per class
                labels = labels[:, :, None, None].expand(-1, -1, *x.shape[2:])
            return self.base(torch.cat([x, labels], 1)), None
        h = self.base.features(x)
        out = self.base.head(h).squeeze(1)
        if self.kind == "projection":
            return out + (self.embed(y) * h).sum(1), None
        return out, self.classifier(h)


def build_models(config, sample_shape, classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for data whose samples have `sample_shape` (and `classes`
    labels, for a conditional config); their memory is estimated first, and networks or
    batches too large for the machine are refused."""
    from .model_memory import check_model_memory
    if config.conditional != "none" and classes < 2:   # the trainer says which data have labels
        raise ValueError(f"conditioning '{config.conditional}' needs at least 2 classes (got {classes})")
    build = functools.partial(_build_pair, classes=classes)
    check_model_memory(config, tuple(sample_shape), build)
    return build(config, sample_shape)


def _build_pair(config, sample_shape, init: bool = True, classes: int = 0) -> tuple[nn.Module, nn.Module]:
    g, d = _build_base(config, sample_shape, init,
                       0 if config.conditional == "none" else classes)
    if config.conditional != "none":
        g, d = ConditionalGenerator(g, classes), ConditionalDiscriminator(d, classes, config.conditional)
    if config.noise_clusters:
        g = ClusteredNoise(g, config.noise_clusters, config.noise_dim)
    return g, d


def _build_base(config, sample_shape, init: bool, classes: int) -> tuple[nn.Module, nn.Module]:
    """The unconditional pair, widened where the label joins: G's input always, D's input
    for the concat conditioning."""
    noise = config.noise_dim + classes
    joined = classes if config.conditional == "concat" else 0
    is_image = len(sample_shape) == 3
    kind = config.model if config.model != "auto" else ("dcgan" if is_image else "mlp")
    if kind == "mlp":
        n = int(torch.Size(sample_shape).numel())
        if is_image:
            raise ValueError("the MLP models are for 2D points; use model 'dcgan' for images")
        g = MLPGenerator(noise, config.hidden, config.depth, config.activation, n)
        d = MLPDiscriminator(config.hidden, config.depth, config.activation, n + joined)
        return g, d
    if not is_image:
        raise ValueError("the DCGAN models are for images; use model 'mlp' for 2D points")
    c, h, w = sample_shape
    if h not in DCGAN_LAYOUT or h != w:
        raise ValueError(f"DCGAN models support square images of {sorted(DCGAN_LAYOUT)} pixels, not {h}x{w}")
    g = DCGANGenerator(noise, h, c, config.channels)
    d = DCGANDiscriminator(h, c + joined, config.channels, batch_norm=config.objective != "wgan_gp")
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
