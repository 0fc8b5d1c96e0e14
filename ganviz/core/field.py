"""What both networks look like over the 2D plane (GAN Lab's layered view, computed here):
D's output on a grid, G's samples on the fixed noise, the move G's loss asks of each sample,
how G warps a grid of its noise space, and how D's output changed in its last update."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from .models import build_models, one_label
from .objectives import get_objective

# The manifold grid spans z in [-2.5, 2.5] on each drawn noise coordinate: 98.8 % of a
# standard normal coordinate lies there, so with 2-D noise the grid covers where G's samples
# come from (the fixed noise is standard normal like the training noise).
MANIFOLD_SPAN = 2.5
ARROW_COUNT = 128        # arrows drawn: more merge into smears on a ~500 px plot
ARROW_FRACTION = 0.12    # the longest arrow, as a fraction of the view's smaller side
ARROW_SPACING = 0.025    # arrows start at least this far apart (fraction of the view's smaller side)


@dataclass
class Field:
    bounds: tuple            # (x0, x1, y0, y1) of the heatmap
    heatmap: np.ndarray      # (res, res) D's score, row = y, column = x
    fake: np.ndarray         # (N, 2) G(fixed noise)
    push: np.ndarray         # (N, 2) -d loss_G / d G(z): where G's loss asks each fake to move
    manifold: np.ndarray     # (rows, cols, 2) G applied to a regular grid of noise
    probability: bool        # heatmap is a probability (else a critic value)
    manifold_label: str = ""     # what the manifold grid is, in words (a slice, for noise_dim > 2)
    change: np.ndarray | None = None   # (res, res) heatmap minus D's heatmap before its last
                                       # update(s); None when D has not been updated in this run
    change_label: str = ""       # what `change` is, in words, with its largest size
    fake_labels: np.ndarray | None = None   # (N,) the class each fake was asked for (conditional)
    heat_class: int | None = None           # the class D's heatmap and G's manifold are for


def manifold_noise(noise_dim: int, steps: int = 21, span: float = MANIFOLD_SPAN,
                   device=None, clusters: int = 0) -> torch.Tensor:
    """A regular grid in noise space, (steps*steps, noise_dim): the square [-span, span]^2
    for 2-D noise; for more dimensions the slice through z = 0 along z1 and z2 (the other
    coordinates 0); for 1-D noise a line of `steps` points. With noise clusters
    (models.ClusteredNoise), z1 picks the cluster, so the slice is along z2 and z3 with z1 = 0:
    one cluster's noise, which G maps without a jump."""
    a = torch.linspace(-span, span, steps, device=device)
    if noise_dim == 1:
        return a[:, None]
    u, v = torch.meshgrid(a, a, indexing="ij")
    grid = torch.zeros(steps * steps, noise_dim, device=device)
    first = 1 if clusters else 0
    grid[:, first] = u.reshape(-1)
    grid[:, first + 1] = v.reshape(-1)
    return grid


def manifold_label(noise_dim: int, span: float = MANIFOLD_SPAN, clusters: int = 0) -> str:
    """The manifold grid in words, true to manifold_noise()."""
    s = f"{span:g}"
    if clusters:
        return (f"G manifold: one of {clusters} noise clusters (z1 = 0 picks it), a 2-D slice "
                f"(z2, z3 from −{s} to {s}; other {noise_dim - 3} dims 0)")
    if noise_dim == 1:
        return f"G manifold: G(z) for z from −{s} to {s} (1-D noise)"
    if noise_dim == 2:
        inside = math.erf(span / math.sqrt(2)) ** 2   # P(both standard normal coordinates within span)
        return f"G manifold: G over the noise square z1, z2 in [−{s}, {s}] ({100 * inside:.1f} % of the noise)"
    return f"G manifold: a 2-D slice (z1, z2 from −{s} to {s}; other {noise_dim - 2} dims 0)"


