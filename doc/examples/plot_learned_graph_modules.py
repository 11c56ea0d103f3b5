"""
========================================================
A learned feature graph on data with modules of features
========================================================

The second paper's idea: instead of imposing a grid, *learn* the graph over the
neurons from their co-activations. With ``graph="learned"``,
:class:`~skgsr.GSRAutoencoder` trains ``graph_warmup`` epochs without penalty,
then joins each neuron to the ``n_neighbors`` neurons whose activations
correlate most with its own (:func:`skgsr.graphs.coactivation_graph`), trains on
with the graph's objective, and rebuilds the graph every
``graph_update_interval`` epochs.

The objective is ``learned_objective="modules"`` (the default): neurons more
than two edges apart in the graph are decorrelated, each neuron is drawn to
correlate with one group of inputs, and no group of inputs is left to one or
two neurons. The papers' smoothing on the learned graph
(``learned_objective="smooth"``) is the alternative; the library's study
(``benchmarks/bench_learned_graph_recovery.py``) found that it recovers modules
less well and makes a graph look modular even on data without modules
(:ref:`learned_graph`).

The data come from :func:`skgsr.datasets.make_feature_modules`: samples in
clusters and nested sub-clusters, whose 50 features come in 5 modules, each
driven by one latent *module activity*. The truth is known, so the graph can be
scored. **Feature-module recovery** (:func:`skgsr.metrics.feature_module_recovery`)
cuts the graph's neurons into 5 clusters, gives each input feature to the
cluster whose neurons correlate with it most, and returns the adjusted Rand
index (ARI) of that labelling of the features against the true modules: 1 when
reading the graph tells exactly which features go together, about 0 by chance.
The baseline is the same network trained with ``alpha=0``, and the
co-activation graph of its layer.

A third model changes only what the graph is built from. With
``graph_metric="input_profile"``, the estimators' default (the first two models
set ``graph_metric="correlation"``, the co-activation graph, the default
before), each neuron is described by its squared
correlations with the input features, and the kNN graph joins neurons that read
the same features, however their activities co-vary
(:ref:`learned_graph_profile`). It is aimed at modules whose activities
correlate, whose neurons the co-activation graph can join into one module.
"""

# %%
# The data
# --------
# 1000 samples in 3 clusters of 2 sub-clusters, 5 modules of 10 features,
# standardized. Features of one module are strongly correlated; features of
# different modules less so, but not independent: the cluster centres move
# several modules together.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.sparse.csgraph import connected_components
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skgsr import GSRAutoencoder
from skgsr.datasets import make_feature_modules
from skgsr.graphs import coactivation_graph
from skgsr.metrics import feature_module_recovery, graph_modularity, module_recovery
from skgsr.plotting import plot_feature_graph, plot_training

N_MODULES = 5


def make_data(seed):
    X, _, info = make_feature_modules(
        n_samples=1000, n_features=50, n_modules=N_MODULES, random_state=seed
    )
    return StandardScaler().fit_transform(X).astype(np.float32), info


X, info = make_data(0)
correlation = np.corrcoef(X.T)
same = info.modules[:, None] == info.modules[None, :]
off_diagonal = ~np.eye(len(correlation), dtype=bool)
print(
    f"|correlation| of features: {np.abs(correlation[same & off_diagonal]).mean():.2f}"
    f" within a module, {np.abs(correlation[~same]).mean():.2f} between modules"
)

# %%
# Learning the graph
# ------------------
# 32 structured neurons and the defaults of the learned graph: 10 warm-up
# epochs, a new graph every 5 epochs from up to 1000 encoded samples, each
# neuron joined to ``n_neighbors="auto"`` others (a sixth of the width: 5 here)
# by a Gaussian-weighted correlation kNN graph. ``alpha=1``: with the
# ``"modules"`` objective the study recovered modules best at this strength on
# every family it tried (the estimators' default ``alpha``, 0.1, was chosen on
# predefined graphs). 60 epochs without early stop (``tol=0``), so that all
# models see the same schedule (hence no convergence warnings). The third
# model, ``profile`` in the output, adds ``graph_metric="input_profile"`` and
# keeps ``alpha=1``, so that only the graph's metric differs. No ``alpha`` is
# tuned for it here; the study's ``alpha`` for it is in the conclusion.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
common = dict(
    graph_metric="correlation",
    n_components=32,
    hidden_layer_sizes=(64,),
    graph="learned",
    filter="laplacian",
    max_iter=60,
    tol=0.0,
)
gsr = GSRAutoencoder(alpha=1.0, random_state=0, **common).fit(X)
plain = GSRAutoencoder(alpha=0.0, random_state=0, **common).fit(X)
profile_common = dict(common, graph_metric="input_profile")
profile = GSRAutoencoder(alpha=1.0, random_state=0, **profile_common).fit(X)


