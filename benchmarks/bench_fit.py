"""Fit time of skgsr against a plain PyTorch loop, skorch and scikit-learn's MLP.

The same network (input -> 128 -> 64 -> classes, ReLU, the 64 neurons being
skgsr's structured layer on an 8x8 grid), data, epochs, batch size (200),
optimizer (Adam, learning rate 1e-3, no weight decay) and number of threads,
timed side by side in one run:

- ``plain``: a hand-written PyTorch loop, the floor: the data as one float32
  tensor, a shuffled index per epoch, ``index_select`` batches, cross-entropy,
  backward, step. Nothing is recorded. ``plain_fused`` is the same loop with
  the optimizer skgsr uses (``fused=True`` where torch supports it on the
  device), so that its ratio isolates skgsr's own overhead; ``plain_grid``
  adds skgsr's ``GraphPenalty`` (8x8 grid, ``alpha=1e-3``) to that loop: the
  floor for ``skgsr_grid``; ``plain_hook`` is ``plain_grid`` with the penalty
  from a :class:`skgsr.nn.GraphRegularizer` hooked on the layer instead of
  computed by hand, to measure what the hook costs; ``plain_glorot`` is
  ``plain_fused`` initialised as scikit-learn's MLP initialises (Glorot
  uniform), to tell the effect of the initialisation on accuracy from that of
  the rest.
- ``skgsr_alpha0``: ``GSRClassifier(alpha=0)`` (the penalty is measured for
  ``penalty_curve_`` but not trained on);
- ``skgsr_grid``: ``GSRClassifier(alpha=1e-3)`` with the grid penalty;
- ``skorch``: ``skorch.NeuralNetClassifier`` with the plain loop's module
  (``train_split=None``, shuffled ``DataLoader``);
- ``mlp``: ``sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(128, 64))``.

Early stopping is off everywhere (every contender runs exactly ``epochs``
epochs). Each contender's whole ``fit`` is timed (wall clock), the contenders
taking turns in each repetition so that a change of load on a shared machine
affects them alike; repetition ``r`` uses seed ``r`` for the weights and the
shuffling. Reported: the median time per epoch, its ratio to ``plain``, and the
test accuracy (mean over the repetitions' seeds) on a held-out quarter (digits)
or tenth (synthetic).

Data sets: scikit-learn's digits (1797 x 64, scaled to [0, 1]) and a synthetic
``make_classification`` set (100 000 x 256, 10 classes, standardized, float32).

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_fit.py --out benchmarks/results/bench_fit.json
    PYTHONPATH=. python benchmarks/bench_fit.py --quick          # seconds (CI)
    PYTHONPATH=. python benchmarks/bench_fit.py --profile digits # cProfile of skgsr
    PYTHONPATH=. python benchmarks/bench_fit.py --width 1024 \
        --contenders plain plain_fused plain_grid plain_hook   # the hook's cost

``--width`` sets the structured layer (the grid is the most square one of that
many units: 32x32 for 1024).

Ratios are the claim; absolute times depend on the machine and its load.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

FULL = {
    "digits": {"epochs": 60, "repeats": 5},
    "synthetic": {"n_samples": 100_000, "n_features": 256, "epochs": 3, "repeats": 3},
}
QUICK = {
    "digits": {"epochs": 2, "repeats": 1},
    "synthetic": {"n_samples": 2_000, "n_features": 32, "epochs": 1, "repeats": 1},
}
HIDDEN = 128
N_COMPONENTS = 64
BATCH_SIZE = 200
LEARNING_RATE = 1e-3
CONTENDERS = (
    "plain",
    "plain_fused",
    "plain_grid",
    "plain_hook",
    "plain_glorot",
    "skgsr_alpha0",
    "skgsr_grid",
    "skorch",
    "mlp",
)


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
def load_data(name, config):
    """``(X_train, X_test, y_train, y_test)`` as float32 / int64 arrays."""
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split

    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        test_size = 0.25
    else:
        X, y = make_classification(
            n_samples=config["n_samples"],
            n_features=config["n_features"],
            n_informative=min(32, config["n_features"]),
            n_redundant=0,
            n_classes=10,
            n_clusters_per_class=2,
            random_state=0,
        )
        X = (X - X.mean(0)) / X.std(0)
        test_size = 0.1
    X = X.astype(np.float32)
    y = y.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, stratify=y, random_state=0)


# --------------------------------------------------------------------------- #
# Contenders: each returns (fit, predict) for one seed
# --------------------------------------------------------------------------- #
def make_module(n_features, n_classes):
    """``Sequential(body, head)``: the body ends with the 64-neuron layer."""
    from torch import nn

    body = nn.Sequential(
        nn.Linear(n_features, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, N_COMPONENTS),
        nn.ReLU(),
    )
    return nn.Sequential(body, nn.Linear(N_COMPONENTS, n_classes))


def glorot_(module):
    """scikit-learn's MLP initialisation: weights and biases uniform in
    ±sqrt(6 / (fan_in + fan_out)) (PyTorch's default: ±1 / sqrt(fan_in))."""
    import torch

    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            bound = (6.0 / (layer.in_features + layer.out_features)) ** 0.5
            torch.nn.init.uniform_(layer.weight, -bound, bound)
            torch.nn.init.uniform_(layer.bias, -bound, bound)
    return module


def plain_loop(X, y, epochs, seed, fused=False, alpha=0.0, init=None, hook=False):
    """The floor: the arithmetic of the fit and nothing else.

    With ``alpha > 0`` the loop adds skgsr's :class:`~skgsr.penalty.GraphPenalty`
    on the structured neurons (a grid), as a user of the penalty alone would;
    with ``hook=True`` the same penalty comes from a
    :class:`~skgsr.nn.GraphRegularizer` on the body's last layer.
    """
    import torch
    import torch.nn.functional as F

    from skgsr._torch_utils import fused_optimizer_kwargs
    from skgsr.graphs import infer_grid_shape, make_graph
    from skgsr.nn import GraphRegularizer
    from skgsr.penalty import GraphPenalty

    torch.manual_seed(seed)
    module = make_module(X.shape[1], int(y.max()) + 1)
    if init is not None:
        init(module)
    body, head = module
    grid = make_graph("grid", infer_grid_shape(N_COMPONENTS))
    penalty = GraphPenalty(grid) if alpha > 0 and not hook else None
    regularizer = GraphRegularizer(body[-1], grid, alpha=alpha) if hook else None
    extra = fused_optimizer_kwargs(torch.device("cpu")) if fused else {}
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, **extra)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(X_t), generator=generator)
        for start in range(0, len(X_t), BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            xb = X_t.index_select(0, index)
            if regularizer is not None:
                loss = F.cross_entropy(module(xb), y_t[index]) + regularizer.penalty()
            elif penalty is None:
                loss = F.cross_entropy(module(xb), y_t[index])
            else:
                z = body(xb)
                loss = F.cross_entropy(head(z), y_t[index]) + alpha * penalty(z)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    def predict(X_new):
        with torch.inference_mode():
            return module(torch.from_numpy(X_new)).argmax(1).numpy()

    return predict


def skgsr_fit(X, y, epochs, seed, alpha):
    from skgsr import GSRClassifier

    est = GSRClassifier(
        hidden_layer_sizes=(HIDDEN,),
        n_components=N_COMPONENTS,
        graph="grid",
        filter="laplacian",  # the same penalty as plain_grid's
        alpha=alpha,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: no early stop here
        est.fit(X, y)
    return est.predict


def skorch_fit(X, y, epochs, seed):
    import torch
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        make_module(X.shape[1], int(y.max()) + 1),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LEARNING_RATE,
        max_epochs=epochs,
        batch_size=BATCH_SIZE,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
        device="cpu",
    )
    net.fit(X, y)
    return net.predict


def mlp_fit(X, y, epochs, seed):
    from sklearn.neural_network import MLPClassifier

    est = MLPClassifier(
        hidden_layer_sizes=(HIDDEN, N_COMPONENTS),
        alpha=0.0,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return est.predict


def contender(name):
    return {
        "plain": lambda X, y, e, s: plain_loop(X, y, e, s),
        "plain_fused": lambda X, y, e, s: plain_loop(X, y, e, s, fused=True),
        "plain_grid": lambda X, y, e, s: plain_loop(X, y, e, s, True, alpha=1e-3),
        "plain_hook": lambda X, y, e, s: plain_loop(
            X, y, e, s, True, alpha=1e-3, hook=True
        ),
        "plain_glorot": lambda X, y, e, s: plain_loop(X, y, e, s, True, init=glorot_),
        "skgsr_alpha0": lambda X, y, e, s: skgsr_fit(X, y, e, s, alpha=0.0),
        "skgsr_grid": lambda X, y, e, s: skgsr_fit(X, y, e, s, alpha=1e-3),
        "skorch": skorch_fit,
        "mlp": mlp_fit,
    }[name]


# --------------------------------------------------------------------------- #
# Measurement
# --------------------------------------------------------------------------- #
def bench_dataset(name, config, contenders):
    X_train, X_test, y_train, y_test = load_data(name, config)
    epochs, repeats = config["epochs"], config["repeats"]
    times = {c: [] for c in contenders}
    accuracy = {c: [] for c in contenders}
    # one untimed warm-up fit each: imports, allocator and thread-pool start-up
    for c in contenders:
        contender(c)(X_train[:400], y_train[:400], 1, 0)
    for seed in range(repeats):
        for c in contenders:
            start = time.perf_counter()
            predict = contender(c)(X_train, y_train, epochs, seed)
            times[c].append(time.perf_counter() - start)
            accuracy[c].append(float(np.mean(predict(X_test) == y_test)))
    floor = statistics.median(times["plain"]) / epochs if "plain" in times else None
    rows = []
    for c in contenders:
        per_epoch = statistics.median(times[c]) / epochs
        rows.append(
            {
                "dataset": name,
                "contender": c,
                "n_train": len(X_train),
                "n_features": X_train.shape[1],
                "epochs": epochs,
                "repeats": repeats,
                "epoch_s": per_epoch,
                "epoch_s_min": min(times[c]) / epochs,
                "ratio_to_plain": None if floor is None else per_epoch / floor,
                "accuracy": float(np.mean(accuracy[c])),
                "accuracy_per_seed": accuracy[c],
                "fit_s": times[c],
            }
        )
    return rows


# --------------------------------------------------------------------------- #
# Profile
# --------------------------------------------------------------------------- #
# What the training loop calls in each step, timed by wrapping it: (owner, name
# of the method, phase). The rest of an epoch is the loop's own Python
# (minibatch indices, targets and weights, finiteness checks).
PHASES = ("batch", "forward", "task loss", "penalty", "zero_grad", "backward")
PHASES += ("optimizer step", "meters & monitor", "loop (rest)")


def _wrapped_methods():
    import torch

    from skgsr import _network, _torch_utils, _training
    from skgsr import nn as gsr_nn
    from skgsr._supervised import GSRClassifier

    return [
        (_training.Batches, "take", "batch"),
        (_network.GSRNetwork, "forward", "forward"),
        (GSRClassifier, "_mean_task_loss", "task loss"),
        (GSRClassifier, "_task_loss", "task loss"),
        (gsr_nn.GraphRegularizer, "_add_penalty", "penalty"),
        (_torch_utils.OptimizerSteps, "zero_grad", "zero_grad"),
        (torch.Tensor, "backward", "backward"),
        (_torch_utils.OptimizerSteps, "step", "optimizer step"),
        (_training.LossMeter, "add", "meters & monitor"),
        (_training.PenaltyMonitor, "add", "meters & monitor"),
        (_training.PenaltyMonitor, "result", "meters & monitor"),
    ]


class _PhaseTimer:
    """Time per phase of each epoch, by wrapping what the loop calls.

    ``clock`` is ``time.thread_time`` (CPU time of the thread: what one thread
    spends, whatever else runs on a shared machine) or ``time.perf_counter``.
    """

    def __init__(self, clock):
        self.clock = clock
        self.epochs = []  # one {phase: seconds} per epoch, with "epoch" and "steps"
        self._saved = []

    def _timed(self, phase, method):
        import functools

        @functools.wraps(method)
        def timed(*args, **kwargs):
            start = self.clock()
            try:
                return method(*args, **kwargs)
            finally:
                current = self.epochs[-1] if self.epochs else {}
                current[phase] = current.get(phase, 0.0) + self.clock() - start

        return timed

    def __enter__(self):
        from skgsr._base import BaseGSR

        for owner, name, phase in _wrapped_methods():
            method = owner.__dict__[name]
            self._saved.append((owner, name, method))
            setattr(owner, name, self._timed(phase, method))
        run_epoch = BaseGSR.__dict__["_run_epoch"]
        self._saved.append((BaseGSR, "_run_epoch", run_epoch))
        timer = self

        def timed_epoch(estimator, state, data, *args, **kwargs):
            timer.epochs.append({})
            start = timer.clock()
            result = run_epoch(estimator, state, data, *args, **kwargs)
            timer.epochs[-1]["epoch"] = timer.clock() - start
            batch_size = args[-1]
            timer.epochs[-1]["steps"] = -(-data.n_samples // batch_size)
            return result

        BaseGSR._run_epoch = timed_epoch
        return self

    def __exit__(self, *exc_info):
        for owner, name, method in reversed(self._saved):
            setattr(owner, name, method)

    def per_step(self):
        """``{phase: microseconds per step}``, the median over the epochs."""
        table = {}
        for phase in (*PHASES, "total"):
            values = []
            for epoch in self.epochs:
                timed = sum(epoch.get(p, 0.0) for p in PHASES[:-1])
                value = {"total": epoch["epoch"], "loop (rest)": epoch["epoch"] - timed}
                values.append(value.get(phase, epoch.get(phase, 0.0)) / epoch["steps"])
            table[phase] = 1e6 * statistics.median(values)
        return table


# torch.profiler's operators by what they do; the time outside every operator is
# Python and dispatch.
OP_KINDS = {
    "matrix products": {"mm", "addmm", "bmm", "matmul", "linear", "dot", "vdot"},
    "optimizer kernel": {"_fused_adam_", "_fused_adamw_", "_fused_sgd_"},
    "loss": {"_log_softmax", "log_softmax", "_log_softmax_backward_data"}
    | {"nll_loss", "nll_loss_nd", "nll_loss_forward", "nll_loss_backward"}
    | {"cross_entropy_loss", "mse_loss", "mse_loss_backward"},
    "elementwise": {"relu", "clamp_min", "threshold_backward", "add", "add_", "mul"}
    | {"mul_", "sub", "sub_", "sum", "mean", "div", "fill_", "zero_", "addcmul_"},
    "batching & copies": {"index_select", "index", "copy_", "_to_copy", "to", "cat"}
    | {"clone", "contiguous", "randperm", "empty", "empty_strided", "empty_like"},
    "views & scalars": {"t", "transpose", "as_strided", "view", "expand", "detach"}
    | {"alias", "slice", "select", "reshape", "item", "_local_scalar_dense"},
}


def _op_kind(name):
    if name.startswith("aten::"):
        op = name[len("aten::") :]
        if op.startswith("_foreach_"):
            return "optimizer kernel"
        for kind, ops in OP_KINDS.items():
            if op in ops:
                return kind
        return "other operators"
    # autograd's nodes, the engine's ranges and custom functions
    return "autograd bookkeeping"


def op_profile(fit):
    """Self time of torch's operators by kind in one ``fit()`` (torch.profiler).

    Returns ``{kind: share of the profiled fit's wall time}`` (the profiler
    measures wall time), with "Python and dispatch" for the time outside every
    operator. The profiler's own cost per operator inflates the operators.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        fit()
        elapsed = time.perf_counter() - start
    shares = {}
    for event in prof.key_averages():
        if event.key.startswith("Optimizer."):
            continue  # a record_function range around operators, not one
        category = _op_kind(event.key)
        shares[category] = shares.get(category, 0.0) + event.self_cpu_time_total
    shares = {k: 1e-6 * v / elapsed for k, v in shares.items()}
    shares["Python and dispatch"] = max(0.0, 1.0 - sum(shares.values()))
    return shares


def profile_fit(name, config, clock, repeats=3):
    """Where a step of ``GSRClassifier`` goes, at alpha=0 and with the grid penalty.

    Returns a dict with, for ``skgsr_alpha0`` and ``skgsr_grid``: ``step_us``
    (the median over ``repeats`` unprofiled fits of fit time / steps),
    ``phases`` (µs per step by phase, median over the epochs of a fit with each
    phase timed) and ``operators`` (shares of a torch.profiler'd fit by kind of
    operator); and ``plain_fused_step_us``, the plain loop's step, measured in
    turn with the others.
    """
    X_train, _, y_train, _ = load_data(name, config)
    epochs = config["epochs"]
    n_steps = epochs * -(-len(X_train) // BATCH_SIZE)
    fits = {
        "plain_fused": lambda: plain_loop(X_train, y_train, epochs, 0, fused=True),
        "skgsr_alpha0": lambda: skgsr_fit(X_train, y_train, epochs, 0, alpha=0.0),
        "skgsr_grid": lambda: skgsr_fit(X_train, y_train, epochs, 0, alpha=1e-3),
    }
    skgsr_fit(X_train[:400], y_train[:400], 1, 0, alpha=1e-3)  # warm up
    plain_loop(X_train[:400], y_train[:400], 1, 0, fused=True)
    times = {label: [] for label in fits}
    for _ in range(repeats):
        for label, fit in fits.items():
            start = clock()
            fit()
            times[label].append(1e6 * (clock() - start) / n_steps)
    result = {"dataset": name, "width": N_COMPONENTS, "epochs": epochs}
    result["clock"] = clock.__name__
    result["plain_fused_step_us"] = statistics.median(times["plain_fused"])
    for label in ("skgsr_alpha0", "skgsr_grid"):
        with _PhaseTimer(clock) as timer:
            fits[label]()
        result[label] = {
            "step_us": statistics.median(times[label]),
            "phases": timer.per_step(),
            "operators": op_profile(fits[label]),
        }
    return result


def format_profile(result):
    labels = ("skgsr_alpha0", "skgsr_grid")
    lines = [
        f"One training step, {result['dataset']}, width {result['width']}, batch "
        f"{BATCH_SIZE}: microseconds per step (median over {result['epochs']} "
        f"epochs, {result['clock']})",
        f"{'phase':>22} " + " ".join(f"{label:>13}" for label in labels),
    ]
    for phase in (*PHASES, "total"):
        values = [result[label]["phases"][phase] for label in labels]
        lines.append(f"{phase:>22} " + " ".join(f"{v:>13.1f}" for v in values))
    unprofiled = [result[label]["step_us"] for label in labels]
    lines.append(
        f"{'unprofiled fit/steps':>22} " + " ".join(f"{v:>13.1f}" for v in unprofiled)
    )
    lines.append(
        f"{'plain_fused, unprofiled':>22} {result['plain_fused_step_us']:>13.1f}"
    )
    lines.append("")
    lines.append(
        "Share of the profiled fit (torch.profiler, self time by operator kind)"
    )
    categories = list(result[labels[0]]["operators"])
    for category in categories:
        values = [result[label]["operators"].get(category, 0.0) for label in labels]
        lines.append(
            f"{category:>22} " + " ".join(f"{100 * v:>12.1f}%" for v in values)
        )
    return "\n".join(lines)


def format_table(rows):
    lines = [
        f"{'dataset':>10} {'contender':>13} {'ms/epoch':>10} {'min':>10} "
        f"{'/plain':>7} {'accuracy':>9}"
    ]
    for r in rows:
        ratio = "" if r["ratio_to_plain"] is None else f"{r['ratio_to_plain']:.2f}"
        lines.append(
            f"{r['dataset']:>10} {r['contender']:>13} {1e3 * r['epoch_s']:>10.1f} "
            f"{1e3 * r['epoch_s_min']:>10.1f} {ratio:>7} {r['accuracy']:>9.4f}"
        )
    return "\n".join(lines)


def main(argv=None):
    global N_COMPONENTS  # --width: the structured layer of every contender
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds)")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads")
    parser.add_argument(
        "--datasets", nargs="+", default=["digits", "synthetic"], choices=list(FULL)
    )
    parser.add_argument("--contenders", nargs="+", default=None, choices=CONTENDERS)
    parser.add_argument("--epochs", type=int, help="override the epochs per fit")
    parser.add_argument("--repeats", type=int, help="override the repetitions")
    parser.add_argument("--profile", choices=list(FULL), help="profile skgsr only")
    parser.add_argument(
        "--width", type=int, default=N_COMPONENTS, help="structured layer width"
    )
    parser.add_argument("--out", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    N_COMPONENTS = args.width
    # before torch and numpy start their thread pools; skgsr honours it too
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    configs = {k: dict(v) for k, v in (QUICK if args.quick else FULL).items()}
    for config in configs.values():
        for key in ("epochs", "repeats"):
            if getattr(args, key) is not None:
                config[key] = getattr(args, key)
    if args.profile:
        with threadpool_limits(args.threads):
            # one thread: its CPU time, which other jobs on the machine leave be
            clock = time.thread_time if args.threads == 1 else time.perf_counter
            result = profile_fit(args.profile, configs[args.profile], clock)
        print(format_profile(result))
        if args.out:
            result["meta"] = _meta(args, torch)
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)
        return result
    contenders = list(args.contenders or CONTENDERS)
    try:
        import skorch  # noqa: F401
    except ImportError:
        print("skorch is not installed: its column is skipped.", file=sys.stderr)
        contenders = [c for c in contenders if c != "skorch"]
    rows = []
    with threadpool_limits(args.threads):
        for name in args.datasets:
            rows.extend(bench_dataset(name, configs[name], contenders))
    print(f"fit time per epoch, {args.threads} thread(s), batch {BATCH_SIZE}")
    print(format_table(rows))
    if args.out:
        meta = _meta(args, torch)
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "configs": configs, "results": rows}, f, indent=1)
    return rows


def _meta(args, torch):
    import sklearn

    return {
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "quick": args.quick,
        "width": args.width,
    }


if __name__ == "__main__":
    main()