def d_heatmap(d, objective, bounds, resolution: int, device=None, label: int | None = None) -> torch.Tensor:
    """D's score at every point of a resolution x resolution grid over bounds (row = y); for
    a conditional D, its score for class `label` at each point."""
    x0, x1, y0, y1 = bounds
    xs = torch.linspace(x0, x1, resolution, device=device)
    ys = torch.linspace(y0, y1, resolution, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    plane = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    was = d.training
    d.eval()
    try:
        with torch.no_grad():
            return objective.score(d(plane, one_label(label, len(plane), device))).reshape(resolution, resolution)
    finally:
        d.train(was)


def compute_field(trainer, bounds, resolution: int = 64, manifold_steps: int = 21,
                  fresh: bool = False) -> Field:
    """The field over `bounds` (x0, x1, y0, y1); fake points from the fixed noise, or from
    fresh noise if asked. A conditional run's fakes are asked for the fixed labels (each
    class in turn); D's heatmap and G's manifold are for trainer.heat_class."""
    g, d, obj = trainer.generator, trainer.discriminator, trainer.objective
    fixed_labels = trainer.fixed_labels
    label = None if fixed_labels is None else trainer.heat_class
    heat = d_heatmap(d, obj, bounds, resolution, trainer.device, label)
    noise_dim = trainer.fixed_noise.shape[1]
    g_was, d_was = g.training, d.training
    g.eval(), d.eval()
    try:
        with torch.no_grad():
            noise = torch.randn_like(trainer.fixed_noise) if fresh else trainer.fixed_noise
            fake = g(noise, fixed_labels)
            clusters = getattr(g, "clusters", 0)   # models.ClusteredNoise
            plane = manifold_noise(noise_dim, manifold_steps, device=trainer.device, clusters=clusters)
            grid = g(plane, one_label(label, len(plane), trainer.device))
            rows = manifold_steps if noise_dim >= 2 else 1
            manifold = grid.reshape(rows, -1, 2)
        # The gradient of G's loss with respect to each fake sample: the direction the
        # generator's update pulls that point (D held fixed).
        with torch.enable_grad():
            points = fake.detach().requires_grad_(True)
            d.requires_grad_(False)
            try:
                loss = obj.g_loss(d(points, fixed_labels)) * len(points)
                (grad,) = torch.autograd.grad(loss, points)
            finally:
                d.requires_grad_(True)
    finally:
        g.train(g_was), d.train(d_was)
    return Field(bounds=tuple(float(b) for b in bounds), heatmap=heat.cpu().numpy().copy(),
                 fake=fake.cpu().numpy().copy(), push=(-grad).cpu().numpy().copy(),
                 manifold=manifold.cpu().numpy().copy(), probability=obj.probability,
                 manifold_label=manifold_label(noise_dim, clusters=clusters), heat_class=label,
                 fake_labels=None if fixed_labels is None else fixed_labels.cpu().numpy().copy())


def arrow_fakes(fake: np.ndarray, spacing: float, count: int = ARROW_COUNT) -> np.ndarray:
    """Indices of the fakes that get an arrow: taken in the fixed noise's order, each at least
    `spacing` from those already taken, at most `count`. The same fakes keep their arrows from
    frame to frame, and a collapsed blob gets a few arrows instead of a black wedge."""
    finite = np.flatnonzero(np.isfinite(fake).all(1))
    x, y = fake[finite, 0].astype(np.float32), fake[finite, 1].astype(np.float32)
    near = (x[:, None] - x[None]) ** 2 + (y[:, None] - y[None]) ** 2 < np.float32(spacing) ** 2
    blocked = np.zeros(len(finite), bool)
    taken: list = []
    for i in range(len(finite)):
        if not blocked[i]:
            taken.append(i)
            if len(taken) == count:
                break
            blocked |= near[i]
    return finite[np.asarray(taken, dtype=int)]


def arrow_segments(fake: np.ndarray, push: np.ndarray, view_size: float, count: int = ARROW_COUNT,
                   fraction: float = ARROW_FRACTION, spacing: float = ARROW_SPACING) -> np.ndarray:
    """Line segments (6 points per arrow: shaft, two head strokes) for the fakes arrow_fakes()
    picks, `spacing` a fraction of view_size.

    Length grows with the square root of the push's size relative to the largest drawn,
    so the longest arrow is `fraction` of view_size and one a hundredth its size still
    shows at a tenth of that; the head is a third of the arrow."""
    norms = np.linalg.norm(push, axis=1)
    usable = np.isfinite(norms) & (norms > 0)
    fake, push, norms = fake[usable], push[usable], norms[usable]
    pick = arrow_fakes(fake, spacing * view_size, count)
    if len(pick) == 0:
        return np.zeros((0, 2))
    fake, push, norms = fake[pick], push[pick], norms[pick]
    length = fraction * view_size * np.sqrt(norms / norms.max())
    v = push / norms[:, None] * length[:, None]
    tip = fake + v
    back = -v / 3                       # the head: two strokes back from the tip at +-25 degrees
    c, s = np.cos(0.44), np.sin(0.44)
    left = tip + np.stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]], 1)
    right = tip + np.stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]], 1)
    return np.stack([fake, tip, tip, left, tip, right], 1).reshape(-1, 2)


