"""Does a learned graph reveal feature modules better than a plain network?

For each data family with known modules of input features, seed, layer width,
recipe and ``alpha`` a ``GSRAutoencoder(graph="learned")`` is fitted, and beside
it the *baseline*: the same architecture at ``alpha=0`` with a plain 5-NN
co-activation graph of its layer (:func:`skgsr.graphs.coactivation_graph`).
Measured on the training data:

- ``fmr``: feature-module recovery, :func:`skgsr.metrics.feature_module_recovery`
  (spectral clusters of the graph's neurons, each input feature given to the
  cluster that correlates with it most, adjusted Rand index against the truth);
- ``nmr``: neuron-module recovery, :func:`skgsr.metrics.module_recovery` against
  each neuron's preferred module (the factor it correlates with most);
- ``mse_ratio``: reconstruction MSE over that of the baseline;
- ``stability``: adjusted Rand index between the feature labellings of two fits
  that differ only in ``random_state`` (``--stability``);
- ``modularity``: :func:`skgsr.metrics.graph_modularity` of the graph.

Families (generated, standardized; the generators were fixed before any of
these experiments and never changed after): ``blocks``
(:func:`skgsr.datasets.make_feature_modules`, 5 modules with clusters and
sub-clusters of samples), ``sparse`` (:func:`skgsr.datasets.make_factor_modules`:
6 on/off programs, modules of unequal sizes), ``nonlinear`` (5 correlated
Gaussian factors seen through sigmoid responses) and ``overlap`` (sparse
programs, 30% of the features also loading on a second module), and ``noise``
(no modules: independent Gaussian features). Recipes were developed on
``blocks`` and ``sparse`` with seeds 0-4; ``nonlinear`` and ``overlap`` and the
seeds 100-104 were held out for the final tables.

Training-loop changes under study are prototyped in :class:`StudyAutoencoder`
(a subclass overriding ``_rebuild_graph`` and ``_train_step``), not in the
library. Results and commands: ``benchmarks/README.rst``, section "Learned
graph: feature modules".

Usage::

    python benchmarks/bench_learned_graph_recovery.py --quick --out q.json
    python benchmarks/bench_learned_graph_recovery.py --stage screen \
        --recipes paper,corr --families blocks,sparse --seeds 0-4 --out s.json
    python benchmarks/bench_learned_graph_recovery.py --stage final \
        --recipes paper,corr_relu --families all --seeds 100-104 --stability \
        --out final.json
"""

import argparse
import json
import os
import time
import warnings

import numpy as np

N_NEIGHBORS_BASELINE = 5

#: Estimator parameters shared by every fit (a 2-core CPU study).
FIT = {
    "hidden_layer_sizes": (64,),
    "max_iter": 60,
    "tol": 0.0,
    "device": "cpu",
}

