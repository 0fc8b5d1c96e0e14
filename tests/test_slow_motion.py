"""Slow motion's numbers come from the real update and leave it exactly as it was: a staged
Step is bit for bit a plain Step, and what the stages say agrees with the update's record."""
import copy
import math

import pytest
import torch

from ganviz.core.config import Config
from ganviz.core.data import load_dataset
from ganviz.core.history import COLUMNS
from ganviz.core.trainer import Trainer

TINY = {
    "ring": dict(batch_size=32, hidden=16, noise_dim=8, probe_size=32, grid_size=16, device="cpu"),
    "digits": dict(batch_size=16, channels=8, noise_dim=8, probe_size=16, grid_size=16, device="cpu",
                   model="dcgan"),
}
RECORD_FIELDS = [c for c in COLUMNS if c != "duration"]
CASES = {
    "default MLP": ("ring", {}),
    "MLP without R1": ("ring", {"r1_gamma": 0.0}),
    "DCGAN digits (BatchNorm)": ("digits", {"r1_gamma": 0.0}),
    "DCGAN digits with R1": ("digits", {"r1_gamma": 2.0}),
    "wgan_gp": ("ring", {"objective": "wgan_gp", "r1_gamma": 0.0}),
    "wgan_gp with R1, k=2, smoothing": ("ring", {"objective": "wgan_gp", "d_steps": 2}),
    "hinge, label smoothing": ("ring", {"objective": "hinge", "label_smoothing": 0.1}),
    "least squares": ("ring", {"objective": "least_squares"}),
    "minimax with g_ema": ("ring", {"objective": "minimax", "g_ema": 0.9}),
}


@pytest.fixture(scope="module")
def datasets():
    return {"ring": load_dataset("ring"), "digits": load_dataset("digits")}


def make(datasets, name, changes):
    return Trainer(Config(dataset=name, **{**TINY[name], **changes}), dataset=datasets[name])


def state(t):
    """Every tensor and counter the next update depends on, deep-copied."""
    s = t.state_dict()
    s["history"] = s["history"][:, [COLUMNS.index(c) for c in RECORD_FIELDS]]   # not the timing
    s["probe"] = None if t._probe_cache is None else t._probe_cache.clone()
    return copy.deepcopy(s)