def follow_extent(real, fake, current: tuple | None, margin: float = 0.15,
                  slack: float = 0.1, spare: float = 1.4):
    """Where a view that follows the real data and the fakes ((N, 2) arrays, either may be
    None) should go: None to stay at `current` (x0, x1, y0, y1), else a new extent.

    It moves when the points' box (with a margin) leaves the view, or when the view is more
    than `spare` times that box in both directions (the fakes came back from afar); a new
    extent has some slack, so points that drift keep the view still for a while. The fakes'
    extreme 0.5 % on each side are left out: a handful of stray fakes would shrink the rest."""
    boxes = []
    for p, trim in ((real, 0.0), (fake, 0.005)):
        p = np.zeros((0, 2)) if p is None else np.asarray(p, dtype=float)
        p = p[np.isfinite(p).all(1)] if len(p) else p
        if len(p) and trim:
            boxes.append((np.quantile(p, trim, axis=0), np.quantile(p, 1 - trim, axis=0)))
        elif len(p):
            boxes.append((p.min(0), p.max(0)))
    if not boxes:
        return None
    lo = np.min([b[0] for b in boxes], 0)
    hi = np.max([b[1] for b in boxes], 0)
    size = max(float((hi - lo).max()), 1e-3)
    lo, hi = lo - margin * size, hi + margin * size
    if current is not None and np.isfinite(current).all():
        x0, x1, y0, y1 = current
        inside = x0 <= lo[0] and hi[0] <= x1 and y0 <= lo[1] and hi[1] <= y1
        roomy = (x1 - x0) > spare * (hi[0] - lo[0]) and (y1 - y0) > spare * (hi[1] - lo[1])
        if inside and not roomy:
            return None
    lo, hi = lo - slack * size, hi + slack * size
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def network_weights(trainer) -> dict:
    """Numpy copies of G's and D's weights: what the window needs to draw the field itself."""
    def copy_of(net):
        return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    return {"G": copy_of(trainer.generator), "D": copy_of(trainer.discriminator)}