#: The recipes compared: GSRAutoencoder parameters, and the study's own options
#: (keys starting with "study_", see StudyAutoencoder).
RECIPES = {
    # the library's defaults: normalized-Laplacian penalty on a Gaussian 5-NN
    # correlation graph, rebuilt every 5 epochs after 10 warm-up epochs
    "paper": {},
    "paper_relu": {"embedding_activation": "relu"},
    "rayleigh_c": {"filter": "rayleigh", "filter_center": True},
    "rayleigh_c_relu": {
        "filter": "rayleigh",
        "filter_center": True,
        "embedding_activation": "relu",
    },
    "paper_mutual": {"study_graph": "mutual"},
    "paper_memory": {"study_memory": 0.5},
    # the correlation (batch-standardized) Laplacian: scale-free in each neuron
    "corr": {"study_penalty": "correlation"},
    "corr_relu": {"study_penalty": "correlation", "embedding_activation": "relu"},
    "corr_rep": {"study_penalty": "correlation", "study_repulsion": 1.0},
    "corr_rep_relu": {
        "study_penalty": "correlation",
        "study_repulsion": 1.0,
        "embedding_activation": "relu",
    },
    "corr_spec": {"study_penalty": "correlation", "study_specialize": 1.0},
    "corr_spec_relu": {
        "study_penalty": "correlation",
        "study_specialize": 1.0,
        "embedding_activation": "relu",
    },
    "paper_spec": {"study_specialize": 1.0},
    "spec_only": {"study_penalty": "none", "study_specialize": 1.0},
    "corr_fspec": {"study_penalty": "correlation", "study_footprint": "specialize"},
    "corr_frep": {"study_penalty": "correlation", "study_footprint": "repel"},
    "fspec_only": {"study_penalty": "none", "study_footprint": "specialize"},
    "paper_frep": {"study_footprint": "repel"},
    "corr_rep_spec": {
        "study_penalty": "correlation",
        "study_repulsion": 1.0,
        "study_specialize": 1.0,
    },
    "corr_rep_vmx": {
        "study_penalty": "correlation",
        "study_repulsion": 1.0,
        "study_specialize": 4.0,
        "study_specialize_kind": "varimax",
    },
    "corr_vmx": {
        "study_penalty": "correlation",
        "study_specialize": 4.0,
        "study_specialize_kind": "varimax",
    },
    "rep_vmx": {
        "study_penalty": "none",
        "study_repulsion": 1.0,
        "study_specialize": 4.0,
        "study_specialize_kind": "varimax",
    },
}
_REP_VMX = RECIPES["rep_vmx"]
RECIPES.update(
    {
        "rep_vmx_h1": {**_REP_VMX, "study_far_hops": 1},
        "rep_vmx_ck": {**_REP_VMX, "study_kernel": "correlation"},
        "rep_vmx_mut": {**_REP_VMX, "study_graph": "mutual"},
        "rep_vmx_att": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.1,
        },
        "rep_only": {"study_penalty": "none", "study_repulsion": 1.0},
        "rep_vmx_mem": {**_REP_VMX, "study_memory": 0.8},
        "rep_vmx_mem_i1": {
            **_REP_VMX,
            "study_memory": 0.8,
            "graph_update_interval": 1,
        },
        "rep_vmx_mem_i1_ck": {
            **_REP_VMX,
            "study_memory": 0.8,
            "graph_update_interval": 1,
            "study_kernel": "correlation",
        },
        "paper_rep_vmx": {**_REP_VMX, "study_penalty": "paper"},
        "paper01_rep_vmx": {
            **_REP_VMX,
            "study_penalty": "paper",
            "study_attraction": 0.1,
        },
        "att03_rep_vmx": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
        },
        "att1_rep_vmx": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 1.0,
        },
        "rep_vmx_k10": {**_REP_VMX, "n_neighbors": 10},
        "rep_vmx_k10_ck": {
            **_REP_VMX,
            "n_neighbors": 10,
            "study_kernel": "correlation",
        },
        "att03_rep_vmx_k10": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "n_neighbors": 10,
        },
        "rep_vmx_k10_h1": {**_REP_VMX, "n_neighbors": 10, "study_far_hops": 1},
        "att03_rep_vmx_k10_h1": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "n_neighbors": 10,
            "study_far_hops": 1,
        },
        "rep_vmx_k10_cov": {**_REP_VMX, "n_neighbors": 10, "study_coverage": 1.0},
        "att03_rep_vmx_k10_cov": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "n_neighbors": 10,
            "study_coverage": 1.0,
        },
        "dae_paper": {"study_input_dropout": 0.2},
        "dae_att03_rep_vmx_k10": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "n_neighbors": 10,
            "study_input_dropout": 0.2,
        },
        "rep_vmx_cov": {**_REP_VMX, "study_coverage": 1.0},
        "vmx_cov_k6": {
            **_REP_VMX,
            "study_repulsion": 0.0,
            "study_coverage": 1.0,
            "n_neighbors": "n/6",
        },
        "rep_cov_k6": {
            **_REP_VMX,
            "study_specialize": 0.0,
            "study_coverage": 1.0,
            "n_neighbors": "n/6",
        },
        "att03_rep_vmx_cov_k6": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "study_coverage": 1.0,
            "n_neighbors": "n/6",
        },
        "att03_rep_vmx_cov_k6_mem": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "study_coverage": 1.0,
            "n_neighbors": "n/6",
            "study_memory": 0.8,
            "graph_update_interval": 1,
        },
        "att03_rep_vmx_cov_k6_relu": {
            **_REP_VMX,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "study_coverage": 1.0,
            "n_neighbors": "n/6",
            "embedding_activation": "relu",
        },
        "rep_vmx_cov_k6": {**_REP_VMX, "study_coverage": 1.0, "n_neighbors": "n/6"},
        "rep_vmx_cov3": {**_REP_VMX, "study_coverage": 3.0},
        "rep_vmx_k10_cov3": {**_REP_VMX, "n_neighbors": 10, "study_coverage": 3.0},
        # the finalists, under the names of the README's tables
        "specialize": {
            "study_repulsion": 1.0,
            "study_specialize": 4.0,
            "study_specialize_kind": "varimax",
            "study_coverage": 1.0,
            "study_penalty": "none",
            "n_neighbors": "n/6",
        },
        "specialize_smooth": {
            "study_repulsion": 1.0,
            "study_specialize": 4.0,
            "study_specialize_kind": "varimax",
            "study_coverage": 1.0,
            "study_penalty": "correlation",
            "study_attraction": 0.3,
            "n_neighbors": "n/6",
        },
        "rep_vmx16": {**_REP_VMX, "study_specialize": 16.0},
        "rep_vmx_e120": {**_REP_VMX, "max_iter": 120},
        "rep3_vmx16": {**_REP_VMX, "study_repulsion": 3.0, "study_specialize": 16.0},
        "dec_vmx": {**_REP_VMX, "study_far_hops": 0},
        "dec_vmx_ck": {**_REP_VMX, "study_far_hops": 0, "study_kernel": "correlation"},
        "dec_only": {
            "study_penalty": "none",
            "study_repulsion": 1.0,
            "study_far_hops": 0,
        },
        "dec_spec": {
            "study_penalty": "none",
            "study_repulsion": 1.0,
            "study_far_hops": 0,
            "study_specialize": 1.0,
        },
    }
)


