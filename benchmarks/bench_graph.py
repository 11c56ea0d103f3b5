"""Cost of the learned feature graph: its rebuilds as a share of training time.

A ``GSRAutoencoder(graph="learned")`` with the papers' objective on it
(``learned_objective="smooth"``, ``n_neighbors=5``: the filters are what is
timed), or with the default objective (``--filters modules``:
``learned_objective="modules"``, ``n_neighbors="auto"``; ``penalty_s`` then
includes finding the new graph's far pairs),
``graph_n_samples=1000``, ``graph_update_interval=5``, and a
wide structured layer (``--n-components``, 1024 by default) is trained on
synthetic data; ``history_`` records, per epoch, the training time and the time
spent rebuilding the graph before it. The table gives, per filter:

- ``epoch_s``: mean training time of an epoch with the penalty on;
- ``rebuild_s``: mean time of one rebuild (after the first, which also creates
  the penalty and pays one-time imports), and its parts measured apart on the
  fitted model: ``encode_s`` (encoding ``graph_n_samples`` rows), ``knn_s``
  (the rebuild's graph, ``LearnedGraph.build``: the estimators'
  :func:`skgsr.graphs.coactivation_graph` call, and with
  ``--graph-metric input_profile`` the units' input profiles before it) and
  ``penalty_s``
  (``GraphPenalty.set_graph``: Laplacian, and for ``heat``/``wavelet`` the
  largest eigenvalue and Chebyshev coefficients);
- ``share``: rebuild time over total time (rebuilds + training) once the graph
  is being learned, ``rebuild_s / (rebuild_s + graph_update_interval *
  epoch_s)``; the target is under 10%.

Usage::

    python benchmarks/bench_graph.py                 # 1024 neurons, 4 filters
    python benchmarks/bench_graph.py --quick         # seconds
    python benchmarks/bench_graph.py --threads 2 --out graph.json
"""

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np


def make_data(n_samples, n_features, random_state=0):
    """Features in 8 modules driven by sparse non-negative factors, plus noise."""
    rng = np.random.RandomState(random_state)
    n_modules = 8
    factors = rng.binomial(1, 0.3, (n_samples, n_modules)) * rng.uniform(
        0.5, 1.5, (n_samples, n_modules)
    )
    module_of_feature = np.arange(n_features) % n_modules
    X = factors[:, module_of_feature] * rng.uniform(0.5, 1.5, n_features)
    X += 0.2 * rng.normal(size=X.shape)
    return X.astype(np.float32)