def baseline_graph(model, X):
    """The graph of a network trained without penalty: the co-activation graph
    of its layer, with as many neighbours as the learned graph."""
    return coactivation_graph(model.transform(X), 5)


def preferred_modules(model, X, activity):
    """The module whose activity each neuron correlates with most (|r|)."""
    Z = model.transform(X)
    Zc = (Z - Z.mean(axis=0)) / (Z.std(axis=0) + 1e-12)
    Ac = (activity - activity.mean(axis=0)) / activity.std(axis=0)
    return np.abs(Zc.T @ Ac / len(X)).argmax(axis=1)


models = {"alpha=0": plain, "alpha=1": gsr, "profile": profile}
graphs = {
    "alpha=0": baseline_graph(plain, X),
    "alpha=1": gsr.feature_graph_,
    "profile": profile.feature_graph_,
}
preferred = {}
for name, model in models.items():
    graph = graphs[name]
    fmr = feature_module_recovery(
        X, model.transform(X), graph, info.modules, random_state=0
    )
    preferred[name] = preferred_modules(model, X, info.module_activity)
    nmr = module_recovery(graph, preferred[name], N_MODULES, random_state=0)
    print(
        f"{name:<8} feature-module recovery {fmr:.2f}  neuron modules {nmr:.2f}  "
        f"modularity {graph_modularity(graph, random_state=0):.2f}  "
        f"reconstruction MSE {-model.score(X):.3f}"
    )
for name in ("alpha=1", "profile"):
    print(f"MSE ratio {name} / alpha=0: {models[name].score(X) / plain.score(X):.2f}")

# %%
# Reading the learned graph's clusters tells which features go together
# exactly (1.00), where the plain network's co-activation graph merges modules
# (0.77), for a reconstruction error 14% higher. The neurons' own modules (the
# second column: spectral clusters against each neuron's preferred module) tell
# the same story: the objective aligns each neuron with one module (0.68
# against 0.19).
#
# The input-profile graph reads the modules exactly too (1.00), at the same
# error (1.14 times the plain network's). Its clusters of neurons agree better
# with the neurons' preferred modules (0.91 against 0.68), though no neuron
# prefers module 0 (see the graphs below), and its graph is more modular (0.74
# against 0.64).
#
# Without known modules, ``graph_modularity_`` is what one can read: how
# modular the learned graph is. Its value means something only beside what the
# same model learns on data without modules; here, Gaussian noise of the same
# shape. Both learned graphs are fitted on it.
rng = np.random.RandomState(0)
noise = rng.standard_normal(X.shape).astype(np.float32)
for name, params in (("alpha=1", common), ("profile", profile_common)):
    on_noise = GSRAutoencoder(alpha=1.0, random_state=0, **params).fit(noise)
    print(
        f"{name:<8} graph_modularity_: {models[name].graph_modularity_:.2f} on the "
        f"modules, {on_noise.graph_modularity_:.2f} on noise"
    )

# %%
# On noise both graphs read 0.33, well below their 0.64 and 0.74 on the
# modules. On this seed the input profiles do not make noise look more modular
# than the default graph does.

# %%
# The graphs
# ----------
# The plain network's co-activation graph, the default learned graph and the
# input-profile graph. Each neuron coloured by its preferred module; the graph
# drawn from its own Laplacian's low-frequency eigenvectors (connected
# components side by side). Neurons whose activations are nearly identical are
# drawn on top of each other.
MODULES = [f"module {m}" for m in range(N_MODULES)]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
for ax, (name, graph) in zip(axes, graphs.items(), strict=True):
    plot_feature_graph(
        graph,
        node_values=np.array(MODULES)[preferred[name]],
        categories=MODULES,  # the same colour for a module in every panel
        ax=ax,
        title=f"{name}: the graph at the end of fit",
    )
    n_parts = connected_components(graph, directed=False)[0]
    counts = np.bincount(preferred[name], minlength=N_MODULES).tolist()
    print(f"{name:<8} components {n_parts}  neurons preferring modules 0-4: {counts}")

# %%
# No neuron of the input-profile model correlates most with module 0's
# activity, and its graph has 4 components, not 5. Module 0's features are
# read off a few neurons that the cut into 5 clusters separates from module 4's
# component. So the exact reading above needs the number of modules; the graph
# alone shows 4 groups.

# %%
# Training: warm-up and rebuilds
# ------------------------------
# The objective and the penalty per epoch, a dotted line at each rebuild of the
# graph. The penalty starts with the first graph, after the 10 warm-up epochs.
fig = plot_training(gsr)
for ax in fig.axes:
    for epoch in gsr.graph_history_epochs_:
        # a graph built after `epoch` epochs is used from epoch `epoch + 1` on
        ax.axvline(epoch + 0.5, color="0.75", linestyle=":", linewidth=0.8, zorder=0)
print(f"graphs built after epochs {gsr.graph_history_epochs_}")