# --------------------------------------------------------------------------- #
# Data families
# --------------------------------------------------------------------------- #
def make_family(name, seed, n_samples=1000):
    """``(X standardized, modules of the features, factors or None)``."""
    from sklearn.preprocessing import StandardScaler

    from skgsr.datasets import make_factor_modules, make_feature_modules

    if name == "blocks":
        X, _, info = make_feature_modules(n_samples, 50, n_modules=5, random_state=seed)
        modules, factors = info.modules, info.module_activity
    elif name == "sparse":
        X, modules, info = make_factor_modules(
            n_samples, 60, n_modules=6, random_state=seed
        )
        factors = info.factors
    elif name == "nonlinear":
        X, modules, info = make_factor_modules(
            n_samples,
            50,
            n_modules=5,
            module_sizes="equal",
            factors="gaussian",
            factor_correlation=0.3,
            nonlinearity="sigmoid",
            random_state=seed,
        )
        factors = info.factors
    elif name == "overlap":
        X, modules, info = make_factor_modules(
            n_samples, 50, n_modules=5, overlap=0.3, random_state=seed
        )
        factors = info.factors
    elif name == "noise":
        X = np.random.RandomState(seed).standard_normal((n_samples, 50))
        modules, factors = np.repeat(np.arange(5), 10), None
    else:
        raise ValueError(f"unknown family {name!r}")
    return StandardScaler().fit_transform(X).astype(np.float32), modules, factors


FAMILIES = ("blocks", "sparse", "nonlinear", "overlap", "noise")


# --------------------------------------------------------------------------- #
# Training-loop prototypes
# --------------------------------------------------------------------------- #
def correlation_penalty(z, adjacency, repulsion=0.0, far=None):
    """Scale-free graph penalty of a batch, on its neurons' correlations.

    With :math:`\\hat z_i` the batch column of neuron ``i`` centred and scaled to
    unit norm and :math:`r_{ij} = \\hat z_i^T \\hat z_j` the batch correlation,

    .. math:: P = \\frac{\\sum_{ij} A_{ij} (1 - r_{ij})}{\\sum_{ij} A_{ij}}
              + \\beta\\, \\frac{\\sum_{ij} F_{ij}\\, r_{ij}^2}{\\sum_{ij} F_{ij}},

    the combinatorial Laplacian energy of the standardized activations
    (:math:`\\sum_b \\hat z_b^T L \\hat z_b = \\sum_{ij} A_{ij}(1 - r_{ij})`) per
    unit of edge weight, plus ``repulsion`` :math:`\\beta` times the mean squared
    correlation of the pairs in ``far`` (a 0/1 mask). It cannot be lowered by
    shrinking the layer, and lies in [0, 2 + beta].
    """

    zc = z - z.mean(dim=0, keepdim=True)
    zs = zc / (zc.norm(dim=0, keepdim=True) + 1e-6)
    r = zs.T @ zs
    total = adjacency.sum()
    attract = (adjacency * (1 - r)).sum() / total if total > 0 else r.sum() * 0
    if repulsion == 0 or far is None or far.sum() == 0:
        return attract
    return attract + repulsion * (far * r * r).sum() / far.sum()


