"""Cost of the GSR penalty (forward + backward) on grid graphs.

Three measurements, each the median of repeated timings after a warm-up:

1. ``quadratic``: the ``"laplacian"`` penalty ``mean_b x_b^T L x_b`` by
   :class:`skgsr.penalty.GraphPenalty` (sparse CSR product, O(B |E|)) against the
   dense ``einsum('bj,jk,bk->b', x, L, x)`` (O(B n^2)), side by side in one run.
2. ``filters``: ``"heat"`` and ``"wavelet"`` (4 default scales) applied exactly
   (eigenbasis, O(B n^2) per step plus an O(n^3) set-up) and by a Chebyshev
   polynomial of order 30 (O(order B |E|)); exact is skipped above 4096 nodes.
3. ``order_sweep``: the Chebyshev heat penalty at one size for several orders.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_penalty.py --out bench_penalty.json
    PYTHONPATH=. python benchmarks/bench_penalty.py --quick   # a few seconds

Ratios are the claim; absolute times depend on the machine.
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
import torch

from skgsr.graphs import infer_grid_shape, laplacian, make_graph
from skgsr.penalty import GraphPenalty

FULL = {
    "sizes": [64, 256, 1024, 4096, 16384],
    "batch": 256,
    # n -> batch where the dense n x n product at batch 256 would take minutes
    "batch_override": {16384: 64},
    "exact_max_nodes": 4096,
    "order": 30,
    "sweep_n": 4096,
    "sweep_orders": [10, 20, 30, 40, 60],
    "warmup": 1,
    "repeats": 9,
}
QUICK = {
    "sizes": [64, 256],
    "batch": 32,
    "batch_override": {},
    "exact_max_nodes": 256,
    "order": 10,
    "sweep_n": 256,
    "sweep_orders": [5, 10],
    "warmup": 1,
    "repeats": 3,
}


def timings_ms(steps, warmup, repeats, rounds=3):
    """Median and minimum wall time of each ``steps[name]()``, in milliseconds.

    The steps take turns in ``rounds`` blocks of consecutive repetitions (each
    block after its own warm-up), so that a change of load on the shared machine
    affects all of them alike, while one step's large temporaries (a dense n x n
    product, say) are not freed and re-faulted in between two timings of another.
    """
    times = {name: [] for name in steps}
    per_round = max(1, -(-repeats // rounds))
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(warmup):
                step()
            for _ in range(per_round):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {
        name: (1e3 * statistics.median(values), 1e3 * min(values))
        for name, values in times.items()
    }


def forward_backward(penalty, x):
    def step():
        x.grad = None
        penalty(x).backward()

    return step


def signals(batch, n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n, generator=generator).requires_grad_()


def bench_quadratic(config):
    rows = []
    for n in config["sizes"]:
        batch = config["batch_override"].get(n, config["batch"])
        adjacency = make_graph("grid", n)
        x = signals(batch, n)
        sparse = GraphPenalty(adjacency)
        L = torch.as_tensor(laplacian(adjacency).astype(np.float32).toarray())

        def dense_step(x=x, L=L):
            x.grad = None
            torch.einsum("bj,jk,bk->b", x, L, x).mean().backward()

        with torch.no_grad():
            reference = float(torch.einsum("bj,jk,bk->b", x, L, x).mean())
            agreement = abs(float(sparse(x)) - reference) / reference
        t = timings_ms(
            {"sparse": forward_backward(sparse, x), "dense": dense_step},
            config["warmup"],
            config["repeats"],
        )
        rows.append(
            {
                "n": n,
                "graph_shape": list(infer_grid_shape(n)),
                "edges": int(adjacency.nnz // 2),
                "batch": batch,
                "sparse_ms": t["sparse"][0],
                "dense_ms": t["dense"][0],
                "dense_over_sparse": t["dense"][0] / t["sparse"][0],
                "sparse_min_ms": t["sparse"][1],
                "dense_min_ms": t["dense"][1],
                "relative_difference": agreement,
            }
        )
        del L, dense_step
    return rows


def bench_filters(config):
    rows = []
    for name in ("heat", "wavelet"):
        for n in config["sizes"]:
            batch = config["batch_override"].get(n, config["batch"])
            adjacency = make_graph("grid", n)
            x = signals(batch, n)
            row = {"filter": name, "n": n, "batch": batch, "order": config["order"]}
            start = time.perf_counter()
            chebyshev = GraphPenalty(
                adjacency, filter=name, method="chebyshev", order=config["order"]
            )
            row["chebyshev_setup_s"] = time.perf_counter() - start
            steps = {"chebyshev": forward_backward(chebyshev, x)}
            exact = None
            if n <= config["exact_max_nodes"]:
                start = time.perf_counter()
                # same lmax, hence the same default scales, as the Chebyshev one
                exact = GraphPenalty(
                    adjacency, filter=name, method="exact", lmax=chebyshev.lmax
                )
                row["exact_setup_s"] = time.perf_counter() - start
                steps["exact"] = forward_backward(exact, x)
            t = timings_ms(steps, config["warmup"], config["repeats"])
            row["chebyshev_ms"], row["chebyshev_min_ms"] = t["chebyshev"]
            if exact is not None:
                row["exact_ms"], row["exact_min_ms"] = t["exact"]
                with torch.no_grad():
                    # float64: the Chebyshev error, not float32 round-off
                    e, c = float(exact(x.double())), float(chebyshev(x.double()))
                row["relative_difference"] = abs(e - c) / abs(e)
                row["exact_over_chebyshev"] = row["exact_ms"] / row["chebyshev_ms"]
            else:
                row["exact_setup_s"] = row["exact_ms"] = row["exact_min_ms"] = None
                row["relative_difference"] = row["exact_over_chebyshev"] = None
                row["exact_skipped"] = (
                    f"n > {config['exact_max_nodes']}: the dense eigenbasis is "
                    f"{n}x{n} (O(n^3) set-up, O(B n^2) per step)"
                )
            rows.append(row)
            del exact, steps
    return rows


def bench_order_sweep(config):
    n = config["sweep_n"]
    batch = config["batch_override"].get(n, config["batch"])
    adjacency = make_graph("grid", n)
    x = signals(batch, n)
    steps = {}
    for order in config["sweep_orders"]:
        penalty = GraphPenalty(
            adjacency, filter="heat", method="chebyshev", order=order
        )
        steps[order] = forward_backward(penalty, x)
    t = timings_ms(steps, config["warmup"], config["repeats"])
    return [
        {
            "filter": "heat",
            "n": n,
            "batch": batch,
            "order": order,
            "chebyshev_ms": t[order][0],
            "chebyshev_min_ms": t[order][1],
        }
        for order in config["sweep_orders"]
    ]


def format_tables(results):
    """The results as plain-text tables."""

    def fmt(value, spec):
        return "skipped" if value is None else format(value, spec)

    lines = ["Laplacian penalty x^T L x, forward + backward (ms, median)", ""]
    header = ("n", "grid", "batch", "sparse", "dense", "dense/sparse")
    lines.append("{:>6} {:>9} {:>5} {:>9} {:>10} {:>12}".format(*header))
    for r in results["quadratic"]:
        grid = "x".join(map(str, r["graph_shape"]))
        lines.append(
            f"{r['n']:>6} {grid:>9} {r['batch']:>5} {r['sparse_ms']:>9.2f} "
            f"{r['dense_ms']:>10.2f} {r['dense_over_sparse']:>12.1f}"
        )
    lines += ["", "Spectral filters, forward + backward (ms, median)", ""]
    lines.append(
        f"{'filter':>7} {'n':>6} {'batch':>5} {'exact':>9} {'chebyshev':>9} "
        f"{'exact/cheb':>10} {'rel.diff':>8} {'eigh (s)':>8}"
    )
    for r in results["filters"]:
        exact = fmt(r["exact_ms"], "9.2f")
        speedup = fmt(r["exact_over_chebyshev"], "10.2f")
        difference = fmt(r["relative_difference"], "8.0e")
        setup = fmt(r["exact_setup_s"], "8.2f")
        lines.append(
            f"{r['filter']:>7} {r['n']:>6} {r['batch']:>5} {exact:>9} "
            f"{r['chebyshev_ms']:>9.2f} {speedup:>10} {difference:>8} {setup:>8}"
        )
    skipped = [r for r in results["filters"] if r.get("exact_skipped")]
    if skipped:
        lines.append(f"(exact skipped: {skipped[0]['exact_skipped']})")
    lines += ["", "Chebyshev heat penalty against the order (ms, median)", ""]
    lines.append(f"{'n':>6} {'batch':>5} {'order':>5} {'ms':>9} {'ms/order':>8}")
    for r in results["order_sweep"]:
        lines.append(
            f"{r['n']:>6} {r['batch']:>5} {r['order']:>5} {r['chebyshev_ms']:>9.2f} "
            f"{r['chebyshev_ms'] / r['order']:>8.3f}"
        )
    return "\n".join(lines)


def _load():
    """The 1-minute load average, or None where the OS has none (Windows)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, a few seconds (used by the tests)",
    )
    parser.add_argument("--out", help="write the results to this JSON file")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="torch threads (default: all cores)",
    )
    parser.add_argument("--repeats", type=int, help="timed repetitions per measurement")
    args = parser.parse_args(argv)

    config = dict(QUICK if args.quick else FULL)
    if args.repeats:
        config["repeats"] = args.repeats
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

    load_before = _load()
    start = time.perf_counter()
    results = {
        "meta": {
            "quick": args.quick,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "config": {k: v for k, v in config.items() if k != "batch_override"},
            "batch_override": {str(k): v for k, v in config["batch_override"].items()},
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        },
        "quadratic": bench_quadratic(config),
        "filters": bench_filters(config),
        "order_sweep": bench_order_sweep(config),
    }
    results["meta"]["total_s"] = time.perf_counter() - start
    results["meta"]["loadavg_before_after"] = [load_before, _load()]

    print(format_tables(results))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