# %%
# Watching the structure form
# ---------------------------
# ``graph_history_`` keeps every graph built. Scoring each (feature-module
# recovery against the truth, with the final network's activations) shows when
# the structure appears. The first graph is the same for ``alpha=0`` and
# ``alpha=1`` (the networks are identical until the penalty starts). The
# input-profile model's first graph comes from the same network, by its own
# metric.
fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
for name, model in models.items():
    Z = model.transform(X)
    history = [
        feature_module_recovery(X, Z, A, info.modules, random_state=0)
        for A in model.graph_history_
    ]
    ax.plot(model.graph_history_epochs_, history, marker="o", label=name)
    print(f"{name:<8} recovery per rebuild: " + " ".join(f"{h:.2f}" for h in history))
ax.set_xlabel("epochs trained before the graph was built")
ax.set_ylabel("feature-module recovery (ARI)")
ax.set_ylim(-0.05, 1.05)
ax.legend(frameon=False)

# %%
# The input-profile graph reads the modules exactly from its second graph on
# (built after 15 epochs), the default graph from its fifth (after 30). It is
# less steady: the graphs built after 35, 40 and 45 epochs are back at 0.77,
# and only the last two read 1.00 again. The plain network's graphs stay
# between 0.60 and 0.86.

# %%
# Other seeds
# -----------
# The same comparison for four more seeds of the data and the networks:
# feature-module recovery, the graph's modularity, and the reconstruction MSE
# over the plain network's (``alpha=0``) of the same seed.
print("      recovery                   modularity                 MSE ratio")
print("seed  alpha=0  alpha=1  profile   alpha=0  alpha=1  profile   alpha=1  profile")
for seed in range(1, 5):
    X, info = make_data(seed)
    row = []
    for alpha, params in ((0.0, common), (1.0, common), (1.0, profile_common)):
        model = GSRAutoencoder(alpha=alpha, random_state=seed, **params).fit(X)
        graph = model.feature_graph_ if alpha else baseline_graph(model, X)
        Z = model.transform(X)
        row.append(
            (
                feature_module_recovery(X, Z, graph, info.modules, random_state=0),
                graph_modularity(graph, random_state=0),
                -model.score(X),
            )
        )
    fmr, mod, mse = zip(*row, strict=True)
    print(
        f"{seed:>4}  {fmr[0]:7.2f}  {fmr[1]:7.2f}  {fmr[2]:7.2f}"
        f"   {mod[0]:7.2f}  {mod[1]:7.2f}  {mod[2]:7.2f}"
        f"   {mse[1] / mse[0]:7.2f}  {mse[2] / mse[0]:7.2f}"
    )
plt.show()

# %%
# Conclusion
# ----------
# On these five data sets (the ``blocks`` family of the library's study at its
# development seeds 0-4) the default learned graph's clusters give the true
# modules of features exactly on three seeds and at 0.77 (two modules merged)
# on two, against 0.36-0.77 for the plain network's co-activation graph, for a
# reconstruction error 13-20% higher; its modularity is 0.64-0.74, and 0.33 on
# noise. Modules whose activities correlate strongly (as the cluster centres
# here make them) are what it still merges: on the study's held-out seeds
# 100-104 of this family the mean was 0.86 at 32 neurons, 0.81 at 64 (worst
# seed 0.77), and 0.89-1.00 on the other families (:ref:`learned_graph`).
#
# The input-profile graph gives the true modules exactly on all five seeds, for
# a reconstruction error 12-18% higher than the plain network's; its modularity
# is 0.68-0.77, and 0.33 on noise. It never reads the modules worse than the
# default here, but it wins only on seeds 2 and 4 (1.00 against 0.77) and ties
# on seeds 0, 1 and 3; its graph is less modular than the default's on seed 1
# (0.72 against 0.74); on seed 0 its graph has 4 components for 5 modules, and
# three of its later graphs read 0.77 again. These seeds may favour it: seeds
# 0-3 are among those it was developed on. On the study's fresh seeds 305-309,
# with the estimators' own training and the better ``alpha`` of 0.1 and 1 (0.1
# on ``blocks``), it read ``blocks`` at 0.86 at 32 neurons and 0.91 at 64,
# against the default's 0.95 and 0.86 (worst seed 0.77 for both): it loses at
# 32 neurons, this example's width (0.86 against 0.91 at ``alpha=1`` too). It
# read ``blocks7`` and ``nonlinear`` at 1.00 on every seed, and lost to the
# default on the sparse programs (``sparse``, ``programs8``, ``overlap``), by
# 0.09-0.14 (by 0.04 on ``overlap`` at 64 neurons). It is an option for data
# whose modules are expected to be active together, not the default
# (:ref:`learned_graph_profile`). The same method on real single-cell data:
# :ref:`sphx_glr_auto_examples_plot_single_cell_learned_graph.py`.
