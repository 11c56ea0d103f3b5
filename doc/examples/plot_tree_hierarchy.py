"""
=================================================
A tree graph over clusters and their sub-clusters
=================================================

The first paper's claim for a tree: "on a cluster-structured topology where
features correspond to hierarchical cluster structure in the data it reflects
the abstract grouping of features". We take data with two clusters of two
sub-clusters each, whose features switch on with the cluster (a block of
features per cluster) and with the sub-cluster (a block per sub-cluster)
(:func:`~skgsr.datasets.make_hierarchical_clusters`), and an autoencoder whose
15-neuron layer is a balanced binary tree (``graph="tree"``, heap order: the
root 0, its children 1 and 2, their children 3 to 6, eight leaves).

**The measure.** If the tree reflects the hierarchy, a sample of one cluster
puts its activation in one of the two subtrees under the root, and a sample of
one sub-cluster in one of the four subtrees below them. A sample's *activation
mass* on a subtree is the sum of its activations there (the layer is ReLU, so
non-negative); we assign each sample to its subtree of largest mass and score
the assignment against the clusters, and against the sub-clusters, with the
adjusted Rand index (ARI: 1 for the true grouping, about 0 for chance).
"""

# %%
# Data, model and measure
# -----------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from skgsr import GSRAutoencoder
from skgsr.datasets import make_hierarchical_clusters

N_NODES = 15


def subtrees(depth):
    """Nodes of the subtrees rooted at the 2**depth nodes of that depth."""
    out = []
    for root in range(2**depth - 1, 2 ** (depth + 1) - 1):
        nodes, level = [], [root]
        while level:
            nodes += level
            level = [c for i in level for c in (2 * i + 1, 2 * i + 2) if c < N_NODES]
        out.append(nodes)
    return out


def subtree_mass(Z, depth):
    return np.stack([Z[:, s].sum(axis=1) for s in subtrees(depth)], axis=1)


def tree_ari(Z, clusters, subclusters):
    return (
        adjusted_rand_score(clusters, subtree_mass(Z, 1).argmax(axis=1)),
        adjusted_rand_score(subclusters, subtree_mass(Z, 2).argmax(axis=1)),
    )


# Input -> 15 ReLU neurons on the tree -> input, linear on both sides. With
# GSR: the normalized Laplacian penalty at alpha=0.1 (see the measurements
# below and ``benchmarks/bench_tree.py``).
common = dict(
    n_components=N_NODES,
    graph="tree",
    hidden_layer_sizes=(),
    embedding_activation="relu",
    filter="laplacian",
    scale_alpha=False,  # the raw penalty of benchmarks/bench_tree.py
    max_iter=200,
)
# 200 epochs as in the benchmark, whether or not the loss has settled
warnings.filterwarnings("ignore", category=ConvergenceWarning)
CONFIGS = {
    "alpha=0": dict(alpha=0.0),
    "GSR": dict(alpha=0.1, laplacian="normalized"),
}

# %%
# Five seeds
# ----------
# Each seed draws a new data set and new initial weights.
print(
    f"{'seed':>4}  {'model':<8} {'cluster ARI':>11} {'sub-cluster ARI':>15} {'MSE':>7}"
)
fitted, data = {}, {}
for seed in range(5):
    X, y, info = make_hierarchical_clusters(random_state=seed)
    data[seed] = (X, y, info.subclusters)
    for name, params in CONFIGS.items():
        ae = GSRAutoencoder(random_state=seed, **common, **params).fit(X)
        fitted[seed, name] = ae
        cluster, sub = tree_ari(ae.transform(X), y, info.subclusters)
        print(f"{seed:>4}  {name:<8} {cluster:11.2f} {sub:15.2f} {-ae.score(X):7.4f}")

# %%
# On these five seeds the penalty does not make the layer follow the
# hierarchy reliably: GSR's cluster ARI is 0.03-0.52 against 0.00-0.40 without
# it, its sub-cluster ARI 0.36-0.63 against 0.32-0.64, at a reconstruction
# error about 1.5 times higher. Over ten seeds and two families of data
# (``benchmarks/bench_tree.py``) the picture is the same: one fit per seed is
# a matter of luck, with and without the penalty.
#
# The activation on the tree
# --------------------------
# The mean activation of each sub-cluster, drawn on the tree, for a seed where
# the clusters take the two halves of the tree and for one where they do not.


