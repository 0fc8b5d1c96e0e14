"""The training service's answers to the generator explorer (gui/explorer.py): G's samples
along a slerp path and on a plane through noise space, and the training images nearest a
sample (core/explore.py). Each runs between updates, on G as it is now (its moving average
with g_ema), and answers with one Explored event."""
from __future__ import annotations

import numpy as np
import torch

from ganviz.core import explore
from ganviz.core.evaluate import real_reference
from ganviz.core.sample_metrics import MIN_REAL
from ganviz.protocol import messages as m

MAX_STEPS = 64     # images along one path (the explorer asks for 9): a command never asks for more
MAX_NEAREST = 16   # nearest training images to one sample (it asks for 4)


class Explorer:
    def __init__(self, service):
        self.service = service
        self._nearest = None   # (dataset, explore.NearestReal) of the last run asked

    def handlers(self) -> dict:
        return {m.Interpolate: self.on_interpolate, m.PlaneSample: self.on_plane_sample,
                m.NearestReal: self.on_nearest_real}

    def _trainer(self):
        t = self.service.trainer
        if t is None or not t.dataset.is_image:
            self.service.send(m.Failed("The generator explorer is for image runs."))
            return None
        return t

    def _path(self, t, seed_a, seed_b, ts):
        dim = t.config.noise_dim
        return explore.slerp(explore.seed_noise(seed_a, dim), explore.seed_noise(seed_b, dim), ts)

    def on_interpolate(self, command: m.Interpolate):
        t = self._trainer()
        if t is None:
            return
        ts = np.linspace(0.0, 1.0, min(max(2, int(command.steps)), MAX_STEPS))
        noise = self._path(t, command.seed_a, command.seed_b, ts)
        self.service.send(m.Explored("path", explore.generate(t.sampling_generator, noise, _label(t, command)),
                                     {"t": ts, "seeds": (command.seed_a, command.seed_b),
                                      "iteration": t.iteration, "label": _label(t, command)}))

    def on_plane_sample(self, command: m.PlaneSample):
        t = self._trainer()
        if t is None:
            return
        if len(command.seeds) != 4:
            self.service.send(m.Failed(f"A plane needs 4 seeds, not {len(command.seeds)}."))
            return
        corners = torch.stack([explore.seed_noise(s, t.config.noise_dim) for s in command.seeds])
        z = explore.plane_noise(corners, float(command.u), float(command.v))
        self.service.send(m.Explored("plane", explore.generate(t.sampling_generator, z[None], _label(t, command)),
                                     {"u": command.u, "v": command.v, "seeds": tuple(command.seeds),
                                      "label": _label(t, command)}))

    def on_nearest_real(self, command: m.NearestReal):
        t = self._trainer()
        if t is None:
            return
        if len(t.dataset.data) < MIN_REAL:
            self.service.send(m.Failed(f"{len(t.dataset.data)} training images are too few to say which is "
                                       f"nearest a sample and how near is typical (at least {MIN_REAL})."))
            return
        if self._nearest is None or self._nearest[0] is not t.dataset:
            # the quality measures' reference (evaluate.py): its features and yardstick, not a second set
            self._nearest = (t.dataset, explore.NearestReal(real_reference(t.dataset), t.dataset.data))
        sample = explore.generate(t.sampling_generator, self._path(t, command.seed_a, command.seed_b, [command.t]),
                                  _label(t, command))
        found = self._nearest[1](sample[0], k=min(max(1, int(command.k)), MAX_NEAREST))
        self.service.send(m.Explored("nearest", np.concatenate([sample, found["images"]]),
                                     {"t": command.t, "distances": found["distances"], "ratio": found["ratio"],
                                      "typical": self._nearest[1].typical}))


def _label(t, command) -> int | None:
    """The class a conditional run's G is asked for (None for an unconditional run)."""
    if t.classes is None:
        return None
    return min(max(int(command.label), 0), len(t.classes) - 1)
