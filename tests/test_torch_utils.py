"""Tests of skgsr._torch_utils.OptimizerSteps: the fused Adam kernel called
directly must update the weights exactly as ``optimizer.step()`` does."""

import pytest
import torch

from skgsr._torch_utils import OptimizerSteps, fused_optimizer_kwargs


def _network(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(7, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    )


def _train(optimizer_class, kwargs, use_steps, n_steps=25, seed=0, hook=None):
    """The weights after ``n_steps`` of a small regression, and the steps object."""
    module = _network(seed)
    optimizer = optimizer_class(module.parameters(), **kwargs)
    if hook is not None:
        optimizer.register_step_post_hook(hook)
    steps = OptimizerSteps(optimizer) if use_steps else None
    generator = torch.Generator().manual_seed(seed + 1)
    for _ in range(n_steps):
        x = torch.randn(20, 7, generator=generator)
        loss = module(x).square().mean()
        if use_steps:
            steps.zero_grad()
        else:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        (steps or optimizer).step()
    return [p.detach().clone() for p in module.parameters()], steps, optimizer


FUSED = fused_optimizer_kwargs(torch.device("cpu"))
needs_fused = pytest.mark.skipif(not FUSED, reason="no fused Adam on this CPU build")


@needs_fused
@pytest.mark.parametrize("optimizer_class", [torch.optim.Adam, torch.optim.AdamW])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("decoupled", [None, True, False])
def test_direct_fused_steps_are_bit_identical_to_step(
    optimizer_class, weight_decay, decoupled
):
    kwargs = dict(lr=3e-3, weight_decay=weight_decay, **FUSED)
    if decoupled is not None and optimizer_class is torch.optim.AdamW:
        pytest.skip("AdamW takes no decoupled_weight_decay")
    if decoupled is not None:  # Adam(decoupled_weight_decay=True) is AdamW
        kwargs["decoupled_weight_decay"] = decoupled
    expected, _, reference = _train(optimizer_class, kwargs, use_steps=False)
    got, steps, optimizer = _train(optimizer_class, kwargs, use_steps=True)
    assert steps._kernel is not None  # the direct call was taken
    for p, q in zip(got, expected, strict=True):
        assert torch.equal(p, q)  # bit for bit, not merely close
    # and the optimizer's state is the one step() would have left
    for s, r in zip(optimizer.state.values(), reference.state.values(), strict=True):
        assert torch.equal(s["step"], r["step"])
        assert torch.equal(s["exp_avg"], r["exp_avg"])
        assert torch.equal(s["exp_avg_sq"], r["exp_avg_sq"])


@needs_fused
def test_learning_rate_changes_are_seen():
    """A scheduler edits param_groups: the direct call reads them at each step."""
    module = _network(0)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2, **FUSED)
    steps = OptimizerSteps(optimizer)
    x = torch.randn(5, 7)
    for lr in (1e-2, 0.0, 0.0):
        optimizer.param_groups[0]["lr"] = lr
        before = [p.detach().clone() for p in module.parameters()]
        steps.zero_grad()
        module(x).sum().backward()
        steps.step()
    # lr=0: the last steps left the weights where they were
    for p, q in zip(module.parameters(), before, strict=True):
        assert torch.equal(p.detach(), q)


@pytest.mark.parametrize(
    "optimizer_class, kwargs",
    [
        (torch.optim.SGD, dict(lr=1e-2, momentum=0.9, nesterov=True)),
        (torch.optim.Adam, dict(lr=1e-2, amsgrad=True, **FUSED)),
        (torch.optim.Adam, dict(lr=1e-2, foreach=True)),
    ],
)
def test_other_optimizers_go_through_step(optimizer_class, kwargs):
    expected, _, _ = _train(optimizer_class, kwargs, use_steps=False, n_steps=5)
    got, steps, _ = _train(optimizer_class, kwargs, use_steps=True, n_steps=5)
    assert steps._kernel is None
    for p, q in zip(got, expected, strict=True):
        assert torch.equal(p, q)


@needs_fused
def test_step_hooks_still_run():
    calls = []
    _, steps, _ = _train(
        torch.optim.Adam,
        dict(lr=1e-2, **FUSED),
        use_steps=True,
        n_steps=4,
        hook=lambda *args: calls.append(1),
    )
    assert len(calls) == 4


@needs_fused
def test_a_weight_without_gradient_goes_through_step():
    module = _network(0)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2, **FUSED)
    steps = OptimizerSteps(optimizer)
    x = torch.randn(5, 7)
    for _ in range(2):
        steps.zero_grad()
        module(x).sum().backward()
        steps.step()
    frozen = module[2].bias.detach().clone()
    steps.zero_grad()
    module[0](x).sum().backward()  # the last layer gets no gradient
    steps.step()
    assert torch.equal(module[2].bias.detach(), frozen)
