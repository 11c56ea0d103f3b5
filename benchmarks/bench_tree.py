"""A tree over hierarchical clusters: does the activation mass on the tree tell them?

The first paper's claim: "on a cluster-structured topology where features
correspond to hierarchical cluster structure in the data [the graph-structured
layer] reflects the abstract grouping of features". Measured here with
``GSRAutoencoder(graph="tree")`` on data with 2 clusters of 2 sub-clusters each:

- ``hierarchical``: :func:`skgsr.datasets.make_hierarchical_clusters` (a block of
  features per cluster and per sub-cluster; the papers' kind of data);
- ``modules``: :func:`skgsr.datasets.make_feature_modules` with 2 clusters of 2
  sub-clusters (clusters as random directions over 4 feature modules),
  standardized.

The tree has 15 nodes in heap order: the root, two depth-1 nodes whose subtrees
(7 nodes each) should hold the two clusters, and four depth-2 nodes whose
subtrees (3 nodes each) should hold the four sub-clusters. A sample's
*activation mass* on a subtree is the sum of its (ReLU, so non-negative)
activations there; the sample is assigned to the depth-1 subtree, and to the
depth-2 subtree, of largest mass. Reported: the adjusted Rand index of these
assignments against the clusters and the sub-clusters, and the reconstruction
MSE over that of ``alpha=0`` with the same architecture and seed.

The models: no penalty, the normalized Laplacian (the papers' smoothing, per
sample) and the topographic penalty (``filter="topographic"``: correlated
neurons close on the tree, anti-correlated ones far apart) at two strengths,
and at alpha=3 the best of three fits by their own penalty (the fit whose last
epoch's topographic penalty is lowest: a pick that uses no labels).

Commands (from the repository root, one thread)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tree.py --seeds 0-29 \\
        --out benchmarks/results/bench_tree_topographic.json
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tree.py --variants
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tree.py --quick
"""

import argparse
import json
import os
import platform
import sys
import warnings

import numpy as np
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skgsr import GSRAutoencoder  # noqa: E402
from skgsr.datasets import (  # noqa: E402
    make_feature_modules,
    make_hierarchical_clusters,
)

# the architecture of every model: input -> 15 ReLU neurons on the tree -> input
BASE = {
    "n_components": 15,
    "graph": "tree",
    "hidden_layer_sizes": (),
    "embedding_activation": "relu",
    "max_iter": 200,
    # the raw Laplacian penalty, the default when this study was run
    "filter": "laplacian",
    "filter_center": False,
    "laplacian": "combinatorial",
    "scale_alpha": False,
}
CONFIGS = {
    "alpha=0": {"alpha": 0.0},
    "gsr (normalized, 0.1)": {"alpha": 0.1, "laplacian": "normalized"},
    "gsr (topographic, 1)": {"alpha": 1.0, "filter": "topographic"},
    "gsr (topographic, 3)": {"alpha": 3.0, "filter": "topographic"},
    # three fits, the one of lowest topographic penalty kept (no labels used)
    "gsr (topographic, 3), best of 3": {
        "alpha": 3.0,
        "filter": "topographic",
        "n_init": 3,
    },
}
# tried on the hierarchical family, seeds 0-4 (see benchmarks/README.rst)
VARIANTS = {
    "normalized, 0.03": {"alpha": 0.03, "laplacian": "normalized"},
    "normalized, 0.3": {"alpha": 0.3, "laplacian": "normalized"},
    "combinatorial, 0.1": {"alpha": 0.1},
    "combinatorial, 0.03": {"alpha": 0.03},
    "combinatorial, 0.3": {"alpha": 0.3},
    "heat, 0.1": {"alpha": 0.1, "filter": "heat"},
    "hidden 128, alpha=0": {"alpha": 0.0, "hidden_layer_sizes": (128,)},
    "hidden 128, 0.01": {"alpha": 0.01, "hidden_layer_sizes": (128,)},
    "hidden 128, 0.1": {"alpha": 0.1, "hidden_layer_sizes": (128,)},
    "hidden 128, identity, 0.01": {
        "alpha": 0.01,
        "hidden_layer_sizes": (128,),
        "embedding_activation": "identity",
    },
    "hidden 128, centred rayleigh, 0.1": {
        "alpha": 0.1,
        "hidden_layer_sizes": (128,),
        "filter": "rayleigh",
        "filter_center": True,
    },
    "hidden 128, wavelet, 0.03": {
        "alpha": 0.03,
        "hidden_layer_sizes": (128,),
        "filter": "wavelet",
    },
    "hidden 128, 0.01, weight decay 1e-3": {
        "alpha": 0.01,
        "hidden_layer_sizes": (128,),
        "weight_decay": 1e-3,
    },
}