def specialization_penalty(z, x):
    """Mean participation ratio of each neuron's squared correlations with inputs.

    With :math:`r_{ji}` the batch correlation of input ``j`` and neuron ``i``,

    .. math:: S = \\frac{1}{n} \\sum_i
              \\frac{(\\sum_j r_{ji}^2)^2}{d \\sum_j r_{ji}^4} \\in [1/d, 1],

    low when every neuron correlates with few inputs (a neuron that follows one
    module's features) and high for a neuron that mixes modules. Scale-free; a
    neuron constant over the batch counts 0.
    """
    xc = x - x.mean(dim=0, keepdim=True)
    xs = xc / (xc.norm(dim=0, keepdim=True) + 1e-6)
    zc = z - z.mean(dim=0, keepdim=True)
    zs = zc / (zc.norm(dim=0, keepdim=True) + 1e-6)
    r2 = (xs.T @ zs) ** 2
    d = x.shape[1]
    return ((r2.sum(dim=0) ** 2) / (d * (r2**2).sum(dim=0) + 1e-12)).mean()


def varimax_penalty(z, x):
    """Minus the varimax criterion of the neurons' correlation loadings.

    With :math:`r_{ji}` the batch correlation of input ``j`` and neuron ``i``,
    :math:`V = -\\frac{1}{n} \\sum_i \\big[\\frac{1}{d}\\sum_j r_{ji}^4 -
    (\\frac{1}{d}\\sum_j r_{ji}^2)^2\\big]`, minus the variance of each
    neuron's squared loadings (Kaiser's varimax, raw): lowest when every neuron
    correlates strongly with one group of inputs and little with the rest.
    """
    xc = x - x.mean(dim=0, keepdim=True)
    xs = xc / (xc.norm(dim=0, keepdim=True) + 1e-6)
    zc = z - z.mean(dim=0, keepdim=True)
    zs = zc / (zc.norm(dim=0, keepdim=True) + 1e-6)
    r2 = (xs.T @ zs) ** 2
    return -((r2**2).mean(dim=0) - r2.mean(dim=0) ** 2).mean()


def coverage_penalty(z, x):
    """Load balancing of the inputs over the neurons.

    Each neuron spreads a unit of attention over the inputs in proportion to its
    squared correlations, :math:`q_{ji} = r_{ji}^2 / \\sum_{j'} r_{j'i}^2`; input
    ``j`` is covered by :math:`c_j = \\sum_i q_{ji}`. The penalty
    :math:`d \\sum_j c_j^2 / n^2` is 1 when every input is covered equally and
    grows when many neurons crowd on a few inputs (a large module) while others
    are left to one neuron.
    """
    xc = x - x.mean(dim=0, keepdim=True)
    xs = xc / (xc.norm(dim=0, keepdim=True) + 1e-6)
    zc = z - z.mean(dim=0, keepdim=True)
    zs = zc / (zc.norm(dim=0, keepdim=True) + 1e-6)
    r2 = (xs.T @ zs) ** 2
    q = r2 / (r2.sum(dim=0, keepdim=True) + 1e-12)
    c = q.sum(dim=1)
    d, n = r2.shape
    return d * (c * c).sum() / n**2


def decoder_footprints(head, z, max_rows=64):
    """Mean squared Jacobian of the decoder, :math:`G_{ji} = \\mathrm{mean}_b
    (\\partial \\hat x_{bj} / \\partial z_{bi})^2`, shape (n_features, n).

    Column ``i`` is what neuron ``i`` drives in the reconstruction. Computed in
    closed form for the study's ``Linear - ReLU - Linear`` decoder,
    :math:`J_b = W_2 \\operatorname{diag}(\\mathbb 1[W_1 z_b + b_1 > 0]) W_1`,
    on the first ``max_rows`` rows of the batch.
    """
    import torch

    first, _, last = head
    z = z[:max_rows]
    on = (first(z) > 0).to(z.dtype)
    J = torch.einsum("dh,bh,hn->bdn", last.weight, on, first.weight)
    return (J * J).mean(dim=0)


