"""The trainer does what the Step buttons promise: a D update changes only D, a G update
changes only G (its gradient flowing through a frozen D), phases follow k, records are
honest, and a run is reproducible bit for bit."""
import copy
import math

import numpy as np
import pytest
import torch

from ganviz.core.config import OBJECTIVES, Config, ConfigError
from ganviz.core.data import load_dataset
from ganviz.core.history import COLUMNS
from ganviz.core.objectives import get_objective
from ganviz.core.trainer import Trainer

TINY = {
    "ring": dict(batch_size=32, hidden=16, noise_dim=8, probe_size=32, grid_size=16, device="cpu"),
    "digits": dict(batch_size=16, channels=8, noise_dim=8, probe_size=16, grid_size=16, device="cpu"),
}


@pytest.fixture(scope="module")
def datasets():
    return {"ring": load_dataset("ring"), "digits": load_dataset("digits")}


@pytest.fixture
def make(datasets):
    def make(name="ring", **changes):
        config = Config(dataset=name, **{**TINY[name], **changes})
        return Trainer(config, dataset=datasets[name])
    return make


def snapshot(net, opt):
    """Parameters, buffers (BatchNorm statistics) and optimizer state, deep-copied."""
    return copy.deepcopy({"net": net.state_dict(), "opt": opt.state_dict()})