def family(name, seed):
    """``(X, clusters, subclusters)`` of a data family."""
    if name == "hierarchical":
        X, y, info = make_hierarchical_clusters(random_state=seed)
        return X, y, info.subclusters
    X, y, info = make_feature_modules(
        600, 40, n_modules=4, n_clusters=2, n_subclusters=2, random_state=seed
    )
    return StandardScaler().fit_transform(X).astype(np.float32), y, info.subclusters


def subtree_nodes(n_nodes, depth):
    """The nodes of each subtree rooted at the given depth of a heap-ordered tree."""
    subtrees = []
    for root in range(2**depth - 1, 2 ** (depth + 1) - 1):
        nodes, level = [], [root]
        while level:
            nodes += level
            level = [c for i in level for c in (2 * i + 1, 2 * i + 2) if c < n_nodes]
        subtrees.append(nodes)
    return subtrees


def subtree_mass(Z, depth):
    """Activation mass of each sample on each subtree of the depth, (m, 2**depth)."""
    mass = np.abs(Z)
    return np.stack(
        [mass[:, s].sum(axis=1) for s in subtree_nodes(Z.shape[1], depth)], 1
    )


def tree_ari(Z, clusters, subclusters):
    """ARI of the largest-mass subtree at depth 1 (clusters) and 2 (sub-clusters)."""
    return (
        adjusted_rand_score(clusters, subtree_mass(Z, 1).argmax(axis=1)),
        adjusted_rand_score(subclusters, subtree_mass(Z, 2).argmax(axis=1)),
    )


def fit_config(X, seed, params):
    """The fit of a configuration; with ``n_init`` in ``params``, that many fits
    (``random_state = seed + 1000 * i``) and the one whose last epoch's penalty
    (``penalty_curve_[-1]``) is lowest, as KMeans keeps its lowest inertia."""
    params = dict(params)
    n_init = params.pop("n_init", 1)
    fits = [
        GSRAutoencoder(random_state=seed + 1000 * i, **{**BASE, **params}).fit(X)
        for i in range(n_init)
    ]
    return min(fits, key=lambda est: est.penalty_curve_[-1])


def run(configs, families, seeds):
    rows = []
    header = f"{'family':<13} {'config':<36} {'seed':>4} {'cluster':>8} {'sub':>6}"
    print(f"{header} {'MSE x':>6}")
    for fam in families:
        for seed in seeds:
            X, y, sub = family(fam, seed)
            baseline = None
            for name, params in configs.items():
                est = fit_config(X, seed, params)
                cluster, subcluster = tree_ari(est.transform(X), y, sub)
                mse = -est.score(X)
                if baseline is None:
                    baseline = mse  # the first configuration is alpha=0
                row = {
                    "family": fam,
                    "config": name,
                    "seed": seed,
                    "cluster_ari": cluster,
                    "subcluster_ari": subcluster,
                    "mse": mse,
                    "mse_ratio": mse / baseline,
                }
                rows.append(row)
                print(
                    f"{fam:<13} {name:<36} {seed:>4} {cluster:8.2f} {subcluster:6.2f} "
                    f"{row['mse_ratio']:6.2f}",
                    flush=True,
                )
    return rows


def summarize(rows):
    print(
        f"\n{'family':<13} {'config':<36} {'cluster mean/min':>17} "
        f"{'sub mean/min':>13} {'MSE x':>6}"
    )
    keys = dict.fromkeys((r["family"], r["config"]) for r in rows)
    for fam, name in keys:
        sub = [r for r in rows if r["family"] == fam and r["config"] == name]
        c = [r["cluster_ari"] for r in sub]
        s = [r["subcluster_ari"] for r in sub]
        m = [r["mse_ratio"] for r in sub]
        print(
            f"{fam:<13} {name:<36} {np.mean(c):8.2f} / {min(c):5.2f} "
            f"{np.mean(s):6.2f} / {min(s):4.2f} {np.mean(m):6.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--families", default="hierarchical,modules")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    first, _, last = args.seeds.partition("-")
    seeds = list(range(int(first), int(last or first) + 1))
    families = args.families.split(",")
    configs = dict(CONFIGS)
    if args.variants:
        configs.update(VARIANTS)
        families, seeds = ["hierarchical"], seeds[:5]
    if args.quick:
        BASE["max_iter"] = 2
        seeds = [0]
    rows = run(configs, families, seeds)
    summarize(rows)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {
                    "machine": platform.platform(),
                    "threads": os.environ.get("OMP_NUM_THREADS"),
                    "load_average": os.getloadavg()
                    if hasattr(os, "getloadavg")
                    else None,
                    "rows": rows,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