def footprint_specialization(G):
    """Mean participation ratio of the neurons' decoder footprints (columns of G):
    low when each neuron drives few input features."""
    d = G.shape[0]
    return ((G.sum(dim=0) ** 2) / (d * (G * G).sum(dim=0) + 1e-12)).mean()


def footprint_repulsion(G, far):
    """Mean cosine similarity of the decoder footprints of the pairs in ``far``:
    neurons far apart in the graph should drive different input features."""
    Gn = G / (G.norm(dim=0, keepdim=True) + 1e-12)
    total = far.sum()
    return (far * (Gn.T @ Gn)).sum() / total if total > 0 else G.sum() * 0


def mutual_knn(adjacency_knn, knn_directed):
    """Keep the edges chosen by both ends of a max-symmetrized kNN graph."""
    mutual = knn_directed.minimum(knn_directed.T)
    return adjacency_knn.multiply(mutual > 0)


def study_graph_rule(adjacency, H, options):
    """The study's changes to a co-activation graph (``study_graph``,
    ``study_kernel``); the library's graph when both are at their defaults."""
    if options.study_graph == "mutual":
        adjacency = mutual_knn(adjacency, _directed_knn(H, options.n_neighbors))
    if options.study_kernel != "library":
        # re-weight the kNN edges by the neurons' correlation
        r = np.nan_to_num(np.corrcoef(H.T))
        weight = np.clip(r, 0, None)
        if options.study_kernel == "correlation2":
            weight = weight**2
        adjacency = adjacency.copy()
        rows, cols = adjacency.nonzero()
        adjacency[rows, cols] = np.maximum(weight[rows, cols], 1e-6)
    return adjacency


