"""adam_step.optimizer_step is torch.optim.Adam's step, bit for bit, only faster."""
import copy

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from ganviz.core.adam_step import _plain_adam_groups, clear_grads, optimizer_step
from ganviz.core.config import Config
from ganviz.core.trainer import Trainer


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.LeakyReLU(0.2),
                               torch.nn.Linear(32, 32), torch.nn.LeakyReLU(0.2), torch.nn.Linear(32, 1))


def train_both(steps=60, **options):
    """(torch's network and optimizer, ours), trained on the same batches; halfway through the
    learning rate and betas change, as the trainer's schedule and live settings change them."""
    ours = mlp()
    theirs = copy.deepcopy(ours)
    make = dict(lr=2e-3, betas=(0.0, 0.99), foreach=True, **options)
    opt_ours, opt_theirs = torch.optim.Adam(ours.parameters(), **make), torch.optim.Adam(theirs.parameters(), **make)
    gen = torch.Generator().manual_seed(1)
    for i in range(steps):
        if i == steps // 2:
            for opt in (opt_ours, opt_theirs):
                opt.param_groups[0].update(lr=7e-4, betas=(0.5, 0.999))
        x = torch.randn(64, 2, generator=gen)
        opt_theirs.zero_grad(set_to_none=True)
        theirs(x).pow(2).mean().backward()
        opt_theirs.step()
        clear_grads(ours.parameters())
        ours(x).pow(2).mean().backward()
        optimizer_step(opt_ours)
    return (theirs, opt_theirs), (ours, opt_ours)


def assert_identical(a, b):
    (net_a, opt_a), (net_b, opt_b) = a, b
    for p, q in zip(net_a.parameters(), net_b.parameters()):
        assert torch.equal(p, q)
    for s, t in zip(opt_a.state_dict()["state"].values(), opt_b.state_dict()["state"].values()):
        assert s.keys() == t.keys()
        assert all(torch.equal(s[k], t[k]) for k in s)


def test_a_plain_adam_takes_the_short_path_and_ends_identical_bit_for_bit():
    theirs, ours = train_both()
    assert _plain_adam_groups(ours[1]) is not None   # the short path, not opt.step()
    assert_identical(theirs, ours)
    assert ours[1].state_dict()["state"][0]["step"].item() == 60


@pytest.mark.parametrize("options", [dict(amsgrad=True), dict(weight_decay=0.01), dict(maximize=True)])
def test_other_adam_options_go_to_torchs_own_step(options):
    theirs, ours = train_both(steps=10, **options)
    assert _plain_adam_groups(ours[1]) is None
    assert_identical(theirs, ours)


def test_the_first_step_creates_the_state_with_torchs_own_step():
    net = mlp()
    opt = torch.optim.Adam(net.parameters(), foreach=True)
    net(torch.ones(4, 2)).sum().backward()
    assert _plain_adam_groups(opt) is None   # no state yet
    optimizer_step(opt)
    assert _plain_adam_groups(opt) is not None


def test_other_optimizers_go_to_their_own_step():
    net = mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.clone() for p in net.parameters()]
    net(torch.ones(4, 2)).sum().backward()
    optimizer_step(opt)
    assert _plain_adam_groups(opt) is None
    assert any(not torch.equal(p, b) for p, b in zip(net.parameters(), before))


def test_several_groups_and_parameters_without_a_gradient_end_identical():
    """Two groups at their own rates, and a layer that gets no gradient on some steps (its
    state must not move then, as in torch's step)."""
    def build():
        net = mlp()
        groups = [{"params": net[0].parameters(), "lr": 3e-3},
                  {"params": list(net[2].parameters()) + list(net[4].parameters())}]
        return net, torch.optim.Adam(groups, lr=1e-3, foreach=True)
    (theirs, opt_theirs), (ours, opt_ours) = build(), build()
    gen = torch.Generator().manual_seed(3)
    for i in range(20):
        x = torch.randn(16, 2, generator=gen)
        for net, opt, step in ((theirs, opt_theirs, opt_theirs.step), (ours, opt_ours, lambda: optimizer_step(opt_ours))):
            clear_grads(net.parameters())
            net(x).sum().backward()
            if i % 3 == 2:   # the first layer sits this step out
                clear_grads(net[0].parameters())
            step()
    assert _plain_adam_groups(opt_ours) is not None
    assert_identical((theirs, opt_theirs), (ours, opt_ours))


def test_a_registered_hook_sends_the_step_to_torch_so_the_hook_runs():
    theirs, ours = train_both(steps=3)
    calls = []
    local = ours[1].register_step_post_hook(lambda *_: calls.append("local"))
    assert _plain_adam_groups(ours[1]) is None
    local.remove()
    handle = register_optimizer_step_pre_hook(lambda *_: calls.append("global"))
    try:
        assert _plain_adam_groups(ours[1]) is None
        ours[0](torch.ones(1, 2)).sum().backward()
        optimizer_step(ours[1])
    finally:
        handle.remove()
    assert calls == ["global"] and _plain_adam_groups(ours[1]) is not None


def test_the_trainer_takes_the_short_path():
    trainer = Trainer(Config(dataset="ring", batch_size=32, hidden=16, noise_dim=8, probe_size=32,
                             grid_size=16, device="cpu"))
    trainer.train(2)
    assert _plain_adam_groups(trainer.opt_d) is not None and _plain_adam_groups(trainer.opt_g) is not None
