"""Screen: does ``torch.compile`` cut the quadratic penalties' passes over a batch?

Issue 18 asks for the grid penalty at most 1.10x an ``alpha=0`` fit. On a CPU
the eager penalty costs its elementwise passes over the batch (a wide layer)
or its per-call overheads (a narrow one). Three measurements, 1 thread,
thread CPU time:

- ``--part kernel``: one batch of 200, the penalty's value and its gradient
  added into an incoming gradient, as the estimators' hook does: eager
  (``GraphPenalty._quadratic_parts`` and ``_quadratic_gradient``) against the
  same arithmetic written as one function for ``torch.compile`` (zero-padded
  shifts of the map), on grids of 1024 and 16384 nodes;
- ``--part fit``: ``GSRClassifier`` fits (digits tiled 10x, 128 -> width ->
  10, batch 200, 5 epochs, median of 3 after a warm-up fit) with
  ``GraphPenalty._quadratic_parts`` compiled in place of the eager one, the
  gradient left eager;
- ``--part floor``: at width 64, what the estimators' penalty adds to a step
  (forward and backward, µs) against the fewest eager calls that compute the
  Laplacian penalty and its gradient.

Usage::

    python benchmarks/screen_compiled_penalty.py --part kernel
    python benchmarks/screen_compiled_penalty.py --part floor
    python benchmarks/screen_compiled_penalty.py --part fit --width 1024
"""

import argparse
import sys
import time
import warnings

import numpy as np


def _median_ms(fn, repeat=30):
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return 1e3 * float(np.median(times))


def _shifted_lattice(x, degree, B, side):
    maps = x.view(B, side, side)
    import torch

    pad = torch.nn.functional.pad(maps, (1, 1, 1, 1))
    y = degree * maps - pad[:, 1:-1, :-2] - pad[:, 1:-1, 2:]
    return (y - pad[:, :-2, 1:-1] - pad[:, 2:, 1:-1]).reshape(B, -1)


def laplacian_value_gradient(x, grad, degree, scale):
    """Mean of x^T L x over the batch, and ``grad`` plus its gradient."""
    B, n = x.shape
    y = _shifted_lattice(x, degree, B, int(round(n**0.5)))
    return (x * y).sum() / B, grad + (2.0 * scale / B) * y


def rayleigh_value_gradient(x, grad, degree, scale):
    """Mean centred Rayleigh quotient, and ``grad`` plus its gradient."""
    B, n = x.shape
    xc = x - x.mean(dim=1, keepdim=True)
    y = _shifted_lattice(xc, degree, B, int(round(n**0.5)))
    norm = (xc * xc).sum(1) + 1e-12
    ratio = (xc * y).sum(1) / norm
    factor = (2.0 * scale / B) / norm
    return ratio.mean(), grad + factor[:, None] * (y - ratio[:, None] * xc)


def _kernel_row(A, n, name, fn):
    """Eager against compiled for one graph and one filter."""
    import torch

    from skgsr.penalty import GraphPenalty, _quadratic_gradient

    side = int(round(n**0.5))
    degree = torch.from_numpy(
        np.asarray(A.sum(axis=1)).reshape(side, side).astype(np.float32)
    )
    x, grad = torch.randn(200, n), torch.randn(200, n)
    penalty = GraphPenalty(A, filter=name, center=name == "rayleigh")
    project = penalty._projects_gradient

    def eager():
        parts = penalty._quadratic_parts(x, 1.0 / 200)[1]
        return _quadratic_gradient(*parts, 1.0 / 200, project, 1e-3, into=grad)

    start = time.perf_counter()
    compiled = torch.compile(fn, dynamic=False)
    value, gradient = compiled(x, grad, degree, 1e-3)
    compile_s = time.perf_counter() - start
    reference = penalty._quadratic_parts(x, 1.0 / 200)[0]
    return {
        "n": n,
        "filter": name,
        "eager_ms": _median_ms(eager),
        "compiled_ms": _median_ms(lambda: compiled(x, grad, degree, 1e-3)),
        "one_pass_ms": _median_ms(lambda: x * 2.0),
        "compile_s": compile_s,
        "value_rel_diff": float((value - reference).abs() / reference),
        "gradient_max_diff": float((gradient - eager()).abs().max()),
    }


