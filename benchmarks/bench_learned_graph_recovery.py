"""Which learned-graph settings recover known feature modules? (the defaults study)

Data: ``n_samples`` samples whose ``n_modules * features_per_module`` features come
in modules; module ``k`` is switched on in a sample with probability ``p_on``,
with a random amplitude, and drives its features (random positive loadings) plus
Gaussian noise. A ``GSRAutoencoder`` with ``graph="learned"`` is fitted for each
setting (distance, kernel, filter, centring, alpha) and seed. Each structured
neuron's *preferred module* is the module factor it correlates with most
(|Pearson r|). Measured on the final learned graph:

- ``ari``: adjusted Rand index between spectral clustering of the learned graph
  into ``n_modules`` clusters and the neurons' preferred modules (module
  recovery, what SPEC.md says to choose defaults by);
- ``coverage``: how many modules are preferred by at least one neuron (a graph
  that collapsed onto one or two modules has a low coverage, whatever its purity);
- ``share``: share of edge weight between neurons of the same preferred module,
  and ``chance``: the same for a random graph (sum of squared module shares);
- ``mse_ratio``: reconstruction MSE over that of ``alpha=0`` with the same seed.

Usage::

    python benchmarks/bench_learned_graph_recovery.py --out recovery.json
    python benchmarks/bench_learned_graph_recovery.py --stage final --seeds 5 \
        --max-iter 80
    python benchmarks/bench_learned_graph_recovery.py --stage neighbors --seeds 5
    python benchmarks/bench_learned_graph_recovery.py --quick

Measured (2-core CPU, one thread per job; 1000 samples, 5 modules of 10
features, 32 neurons; mean ARI over seeds, alpha=0 gives 0.08-0.12):

- ``--stage grid`` (3 seeds, 40 epochs): ``filter="laplacian"`` at alpha=0.1
  reached ARI 0.65-0.83 whatever the metric, kernel and centring;
  ``"rayleigh"`` at most 0.46, the centred Rayleigh quotient at most 0.32.
  Correlation kNN kept more modules apart (4.7 of 5 preferred vs 4.0-4.3 for
  Euclidean) at equal or slightly lower ARI.
- ``--stage final`` (5 seeds, 80 epochs, alpha 0.1 / 0.3): correlation +
  Gaussian kernel 0.76 / 0.70 (worst seed at 0.1: 0.61), correlation + binary
  0.65 / 0.71, Euclidean 0.63-0.67; centred Rayleigh (alpha=1) 0.39-0.42.
  Reconstruction MSE 1.2-1.3x that of alpha=0.
- ``--stage neighbors`` (5 seeds, 40 epochs): ``n_neighbors`` 3 / 5 / 8 gave
  0.47 / 0.63 / 0.42 (laplacian) and 0.37 / 0.40 / 0.28 (centred Rayleigh).

Hence the defaults ``graph_metric="correlation"``, ``graph_kernel="gaussian"``,
``n_neighbors=5``, ``filter_center=False``.
"""

import argparse
import itertools
import json
import os
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score

#: The hyperparameters compared (all other parameters at their defaults).
SETTING_KEYS = (
    "filter",
    "filter_center",
    "graph_metric",
    "graph_kernel",
    "n_neighbors",
    "alpha",
)


def make_module_data(
    n_samples=1000,
    n_modules=5,
    features_per_module=10,
    noise=0.2,
    p_on=0.3,
    random_state=0,
):
    """Samples whose features come in modules driven by sparse latent factors."""
    rng = np.random.RandomState(random_state)
    factors = rng.binomial(1, p_on, (n_samples, n_modules)) * rng.uniform(
        0.5, 1.5, (n_samples, n_modules)
    )
    module_of_feature = np.repeat(np.arange(n_modules), features_per_module)
    loadings = rng.uniform(0.5, 1.5, module_of_feature.size)
    X = factors[:, module_of_feature] * loadings
    X += noise * rng.normal(size=X.shape)
    return X.astype(np.float32), factors


def preferred_modules(Z, factors):
    """Index of the factor each neuron (column of Z) correlates with most."""
    Zc = Z - Z.mean(axis=0)
    Fc = factors - factors.mean(axis=0)
    norms = np.linalg.norm(Zc, axis=0)
    norms[norms == 0] = np.inf  # an inactive neuron correlates with nothing
    r = (Zc / norms).T @ (Fc / np.linalg.norm(Fc, axis=0))
    return np.abs(r).argmax(axis=1)


def module_scores(adjacency, modules, n_modules):
    """ARI of spectral clustering, coverage, same-module weight share, chance."""
    A = adjacency.toarray()
    same = modules[:, None] == modules[None, :]
    p = np.bincount(modules, minlength=n_modules) / modules.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "graph is not fully connected"
        labels = SpectralClustering(
            n_modules, affinity="precomputed", random_state=0
        ).fit_predict(A)
    return {
        "ari": float(adjusted_rand_score(modules, labels)),
        "coverage": int(np.unique(modules).size),
        "share": float((A * same).sum() / A.sum()) if A.sum() else float("nan"),
        "chance": float((p**2).sum()),
    }