class FieldMirror:
    """A CPU copy of a 2D run's G and D, loaded with network_weights(), so the window computes
    the field in its own process and the training process spends its time training.

    It also keeps D's weights from before the last frame's D update(s), for the "change in
    D" layer: D's heatmap now minus D's heatmap then, over the plane shown now."""

    device = torch.device("cpu")

    def __init__(self, config, sample_shape, fixed_noise: np.ndarray, fixed_labels: np.ndarray | None = None,
                 classes: int = 0):
        self.generator, self.discriminator = build_models(config, sample_shape, classes)
        self.objective = get_objective(config.objective)
        self.fixed_noise = torch.from_numpy(fixed_noise)
        self.fixed_labels = None if fixed_labels is None else torch.from_numpy(fixed_labels).long()
        self.heat_class = 0           # the class D's heatmap is drawn for (conditional runs)
        self._d_before_net = copy.deepcopy(self.discriminator)
        self._d_now = None            # D's weights in the frame last loaded
        self._d_before = None         # D's weights before the last D update(s) (None: none yet)
        self._d_updates = []          # iterations of the D updates since the frame last loaded
        self._change_updates = []     # ... and of those between _d_before and the weights now
        self._last_heat = None        # (bounds, heatmap) of the frame last computed
        self._before_heat = None      # (bounds, heatmap) of _d_before

    @classmethod
    def of_run(cls, reader, noise: np.ndarray | None = None) -> "FieldMirror":
        """The mirror of a stored 2D run (a RunReader): its networks, fixed noise and, for a
        conditional run, the fixed noise's classes."""
        noise = reader.fixed_noise if noise is None else noise
        classes = getattr(reader, "classes", None)
        return cls(reader.config, tuple(reader.sample_shape), np.asarray(noise, np.float32),
                   getattr(reader, "fixed_labels", None), len(classes or ()))

    def set_heat_class(self, label: int):
        """Draw D's heatmap (and its change) and G's manifold for class `label` from now on."""
        if label != self.heat_class:
            self.heat_class = int(label)
            self._last_heat = self._before_heat = None

    def note_records(self, records):
        """The training process reports each update as a record; count D's since the last frame."""
        self._d_updates += [r.iteration for r in records if r.phase == "D"]

    def load(self, weights: dict):
        if self._d_updates and self._d_now is not None:
            # D changed since the frame last loaded: that frame's D is the "before"
            self._d_before, self._change_updates = self._d_now, self._d_updates
            self._before_heat = self._last_heat
        self._d_updates, self._last_heat = [], None
        self._d_now = weights["D"]
        for net, key in ((self.generator, "G"), (self.discriminator, "D")):
            net.load_state_dict({k: torch.from_numpy(v) for k, v in weights[key].items()})

    def field(self, bounds, fresh: bool = False, resolution: int = 64) -> Field:
        f = compute_field(self, bounds, resolution=resolution, fresh=fresh)
        self._last_heat = (f.bounds, f.heatmap)
        f.change, f.change_label = self._change(f)
        return f

    def _change(self, f: Field):
        if self._d_before is None:
            return None, "change in D: shown after the next D update"
        if self._before_heat is None or self._before_heat[0] != f.bounds \
                or self._before_heat[1].shape != f.heatmap.shape:
            # the view moved since: D before the update, over the plane shown now
            self._d_before_net.load_state_dict({k: torch.from_numpy(v) for k, v in self._d_before.items()})
            heat = d_heatmap(self._d_before_net, self.objective, f.bounds, len(f.heatmap), self.device,
                             f.heat_class)
            self._before_heat = (f.bounds, heat.numpy().copy())
        change = f.heatmap - self._before_heat[1]
        top = float(np.nanmax(np.abs(change))) if np.isfinite(change).any() else float("nan")
        n, last = len(self._change_updates), self._change_updates[-1]
        what = "D(x)" if f.probability else "D's critic value"
        if n == 1:
            label = f"change in {what} from the last D update (iteration {last}), max |Δ| {top:.3g}"
        else:
            label = (f"change in {what} over the last {n} D updates (to iteration {last}), "
                     f"max |Δ| {top:.3g}")
        return change, label


def d_output_histogram(trainer, bins: int = 20):
    """Histogram of D's scores on the probe reals and on probe fakes (for the quality panel)."""
    g, d, obj = trainer.generator, trainer.discriminator, trainer.objective
    g_was, d_was = g.training, d.training
    g.eval(), d.eval()
    y = trainer.probe_labels
    with torch.no_grad():
        real = obj.score(d(trainer.probe_real, y)).cpu().numpy()
        fake = obj.score(d(g(trainer.probe_noise, y), y)).cpu().numpy()
    g.train(g_was), d.train(d_was)
    if obj.probability:
        edges = np.linspace(0, 1, bins + 1)
    else:
        both = np.concatenate([real, fake])
        both = both[np.isfinite(both)]
        lo, hi = (both.min(), both.max()) if len(both) else (-1.0, 1.0)
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    return edges, np.histogram(real, edges)[0], np.histogram(fake, edges)[0]