def make_study_estimator(params, seed):
    """A StudyAutoencoder from a recipe's parameters (study options split off)."""
    from skgsr import GSRAutoencoder

    class StudyAutoencoder(GSRAutoencoder):
        """GSRAutoencoder with prototype training-loop changes.

        Study options (attributes, not hyperparameters):

        - ``study_penalty``: ``"paper"`` (the library's GraphPenalty) or
          ``"correlation"`` (:func:`correlation_penalty`);
        - ``study_repulsion``: weight of the non-neighbour decorrelation term;
        - ``study_far_hops``: pairs farther apart than this many hops in the
          learned graph are pushed apart;
        - ``study_graph``: ``"knn"`` (the library's) or ``"mutual"``;
        - ``study_specialize``: weight of :func:`specialization_penalty`
          (relative to the graph term; both times ``alpha``);
        - ``study_footprint``: ``"specialize"`` (each neuron drives few inputs,
          :func:`footprint_specialization`) or ``"repel"`` (non-neighbours drive
          different inputs, :func:`footprint_repulsion`), weighted by
          ``study_footprint_weight``;
        - ``study_memory``: hysteresis, the graph used is ``m * previous +
          (1 - m) * new`` at each rebuild.
        """

        study_penalty = "paper"
        study_repulsion = 0.0
        study_far_hops = 2
        study_graph = "knn"
        study_kernel = "library"
        study_attraction = 1.0
        study_memory = 0.0
        study_specialize = 0.0
        study_specialize_kind = "participation"
        study_footprint = None
        study_coverage = 0.0
        study_input_dropout = 0.0
        study_footprint_weight = 1.0

        def _rebuild_graph(self, state, data):
            # the library's rebuild (same rows, same random stream), with the
            # study's graph rules applied to the co-activation graph
            import scipy.sparse as sp
            import torch
            from scipy.sparse.csgraph import shortest_path

            from skgsr import graphs
            from skgsr._base import evaluation_mode

            n_samples = min(self.graph_n_samples, data.n_samples)
            index = state.graph_rng.permutation(data.n_samples)[:n_samples]
            index = torch.from_numpy(np.sort(index))
            with evaluation_mode(state.module), torch.no_grad():
                H = torch.cat(
                    [state.module.embed(data.take(c)).cpu() for c in index.split(4096)]
                ).numpy()
            adjacency, inactive = graphs.coactivation_graph(
                H,
                n_neighbors=self.n_neighbors,
                metric=self.graph_metric,
                kernel=self.graph_kernel,
                return_inactive=True,
            )
            adjacency = study_graph_rule(adjacency, H, self)
            previous = state.adjacency
            if self.study_memory > 0 and previous is not None:
                adjacency = (
                    self.study_memory * previous + (1 - self.study_memory) * adjacency
                )
            adjacency = graphs.check_adjacency(sp.csr_array(adjacency))
            if state.penalty is None:
                state.penalty = self._make_penalty(adjacency).to(state.device)
            else:
                state.penalty.set_graph(adjacency)
            state.adjacency = adjacency
            state.inactive = np.flatnonzero(inactive)
            state.rebuilt = True
            state.graph_updates += 1
            state.graph_history.append(adjacency)
            state.graph_epochs.append(state.n_iter)
            dense = adjacency.toarray()
            state.dense_adjacency = torch.as_tensor(dense, dtype=torch.float32)
            hops = shortest_path(sp.csr_array(dense > 0), unweighted=True)
            state.far = torch.as_tensor(hops > self.study_far_hops, dtype=torch.float32)

        def _plain_paper(self):
            return (
                self.study_penalty == "paper"
                and self.study_attraction == 1
                and self.study_specialize == 0
                and self.study_repulsion == 0
                and self.study_coverage == 0
                and self.study_footprint is None
            )

        def _study_penalty(self, state, z, xb):
            """The penalty of a batch (without alpha), as the study's options say."""
            no_edges = state.dense_adjacency * 0
            if self.study_penalty == "paper":
                attract = state.penalty(z)
            elif self.study_penalty == "correlation":
                attract = correlation_penalty(z, state.dense_adjacency)
            else:  # "none"
                attract = z.sum() * 0
            penalty = self.study_attraction * attract
            if self.study_repulsion:
                penalty = penalty + correlation_penalty(
                    z, no_edges, self.study_repulsion, state.far
                )
            if self.study_specialize:
                term = (
                    varimax_penalty
                    if self.study_specialize_kind == "varimax"
                    else specialization_penalty
                )
                penalty = penalty + self.study_specialize * term(z, xb)
            if self.study_coverage:
                penalty = penalty + self.study_coverage * coverage_penalty(z, xb)
            if self.study_footprint is not None:
                G = decoder_footprints(state.module.head, z)
                if self.study_footprint == "specialize":
                    term = footprint_specialization(G)
                else:
                    term = footprint_repulsion(G, state.far)
                penalty = penalty + self.study_footprint_weight * term
            return penalty

        def _train_step(self, state, xb, tb, wb):
            import torch

            active = self._penalty_active(state) and self.alpha > 0
            if self.study_input_dropout == 0 and (not active or self._plain_paper()):
                return super()._train_step(state, xb, tb, wb)
            x_in = xb
            if self.study_input_dropout > 0:
                # denoising: reconstruct xb from a copy with inputs set to 0
                p = self.study_input_dropout
                keep = torch.rand(xb.shape, generator=state.generator) >= p
                x_in = xb * keep.to(xb.dtype) / (1 - p)
            output, z = state.module(x_in)
            task_loss = self._mean_task_loss(output, tb, xb)
            penalty = self._study_penalty(state, z, xb) if active else None
            loss = task_loss if penalty is None else task_loss + self.alpha * penalty
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            return (
                loss.detach(),
                task_loss.detach(),
                None if penalty is None else penalty.detach(),
            )

    study = {k: v for k, v in params.items() if k.startswith("study_")}
    plain = {k: v for k, v in params.items() if not k.startswith("study_")}
    if isinstance(plain.get("n_neighbors"), str):  # "n/6": a share of the width
        plain["n_neighbors"] = max(1, round(plain["n_components"] / 6))
    estimator = StudyAutoencoder(graph="learned", random_state=seed, **plain)
    for key, value in study.items():
        setattr(estimator, key, value)
    return estimator