def _best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(filter, X, args):
    import torch

    from skgsr import GSRAutoencoder
    from skgsr._training import LearnedGraph
    from skgsr.nn import GraphRegularizer, _resolved_construction

    n_rebuilds = args.rebuilds
    # "modules": the estimators' default objective (its filter is not used)
    modules = filter == "modules"
    objective = (
        {"learned_objective": "modules", "n_neighbors": "auto"}
        if modules
        else {"learned_objective": "smooth", "n_neighbors": 5, "filter": filter}
    )
    est = GSRAutoencoder(
        n_components=args.n_components,
        graph="learned",
        **objective,
        filter_method=args.method,
        graph_metric=args.graph_metric,
        graph_warmup=1,
        max_iter=1 + 5 * n_rebuilds,
        tol=0.0,
        random_state=0,
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    learned = [h for h in est.history_ if h["epoch"] > est.graph_warmup]
    rebuilds = [h["graph_duration"] for h in est.history_ if h["graph_updated"]]
    epoch_s = float(np.mean([h["duration"] for h in learned]))
    # the first rebuild also creates the penalty and pays one-time imports
    rebuild_s = float(np.mean(rebuilds[1:] if len(rebuilds) > 1 else rebuilds))
    interval = est.graph_update_interval
    # the parts of one rebuild, measured apart on the fitted model
    rows = X[: est.graph_n_samples]
    with torch.no_grad():
        encode_s = _best_of(lambda: est.transform(rows), 3)
    H = est.transform(rows)
    n_neighbors = GraphRegularizer(
        graph="learned", n_nodes=est.n_components, n_neighbors=est.n_neighbors
    ).n_neighbors_
    kernel, metric = _resolved_construction(est.graph_kernel, est.graph_metric)
    learned = LearnedGraph(n_neighbors, 1, 1, len(rows), kernel, metric)
    # the rebuild's kNN (for "input_profile", with the units' input profiles)
    knn_s = _best_of(lambda: learned.build(H, rows), 3)
    A = est.feature_graph_
    penalty_s = _best_of(lambda: est.penalty_.set_graph(A), 3)
    if modules:
        # the objective's far pairs of the new graph, found in the rebuild
        from skgsr.nn import _ModulesObjective

        penalty_s += _best_of(lambda: _ModulesObjective(A), 3)
    return {
        "filter": filter,
        "method": est.penalty_.method_,
        "n_components": args.n_components,
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "epoch_s": epoch_s,
        "rebuild_s": rebuild_s,
        "first_rebuild_s": rebuilds[0],
        "n_rebuilds": len(rebuilds),
        "encode_s": encode_s,
        "knn_s": knn_s,
        "penalty_s": penalty_s,
        "share": rebuild_s / (rebuild_s + interval * epoch_s),
        "fit_share": float(
            sum(rebuilds) / (sum(rebuilds) + sum(h["duration"] for h in est.history_))
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (seconds)")
    parser.add_argument("--n-components", type=int, default=None)
    parser.add_argument("--n-samples", type=int, nargs="+", default=None)
    parser.add_argument("--n-features", type=int, default=None)
    parser.add_argument("--rebuilds", type=int, default=None)
    parser.add_argument(
        "--filters",
        nargs="+",
        default=None,
        help="laplacian rayleigh heat wavelet, or modules (the default objective)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads")
    parser.add_argument(
        "--method",
        default="auto",
        choices=["auto", "exact", "chebyshev"],
        help="filter_method of the estimators",
    )
    parser.add_argument(
        "--graph-metric",
        default="correlation",
        help="graph_metric of the estimators (graph_kernel stays 'auto')",
    )
    parser.add_argument("--out", help="write the results as JSON")
    args = parser.parse_args(argv)
    # before torch starts its thread pool; numpy's and scipy's BLAS (the kNN's
    # Gram matrix) are limited below: numpy was imported before this line
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    defaults = (
        {"n_components": 256, "n_samples": [1000], "n_features": 50, "rebuilds": 2}
        if args.quick
        else {
            "n_components": 1024,
            "n_samples": [2000, 10000],
            "n_features": 500,
            "rebuilds": 3,
        }
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.filters is None:
        args.filters = (
            ["laplacian"]
            if args.quick
            else ["laplacian", "rayleigh", "heat", "wavelet"]
        )
    results = []
    with threadpool_limits(args.threads):
        for n_samples in args.n_samples:
            X = make_data(n_samples, args.n_features)
            results.extend(measure(f, X, args) for f in args.filters)
    print(
        f"learned graph, {args.n_components} neurons, {args.n_features} features, "
        f"{args.threads} thread(s)"
    )
    print(
        f"{'filter':>10} {'samples':>8} {'epoch_s':>8} {'rebuild_s':>9} "
        f"{'encode_s':>8} {'knn_s':>7} {'penalty_s':>9} {'share':>6}"
    )
    for r in results:
        print(
            f"{r['filter']:>10} {r['n_samples']:>8} {r['epoch_s']:>8.3f} "
            f"{r['rebuild_s']:>9.3f} "
            f"{r['encode_s']:>8.3f} {r['knn_s']:>7.3f} {r['penalty_s']:>9.3f} "
            f"{r['share']:>6.1%}"
        )
    if args.out:
        meta = {
            "threads": args.threads,
            "machine": platform.processor() or platform.machine(),
            "torch": torch.__version__,
        }
        with open(args.out, "w") as f:
            json.dump(
                {"meta": meta, "args": vars(args), "results": results}, f, indent=1
            )
    return results


if __name__ == "__main__":
    main()