def assert_identical(a, b, path="state"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_identical(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                     and torch.equal(a.nan_to_num(), b.nan_to_num())), f"{path} differs"
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, path


def record_values(r):
    return [getattr(r, c) for c in RECORD_FIELDS]


@pytest.mark.parametrize("case", list(CASES))
def test_staged_steps_are_bit_identical_to_plain_steps(datasets, case):
    name, changes = CASES[case]
    torch.manual_seed(123)
    plain, staged = make(datasets, name, changes), make(datasets, name, changes)
    plain.step_iteration(), staged.step_iteration()    # optimizers hold state worth protecting
    assert_identical(state(plain), state(staged))
    for _ in range(plain.config.d_steps + 2):          # D, ..., G, then D again
        torch.manual_seed(7)
        a = plain.step(fetch=True)
        rng_after_plain = torch.get_rng_state()
        torch.manual_seed(7)
        stages = {}
        b = staged.step(fetch=True, stages=stages)
        assert torch.equal(torch.get_rng_state(), rng_after_plain), "the staged step drew random numbers"
        assert stages, "the staged step filled no stages"
        assert a.phase == b.phase
        assert_identical(record_values(a), record_values(b))
        assert_identical(state(plain), state(staged))
    # and training on from there stays identical (nothing hidden was changed)
    plain.train(2), staged.train(2)
    assert_identical(state(plain), state(staged))


@pytest.mark.parametrize("case", list(CASES))
def test_stage_values_agree_with_the_record(datasets, case):
    name, changes = CASES[case]
    t = make(datasets, name, changes)
    t.step_iteration()
    cfg = t.config
    while t.next_phase == "D":
        g_before = copy.deepcopy(t.generator.state_dict())
        d_weights = [p.detach().clone() for p in t.discriminator.parameters()]
        stages = {}
        r = t.step(stages=stages)
        assert r.phase == "D"
        assert stages["loss_total"] == pytest.approx(r.loss_d, rel=1e-6)
        assert stages["loss_real"] == pytest.approx(r.loss_d_real, rel=1e-6)
        assert stages["loss_fake"] == pytest.approx(r.loss_d_fake, rel=1e-6)
        penalties = [p for p in (stages["penalty_gp"], stages["penalty_r1"]) if not math.isnan(p)]
        assert math.isnan(stages["penalty_gp"]) == (cfg.objective != "wgan_gp")
        assert math.isnan(stages["penalty_r1"]) == (cfg.r1_gamma == 0)
        assert stages["loss_real"] + stages["loss_fake"] + sum(penalties) == pytest.approx(r.loss_d, rel=1e-5, abs=1e-6)
        assert stages["grad_norm"] == pytest.approx(r.grad_norm, rel=1e-6)
        assert stages["probe_real_before"] == pytest.approx(r.d_real_before)
        assert stages["probe_real_after"] == pytest.approx(r.d_real_after)
        assert stages["probe_fake_before"] == pytest.approx(r.d_fake_before)
        assert stages["probe_fake_after"] == pytest.approx(r.d_fake_after)
        assert stages["frozen_grad_change"] == 0.0, "G received a gradient in a D update"
        for k, v in t.generator.state_dict().items():
            assert torch.equal(v, g_before[k])
        moved = math.sqrt(sum(float((p.detach() - w).double().pow(2).sum())
                              for p, w in zip(t.discriminator.parameters(), d_weights)))
        size = math.sqrt(sum(float(w.double().pow(2).sum()) for w in d_weights))
        assert moved > 0
        assert stages["weight_change"] == pytest.approx(moved, rel=1e-6)
        assert stages["weight_change_relative"] == pytest.approx(moved / size, rel=1e-6)
        if cfg.objective in ("nonsaturating", "minimax"):
            assert 0 < stages["real_score"] < 1 and 0 < stages["fake_score"] < 1
            assert stages["real_target"] == 1 - cfg.label_smoothing and stages["fake_target"] == 0
        if cfg.objective == "wgan_gp":   # the critic's loss terms are its mean outputs
            assert stages["real_score"] == pytest.approx(-stages["loss_real"], rel=1e-5)
            assert stages["fake_score"] == pytest.approx(stages["loss_fake"], rel=1e-5)
            assert math.isnan(stages["real_target"])
        if cfg.objective == "hinge":
            assert stages["real_target"] == 1 - cfg.label_smoothing and stages["fake_target"] == -1

    g_weights = [p.detach().clone() for p in t.generator.parameters()]
    stages = {}
    r = t.step(stages=stages)
    assert r.phase == "G"
    assert stages["loss_g"] == stages["loss_total"] == pytest.approx(r.loss_g, rel=1e-6)
    assert stages["grad_norm"] == pytest.approx(r.grad_norm, rel=1e-6)
    assert stages["frozen_grad_change"] == 0.0, "D's gradients changed in a G update"
    assert stages["fake_grad"] > 0, "no gradient reached the fakes through D"
    assert stages["probe_fake_after"] == pytest.approx(r.d_fake_after)
    assert stages["probe_real_after"] == pytest.approx(r.d_real_before), "a G step moved D(x)"
    moved = math.sqrt(sum(float((p.detach() - w).double().pow(2).sum())
                          for p, w in zip(t.generator.parameters(), g_weights)))
    assert stages["weight_change"] == pytest.approx(moved, rel=1e-6) and moved > 0
    if cfg.objective == "nonsaturating":   # loss_G = -mean log sigmoid: above -log(mean score)
        assert stages["loss_g"] >= -math.log(stages["fake_score"]) - 1e-6
    if cfg.objective in ("hinge", "wgan_gp"):
        assert stages["loss_g"] == pytest.approx(-stages["fake_score"], rel=1e-5)


def test_staged_step_without_probe_still_reports_its_gradient(datasets):
    """Free training skips the probe on most iterations; a staged step there still says how
    strong the gradient was, and leaves the record's nan columns as they are."""
    t = make(datasets, "ring", {"probe_every": 5})
    t.step_iteration()
    stages = {}
    t.step_discriminator(fetch=False, stages=stages)
    r = t.fetch_records()[-1]
    assert math.isnan(r.grad_norm) and math.isnan(r.d_real_before)
    assert stages["grad_norm"] > 0 and math.isnan(stages["probe_real_before"])


def test_a_decayed_learning_rate_is_named_whenever_it_prints_differently():
    """0.0009 beside a panel reading 0.001000 must say why (it printed the same at 3 decimals)."""
    from ganviz.gui.stage_story import _change
    stages = {"weight_change": 0.01, "weight_change_relative": 0.002, "weight_norm": 5.0}
    assert "lowered by the learning-rate decay" in _change("D", stages, 0.0009, 0.001)
    assert "lowered" not in _change("D", stages, 0.001, 0.001)
    assert "lowered" not in _change("D", stages, 0.001, None)