def _directed_knn(H, k):
    """0/1 sparse matrix of each neuron's k nearest (correlation) neurons."""
    import scipy.sparse as sp

    from skgsr.graphs import _nearest_neighbors, _neuron_points, inactive_neurons

    active = np.flatnonzero(~inactive_neurons(H))
    n = H.shape[1]
    k = min(k, len(active) - 1)
    if k < 1:
        return sp.csr_array((n, n))
    _, neighbors = _nearest_neighbors(_neuron_points(H[:, active], "correlation"), k)
    rows = np.repeat(active, k)
    cols = active[neighbors.ravel()]
    return sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(n, n))


# --------------------------------------------------------------------------- #
# Scores
# --------------------------------------------------------------------------- #
def preferred_modules(Z, factors):
    """Index of the factor each neuron (column of Z) correlates with most."""
    Zc = Z - Z.mean(axis=0)
    Fc = factors - factors.mean(axis=0)
    norms = np.linalg.norm(Zc, axis=0)
    norms[norms == 0] = np.inf  # an inactive neuron correlates with nothing
    r = (Zc / norms).T @ (Fc / np.linalg.norm(Fc, axis=0))
    return np.abs(r).argmax(axis=1)


def scores(X, Z, graph, modules, factors):
    from sklearn.metrics import adjusted_rand_score

    from skgsr.metrics import feature_module_labels, module_recovery

    n_modules = len(np.unique(modules))
    labels = feature_module_labels(X, Z, graph, n_modules, random_state=0)
    result = {
        "fmr": float(adjusted_rand_score(modules, labels)),
        "labels": labels.tolist(),
        "modularity": graph_modularity_candidates(graph),
    }
    if factors is not None:
        result["nmr"] = module_recovery(
            graph, preferred_modules(Z, factors), n_modules, random_state=0
        )
    return result


def graph_modularity_candidates(graph):
    from skgsr import metrics

    if hasattr(metrics, "graph_modularity"):
        return float(metrics.graph_modularity(graph, random_state=0))
    return float("nan")


# --------------------------------------------------------------------------- #
# Runs
# --------------------------------------------------------------------------- #
def fit_one(family, seed, width, params, alpha, fit_seed):
    from skgsr.graphs import coactivation_graph

    X, modules, factors = make_family(family, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = make_study_estimator(
            {**FIT, **params, "n_components": width, "alpha": alpha}, fit_seed
        )
        estimator.fit(X)
        Z = estimator.transform(X)
        if alpha == 0:
            graph = coactivation_graph(Z, N_NEIGHBORS_BASELINE)
        else:
            graph = estimator.feature_graph_
    return {
        "mse": float(-estimator.score(X)),
        "seconds": time.perf_counter() - start,
        **scores(X, Z, graph, modules, factors),
    }


def architecture(params):
    """The parameters a baseline shares with a recipe: all but the penalty's."""
    keys = ("embedding_activation", "study_input_dropout")
    return {key: params[key] for key in keys if key in params}


def run(jobs, n_jobs):
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(fit_one)(*job) for job in jobs)


def study(recipes, families, seeds, widths, alphas, stability, n_jobs):
    """Fit every (family, seed, width) with each recipe's alphas and its baseline."""
    baselines, jobs, keys = {}, [], []
    fit_seeds = (0, 1) if stability else (0,)
    for family in families:
        for seed in seeds:
            for width in widths:
                for fs in fit_seeds:
                    for name in recipes:
                        arch = architecture(RECIPES[name])
                        key = (family, seed, width, fs, json.dumps(arch))
                        if key not in baselines:
                            baselines[key] = len(jobs)
                            jobs.append((family, seed, width, arch, 0.0, seed + fs))
                            keys.append(("baseline", key, 0.0))
                        for alpha in alphas:
                            jobs.append(
                                (family, seed, width, RECIPES[name], alpha, seed + fs)
                            )
                            keys.append((name, key, alpha))
    results = run(jobs, n_jobs)
    rows = []
    for (name, key, alpha), result in zip(keys, results, strict=True):
        family, seed, width, fs, arch = key
        if name == "baseline":
            continue
        base = results[baselines[key]]
        rows.append(
            {
                "recipe": name,
                "family": family,
                "seed": seed,
                "width": width,
                "fit_seed": fs,
                "alpha": alpha,
                "fmr": result["fmr"],
                "nmr": result.get("nmr"),
                "mse_ratio": result["mse"] / base["mse"],
                "modularity": result["modularity"],
                "labels": result["labels"],
                "base_fmr": base["fmr"],
                "base_nmr": base.get("nmr"),
                "base_modularity": base["modularity"],
                "base_labels": base["labels"],
                "seconds": result["seconds"],
            }
        )
    return rows


