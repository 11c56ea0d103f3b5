"""Penalties beyond the per-sample smoothness, for the tree's cluster read-out.

``bench_tree.py`` finds the tree's cluster read-out bimodal across seeds. The
diagnosis (benchmarks/README.rst, section on bench_tree.py): the per-sample
penalty sums squared differences across edges, so it only asks neurons that
are *active together* to be neighbours; the two clusters' neurons are never
active together, and nothing places them under different children of the
root. This study tries terms that couple what the per-sample penalty does not:

- ``cov``: the covariance's Rayleigh quotient over the batch,
  :math:`\\mathrm{tr}(L \\Sigma) / \\mathrm{tr}(\\Sigma)` with :math:`\\Sigma`
  the activations' covariance (centred over the samples): the variance of
  the layer along smooth directions of the tree, scale-free;
  ``cov2``: the same with each sample also centred over the neurons (the
  constant direction left out);
- ``dist``: :math:`\\mathrm{mean}_{ij}\\, r_{ij} D_{ij}` with :math:`r` the
  neurons' Pearson correlations over the batch and :math:`D` their distances
  on the tree (over the largest): correlated neurons near each other,
  anti-correlated ones far apart; ``distp``: with :math:`r - \\bar r`;
- ``tgl``: the tree-structured group lasso (Jenatton et al., 2011),
  :math:`\\sum_v \\|z_{\\mathrm{subtree}(v)}\\|_2`, which puts features that
  are often active near the root; ``dr``: the share of a sample's activation
  mass weighted by its depth, scale-free;
- ``lap``: the normalized Laplacian per sample (bench_tree's GSR) and ``ray``
  the combinatorial Rayleigh quotient per sample, alone or summed with the
  above (``lap+distp``; a number after a name weighs that term, as in
  ``lap+distp10``).

The network is bench_tree's (input -> 15 ReLU neurons on the heap-ordered
tree -> input, Glorot initialization, Adam 1e-3, batch 200, 200 epochs),
written as a plain PyTorch loop so that any term can be tried; ``alpha``
multiplies the sum of the terms. Reported per configuration: the cluster and
sub-cluster ARI of the largest-mass subtrees (bench_tree's measure) and the
reconstruction MSE over that of the first configuration (``none:0``).

Run from the repository root (one thread, about 2 s per fit)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/study_tree_coupling.py \\
        --seeds 0-4 none:0 lap:0.1 cov:0.1 cov2:0.1 distp:1 distp:3 tgl:0.03 \\
        --out benchmarks/results/study_tree_coupling.json
"""

import argparse
import json
import os
import platform
import sys

import numpy as np
import scipy.sparse.csgraph as csgraph
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_tree import family, subtree_nodes, tree_ari  # noqa: E402

from skgsr.graphs import make_graph  # noqa: E402

N_NODES = 15


def tree_operators():
    """The tree's Laplacians, distances, subtrees and depths as tensors."""
    A = make_graph("tree", N_NODES).toarray()
    degree = A.sum(axis=1)
    L = np.diag(degree) - A
    normalized = np.eye(N_NODES) - A / np.sqrt(np.outer(degree, degree))
    D = csgraph.shortest_path(A)
    depth = np.floor(np.log2(np.arange(N_NODES) + 1))
    as_tensor = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return {
        "L": as_tensor(L),
        "normalized": as_tensor(normalized),
        "distance": as_tensor(D / D.max()),
        "depth": as_tensor(depth),
        "subtrees": [
            torch.tensor(s) for d in range(4) for s in subtree_nodes(N_NODES, d)
        ],
    }


OPS = tree_operators()


def correlations(Z):
    Zc = Z - Z.mean(0)
    sd = Zc.norm(dim=0) + 1e-6
    return (Zc.T @ Zc) / torch.outer(sd, sd)


def covariance_rayleigh(Z, centre_neurons):
    Zc = Z - Z.mean(0)
    if centre_neurons:
        Zc = Zc - Zc.mean(1, keepdim=True)
    return ((Zc @ OPS["L"]) * Zc).sum() / ((Zc * Zc).sum() + 1e-8)


TERMS = {
    "lap": lambda Z: ((Z @ OPS["normalized"]) * Z).sum(1).mean(),
    "ray": lambda Z: (((Z @ OPS["L"]) * Z).sum(1) / ((Z * Z).sum(1) + 1e-6)).mean(),
    "cov": lambda Z: covariance_rayleigh(Z, False),
    "cov2": lambda Z: covariance_rayleigh(Z, True),
    "dist": lambda Z: (correlations(Z) * OPS["distance"]).mean(),
    "distp": lambda Z: (
        (correlations(Z) - correlations(Z).mean()) * OPS["distance"]
    ).mean(),
    "tgl": lambda Z: sum(Z[:, s].norm(dim=1) for s in OPS["subtrees"]).mean(),
    "dr": lambda Z: ((Z * OPS["depth"]).sum(1) / (Z.sum(1) + 1e-6)).mean(),
}


def penalty(Z, spec):
    """The sum of the weighted terms of ``spec`` (e.g. ``lap+distp10``)."""
    if spec == "none":
        return Z.sum() * 0.0
    total = 0.0
    for part in spec.split("+"):
        # the longest term name the part starts with; the rest is its weight
        name = max((n for n in TERMS if part.startswith(n)), key=len)
        total = total + float(part[len(name) :] or 1.0) * TERMS[name](Z)
    return total


def fit(X, spec, alpha, seed, epochs=200, batch_size=200, lr=1e-3):
    """Train the autoencoder; returns the activations of X and the MSE."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    X = torch.from_numpy(X)
    encoder = torch.nn.Linear(X.shape[1], N_NODES)
    decoder = torch.nn.Linear(N_NODES, X.shape[1])
    for layer in (encoder, decoder):
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    parameters = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            xb = X[order[start : start + batch_size]]
            z = torch.relu(encoder(xb))
            loss = ((decoder(z) - xb) ** 2).mean() + alpha * penalty(z, spec)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        Z = torch.relu(encoder(X))
        mse = float(((decoder(Z) - X) ** 2).mean())
    return Z.numpy(), mse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="term:alpha, the first the base")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--family", default="hierarchical")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="one seed, 2 epochs")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs = "0", 2
    torch.set_num_threads(1)
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    rows = []
    for seed in seeds:
        X, clusters, subclusters = family(args.family, seed)
        base, line = None, []
        for config in args.configs:
            spec, alpha = config.split(":")
            Z, mse = fit(X, spec, float(alpha), seed, epochs=args.epochs)
            base = mse if base is None else base
            cluster, sub = tree_ari(Z, clusters, subclusters)
            rows.append(
                {
                    "config": config,
                    "seed": seed,
                    "cluster_ari": cluster,
                    "subcluster_ari": sub,
                    "mse_ratio": mse / base,
                }
            )
            line.append(f"{config} {cluster:.2f}/{sub:.2f}/{mse / base:.2f}")
        print(seed, " | ".join(line), flush=True)
    print(f"\n{'config':<18} {'cluster mean (min)':>19} {'sub mean (min)':>15} MSE x")
    for config in args.configs:
        r = [row for row in rows if row["config"] == config]
        c = [row["cluster_ari"] for row in r]
        s = [row["subcluster_ari"] for row in r]
        m = np.mean([row["mse_ratio"] for row in r])
        print(
            f"{config:<18} {np.mean(c):8.2f} ({min(c):5.2f})    "
            f"{np.mean(s):6.2f} ({min(s):5.2f}) {m:5.2f}"
        )
    if args.out:
        meta = {"family": args.family, "python": platform.python_version()}
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