def assert_same(a, b, path="state"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{path} changed"
    else:
        assert a == b, path


def params_changed(net, before) -> bool:
    return any(not torch.equal(p, before[name]) for name, p in net.state_dict().items()
               if name in dict(net.named_parameters()))


HIST_NO_DURATION = [i for i, c in enumerate(COLUMNS) if c != "duration"]


def history(trainer):
    return trainer.history.array()[:, HIST_NO_DURATION]


# ------------------------------------------------------------------ one update, one network
CONDITIONINGS = [("none", 0.0), ("none", 0.99), ("concat", 0.99), ("projection", 0.0), ("acgan", 0.0)]


@pytest.mark.parametrize("conditional,g_ema", CONDITIONINGS)
@pytest.mark.parametrize("name", ["ring", "digits"])
def test_d_update_leaves_g_untouched(make, name, g_ema, conditional):
    t = make(name, g_ema=g_ema, conditional=conditional)
    t.step_iteration()  # both optimizers now hold Adam state worth protecting
    g_before = snapshot(t.generator, t.opt_g)
    d_before = snapshot(t.discriminator, t.opt_d)
    ema_before = copy.deepcopy(t.generator_ema.state_dict()) if g_ema else None
    record = t.step_discriminator()
    assert record.phase == "D"
    assert_same(snapshot(t.generator, t.opt_g), g_before)  # params, BN buffers, Adam state
    assert params_changed(t.discriminator, d_before["net"])
    if g_ema:
        assert_same(t.generator_ema.state_dict(), ema_before)  # the average too


@pytest.mark.parametrize("conditional,g_ema", CONDITIONINGS)
@pytest.mark.parametrize("name", ["ring", "digits"])
def test_g_update_leaves_d_untouched_but_gradients_flow_through_it(make, name, g_ema, conditional):
    t = make(name, g_ema=g_ema, conditional=conditional)
    t.step_iteration()
    t.step_discriminator()
    d_before = snapshot(t.discriminator, t.opt_d)
    g_before = snapshot(t.generator, t.opt_g)
    ema_before = copy.deepcopy(t.generator_ema.state_dict()) if g_ema else None
    for p in t.discriminator.parameters():
        p.grad = None
    record = t.step_generator()
    assert record.phase == "G"
    assert_same(snapshot(t.discriminator, t.opt_d), d_before)
    assert params_changed(t.generator, g_before["net"])
    assert all(p.grad is None for p in t.discriminator.parameters())
    assert sum(p.grad.abs().sum().item() for p in t.generator.parameters()) > 0
    assert record.grad_norm > 0
    assert all(p.requires_grad for p in t.discriminator.parameters())  # unfrozen afterwards
    if g_ema:  # the average moved, without gradients
        assert params_changed(t.generator_ema, ema_before)
        assert all(p.grad is None and not p.requires_grad for p in t.generator_ema.parameters())


# ------------------------------------------------------------------ noise clusters
def test_each_noise_cluster_is_drawn_equally_often_and_the_noise_itself_is_unchanged(make):
    t = make(noise_clusters=10)
    z = torch.randn(200_000, 8, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(t.generator.cluster(z), minlength=10).numpy() / len(z)
    assert np.abs(counts - 0.1).max() < 0.003, counts
    # a cluster is a slab of z1: neighbouring noise is in the same cluster, and the noise G
    # is fed is the noise drawn plus that cluster's learned centre
    c = t.generator.cluster(z[:5])
    expected = t.generator.base(z[:5] + t.generator.centres[c])
    assert torch.equal(t.generator(z[:5]), expected)


@pytest.mark.parametrize("name, conditional", [("ring", "none"), ("digits", "concat")])
def test_with_noise_clusters_a_step_is_still_one_update_of_one_network(make, name, conditional):
    clustered = lambda name, **changes: make(name, noise_clusters=16, **changes)   # noqa: E731
    test_d_update_leaves_g_untouched(clustered, name, 0.99, conditional)
    test_g_update_leaves_d_untouched_but_gradients_flow_through_it(clustered, name, 0.99, conditional)
    t = clustered(name, conditional=conditional)
    centres = t.generator.centres.clone()
    assert "centres" not in dict(t.generator.named_parameters())   # drawn once, never trained
    t.step_iteration()
    assert torch.equal(t.generator.centres, centres)
    assert torch.equal(clustered(name, conditional=conditional).generator.centres, centres)   # from the seed


def test_noise_clusters_need_three_noise_dimensions():
    with pytest.raises(ConfigError, match="noise_clusters needs noise_dim of at least 3"):
        Config(noise_clusters=8, noise_dim=2)
    assert Config(noise_clusters=8, noise_dim=3).noise_clusters == 8


# ------------------------------------------------------------------ moving average of G
@pytest.mark.parametrize("name", ["ring", "digits"])
def test_g_ema_is_the_moving_average_of_g_after_each_g_update(make, name):
    t = make(name, g_ema=0.99)
    assert not t.generator_ema.training
    t.train(3)
    ema = copy.deepcopy(t.generator_ema.state_dict())
    t.step_iteration()
    decay = min(0.99, (1 + t.iteration) / (10 + t.iteration))  # ramped up early in the run
    g_now, ema_now = t.generator.state_dict(), t.generator_ema.state_dict()
    for name_, p in t.generator.named_parameters():
        expected = decay * ema[name_] + (1 - decay) * g_now[name_]
        torch.testing.assert_close(ema_now[name_], expected)
    for name_, b in t.generator.named_buffers():  # BatchNorm statistics: copied
        assert torch.equal(ema_now[name_], b)


def test_g_ema_makes_samples_and_scores_but_never_changes_training(make, datasets):
    plain, averaged = make(seed=5), make(seed=5, g_ema=0.999)
    assert plain.generator_ema is None and plain.sampling_generator is plain.generator
    plain.train(6), averaged.train(6)
    assert np.array_equal(history(plain), history(averaged), equal_nan=True)  # same G, same D
    assert np.array_equal(plain.samples(), averaged.generator(averaged.fixed_noise).detach().numpy())
    with torch.no_grad():
        from_ema = averaged.generator_ema(averaged.fixed_noise).numpy()
    assert np.array_equal(averaged.samples(), from_ema)
    assert not np.array_equal(averaged.samples(), plain.samples())
    assert not np.array_equal(averaged.generate(50), plain.generate(50))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_g_ema_must_be_a_decay_below_one(bad):
    with pytest.raises(ConfigError, match="g_ema"):
        Config(g_ema=bad)


def test_g_ema_needs_a_new_model(make):
    t = make()
    assert t.update_config(g_ema=0.999) == ["g_ema"]
    assert t.config.g_ema == 0.0 and t.generator_ema is None


# ------------------------------------------------------------------ phases
@pytest.mark.parametrize("k, phases", [(1, "DGDGD"), (3, "DDDGDDDG")])
def test_step_follows_k_and_next_phase(make, k, phases):
    t = make(d_steps=k)
    seen = ""
    for expected in phases:
        assert t.next_phase == expected
        seen += t.step().phase
    assert seen == phases


def test_step_iteration_returns_k_plus_one_records(make):
    t = make(d_steps=3)
    records = t.step_iteration()
    assert [r.phase for r in records] == ["D", "D", "D", "G"]
    assert [r.update for r in records] == [1, 2, 3, 4] and t.iteration == 1
    t.step()  # one D of the next iteration: step_iteration finishes that iteration
    assert [r.phase for r in t.step_iteration()] == ["D", "D", "G"]


# ------------------------------------------------------------------ records
@pytest.mark.parametrize("name", ["ring", "digits"])
def test_records_are_finite_and_probes_continue(make, name):
    t = make(name, d_steps=2, probe_every=1)
    records = t.train(4)
    assert len(records) == 12 and len(t.history) == 12
    for r in records:
        set_lr = t.config.lr_d if r.phase == "D" else t.config.lr_g
        assert r.is_finite and math.isfinite(r.grad_norm) and r.lr == pytest.approx(set_lr, rel=0.01)
        assert (math.isnan(r.loss_g) and math.isfinite(r.loss_d)) if r.phase == "D" else \
               (math.isnan(r.loss_d) and math.isfinite(r.loss_g))
    for a, b in zip(records, records[1:]):  # what one update left is what the next found
        assert a.d_real_after == b.d_real_before and a.d_fake_after == b.d_fake_before
    g = [r for r in records if r.phase == "G"]
    assert all(r.d_real_before == r.d_real_after for r in g)  # G cannot move D(x)


def test_probe_every_measures_some_iterations_and_every_step_without_changing_training(make):
    sparse, dense = make(probe_every=3), make(probe_every=1)
    records = sparse.train(7)
    dense.train(7)
    measured = [r.iteration for r in records if math.isfinite(r.d_fake_after)]
    # iterations 1, 4, 7 start at iteration counts 0, 3, 6: both their D and G updates measure
    assert measured == [1, 1, 4, 4, 7, 7]
    assert [r.iteration for r in records if math.isfinite(r.grad_norm)] == measured
    assert all(r.is_finite and math.isfinite(r.loss_d if r.phase == "D" else r.loss_g) for r in records)
    # the probe only looks: the networks train exactly as with a probe on every update
    for a, b in ((sparse.generator, dense.generator), (sparse.discriminator, dense.discriminator)):
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    # a single Step (fetch) always measures, whatever the iteration
    assert sparse.iteration % 3 != 0
    r = sparse.step(fetch=True)
    assert math.isfinite(r.d_real_before) and math.isfinite(r.d_fake_after)
    assert all(math.isfinite(r.d_fake_after) for r in sparse.step_iteration(fetch=True))


def test_same_seed_gives_identical_records(make):
    a, b = make(seed=3), make(seed=3)
    a.train(5), b.train(5)
    assert np.array_equal(history(a), history(b), equal_nan=True)
    c = make(seed=4)
    c.train(5)
    assert not np.array_equal(history(a), history(c), equal_nan=True)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_updates_are_plain_pytorch_optimizer_steps_bit_for_bit(make, optimizer):
    """The optimizers update all of a network's tensors in one op (foreach), only to be faster:
    the weights are those of PyTorch's loop over one tensor at a time, so runs from before
    the change (and the published results) reproduce exactly."""
    fast, loop = make(optimizer=optimizer, momentum=0.5, seed=2), make(optimizer=optimizer, momentum=0.5, seed=2)
    for opt in (loop.opt_g, loop.opt_d):
        assert all(group["foreach"] for group in opt.param_groups)
        for group in opt.param_groups:
            group["foreach"] = False
    fast.train(8), loop.train(8)
    for a, b in ((fast.generator, loop.generator), (fast.discriminator, loop.discriminator)):
        assert_same(a.state_dict(), b.state_dict())
    assert params_changed(fast.generator, make(optimizer=optimizer, seed=2).generator.state_dict())


def test_fetch_false_batches_records(make):
    t = make()
    assert all(t.step(fetch=False) is None for _ in range(5))
    assert len(t.history) == 0
    records = t.fetch_records()
    assert [r.update for r in records] == [1, 2, 3, 4, 5] and len(t.history) == 5
    assert t.fetch_records() == []


def test_training_freely_moves_nothing_to_the_host_until_one_fetch(make, monkeypatch):
    """On a GPU each .item(), .cpu(), .tolist() or .numpy() of a device tensor waits for the
    device: ganviz's own code calls none while training (fetch=False, probes included), and
    fetch_records() moves a whole batch of records in one .cpu(). (torch's CPU Adam reads its
    step count with .item(): a CPU tensor there too, no wait; not counted, nor are the same
    reads in adam_step.py, its faster copy of that step.)"""
    import os
    import sys

    import ganviz
    package = os.path.dirname(os.path.abspath(ganviz.__file__)) + os.sep
    calls = []
    for name in ("item", "cpu", "tolist", "numpy"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            caller = os.path.abspath(sys._getframe(1).f_code.co_filename)
            step_count = self.is_cpu and os.path.basename(caller) == "adam_step.py"
            if caller.startswith(package) and not step_count:
                calls.append((_name, os.path.basename(caller)))
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted)
    t = make(probe_every=2)
    for _ in range(40):
        t.step(fetch=False)
    assert calls == []
    assert len(t.fetch_records()) == 40
    assert [name for name, _ in calls] == ["cpu", "tolist"]   # one transfer, then a list on the host


# ------------------------------------------------------------------ objectives
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_trains_with_finite_losses(make, objective):
    t = make(objective=objective)
    assert all(r.is_finite for r in t.train(3))


@pytest.mark.parametrize("changes", [dict(label_smoothing=0.1), dict(r1_gamma=1.0),
                                     dict(objective="wgan_gp", d_steps=2)])
def test_regularisers_train_with_finite_losses(make, changes):
    assert all(r.is_finite for r in make(**changes).train(3))


def test_r1_weight_decays_geometrically_to_its_final_fraction(make):
    """r1_final < 1: the R1 weight falls from r1_gamma to r1_gamma * r1_final over decay_steps,
    by the same factor every iteration, then stays; D pays that weight's penalty, and Step's
    story writes it in the formula."""
    from ganviz.gui.stage_story import _penalties
    t = make(r1_gamma=0.3, r1_final=0.1, decay_steps=10)
    for i in range(12):
        assert t.r1_weight() == pytest.approx(0.3 * 0.1 ** min(i / 10, 1))
        t.step_iteration()
    constant = copy.deepcopy(t)
    constant.update_config(r1_final=1.0)
    decayed, same_batch = {}, {}
    t.step(stages=decayed), constant.step(stages=same_batch)
    assert (decayed["r1_weight"], same_batch["r1_weight"]) == (pytest.approx(0.03), 0.3)
    assert decayed["penalty_r1"] == pytest.approx(0.1 * same_batch["penalty_r1"], rel=1e-5)
    assert _penalties(decayed, t.config)[0][0] == "0.015·E[‖∇D(x)‖²]"
    assert make(r1_gamma=0.3, decay_steps=10).r1_weight() == 0.3   # r1_final 1: constant


def test_lazy_r1_pays_the_penalty_once_in_n_d_updates_at_n_times_the_weight(make):
    """r1_every = N: D updates 1, N+1, 2N+1, ... add N times the R1 penalty and the others
    none (their loss is the objective's alone); Step's story names it."""
    from ganviz.gui.stage_story import _penalties
    t = make(r1_gamma=0.5, r1_every=3)
    paid = []
    for _ in range(7):
        lazy, same_batch = {}, {}
        every = copy.deepcopy(t)   # the same D update, with R1 on every update
        every.update_config(r1_every=1)
        every.step(stages=same_batch)
        t.step(stages=lazy)
        if not math.isnan(lazy["penalty_r1"]):
            assert lazy["penalty_r1"] == pytest.approx(3 * same_batch["penalty_r1"], rel=1e-5)
            assert lazy["loss_total"] == pytest.approx(lazy["loss_real"] + lazy["loss_fake"] + lazy["penalty_r1"], rel=1e-5)
            assert _penalties(lazy, t.config)[0] == ("0.75·E[‖∇D(x)‖²]", lazy["penalty_r1"],
                                                      "R1 penalty, once in 3 D updates at 3× weight")
        else:
            assert lazy["loss_total"] == pytest.approx(lazy["loss_real"] + lazy["loss_fake"], rel=1e-6)
            assert _penalties(lazy, t.config) == []
        paid.append(not math.isnan(lazy["penalty_r1"]))
        t.step(stages={})   # the G update
    assert paid == [True, False, False, True, False, False, True]


def test_wgan_gp_trains_the_dcgan_without_batchnorm(make):
    t = make("digits", objective="wgan_gp")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in t.discriminator.modules())
    assert all(r.is_finite for r in t.train(2))


# The raw D output at which D cannot tell real from fake: sigmoid 0.5, or LSGAN's 0.5.
UNDECIDED = {"nonsaturating": 0.0, "minimax": 0.0, "least_squares": 0.5, "hinge": 0.0, "wgan_gp": 0.0}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_equilibrium_values_match_the_losses(name):
    obj = get_objective(name)
    out = torch.full((4,), UNDECIDED[name])
    real, fake = obj.d_losses(out, out)
    assert (real + fake).item() == pytest.approx(obj.equilibrium_d)
    if obj.equilibrium_g is not None:
        assert obj.g_loss(out).item() == pytest.approx(obj.equilibrium_g)


def test_nonsaturating_equilibrium_is_2ln2_and_ln2():
    obj = get_objective("nonsaturating")
    assert obj.equilibrium_d == pytest.approx(2 * math.log(2))
    assert obj.equilibrium_g == pytest.approx(math.log(2))


# ------------------------------------------------------------------ live settings
def test_update_config_changes_lr_at_next_update_keeping_adam_state(make):
    t = make(lr_d=2e-4, lr_g=2e-4, decay_steps=0)
    t.train(2)
    state = t.opt_d.state_dict()["state"]
    before = {i: {k: v.clone() for k, v in s.items()} for i, s in state.items()}
    assert t.update_config(lr_d=1e-3) == []
    assert t.config.lr_d == 1e-3
    assert all(g["lr"] == 1e-3 for g in t.opt_d.param_groups)
    assert all(g["lr"] == 2e-4 for g in t.opt_g.param_groups)
    after = t.opt_d.state_dict()["state"]
    assert_same({i: dict(s) for i, s in after.items()}, before)  # exp_avg etc. kept
    assert t.step().lr == 1e-3


def test_update_config_reports_settings_needing_a_reset(make):
    t = make()
    assert t.update_config(noise_dim=4, lr_g=1e-3) == ["noise_dim"]
    assert t.config.noise_dim == 8 and t.config.lr_g == 1e-3  # the live one still applies
    assert all(r.is_finite for r in t.train(1))