def summarize(rows):
    """Per recipe, family, width and alpha: means, worst seed, stability."""
    from sklearn.metrics import adjusted_rand_score

    groups = {}
    for r in rows:
        groups.setdefault(
            (r["recipe"], r["family"], r["width"], r["alpha"]), []
        ).append(r)
    table = []
    for (recipe, family, width, alpha), rs in sorted(groups.items()):
        first = [r for r in rs if r["fit_seed"] == 0]
        second = {r["seed"]: r for r in rs if r["fit_seed"] == 1}
        entry = {
            "recipe": recipe,
            "family": family,
            "width": width,
            "alpha": alpha,
            "n": len(first),
            "fmr": float(np.mean([r["fmr"] for r in first])),
            "fmr_min": float(np.min([r["fmr"] for r in first])),
            "base_fmr": float(np.mean([r["base_fmr"] for r in first])),
            "base_fmr_min": float(np.min([r["base_fmr"] for r in first])),
            "mse_ratio": float(np.mean([r["mse_ratio"] for r in first])),
            "mse_ratio_max": float(np.max([r["mse_ratio"] for r in first])),
            "modularity": float(np.mean([r["modularity"] for r in first])),
            "base_modularity": float(np.mean([r["base_modularity"] for r in first])),
        }
        if first[0]["nmr"] is not None:
            entry["nmr"] = float(np.mean([r["nmr"] for r in first]))
            entry["base_nmr"] = float(np.mean([r["base_nmr"] for r in first]))
        if second:
            pairs = [(r, second[r["seed"]]) for r in first if r["seed"] in second]
            stab = [adjusted_rand_score(a["labels"], b["labels"]) for a, b in pairs]
            base = [
                adjusted_rand_score(a["base_labels"], b["base_labels"])
                for a, b in pairs
            ]
            entry["stability"] = float(np.mean(stab))
            entry["stability_min"] = float(np.min(stab))
            entry["base_stability"] = float(np.mean(base))
        table.append(entry)
    return table


def print_table(table):
    print(
        f"{'recipe':>16} {'family':>9} {'n':>3} {'alpha':>5} {'FMR':>5} {'min':>5} "
        f"{'base':>5} {'bmin':>5} {'NMR':>5} {'bNMR':>5} {'mse/0':>5} {'max':>5} "
        f"{'stab':>5} {'bstab':>5} {'mod':>5} {'bmod':>5}"
    )
    for e in table:

        def f(key):
            v = e.get(key)
            return "  -  " if v is None else f"{v:5.2f}"

        print(
            f"{e['recipe']:>16} {e['family']:>9} {e['width']:>3} {e['alpha']:>5g} "
            f"{f('fmr')} {f('fmr_min')} {f('base_fmr')} {f('base_fmr_min')} "
            f"{f('nmr')} {f('base_nmr')} {f('mse_ratio')} {f('mse_ratio_max')} "
            f"{f('stability')} {f('base_stability')} {f('modularity')} "
            f"{f('base_modularity')}"
        )


def parse_seeds(text):
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stage", default="screen")
    parser.add_argument("--recipes", default="paper")
    parser.add_argument("--families", default="blocks,sparse")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--widths", default="32,64")
    parser.add_argument("--alphas", default="0.01,0.1,1")
    parser.add_argument("--stability", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    families = FAMILIES if args.families == "all" else args.families.split(",")
    recipes = args.recipes.split(",")
    seeds = parse_seeds(args.seeds)
    widths = [int(w) for w in args.widths.split(",")]
    alphas = [float(a) for a in args.alphas.split(",")]
    rows = study(recipes, families, seeds, widths, alphas, args.stability, args.n_jobs)
    table = summarize(rows)
    print_table(table)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {
                    "command": vars(args),
                    "fit": FIT,
                    "recipes": {r: RECIPES[r] for r in recipes},
                    "summary": table,
                    "rows": rows,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