def part_kernel():
    from skgsr.graphs import make_graph

    rows = []
    for n in (1024, 16384):
        side = int(round(n**0.5))
        A = make_graph("grid", (side, side))
        for name, fn in (
            ("laplacian", laplacian_value_gradient),
            ("rayleigh", rayleigh_value_gradient),
        ):
            rows.append(_kernel_row(A, n, name, fn))
            print(rows[-1])
    return rows


def _compile_quadratic_parts():
    """Replace ``GraphPenalty._quadratic_parts`` by its compiled self."""
    import torch

    from skgsr import penalty as penalty_module

    compiled = torch.compile(
        penalty_module.GraphPenalty._quadratic_parts, dynamic=False
    )

    def quadratic_parts(self, x, weight):
        return compiled(self, x, weight)

    penalty_module.GraphPenalty._quadratic_parts = quadratic_parts


def part_fit(width, filter):
    from sklearn.datasets import load_digits

    from skgsr import GSRClassifier

    X, y = load_digits(return_X_y=True)
    X = np.tile((X / 16).astype(np.float32), (10, 1))
    y = np.tile(y, 10)
    rows = []
    for mode in ("eager", "compiled"):
        if mode == "compiled":
            _compile_quadratic_parts()

        def fit(alpha):
            est = GSRClassifier(
                n_components=width,
                hidden_layer_sizes=(128,),
                alpha=alpha,
                filter=filter,
                max_iter=5,
                tol=0,
                early_stopping=False,
                batch_size=200,
                random_state=0,
                device="cpu",
            )
            start = time.process_time()
            est.fit(X, y)
            return time.process_time() - start

        fit(1e-3)  # warm-up (and compilation)
        times = {0.0: [], 1e-3: []}
        for _ in range(3):
            for alpha in times:
                times[alpha].append(fit(alpha))
        a0, grid = (float(np.median(times[a])) for a in (0.0, 1e-3))
        rows.append(
            {
                "mode": mode,
                "width": width,
                "filter": filter,
                "alpha0_s": a0,
                "grid_s": grid,
                "grid/alpha0": grid / a0,
            }
        )
        print(rows[-1])
    return rows


def part_floor(repeat=2000):
    """Width 64: the estimators' penalty step against the fewest eager calls.

    Microseconds of one forward and backward beyond the same step without a
    penalty: ``GraphPenalty._add_to`` (the estimators' path) against the
    minimal sequence for the Laplacian, one dense product, one dot product and
    a hook adding the gradient.
    """
    import torch

    from skgsr.graphs import make_graph
    from skgsr.penalty import GraphPenalty

    def per_call(fn):
        for _ in range(200):
            fn()
        start = time.thread_time()
        for _ in range(repeat):
            fn()
        return (time.thread_time() - start) / repeat * 1e6

    A = make_graph("grid", (8, 8))
    x = torch.randn(200, 64, requires_grad=True)
    rows = []
    for name in ("laplacian", "rayleigh"):
        penalty = GraphPenalty(A, filter=name, center=name == "rayleigh")
        dense = penalty._buffers["_dense"].float()

        def without():
            z = x * 1.0
            (z.sum() * 0.0).backward()

        def estimators(penalty=penalty):
            z = x * 1.0
            penalty._add_to(z.sum() * 0.0, z, 1e-3)[0].backward()

        def fewest(dense=dense):
            z = x * 1.0
            y = z.detach() @ dense
            value = torch.vdot(z.detach().reshape(-1), y.reshape(-1)) / 200
            z.register_hook(lambda g: torch.add(g, y, alpha=2e-3 / 200))
            (z.sum() * 0.0 + value * 1e-3).backward()

        base = per_call(without)
        rows.append(
            {
                "filter": name,
                "estimators_us": per_call(estimators) - base,
                "fewest_laplacian_us": per_call(fewest) - base,
            }
        )
        print(rows[-1])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["kernel", "fit", "floor"], default="kernel")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--filter", default="rayleigh")
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    warnings.simplefilter("ignore")
    if args.part == "kernel":
        part_kernel()
    elif args.part == "floor":
        part_floor()
    else:
        part_fit(args.width, args.filter)


if __name__ == "__main__":
    sys.exit(main())
