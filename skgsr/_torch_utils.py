"""PyTorch plumbing shared by the estimators and the layer regularizer.

Devices, thread limits, seeds and optimizers: nothing here knows about graphs or
about a particular network.
"""

import copy
import os
import threading
from contextlib import contextmanager

import joblib
import numpy as np
import torch

__all__ = [
    "OptimizerSteps",
    "available_device",
    "evaluation_mode",
    "fused_optimizer_kwargs",
    "make_optimizer",
    "module_device",
    "resolve_device",
    "resume_optimizer",
    "snapshot",
    "tensors_to",
    "thread_limit",
    "torch_seed",
    "torch_threads",
]


# --------------------------------------------------------------------------- #
# Devices
# --------------------------------------------------------------------------- #
def _exists(device):
    """Whether ``device`` (a torch.device) is usable on this machine."""
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        index = device.index or 0
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    backend = getattr(torch, device.type, None)  # torch.xpu and the like
    is_available = getattr(backend, "is_available", None)
    return bool(is_available()) if callable(is_available) else False


def resolve_device(device):
    """``"auto"`` -> CUDA when available, else CPU; validate explicit devices."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Invalid device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from exc
    if resolved.type == "meta":
        raise ValueError(
            "device='meta' holds shapes, not data: a network cannot be trained or "
            "run there. Use device='cpu', 'cuda' or 'auto'."
        )
    if not _exists(resolved):
        what = {"cuda": "CUDA", "mps": "Apple's MPS"}.get(resolved.type, "it")
        raise ValueError(
            f"device={device!r} was requested but {what} is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    return resolved


def available_device(device):
    """``device`` if it exists on this machine, else the CPU.

    Where a model fitted on ``device`` goes when it is loaded or unpickled: a
    model fitted on ``"cuda:1"`` loads on the CPU of a machine without CUDA (or
    with a single GPU).
    """
    device = torch.device(device)
    return device if _exists(device) else torch.device("cpu")


def module_device(module):
    """Device of a module's first parameter (or buffer); CPU when it has none."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def tensors_to(obj, device):
    """A copy of nested dicts, lists and tuples with every tensor on ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {key: tensors_to(value, device) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(tensors_to(value, device) for value in obj)
    return obj


# --------------------------------------------------------------------------- #
# Threads and modes
# --------------------------------------------------------------------------- #
def thread_limit():
    """Threads torch may use here: ``OMP_NUM_THREADS`` if set, else the cores.

    joblib's process workers (loky) and dask's workers export
    ``OMP_NUM_THREADS`` so that parallel searches do not oversubscribe the
    machine; honouring it keeps ``GridSearchCV(n_jobs=-1)`` at one thread set
    per core.
    """
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    return max(1, joblib.cpu_count())


# Serializes the read-modify-write of torch's thread setting by concurrent fits
# and predictions (see torch_threads).
_THREADS_LOCK = threading.Lock()


@contextmanager
def torch_threads():
    """Bound torch's intra-op threads by :func:`thread_limit` for a block.

    The setting is lowered only when it exceeds the limit, and restored only by
    the call that lowered it: restoring whenever it differs from the value seen
    on entry would let two overlapping calls leave a process-wide thread pool at
    the lower setting for good.
    """
    limit = thread_limit()
    with _THREADS_LOCK:
        previous = torch.get_num_threads()
        changed = limit < previous
        if changed:
            torch.set_num_threads(limit)
    try:
        yield
    finally:
        if changed:
            with _THREADS_LOCK:
                torch.set_num_threads(previous)


@contextmanager
def evaluation_mode(module):
    """Put a module in eval mode for a block, then back in the mode it was in.

    Only training code uses this, on the module being trained. Inference on a
    fitted ``module_`` (always in eval mode) never switches modes: mutating the
    shared module would race with other threads predicting at the same time.
    """
    was_training = module.training
    if was_training:
        module.eval()
    try:
        yield module
    finally:
        if was_training:
            module.train()


# --------------------------------------------------------------------------- #
# Seeds and weights
# --------------------------------------------------------------------------- #
def torch_seed(random_state):
    """A 31-bit seed for torch drawn from a numpy RandomState."""
    return int(random_state.randint(np.iinfo(np.int32).max))


def snapshot(module):
    """A detached copy of a module's weights (its ``state_dict``)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- #
# Optimizers
# --------------------------------------------------------------------------- #
def fused_optimizer_kwargs(device):
    """``{"fused": True}`` where torch has fused Adam/AdamW/SGD kernels for ``device``.

    A fused step updates every parameter in one kernel instead of a few
    ``foreach`` kernels per parameter group: the same arithmetic, less
    per-step overhead, which matters for the small networks GSR is used with.
    """
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        supported = _get_fused_kernels_supported_devices()
    except (ImportError, TypeError):  # pragma: no cover - a private torch helper
        supported = ["cuda"]
    return {"fused": True} if device.type in supported else {}


