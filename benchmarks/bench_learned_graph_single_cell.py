"""The learned graph on the single-cell data of the gallery: is it modular?

The setting of ``doc/examples/plot_single_cell_learned_graph.py`` (700 cells x
765 genes of ``pbmc68k_reduced``, 32 latent neurons, 60 epochs), for several
objectives and ``random_state``: the modularity of each learned graph
(``graph_modularity_``) beside that of the same fit on the genes shuffled
independently across cells (same values, no programs), and the reconstruction
MSE over that of the same network at ``alpha=0`` (whose 5-NN co-activation
graph's modularity is reported too). No truth is known here: modularity
above the shuffled reference is what says that a graph found modules.

Usage::

    python benchmarks/bench_learned_graph_single_cell.py --seeds 0,1 --out sc.json
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import skgsr.nn
from skgsr import GSRAutoencoder
from skgsr.graphs import coactivation_graph
from skgsr.metrics import graph_modularity

DATA = (
    Path(__file__).resolve().parent.parent
    / "doc"
    / "examples"
    / "data"
    / "pbmc68k_reduced.npz"
)

#: The gallery example's network.
FIT = {
    "n_components": 32,
    "hidden_layer_sizes": (128,),
    "graph": "learned",
    "max_iter": 60,
    "batch_size": 64,
    "tol": 0.0,
}

#: name: (estimator parameters, weights of the "modules" objective's terms)
RECIPES = {
    # the estimators' defaults (graph_metric="input_profile" since 2026-12-03;
    # the runs recorded before under "modules" had "correlation")
    "modules": ({"alpha": 1.0}, {}),
    "modules_correlation": ({"alpha": 1.0, "graph_metric": "correlation"}, {}),
    "modules_no_coverage": ({"alpha": 1.0}, {"coverage": 0.0}),
    "smooth_0.01": ({"alpha": 0.01, "learned_objective": "smooth"}, {}),
    "smooth_0.1": ({"alpha": 0.1, "learned_objective": "smooth"}, {}),
    # neighbours by the genes each neuron reads (graph_metric="input_profile")
    "modules_input_profile": ({"alpha": 1.0, "graph_metric": "input_profile"}, {}),
    "modules_input_profile_0.1": (
        {"alpha": 0.1, "graph_metric": "input_profile"},
        {},
    ),
}


def load():
    data = np.load(DATA)
    shape = tuple(data["shape"])
    matrix = sp.csr_array((data["data"], data["indices"], data["indptr"]), shape)
    return matrix.toarray()


def fit(X, params, weights, seed):
    saved = dict(skgsr.nn._MODULES_WEIGHTS)
    skgsr.nn._MODULES_WEIGHTS.update(weights)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tol=0 and dead units, on purpose
            return GSRAutoencoder(**FIT, **params, random_state=seed).fit(X)
    finally:
        skgsr.nn._MODULES_WEIGHTS.clear()
        skgsr.nn._MODULES_WEIGHTS.update(saved)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="of RECIPES")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    X = load()
    shuffled = np.random.default_rng(0).permuted(X, axis=0)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        plain = fit(X, {"alpha": 0.0}, {}, seed)
        plain_mse = -plain.score(X)
        plain_graph = coactivation_graph(plain.transform(X), 5)
        base = graph_modularity(plain_graph, random_state=0)
        for name in args.recipes.split(","):
            params, weights = RECIPES[name]
            model = fit(X, params, weights, seed)
            reference = fit(shuffled, params, weights, seed)
            row = {
                "recipe": name,
                "seed": seed,
                "modularity": float(model.graph_modularity_),
                "shuffled_modularity": float(reference.graph_modularity_),
                "base_modularity": float(base),
                "mse_ratio": float(-model.score(X) / plain_mse),
            }
            rows.append(row)
            print(
                f"{name:<20} seed {seed}: modularity {row['modularity']:.2f}, "
                f"on shuffled genes {row['shuffled_modularity']:.2f}, alpha=0 "
                f"{base:.2f}; MSE x{row['mse_ratio']:.2f}"
            )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"command": vars(args), "fit": FIT, "rows": rows}, f)


if __name__ == "__main__":
    main()