def positions():
    xy = np.zeros((N_NODES, 2))
    for i in range(N_NODES):
        depth = int(np.log2(i + 1))
        xy[i] = ((i - 2**depth + 1.5) / 2**depth, -depth)
    return xy


def draw_tree(ax, values, vmax):
    xy = positions()
    for child in range(1, N_NODES):
        parent = (child - 1) // 2
        ax.plot(*xy[[parent, child]].T, color="0.7", lw=1, zorder=0)
    ax.scatter(*xy.T, c=values, cmap="Reds", vmin=0, vmax=vmax, s=140, edgecolors="k")
    ax.set_axis_off()


clusters_found = {
    seed: tree_ari(fitted[seed, "GSR"].transform(data[seed][0]), *data[seed][1:])[0]
    for seed in range(5)
}
shown = [max(clusters_found, key=clusters_found.get)]
shown.append(min(clusters_found, key=clusters_found.get))
fig, axes = plt.subplots(4, 4, figsize=(10, 7.5), layout="constrained")
for block, seed in enumerate(shown):
    X, y, subclusters = data[seed]
    for row, name in enumerate(CONFIGS):
        Z = fitted[seed, name].transform(X)
        means = np.stack([Z[subclusters == g].mean(axis=0) for g in range(4)])
        for g in range(4):
            ax = axes[2 * block + row, g]
            draw_tree(ax, means[g], means.max())
            ax.set_title(
                f"seed {seed}, {name}: cluster {g // 2}, sub {g % 2}", fontsize="small"
            )

# %%
# Where the tree does not reflect the hierarchy, the cause is in the penalty:
# it sums, sample by sample, the squared differences across edges, and a bump
# of activation on one depth-2 subtree costs the same wherever that subtree is.
# Nothing in it rewards putting the two sub-clusters of a cluster under the
# same child of the root; the sub-clusters spread out over the four subtrees,
# in an order the seed decides.
#
# Activation mass per cluster
# ---------------------------
# The share of each sample's activation on the two halves of the tree (left:
# the subtree of node 1, right: of node 2), averaged per cluster, on every seed.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained", sharey=True)
width = 0.18
for ax, name in zip(axes, CONFIGS, strict=True):
    for seed in range(5):
        X, y, _ = data[seed]
        mass = subtree_mass(fitted[seed, name].transform(X), 1)
        share = mass[:, 0] / np.maximum(mass.sum(axis=1), 1e-12)
        for k in range(2):
            ax.bar(
                seed + (k - 0.5) * 2 * width,
                share[y == k].mean(),
                width=2 * width,
                color=f"C{k}",
                label=f"cluster {k}" if seed == 0 else None,
            )
    ax.axhline(0.5, color="0.5", lw=0.8)
    ax.set_xlabel("seed")
    ax.set_title(name)
axes[0].set_ylabel("share of mass on node 1's subtree")
axes[0].legend(frameon=False, fontsize="small")
plt.show()

# %%
# The halves tell more than the ARI does. With GSR the two clusters lean to
# different halves on four seeds of five (their mean shares on node 1's half
# differ by 0.27-0.66, and by 0.03 on seed 4), without it by 0.04-0.19. But
# the lean is partial: the layer stays spread over the tree (the penalty
# smooths it), and a sample's assignment to the half of larger mass, which the
# ARI scores, follows the cluster only in part.
#
# Conclusion
# ----------
# On this data the tree penalty helps on average but does not make one fit
# reliable. Over ten seeds (``benchmarks/bench_tree.py``) the cluster ARI of
# GSR averages 0.44 (worst 0.03) against 0.36 without the penalty on this
# family, 0.53 against 0.38 on a second one; over all the fits of thirty
# held-out seeds (``benchmarks/study_tree.py``), 0.46-0.47 against
# 0.22-0.26. Picking, among five fits, the one whose split at the root
# best separates the samples (a silhouette on X, no labels;
# ``benchmarks/study_tree.py``) reached 0.98 (worst 0.89) against 0.51 without
# the penalty on ten held-out seeds, but not on the second family or on twenty
# more seeds (0.86, worst 0.25, against 0.63). The target we set ourselves
# (cluster ARI of at least 0.8, 0.2 above ``alpha=0``, on every run) is not
# met; ``benchmarks/README.rst`` lists what was tried.