def make_optimizer(module, solver, learning_rate, weight_decay):
    """Adam, AdamW or SGD (Nesterov momentum 0.9) over a module's parameters.

    Fused kernels are used where the device has them (see
    :func:`fused_optimizer_kwargs`).
    """
    params = list(module.parameters())
    if solver == "sgd":
        make, kwargs = torch.optim.SGD, {"momentum": 0.9, "nesterov": True}
    elif solver == "adamw":
        make, kwargs = torch.optim.AdamW, {}
    else:
        make, kwargs = torch.optim.Adam, {}
    kwargs.update(lr=learning_rate, weight_decay=weight_decay)
    fused = fused_optimizer_kwargs(params[0].device)
    if fused:
        try:
            return make(params, **kwargs, **fused)
        except (RuntimeError, ValueError):  # pragma: no cover - no such kernel
            pass
    return make(params, **kwargs)


def resume_optimizer(optimizer, saved):
    """Continue from a previous fit's optimizer state under the current settings.

    Only the per-weight state (Adam's moments, SGD's momentum) is carried over;
    the hyperparameters (learning rate, weight decay...) are those of the fresh
    optimizer, so that ``set_params(learning_rate_init=...)`` before a warm start
    takes effect (``Optimizer.load_state_dict`` alone would restore the old ones).
    After a change of ``solver`` whose state does not carry over (Adam and SGD
    keep different statistics), the optimizer starts afresh.
    """
    if saved is None:
        return
    current = optimizer.state_dict()

    def keys(state_dict):
        return [set(group) - {"params"} for group in state_dict["param_groups"]]

    if keys(saved) != keys(current):
        return
    optimizer.load_state_dict(
        {
            "state": copy.deepcopy(saved["state"]),
            "param_groups": current["param_groups"],
        }
    )


class OptimizerSteps:
    """``zero_grad`` and ``step`` of an optimizer, without its per-call Python work.

    ``torch.optim.Adam(fused=True).step()`` updates every weight in one kernel,
    but first spends a few times as long in Python: profiling records, hook
    checks, regrouping the tensors by device at every call. For the small
    networks GSR trains, undoing it made a fit 1.17x as long at 64 neurons (see
    ``benchmarks/README.rst``, "Fit speed"). After the optimizer's own first
    step (which creates its state), Adam and AdamW call the fused kernel
    directly, with the arguments ``step()`` would pass it: the same update, bit
    for bit (``tests/test_torch_utils.py``). Anything else (another optimizer,
    a weight without a gradient, several parameter groups or devices, step
    hooks) goes through ``optimizer.step()``.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self._kernel = None  # (kernel, exp_avgs, exp_avg_sqs, steps) once known

    def zero_grad(self):
        """Drop the gradients (``zero_grad(set_to_none=True)``)."""
        for p in self.params:
            p.grad = None

    def step(self):
        """One update of the weights from their gradients."""
        grads = [p.grad for p in self.params]
        if self._kernel is None or any(g is None for g in grads) or _hooked(self):
            self.optimizer.step()
            self._kernel = _fused_adam_kernel(self.optimizer, self.params)
            return
        kernel, exp_avgs, exp_avg_sqs, steps = self._kernel
        group = self.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        kernel(
            self.params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )


def _hooked(steps):
    """Whether step hooks are registered (only ``optimizer.step()`` runs them)."""
    from torch.optim import optimizer as module

    hooks = (
        steps.optimizer._optimizer_step_pre_hooks,
        steps.optimizer._optimizer_step_post_hooks,
        getattr(module, "_global_optimizer_pre_hooks", None),
        getattr(module, "_global_optimizer_post_hooks", None),
    )
    return any(hooks)


def _fused_adam_kernel(optimizer, params):
    """``(kernel, exp_avgs, exp_avg_sqs, steps)`` when ``optimizer.step()`` is one
    call of torch's fused Adam (or AdamW) kernel over ``params``; else None."""
    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW):
        return None
    groups = optimizer.param_groups
    if len(groups) != 1:
        return None
    group = groups[0]
    # AdamW is Adam with decoupled_weight_decay=True, which picks the kernel
    decoupled = group.get(
        "decoupled_weight_decay", type(optimizer) is torch.optim.AdamW
    )
    kernel = getattr(torch, "_fused_adamw_" if decoupled else "_fused_adam_", None)
    if kernel is None:
        return None
    flags = ("amsgrad", "maximize", "capturable", "differentiable")
    plain = group.get("fused") and not any(group.get(flag) for flag in flags)
    numbers = (group["lr"], *group["betas"], group["eps"], group["weight_decay"])
    if not plain or any(isinstance(v, torch.Tensor) for v in numbers):
        return None
    if getattr(optimizer, "grad_scale", None) is not None:
        return None
    if getattr(optimizer, "found_inf", None) is not None:
        return None
    if len({(p.device, p.dtype) for p in params}) != 1:
        return None  # step() would call the kernel once per device and dtype
    state = [optimizer.state.get(p, {}) for p in params]
    keys = ("exp_avg", "exp_avg_sq", "step")
    if not all(all(k in s for k in keys) for s in state):
        return None
    return (
        kernel,
        [s["exp_avg"] for s in state],
        [s["exp_avg_sq"] for s in state],
        [s["step"] for s in state],
    )
