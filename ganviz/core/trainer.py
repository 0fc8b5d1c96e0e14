"""The GAN trainer: one discriminator update and one generator update are separate calls.

The body follows the PyTorch DCGAN example (real batch, fake batch, D update, G update
through a frozen D), split so a caller can run exactly one update and see its effect.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn.functional as F

from .adam_step import clear_grads, optimizer_step
from .config import Config, ConfigError
from .data import Dataset, load_dataset
from .history import History, Record
from .models import ask_labels, build_models, draw_samples
from .objectives import get_objective, gradient_penalty, r1_penalty
from .stages import UpdateWatch, mean_score, probe_values, targets
from .stages import grad_norm_value, per_sample_grad, value

NAN = float("nan")


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"unknown device {name!r}: {e}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} asked for, but there are {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' asked for, but Apple's Metal (MPS) is not available")
    return device


def dataset_for(config: Config) -> Dataset:
    return load_dataset(config.dataset, seed=config.seed, ring_modes=config.ring_modes,
                        ring_radius=config.ring_radius, ring_sigma=config.ring_sigma,
                        image_size=config.image_size or None, grey=config.grey)


class BatchSampler:
    """Shuffled passes over the data (epochs); the data lives on the training device."""

    def __init__(self, data: torch.Tensor, seed: int):
        self.data = data
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = None
        self.perm_gen = None  # the generator's state the current perm was drawn from
        self.pos = 0
        self.epochs_done = -1

    def next(self, batch_size: int) -> torch.Tensor:
        return self.data[self.next_index(batch_size)]

    def next_index(self, batch_size: int) -> torch.Tensor:
        """The indices (on the data's device) of the next batch."""
        n = len(self.data)
        if batch_size >= n:  # tiny user data: sample with replacement
            idx = torch.randint(n, (batch_size,), generator=self.gen)
            self.epochs_done = max(self.epochs_done, 0) + batch_size / n
            return idx.to(self.data.device)
        if self.perm is None or self.pos + batch_size > n:
            self.perm_gen = self.gen.get_state()
            self.perm = torch.randperm(n, generator=self.gen).to(self.data.device)
            self.pos = 0
            self.epochs_done += 1
        idx = self.perm[self.pos: self.pos + batch_size]
        self.pos += batch_size
        return idx

    @property
    def epoch(self) -> float:
        return max(self.epochs_done, 0) + self.pos / len(self.data)

    def state_dict(self):
        # The permutation is redrawn from the generator state it came from (5 KB) instead of
        # being stored (8 bytes per sample: 64 MB for 8 million points).
        return {"gen": self.gen.get_state(), "perm_gen": self.perm_gen,
                "pos": self.pos, "epochs_done": self.epochs_done}

    def load_state_dict(self, s):
        self.perm, self.perm_gen = None, s.get("perm_gen")
        if s.get("perm") is not None:  # checkpoints written before perm_gen
            self.perm = s["perm"].to(self.data.device)
        elif self.perm_gen is not None:
            self.gen.set_state(self.perm_gen)
            self.perm = torch.randperm(len(self.data), generator=self.gen).to(self.data.device)
        self.gen.set_state(s["gen"])
        self.pos, self.epochs_done = s["pos"], s["epochs_done"]


class Trainer:
    """Owns the two networks, their optimizers, the data and the run's counters.

    step_discriminator() / step_generator() each change exactly one network; step() runs
    the next phase of the current iteration; step_iteration() runs k D updates then one G.
    With fetch=False the record stays on the device until fetch_records(), so a batch of
    updates costs one host-device transfer.
    """

    def __init__(self, config: Config, dataset: Dataset | None = None, device=None):
        self.config = config
        self.device = resolve_device(device or config.device)
        self.dataset = dataset if dataset is not None else dataset_for(config)
        self.objective = get_objective(config.objective)
        self.data = self.dataset.data.to(self.device)
        # A conditional run: each sample's class (on the device) and the class names; G and D
        # take the label as a second input. Unconditional: None, and the labels are ignored.
        self.labels = self.classes = None
        if config.conditional != "none":
            if not self.dataset.labelled:
                raise ConfigError(f"conditional: the data {self.dataset.name!r} has no class labels "
                                  "(labelled data: digits, ring, grid, moons, an IDX images file "
                                  "with its labels file beside it, a folder with one subfolder per "
                                  "class); set conditioning to none")
            self.labels = torch.from_numpy(self.dataset.labels).to(self.device)
            self.classes = tuple(self.dataset.classes)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            g, d = build_models(config, self.dataset.sample_shape, len(self.classes or ()))
        self.generator, self.discriminator = g.to(self.device), d.to(self.device)
        # found once, not at every update (walking the modules cost 0.75 % of a Stable iteration)
        self._g_frozen, self._d_frozen = _frozen_buffers(g), _frozen_buffers(d)
        self._g_params, self._d_params = list(g.parameters()), list(d.parameters())
        self.opt_g = self._make_optimizer(self.generator, config.lr_g)
        self.opt_d = self._make_optimizer(self.discriminator, config.lr_d)
        # An exponential moving average of G's weights (config.g_ema > 0) makes the samples
        # and the scores: it smooths out G's last oscillations around the modes (Yazici et
        # al. 2019).
        self.generator_ema = None
        if config.g_ema > 0:
            self.generator_ema, self._ema_pairs = new_average(self.generator)

        self.sampler = BatchSampler(self.data, config.seed)
        self.noise_gen = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        # Drawn once per run: the probe batch every update is measured on, and the
        # fixed noise behind the sample grid, so the grid shows the same latent points.
        fixed = torch.Generator().manual_seed(config.seed + 2)
        probe_idx = torch.randint(len(self.data), (config.probe_size,), generator=fixed)
        self.probe_real = self.data[probe_idx.to(self.device)]
        self.probe_noise = torch.randn(config.probe_size, config.noise_dim, generator=fixed).to(self.device)
        # probe fakes are asked for the probe reals' classes, as in every D update
        self.probe_labels = None if self.labels is None else self.labels[probe_idx.to(self.device)]
        n_fixed = config.grid_size or (64 if self.dataset.kind == "images" else 512)
        self.grid_columns = None   # conditional images: one row per class, these many columns
        if self.labels is not None and self.dataset.is_image:
            self.grid_columns = max(1, n_fixed // len(self.classes)) if config.grid_size else 8
            style = torch.randn(self.grid_columns, config.noise_dim, generator=fixed)
            classes = len(self.classes)
            self.fixed_noise = style.repeat(classes, 1).to(self.device)   # the same noise down each column
            self.fixed_labels = torch.arange(classes).repeat_interleave(self.grid_columns).to(self.device)
        else:
            self.fixed_noise = torch.randn(n_fixed, config.noise_dim, generator=fixed).to(self.device)
            self.fixed_labels = (None if self.labels is None else
                                 (torch.arange(n_fixed) % len(self.classes)).to(self.device))

        self.heat_class = 0     # conditional 2D runs: the class the field's D heatmap is for
        self.iteration = 0      # completed iterations (generator updates)
        self.updates = 0        # all updates
        self.d_done = 0         # D updates done in the current iteration
        self.history = History()
        self._pending = []      # (metadata, list of 0-d device tensors) awaiting fetch_records
        self._nan = torch.tensor(NAN, device=self.device)
        self._has_norm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                             for net in (g, d) for m in net.modules())
        self._probe_cache = None
        self.ranks = None       # under torchrun: distributed.Ranks (see distribute)

    def distribute(self, ranks) -> None:
        """Train data-parallel with the other ranks (core/distributed.py): each update on this
        rank's share of the batch, gradients and losses averaged. Rank 0's networks are
        copied to every rank first (they are the same already when built from one seed or
        loaded from one checkpoint)."""
        ranks.part(self.config.batch_size)   # a batch the ranks cannot split is refused now
        ranks.copy_from_first([self.generator, self.discriminator, self.generator_ema])
        self.ranks = ranks

    def _part(self) -> slice:
        return slice(None) if self.ranks is None else self.ranks.part(self.config.batch_size)

    # ------------------------------------------------------------------ public API
    @property
    def next_phase(self) -> str:
        return "D" if self.d_done < self.config.d_steps else "G"

    def step(self, fetch: bool = True, stages: dict | None = None):
        """Exactly one update: the next phase of the current iteration. With fetch (a single
        Step) its record comes back at once, probe measured. stages: see step_discriminator."""
        if self.next_phase == "D":
            return self.step_discriminator(fetch, stages=stages)
        return self.step_generator(fetch, stages=stages)

    def step_iteration(self, fetch: bool = True):
        """Finish the current iteration: the remaining D updates, then one G update. With
        fetch, every update's probe is measured and the records come back."""
        probe = True if fetch else None
        while self.next_phase == "D":
            self.step_discriminator(fetch=False, probe=probe)
        self.step_generator(fetch=False, probe=probe)
        return self.fetch_records() if fetch else None

    def train(self, iterations: int) -> list[Record]:
        """Run whole iterations; the records are fetched once at the end."""
        for _ in range(iterations):
            self.step_iteration(fetch=False)
        return self.fetch_records()

    def probes_now(self, fetch: bool) -> bool:
        """Whether the next update measures the probe batch (and its gradient norm): always for
        a single Step (fetch), else on every update of every probe_every-th iteration. The
        probe costs about a third of an update on these small networks; measured on every
        update, training ran at 0.67-0.82 of a bare PyTorch loop's speed."""
        return fetch or self.iteration % self.config.probe_every == 0

    def step_discriminator(self, fetch: bool = True, probe: bool | None = None, stages: dict | None = None):
        """One D update on a fresh real batch and fresh fakes; G is untouched, buffers included.
        probe: measure D(x), D(G(z)) on the probe batch before and after (None: probes_now).
        stages: a dict to fill with slow motion's numbers (core/stages.py), read off the
        update without changing it: the same update, bit for bit, as without."""
        t0 = time.perf_counter()
        cfg, g, d = self.config, self.generator, self.discriminator
        self._schedule_lr("D")
        probe = self.probes_now(fetch) if probe is None else probe
        before = self._probe() if probe else None
        part = self._part()   # all of the batch; under torchrun, this rank's share (distributed.py)
        idx = self.sampler.next_index(cfg.batch_size)[part]
        real = torch.index_select(self.data, 0, idx)   # the rows of data[idx], in half the time on a CPU
        y = None if self.labels is None else self.labels[idx]   # fakes are asked for the reals' classes
        noise = torch.randn(cfg.batch_size, cfg.noise_dim, device=self.device, generator=self.noise_gen)[part]
        watch = UpdateWatch(g) if stages is not None else None
        with torch.no_grad(), self._g_frozen:
            fake = g(noise, y)
        pay_r1 = cfg.r1_gamma > 0 and self.r1_due()   # every D update, or every r1_every-th (lazy R1)
        if pay_r1:
            real = real.detach().requires_grad_(True)
        (real_out, real_logits), (fake_out, fake_logits) = self._d(real, y), self._d(fake, y)
        loss_real, loss_fake = self.objective.d_losses(real_out, fake_out, cfg.label_smoothing)
        loss = loss_real + loss_fake
        gp = r1 = class_loss = self._nan
        if real_logits is not None:   # AC-GAN: D also learns to name the class of reals and fakes
            class_loss = F.cross_entropy(real_logits, y) + F.cross_entropy(fake_logits, y)
            loss = loss + class_loss
        if cfg.objective == "wgan_gp":
            alpha = torch.rand((cfg.batch_size,) + (1,) * (real.dim() - 1), device=self.device,
                               generator=self.noise_gen)[part]
            gp = cfg.gp_weight * gradient_penalty(lambda x: d(x, y), real.detach(), fake, alpha=alpha)
            loss = loss + gp
        if pay_r1:
            r1 = 0.5 * cfg.r1_every * self.r1_weight() * r1_penalty(real_out, real)
            loss = loss + r1
        clear_grads(self._d_params)
        loss.backward()
        if self.ranks is not None:   # the whole batch's gradient and losses, on every rank
            loss, loss_real, loss_fake = self.ranks.average(d, [loss, loss_real, loss_fake])
        grad_norm = _grad_norm(d) if probe else self._nan
        if watch is not None:
            watch.before_step(d)
        optimizer_step(self.opt_d)
        self.d_done += 1
        self.updates += 1
        record = self._finish("D", before, [loss, loss_real, loss_fake, self._nan],
                              grad_norm, self.opt_d, t0, fetch)
        if stages is not None:
            stages.update(targets(self.objective, cfg.label_smoothing), **watch.after_step(d),
                          **probe_values(before, self._probe_cache if before is not None else None),
                          real_score=mean_score(self.objective, real_out),
                          fake_score=mean_score(self.objective, fake_out),
                          loss_real=value(loss_real), loss_fake=value(loss_fake),
                          penalty_gp=value(gp), penalty_r1=value(r1), r1_weight=cfg.r1_every * self.r1_weight(),
                          class_loss=value(class_loss),
                          loss_total=value(loss),
                          grad_norm=grad_norm_value(d, grad_norm))
        return record

    def step_generator(self, fetch: bool = True, probe: bool | None = None, stages: dict | None = None):
        """One G update; its gradient flows through D, whose parameters, optimizer state
        and buffers stay exactly as they were. probe, stages: as in step_discriminator."""
        t0 = time.perf_counter()
        cfg, g, d = self.config, self.generator, self.discriminator
        self._schedule_lr("G")
        probe = self.probes_now(fetch) if probe is None else probe
        before = self._probe() if probe else None
        part = self._part()
        noise = torch.randn(cfg.batch_size, cfg.noise_dim, device=self.device, generator=self.noise_gen)[part]
        y = self._fake_labels(cfg.batch_size, self.noise_gen)
        y = None if y is None else y[part]
        watch = UpdateWatch(d) if stages is not None else None
        class_loss = self._nan
        for p in self._d_params:   # as d.requires_grad_(False), without walking its modules
            p.requires_grad_(False)
        try:
            with self._d_frozen:
                fake = g(noise, y)
                if watch is not None:
                    fake.retain_grad()   # only stores the gradient arriving at the fakes
                fake_out, fake_logits = self._d(fake, y)
                loss = self.objective.g_loss(fake_out)
                if fake_logits is not None:   # AC-GAN: G also wants D to name the asked-for class
                    class_loss = F.cross_entropy(fake_logits, y)
                    loss = loss + class_loss
                clear_grads(self._g_params)
                loss.backward()
        finally:
            for p in self._d_params:
                p.requires_grad_(True)
        if self.ranks is not None:
            (loss,) = self.ranks.average(g, [loss])
        grad_norm = _grad_norm(g) if probe else self._nan
        if watch is not None:
            watch.before_step(g)
        optimizer_step(self.opt_g)
        self.d_done = 0
        self.iteration += 1
        if self.generator_ema is not None:
            update_average(self._ema_pairs, cfg.g_ema, self.iteration)
        self.updates += 1
        nan = self._nan
        record = self._finish("G", before, [nan, nan, nan, loss], grad_norm, self.opt_g, t0, fetch)
        if stages is not None:
            stages.update(targets(self.objective, cfg.label_smoothing), **watch.after_step(g),
                          **probe_values(before, self._probe_cache if before is not None else None),
                          fake_score=mean_score(self.objective, fake_out), loss_g=value(loss),
                          class_loss=value(class_loss), loss_total=value(loss), grad_norm=grad_norm_value(g, grad_norm),
                          fake_grad=per_sample_grad(fake))
        return record

    def fetch_records(self) -> list[Record]:
        """All records not yet fetched, with one device-to-host transfer; they also go
        into the history."""
        if not self._pending:
            return []
        # one stack and one transfer for all of them: on a GPU each op is a kernel launch
        width = len(self._pending[0][1])
        flat = torch.stack([v for _, values in self._pending for v in values]).cpu().double().tolist()
        values = [flat[i: i + width] for i in range(0, len(flat), width)]
        records = [Record(*meta[:5], *row, *meta[5:]) for (meta, _), row in zip(self._pending, values)]
        self._pending.clear()
        self.history.append(records)
        return records

    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The network samples and scores come from: G's moving average where there is one."""
        return self.generator if self.generator_ema is None else self.generator_ema

    @property
    def averaged(self) -> bool:
        """True when samples and scores come from G's moving average, not from G itself."""
        return self.generator_ema is not None

    def samples(self, fresh: bool = False, n: int | None = None) -> np.ndarray:
        """G's output (its moving average's with g_ema) on the fixed noise (or on fresh noise)
        as a CPU numpy copy."""
        g = self.sampling_generator
        noise = self.fixed_noise if n is None else self.fixed_noise[:n]
        labels = None if self.fixed_labels is None else self.fixed_labels[:len(noise)]
        if fresh and self.grid_columns:   # a row per class: fresh noise, the same down each column
            style = torch.randn(self.grid_columns, self.config.noise_dim, device=self.device)
            noise = style.repeat(len(self.classes), 1)[:len(noise)]
        elif fresh:
            noise = torch.randn(len(noise) if n is None else n, self.config.noise_dim, device=self.device)
        with torch.no_grad():
            was = g.training
            g.eval()
            out = g(noise, labels)
            g.train(was)
        return out.cpu().numpy().copy()

    def generate(self, n: int, batch: int = 4096, label: int | None = None,
                 with_labels: bool = False):
        """n samples from fresh noise (for metrics and `ganviz sample`), from G's moving
        average with g_ema. A conditional run asks for every class equally often, or all for
        `label`; with_labels: (samples, the classes asked for, or None)."""
        g = self.sampling_generator
        was = g.training
        g.eval()
        samples, asked = draw_samples(g, n, self.config.noise_dim, self.config.seed + 3, self.device,
                                      len(self.classes or ()), label, batch)
        g.train(was)
        return (samples, asked) if with_labels else samples

    def update_config(self, **changes) -> list[str]:
        """Apply settings that can change live (learning rates, betas, k, ...) at the next
        update, keeping optimizer state. Returns the names of changed settings that need
        a new model (see Config.needs_reset); those are not applied."""
        new = self.config.replace(**changes)
        pending = new.needs_reset(self.config)
        live = {k: v for k, v in changes.items() if k not in pending}
        self.config = self.config.replace(**live)
        self._apply_optimizer_settings()
        return pending

    # ------------------------------------------------------------------ internals
    def _d(self, x, y):
        """(D's raw output, AC-GAN class logits or None)."""
        d = self.discriminator
        if self.labels is None:
            return d(x), None
        return d.score_and_logits(x, y)

    def _fake_labels(self, n: int, gen: torch.Generator, label: int | None = None):
        """Classes to ask G for (None when unconditional): see models.ask_labels."""
        return None if self.labels is None else ask_labels(n, len(self.classes), gen, self.device, label)

    def _make_optimizer(self, net, lr):
        """foreach: one op over all of a network's tensors instead of a loop over them, as PyTorch
        already does on a GPU; on the CPU the same numbers bit for bit, and an Adam step of a
        4-layer 128-wide MLP took 0.6 ms instead of 0.8 here (two per iteration)."""
        cfg = self.config
        params = net.parameters()
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), foreach=True)
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, foreach=True)
        return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, foreach=True)

    def _lr_scale(self) -> float:
        cfg = self.config
        if cfg.decay_steps <= 0:
            return 1.0
        t = min(self.iteration / cfg.decay_steps, 1.0)
        return 1.0 - (1.0 - cfg.lr_final) * t

    def r1_weight(self) -> float:
        """The R1 weight of this iteration's D update: r1_gamma, decaying geometrically to
        r1_gamma * r1_final over decay_steps (a sharper D late in a run, once the modes are
        shared out)."""
        cfg = self.config
        if cfg.decay_steps <= 0 or cfg.r1_final == 1.0:
            return cfg.r1_gamma
        return cfg.r1_gamma * cfg.r1_final ** min(self.iteration / cfg.decay_steps, 1.0)

    def r1_due(self) -> bool:
        """Whether this D update pays the R1 penalty: every r1_every-th one, counted over the
        run (the first one pays it)."""
        return (self.updates - self.iteration) % self.config.r1_every == 0   # D updates done so far

    def _schedule_lr(self, phase: str):
        """Decay the learning rate of the network about to update, and only that one: the
        frozen network's optimizer must not change at all."""
        if self.config.decay_steps > 0:
            self._apply_optimizer_settings(phase)

    def _apply_optimizer_settings(self, phase: str = "DG"):
        cfg, scale = self.config, self._lr_scale()
        pairs = {"D": (self.opt_d, cfg.lr_d), "G": (self.opt_g, cfg.lr_g)}
        for opt, lr in (pairs[p] for p in phase):
            for group in opt.param_groups:
                group["lr"] = lr * scale
                if "betas" in group:
                    group["betas"] = (cfg.beta1, cfg.beta2)
                if "momentum" in group:
                    group["momentum"] = cfg.momentum

    def _probe(self) -> torch.Tensor:
        """[D(x), D(G(z)), acc real, acc fake] on the probe batch, in eval mode. The value
        after one update is the value before the next, so it is measured once per update."""
        if self._probe_cache is None:
            self._probe_cache = self._measure_probe()
        return self._probe_cache

    @torch.no_grad()
    def _measure_probe(self) -> torch.Tensor:
        g, d, obj = self.generator, self.discriminator, self.objective
        if self._has_norm:  # eval mode only matters with BatchNorm; toggling costs time
            g.eval(), d.eval()
        n, y = len(self.probe_real), self.probe_labels
        both = None if y is None else torch.cat([y, y])
        scores = obj.score(d(torch.cat([self.probe_real, g(self.probe_noise, y)]), both))  # one D pass
        real_score, fake_score = scores[:n], scores[n:]
        if self._has_norm:
            g.train(), d.train()
        t = obj.threshold
        return torch.stack([real_score.mean(), fake_score.mean(),
                            (real_score > t).float().mean(), (fake_score <= t).float().mean()])

    def _finish(self, phase, before, losses, grad_norm, opt, t0, fetch):
        """Queue the update's record; `before` is None when the probe was not measured (its
        columns and the gradient norm are then nan)."""
        self._probe_cache = None
        if before is None:
            nan = self._nan
            values = [*(l.detach() for l in losses), nan, nan, nan, nan, nan, nan, grad_norm]
        else:
            after = self._probe()
            values = [*(l.detach() for l in losses), before[0], after[0], before[1], after[1],
                      after[2], after[3], grad_norm]
        x = self.iteration if phase == "G" else self.iteration + self.d_done / (self.config.d_steps + 1)
        iteration = self.iteration if phase == "G" else self.iteration + 1
        meta = (self.updates, iteration, float(x), phase, self.sampler.epoch,
                opt.param_groups[0]["lr"], time.perf_counter() - t0)
        self._pending.append((meta, values))
        if fetch:
            return self.fetch_records()[-1]
        return None

    # ------------------------------------------------------------------ state
    def state_dict(self, history: bool = True) -> dict:
        """Everything a checkpoint holds; history=False leaves the history out (None)."""
        self.fetch_records()
        return {
            "config": self.config.to_dict(),
            "generator": self.generator.state_dict(),
            "generator_ema": None if self.generator_ema is None else self.generator_ema.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sampler": self.sampler.state_dict(),
            "noise_gen": self.noise_gen.get_state(),
            "counters": {"iteration": self.iteration, "updates": self.updates, "d_done": self.d_done},
            "history": torch.from_numpy(self.history.array()) if history else None,
            "points": self.dataset.data if self.dataset.kind == "points" else None,
            "classes": None if self.classes is None else list(self.classes),
        }

    def load_state_dict(self, s: dict):
        self.generator.load_state_dict(s["generator"])
        if self.generator_ema is not None:  # a state without the average starts it at G
            ema = s.get("generator_ema")
            self.generator_ema.load_state_dict(ema if ema is not None else s["generator"])
        self.discriminator.load_state_dict(s["discriminator"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.sampler.load_state_dict(s["sampler"])
        self.noise_gen.set_state(s["noise_gen"])
        c = s["counters"]
        self.iteration, self.updates, self.d_done = c["iteration"], c["updates"], c["d_done"]
        self.history = History.from_array_state(s["history"].numpy())
        self._pending.clear()
        self._probe_cache = None


def written_buffers(net: torch.nn.Module) -> list[torch.Tensor]:
    """The buffers a forward pass may write: all but those of a module that says it only reads
    its own (buffers_constant, as models.ClusteredNoise's centres)."""
    return [b for m in net.modules() if not getattr(m, "buffers_constant", False)
            for b in m.buffers(recurse=False)]


def new_average(net: torch.nn.Module) -> tuple[torch.nn.Module, tuple]:
    """(a moving average of `net`, starting as a copy of it; what update_average needs: the
    average's and the network's parameters and buffers). It never trains, so it stays in eval
    mode without gradients."""
    average = copy.deepcopy(net).requires_grad_(False).eval()
    return average, (list(average.parameters()), list(net.parameters()),
                     written_buffers(average), written_buffers(net))


@torch.no_grad()
def update_average(pairs: tuple, decay: float, t: int) -> None:
    """average <- decay * average + (1 - decay) * G after G's t-th update, one fused op over all
    parameters; buffers (BatchNorm statistics) are copied. The decay ramps up as (1 + t) / (10 + t)
    (as in TensorFlow's ExponentialMovingAverage), so early on the average follows G closely
    instead of showing the untrained start for ~1 / (1 - decay) iterations."""
    decay = min(decay, (1 + t) / (10 + t))
    avg_p, net_p, avg_b, net_b = pairs
    torch._foreach_lerp_(avg_p, net_p, 1.0 - decay)
    if avg_b:
        torch._foreach_copy_(avg_b, net_b)


def _grad_norm(net) -> torch.Tensor:
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class _frozen_buffers:
    """Keep a network's buffers (BatchNorm running statistics) exactly as they are during a
    forward pass in training mode. BatchNorm layers stop tracking for the pass: they still
    normalise with the batch's statistics, as in training, but write nothing (no kernel, so
    no cost). Any other buffer a forward pass may write is copied and put back on exit.
    Made once per network and entered at each update (not nested)."""

    def __init__(self, net):
        self.norms = [m for m in net.modules()
                      if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        tracked = {id(b) for m in self.norms for b in m.buffers(recurse=False)}
        self.others = [b for b in written_buffers(net) if id(b) not in tracked]

    def __enter__(self):
        for m in self.norms:
            m.track_running_stats = False
        self.saved = [b.clone() for b in self.others]

    def __exit__(self, *exc):
        for m in self.norms:
            m.track_running_stats = True
        with torch.no_grad():
            for b, s in zip(self.others, self.saved):
                b.copy_(s)
        return False