def run_one(setting, seed, data_args, fit_args):
    from skgsr import GSRAutoencoder

    X, factors = make_module_data(random_state=seed, **data_args)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = GSRAutoencoder(graph="learned", random_state=seed, **fit_args, **setting)
        ae.fit(X)
    Z = ae.transform(X)
    modules = preferred_modules(Z, factors)
    scores = module_scores(ae.feature_graph_, modules, factors.shape[1])
    params = ae.get_params()
    return {
        **{key: params[key] for key in SETTING_KEYS},
        "seed": seed,
        "mse": float(-ae.score(X)),
        "seconds": time.perf_counter() - start,
        **scores,
    }


def settings(stage):
    """The settings compared at each stage of the study."""
    yield {"alpha": 0.0}
    if stage == "quick":
        yield {"alpha": 0.1}
        return
    if stage == "grid":
        alphas = {"laplacian": (0.03, 0.1, 0.3), "rayleigh": (0.3, 1.0, 3.0)}
        for filt, center, metric, kernel in itertools.product(
            ("laplacian", "rayleigh"),
            (False, True),
            ("correlation", "euclidean"),
            ("binary", "gaussian"),
        ):
            for alpha in alphas[filt]:
                yield {
                    "alpha": alpha,
                    "filter": filt,
                    "filter_center": center,
                    "graph_metric": metric,
                    "graph_kernel": kernel,
                }
        return
    if stage == "neighbors":
        # neighbourhoods larger than a module join modules: vary n_neighbors
        for k in (3, 5, 8):
            yield {"alpha": 0.1, "n_neighbors": k}
            yield {
                "alpha": 1.0,
                "filter": "rayleigh",
                "filter_center": True,
                "n_neighbors": k,
            }
        return
    # "final": the leading settings of the grid, longer and over more seeds
    for metric, kernel in itertools.product(
        ("correlation", "euclidean"), ("binary", "gaussian")
    ):
        for alpha in (0.1, 0.3):
            yield {
                "alpha": alpha,
                "filter": "laplacian",
                "filter_center": False,
                "graph_metric": metric,
                "graph_kernel": kernel,
            }
    for center, kernel in itertools.product((False, True), ("binary", "gaussian")):
        yield {
            "alpha": 1.0,
            "filter": "rayleigh",
            "filter_center": center,
            "graph_metric": "correlation",
            "graph_kernel": kernel,
        }


def summarize(rows):
    baseline = {r["seed"]: r["mse"] for r in rows if r["alpha"] == 0.0}
    groups = {}
    for r in rows:
        r["mse_ratio"] = r["mse"] / baseline[r["seed"]]
        key = tuple((k, r[k]) for k in SETTING_KEYS)
        groups.setdefault(key, []).append(r)
    table = []
    for key, rs in groups.items():
        entry = {k: v for k, v in key}
        for m in ("ari", "coverage", "share", "chance", "mse_ratio"):
            entry[m] = float(np.mean([r[m] for r in rs]))
        entry["ari_min"] = float(np.min([r["ari"] for r in rs]))
        table.append(entry)
    return sorted(table, key=lambda e: -e["ari"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two settings, 1 seed")
    parser.add_argument(
        "--stage", choices=("grid", "final", "neighbors"), default="grid"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=40)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--out", help="write the rows and the summary as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data_args = {"n_samples": 600 if args.quick else 1000}
    fit_args = {
        "n_components": 32,
        "hidden_layer_sizes": (64,),
        "max_iter": 15 if args.quick else args.max_iter,
        "graph_warmup": 5 if args.quick else 10,
        "graph_update_interval": 5,
        "tol": 0.0,
        "device": "cpu",
    }
    seeds = range(1 if args.quick else args.seeds)
    stage = "quick" if args.quick else args.stage
    jobs = [(s, seed) for s in settings(stage) for seed in seeds]
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(run_one)(s, seed, data_args, fit_args) for s, seed in jobs
    )
    table = summarize(rows)
    print(
        f"{'filter':>9} {'center':>6} {'metric':>11} {'kernel':>8} {'k':>2} "
        f"{'alpha':>6} {'ARI':>6} {'minARI':>6} {'cover':>5} {'share':>6} "
        f"{'chance':>6} {'mse/0':>6}"
    )
    for e in table:
        f, c, m, kern, k, a = (e[key] for key in SETTING_KEYS)
        print(
            f"{f:>9} {c!s:>6} {m:>11} {kern:>8} {k:>2} {a:>6g} "
            f"{e['ari']:>6.3f} {e['ari_min']:>6.3f} {e['coverage']:>5.1f} "
            f"{e['share']:>6.3f} {e['chance']:>6.3f} {e['mse_ratio']:>6.3f}"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {"fit": fit_args, "data": data_args, "rows": rows, "summary": table},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
