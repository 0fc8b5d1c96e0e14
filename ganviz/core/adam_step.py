"""Adam's update without torch.optim's per-call bookkeeping.

On Stable's small networks (4 layers of 128) torch.optim.Adam(foreach=True).step() spends
about a third of its time outside the arithmetic: checking options, grouping the tensors by
device, profiling hooks. `optimizer_step` runs the same foreach ops in the same order with the
same scalars, so the networks come out identical bit for bit (tests/test_adam_step.py checks
it against torch's own step): inside a Stable iteration the two Adam steps took 1.04 ms
instead of 1.56 (benchmarks/results.md, sixth session).

Whatever it does not cover goes to opt.step(): other optimizers, weight decay, amsgrad and
the other options, tensors on several devices or not in float32, optimizer hooks or a wrapped
`step` (an LR scheduler's), and the first step of a run (which creates the state).
"""
from __future__ import annotations

import torch
import torch.optim.optimizer as torch_optimizer

_PLAIN = {"weight_decay": 0, "amsgrad": False, "maximize": False, "capturable": False,
          "differentiable": False, "fused": None, "foreach": True}


def optimizer_step(opt: torch.optim.Optimizer) -> None:
    """opt.step(), the same numbers bit for bit, faster for a plain foreach Adam."""
    groups = _plain_adam_groups(opt)
    if groups is None:
        opt.step()
        return
    with torch.no_grad():
        for group, params in groups:
            _adam(opt, group, params)


def clear_grads(params) -> None:
    """opt.zero_grad(set_to_none=True) for these parameters, without its profiling wrapper."""
    for p in params:
        p.grad = None


def _plain_adam_groups(opt):
    """[(group, its parameters that have a gradient)] when every group is a plain foreach Adam
    whose state exists, on one device in float32; else None."""
    hooks = (opt._optimizer_step_pre_hooks, opt._optimizer_step_post_hooks,
             torch_optimizer._global_optimizer_pre_hooks, torch_optimizer._global_optimizer_post_hooks)
    if type(opt) is not torch.optim.Adam or any(hooks) or "step" in vars(opt):
        return None
    groups, devices = [], set()
    for group in opt.param_groups:
        if any(group.get(k) != v for k, v in _PLAIN.items()):   # a missing key: torch's own step
            return None
        if not all(isinstance(group[k], float) for k in ("lr", "eps")) or \
                not all(isinstance(b, float) for b in group["betas"]):
            return None
        params = [p for p in group["params"] if p.grad is not None]
        for p in params:
            state = opt.state.get(p)
            if not state or p.dtype != torch.float32 or p.grad.is_sparse or not state["step"].is_cpu:
                return None
            devices.add(p.device)
        groups.append((group, params))
    return groups if len(devices) == 1 else None


_ONE = torch.tensor(1.0, device="cpu")   # as torch adds it to CPU step counts


def _adam(opt, group, params) -> None:
    """torch.optim.adam._multi_tensor_adam's path for CPU step counts, no weight decay, no
    amsgrad, float lr and betas (torch 2.13)."""
    if not params:
        return
    beta1, beta2 = group["betas"]
    lr, eps = group["lr"], group["eps"]
    states = [opt.state[p] for p in params]
    grads = [p.grad for p in params]
    exp_avgs = [s["exp_avg"] for s in states]
    exp_avg_sqs = [s["exp_avg_sq"] for s in states]
    steps = [s["step"] for s in states]
    torch._foreach_add_(steps, _ONE, alpha=1.0)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
    bias_correction1 = [1 - beta1 ** step.item() for step in steps]
    bias_correction2 = [1 - beta2 ** step.item() for step in steps]
    step_size = [(lr / bc) * -1 for bc in bias_correction1]
    bias_correction2_sqrt = [bc ** 0.5 for bc in bias_correction2]
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, bias_correction2_sqrt)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, step_size)
