"""GSR for any PyTorch network: a graph penalty on the activations of one layer.

:class:`GraphRegularizer` puts a forward hook on a layer of a model. The hook keeps
a reference to what the layer outputs in training passes (no copy), and
:meth:`GraphRegularizer.penalty` turns it into ``alpha`` times the GSR penalty
(:class:`skgsr.penalty.GraphPenalty`) of those activations, to add to the loss.
With ``graph="learned"`` it also owns the learned graph: its warm-up, its
rebuilds from the neurons' co-activations and their history.

The estimators of skgsr train their structured layer with this same object.
"""

import copy
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from . import graphs
from ._torch_utils import evaluation_mode, module_device
from ._training import INFERENCE_BATCH, LearnedGraph
from ._warnings import warn
from .filters import FILTER_NAMES
from .penalty import GraphPenalty

__all__ = ["GraphRegularizer"]

#: Constraints on the parameters shared by the regularizer and the estimators.
PARAMETER_CONSTRAINTS = {
    "graph": [
        StrOptions(set(graphs.GRAPH_NAMES) | {"learned"}),
        "array-like",
        "sparse matrix",
        HasMethods(["nodes", "edges"]),
    ],
    "graph_shape": [None, "array-like", Interval(Integral, 1, None, closed="left")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "filter": [StrOptions(set(FILTER_NAMES)), callable],
    "laplacian": [StrOptions({"auto", *graphs.LAPLACIAN_KINDS})],
    "filter_scale": [None, Interval(Real, 0, None, closed="neither"), "array-like"],
    "filter_method": [StrOptions({"auto", "exact", "chebyshev"})],
    "filter_order": [Interval(Integral, 1, None, closed="left")],
    "filter_center": ["boolean"],
    "n_neighbors": [Interval(Integral, 1, None, closed="left")],
    "graph_warmup": [Interval(Integral, 0, None, closed="left")],
    "graph_update_interval": [Interval(Integral, 1, None, closed="left")],
    "graph_n_samples": [Interval(Integral, 1, None, closed="left")],
    "graph_kernel": [StrOptions(set(graphs.COACTIVATION_KERNELS))],
    "graph_metric": [StrOptions(set(graphs.COACTIVATION_METRICS))],
}

#: The keyword arguments of :class:`GraphRegularizer` the estimators pass on.
REGULARIZER_PARAMS = tuple(PARAMETER_CONSTRAINTS)

# Activations the penalty computes in float32.
_LOW_PRECISION = (torch.float16, torch.bfloat16)

# The parameters a GraphPenalty is built from (the graph's own aside).
_PENALTY_PARAMS = (
    "filter",
    "laplacian",
    "filter_scale",
    "filter_method",
    "filter_order",
    "filter_center",
)


def _check_graph_shape(graph_shape, n_nodes, width):
    """``graph_shape`` as a tuple whose product is ``n_nodes`` (or None)."""
    if graph_shape is None:
        return None
    shape = np.atleast_1d(np.asarray(graph_shape))
    if shape.ndim != 1 or len(shape) not in (1, 2) or shape.dtype.kind not in "iu":
        raise ValueError(
            f"graph_shape must be None, an int or a tuple (h, w) of ints; got "
            f"{graph_shape!r}."
        )
    shape = tuple(int(s) for s in shape)
    if min(shape) < 1:
        raise ValueError(f"graph_shape must be positive, got {graph_shape!r}.")
    if len(shape) == 1:
        shape = (1, shape[0])
    if shape[0] * shape[1] != n_nodes:
        raise ValueError(
            f"graph_shape={graph_shape!r} has {shape[0] * shape[1]} nodes but "
            f"{width}={n_nodes}: one node per structured neuron, so h * w must equal "
            f"{width}. Change graph_shape or {width}, or leave graph_shape=None to "
            "infer it."
        )
    return shape


def _display_shape(n_nodes):
    """A layout for maps of a graph with no geometry of its own."""
    try:
        return graphs.infer_grid_shape(n_nodes)
    except ValueError:  # a prime number of nodes
        return (1, n_nodes)


def _n_nodes_of(graph):
    """Node count of a user graph when it can be read without validating it."""
    if hasattr(graph, "number_of_nodes"):  # a networkx graph
        return graph.number_of_nodes()
    shape = graph.shape if sp.issparse(graph) else np.shape(graph)
    if len(shape) == 2 and shape[0] == shape[1]:
        return shape[0]
    return None  # malformed: GraphPenalty's validation says how


def _param_equal(a, b):
    """Whether two hyperparameter values are the same (arrays by content)."""
    if a is b:
        return True
    if callable(a) or callable(b):
        return False
    if sp.issparse(a) or sp.issparse(b):
        return (
            sp.issparse(a)
            and sp.issparse(b)
            and a.shape == b.shape
            and (sp.csr_array(a) != sp.csr_array(b)).nnz == 0
        )
    if hasattr(a, "edges") or hasattr(b, "edges"):
        return False  # a networkx graph may have been edited in place
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return isinstance(a, type(b)) and a == b
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except (TypeError, ValueError):
        return False


class GraphRegularizer:
    """Graph Spectral Regularization of one layer of any PyTorch network.

    Registers a forward hook on ``layer``. Every forward pass run with gradients
    enabled (a training pass) leaves the layer's output ``Z`` of shape
    ``(batch, n_nodes)`` with the regularizer, by reference; :meth:`penalty`
    returns ``alpha`` times the GSR penalty of the activations seen since its
    last call, ready to add to the loss:

    .. math:: \\alpha\\, \\mathrm{mean}_b\\; \\rho\\big(g(L)\\, z_b\\big)

    (see :class:`skgsr.penalty.GraphPenalty`; with several forward passes
    between two calls, the mean runs over all their samples). Passes under
    :func:`torch.no_grad` (evaluation) are ignored; a pass with gradients in
    ``model.eval()`` mode counts, so evaluate under :func:`torch.no_grad` (or
    :meth:`clear` before the next training step). Half-precision activations
    (autocast) are penalized in float32.

    The hook keeps the output tensor itself, not a copy, until :meth:`penalty`
    (or :meth:`clear`) releases it. A copy or a pickle of the regularizer, or of
    a model it is attached to, is detached: the copied model's hook does
    nothing, and :meth:`attach` puts the copied regularizer on a layer again
    (pass ``model`` again for a layer name or :meth:`epoch_end`).

    Parameters
    ----------
    layer : torch.nn.Module, str or None, default=None
        The layer whose output is the graph signal, or its name in ``model``
        (as :meth:`torch.nn.Module.get_submodule` takes it). None: attach later
        with :meth:`attach`.
    graph : str, array-like, scipy sparse matrix or networkx.Graph, default="grid"
        The graph over the layer's units: a name of
        :func:`skgsr.graphs.make_graph`, ``"learned"`` (from the units'
        co-activations, see :meth:`epoch_end`), or an adjacency.
    model : torch.nn.Module, optional
        The model ``layer`` belongs to: needed when ``layer`` is a name, and by
        :meth:`epoch_end` to encode inputs for a learned graph.
    n_nodes : int, optional
        Width of the layer (number of graph nodes). None: the layer's
        ``out_features`` when it has one, else the width of its first output.
    graph_shape : int or tuple of int, optional
        ``(h, w)`` layout of a named graph (see :func:`skgsr.graphs.make_graph`).
    alpha : float, default=1e-3
        Strength of the penalty; 0 measures nothing and returns zero.
    filter, laplacian, filter_scale, filter_method, filter_order, filter_center
        The penalty's filter, as the estimators take them: ``filter`` is
        :class:`~skgsr.penalty.GraphPenalty`'s ``filter``, ``filter_scale`` its
        ``scale``, ``filter_method`` its ``method``, ``filter_order`` its
        ``order``, ``filter_center`` its ``center``; ``laplacian="auto"`` is
        combinatorial for given graphs and normalized for a learned one.
    n_neighbors, graph_warmup, graph_update_interval, graph_n_samples, \
graph_kernel, graph_metric
        The learned graph's schedule and construction, as in the estimators:
        no penalty for ``graph_warmup`` epochs, then a graph built from up to
        ``graph_n_samples`` samples, rebuilt every ``graph_update_interval``
        epochs (see :func:`skgsr.graphs.coactivation_graph`).
    flatten : bool, default=False
        Accept outputs with more than two axes, each value after the batch axis
        a node in row-major order (``output.flatten(1)``): node ``(c * H + h) *
        W + w`` of a ``(batch, C, H, W)`` map, ``(h * W + w) * C + c`` of a
        channels-last ``(batch, H, W, C)`` one (a sequence ``(batch, T, D)``
        likewise). False: only ``(batch, n_nodes)`` outputs are taken and any
        other shape is an error, so that a map is never flattened unasked.
    random_state : int, RandomState instance or None, default=None
        Draws the samples :meth:`epoch_end` encodes for a learned graph.

    Attributes
    ----------
    penalty_ : skgsr.penalty.GraphPenalty or None
        The penalty on the layer; None until a graph exists (the width is not
        known yet, or a learned graph has not been built).
    n_nodes_ : int or None
        Width of the layer, once known.
    graph_shape_ : tuple of int or None
        ``(h, w)`` layout of the graph, to reshape activations into maps.
    last_penalty_ : torch.Tensor or None
        The penalty (without ``alpha``, detached) of the last :meth:`penalty`
        call that computed one.
    n_epochs_ : int
        Epochs counted by :meth:`epoch_end` (learned graph).

    See Also
    --------
    skgsr.penalty.GraphPenalty : The penalty of a batch of activations.
    skgsr.GSRClassifier : An estimator that trains such a layer.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skgsr.nn import GraphRegularizer
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    >>> reg = GraphRegularizer(model[1], graph="grid", alpha=0.1)
    >>> x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
    >>> loss = nn.functional.cross_entropy(model(x), y) + reg.penalty()
    >>> loss.backward()
    >>> reg.graph_shape_, reg.penalty_.n_nodes
    ((4, 4), 16)
    >>> reg.remove()
    """

    _parameter_constraints = {
        **PARAMETER_CONSTRAINTS,
        "n_nodes": [None, Interval(Integral, 1, None, closed="left")],
        "flatten": ["boolean"],
        "random_state": ["random_state"],
    }

    # Warn when a learned graph leaves units out (the estimators warn once a fit).
    _warn_inactive = True

    def __init__(
        self,
        layer=None,
        graph="grid",
        *,
        model=None,
        n_nodes=None,
        graph_shape=None,
        alpha=1e-3,
        filter="laplacian",
        laplacian="auto",
        filter_scale=None,
        filter_method="auto",
        filter_order=30,
        filter_center=False,
        n_neighbors=5,
        graph_warmup=10,
        graph_update_interval=5,
        graph_n_samples=1000,
        graph_kernel="gaussian",
        graph_metric="correlation",
        flatten=False,
        random_state=None,
    ):
        self.graph = graph
        self.n_nodes = n_nodes
        self.graph_shape = graph_shape
        self.alpha = alpha
        self.filter = filter
        self.laplacian = laplacian
        self.filter_scale = filter_scale
        self.filter_method = filter_method
        self.filter_order = filter_order
        self.filter_center = filter_center
        self.n_neighbors = n_neighbors
        self.graph_warmup = graph_warmup
        self.graph_update_interval = graph_update_interval
        self.graph_n_samples = graph_n_samples
        self.graph_kernel = graph_kernel
        self.graph_metric = graph_metric
        self.flatten = flatten
        self.random_state = random_state
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        self.model = model
        self.penalty_ = None
        self.n_nodes_ = None
        self.graph_shape_ = None
        self.last_penalty_ = None
        self.learned_ = None
        if self._is_learned():
            self.learned_ = LearnedGraph(
                n_neighbors,
                graph_warmup,
                graph_update_interval,
                graph_n_samples,
                graph_kernel,
                graph_metric,
            )
        self._layer = None
        self._handle = None
        self._removed = False
        self._seen_forward = False
        self._activations = []
        self._recording = None
        self._warned_inactive = False
        self._width_name = "n_nodes"
        self._rng = check_random_state(random_state)
        if n_nodes is not None:
            self.resolve(n_nodes)
        if layer is not None:
            self.attach(layer)

    # ------------------------------------------------------------------ graph
    def _is_learned(self):
        return isinstance(self.graph, str) and self.graph == "learned"

    def laplacian_kind(self):
        """The Laplacian the penalty uses: ``laplacian`` with ``"auto"`` resolved."""
        if self.laplacian != "auto":
            return self.laplacian
        return "normalized" if self._is_learned() else "combinatorial"

    def make_penalty(self, adjacency, lmax=None):
        """The :class:`~skgsr.penalty.GraphPenalty` of this regularizer's filter.

        Parameters
        ----------
        adjacency : array-like, scipy sparse matrix or networkx.Graph
            The graph (validated by the penalty).
        lmax : float, optional
            Largest Laplacian eigenvalue, estimated when None.

        Returns
        -------
        penalty : skgsr.penalty.GraphPenalty
        """
        return GraphPenalty(
            adjacency,
            filter=self.filter,
            laplacian=self.laplacian_kind(),
            scale=self.filter_scale,
            method=self.filter_method,
            order=self.filter_order,
            center=self.filter_center,
            lmax=lmax,
        )

    def resolve(self, n_nodes, width_name=None):
        """Fix the layer's width: the graph's layout, and its penalty.

        Done on its own at the first forward pass (or at :meth:`attach`, from
        the layer's ``out_features``); call it to validate the graph before any.

        Parameters
        ----------
        n_nodes : int
            Width of the layer.
        width_name : str, optional
            What error messages call the width (e.g. an estimator's
            ``"n_components"``); ``"n_nodes"`` by default.

        Returns
        -------
        self : GraphRegularizer
        """
        if width_name is not None:
            self._width_name = width_name
        width = self._width_name
        shape = _check_graph_shape(self.graph_shape, n_nodes, width)
        adjacency = None
        if self._is_learned():
            # checked now, not at the first rebuild graph_warmup epochs later
            if self.n_neighbors >= n_nodes:
                raise ValueError(
                    f"graph='learned' joins each structured neuron to its "
                    f"n_neighbors={self.n_neighbors} nearest other neurons, so "
                    f"n_neighbors must be smaller than {width}={n_nodes}. "
                    + (
                        f"Lower n_neighbors (at most {n_nodes - 1}) or raise {width}."
                        if n_nodes > 1
                        else f"A learned graph needs {width} >= 2."
                    )
                )
            layout = shape or _display_shape(n_nodes)
        elif isinstance(self.graph, str):
            layout = graphs.resolve_graph_shape(self.graph, shape or n_nodes)
            if layout[0] * layout[1] != n_nodes:
                raise ValueError(
                    f"graph={self.graph!r} with graph_shape={self.graph_shape!r} has "
                    f"{layout[0] * layout[1]} nodes but {width}={n_nodes}."
                )
            adjacency = graphs.make_graph(self.graph, layout)
        else:
            given = _n_nodes_of(self.graph)
            if given is not None and given != n_nodes:
                raise ValueError(
                    f"graph has {given} nodes but the structured layer has "
                    f"{width}={n_nodes} neurons; they must match (one node per "
                    "neuron)."
                )
            adjacency = self.graph
            layout = shape or _display_shape(n_nodes)
        self.n_nodes_ = n_nodes
        self.graph_shape_ = layout
        if adjacency is not None:
            self.penalty_ = self.make_penalty(adjacency)
        return self

    @property
    def adjacency_(self):
        """The graph in use (scipy sparse), or None before there is one."""
        return None if self.penalty_ is None else self.penalty_.adjacency

    @property
    def active(self):
        """Whether :meth:`penalty` applies a penalty now (False in a warm-up)."""
        if self.penalty_ is None:
            return False
        return self.learned_ is None or self.learned_.warmed_up

    # --------------------------------------------------------------- the hook
    def attach(self, layer):
        """Register the hook on ``layer`` (a module, or a name in ``model``).

        Parameters
        ----------
        layer : torch.nn.Module or str

        Returns
        -------
        self : GraphRegularizer
        """
        self._check_usable()
        if self._handle is not None:
            raise RuntimeError(
                "This GraphRegularizer is already attached to a layer; remove() it "
                "first or create another one."
            )
        if isinstance(layer, str):
            layer = self._named_layer(layer)
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(
                f"layer must be a torch.nn.Module or the name of one in model; got "
                f"{type(layer).__name__}."
            )
        width = getattr(layer, "out_features", None)
        if self.n_nodes_ is None and isinstance(width, int) and not self.flatten:
            self.resolve(width)
        self._layer = layer
        self._handle = layer.register_forward_hook(self._capture)
        return self

    def _named_layer(self, name):
        if self.model is None:
            raise ValueError(
                f"layer={name!r} is a name: pass the model it belongs to, "
                "GraphRegularizer(layer_name, model=model, ...)."
            )
        try:
            return self.model.get_submodule(name)
        except AttributeError:
            names = [n for n, _ in self.model.named_modules() if n]
            shown = ", ".join(map(repr, names[:20]))
            shown += " ..." if len(names) > 20 else ""
            raise ValueError(
                f"The model has no layer named {name!r}. Its layers are named "
                f"{shown} (dict(model.named_modules()) lists them)."
            ) from None

    def remove(self):
        """Detach the hook from the layer; the regularizer cannot be used after."""
        if self._handle is not None:
            self._handle.remove()
        self._handle = None
        self._layer = None
        self._activations = []
        self._removed = True

    def __getstate__(self):
        # a pickle or copy (also of the model it hooks) is detached: its hook does
        # nothing, and attach() puts it on a layer again
        state = self.__dict__.copy()
        state.update(
            _layer=None, _handle=None, _activations=[], _recording=None, model=None
        )
        return state

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()

    def _check_usable(self):
        if self._removed:
            raise RuntimeError(
                "This GraphRegularizer was removed from its layer (remove() or the "
                "end of a with block); create a new one to regularize again."
            )

    def _signal(self, output):
        """The layer's output as a ``(batch, n_nodes)`` signal, checked."""
        if not isinstance(output, torch.Tensor):
            raise TypeError(
                f"GraphRegularizer needs a layer whose output is a tensor; this "
                f"layer returned a {type(output).__name__}. Regularize a layer that "
                "returns the activations themselves."
            )
        if output.ndim != 2:
            if not (self.flatten and output.ndim > 2):
                raise ValueError(
                    f"The regularized layer returned an output of shape "
                    f"{tuple(output.shape)}; GraphRegularizer takes outputs of shape "
                    "(batch, n_nodes), one graph node per unit. For maps or "
                    "sequences with more axes ((batch, C, H, W), channels-last "
                    "(batch, H, W, C), (batch, T, D)) pass flatten=True: every value "
                    "after the batch axis becomes a node, in row-major order "
                    "(output.flatten(1)). Or regularize a layer whose output is "
                    "(batch, n_nodes), such as the Linear layer after a Flatten."
                )
            output = output.flatten(1)
        n_nodes = output.shape[1]
        if self.n_nodes_ is None:
            self.resolve(n_nodes)
        elif n_nodes != self.n_nodes_:
            raise ValueError(
                f"The regularized layer outputs {n_nodes} units per sample but the "
                f"graph has {self.n_nodes_} nodes ({self._width_name}="
                f"{self.n_nodes_}); one node per unit, so they must match."
            )
        return output

    def _capture(self, module, args, output):
        if module is not self._layer:
            # the hook of a copied or unpickled model: its regularizer is detached
            return
        if self._recording is not None:
            self._recording.append(self._signal(output).detach())
        elif torch.is_grad_enabled():
            self._activations.append(self._signal(output))
            self._seen_forward = True

    # ------------------------------------------------------------ the penalty
    def penalty(self, sample_weight=None):
        """``alpha`` times the penalty of the activations seen since the last call.

        Parameters
        ----------
        sample_weight : torch.Tensor or array-like of shape (n_samples,), optional
            Weights of the samples of those forward passes, in order.

        Returns
        -------
        penalty : torch.Tensor
            A scalar on the layer's device, differentiable with respect to the
            activations; zero when no training pass ran since the last call,
            during a learned graph's warm-up, or with ``alpha=0``.

        Raises
        ------
        RuntimeError
            When the regularizer is not attached to a layer, before the layer's
            first training forward pass, or after :meth:`remove`.
        """
        activations = self._take_activations()
        if not activations or self.alpha == 0 or not self.active:
            device = activations[0].device if activations else self._device()
            return torch.zeros((), device=device)
        raw = self._penalty_of(activations, sample_weight)
        self.last_penalty_ = raw.detach()
        return self.alpha * raw

    def _add_penalty(self, loss, sample_weight=None, output=None):
        """``loss + penalty(sample_weight)``, with the raw penalty (None when off).

        The estimators' training step, whose total is backpropagated once with
        ``total.backward()``: for the quadratic-form filters the gradient of the
        penalty comes from a hook on the activations (see
        ``GraphPenalty._add_to``); nothing is added when the penalty is off.
        ``output``: the layer's output to penalize instead of the one the hook
        kept, through autograd and no hook: a compiled network's hook keeps a
        tensor outside the graph of the loss.
        """
        activations = self._take_activations()
        if output is not None:
            activations = [output]
        if not activations or self.alpha == 0 or not self.active:
            return loss, None
        if len(activations) > 1 or output is not None:
            raw = self._penalty_of(activations, sample_weight)
            total = loss + self.alpha * raw
        else:
            z = self._penalty_input(activations[0])
            total, raw = self.penalty_._add_to(loss, z, self.alpha, sample_weight)
        self.last_penalty_ = raw = raw.detach()
        return total, raw

    def _take_activations(self):
        """The activations seen since the last call, checked to exist."""
        self._check_usable()
        if self._layer is None:
            raise RuntimeError(
                "This GraphRegularizer is not attached to a layer: pass the layer "
                "when creating it, or call attach(layer), then run a training "
                "forward pass before penalty()."
            )
        activations, self._activations = self._activations, []
        if not self._seen_forward:
            raise RuntimeError(
                "GraphRegularizer.penalty() was called before any training forward "
                "pass of the regularized layer: run the model on a batch first "
                "(passes under torch.no_grad() are not regularized)."
            )
        return activations

    def _device(self):
        return torch.device("cpu") if self.penalty_ is None else self.penalty_.device

    def _penalty_input(self, z):
        """``z`` as the penalty computes it (float32 for half precision), with the
        penalty on its device."""
        if z.dtype in _LOW_PRECISION:
            # mixed precision (autocast): sparse products have no half kernels
            z = z.float()
        if self.penalty_.device != z.device:
            self.penalty_ = self.penalty_.to(z.device)
        return z

    def _penalty_of(self, activations, sample_weight):
        """The (weighted) mean penalty over the samples of several passes."""
        activations = [self._penalty_input(z) for z in activations]
        penalty = self.penalty_
        if len(activations) == 1:
            return penalty(activations[0], sample_weight)
        per_sample = torch.cat([penalty.per_sample(z) for z in activations])
        if sample_weight is None:
            return per_sample.mean()
        weights = torch.as_tensor(
            sample_weight, dtype=per_sample.dtype, device=per_sample.device
        )
        if weights.shape != per_sample.shape:
            raise ValueError(
                f"sample_weight must have one weight per sample of the "
                f"{len(activations)} forward passes since the last penalty() call, "
                f"shape ({per_sample.shape[0]},); got {tuple(weights.shape)}."
            )
        return (per_sample * weights).sum() / weights.sum()

    def clear(self):
        """Forget the activations seen since the last :meth:`penalty` call."""
        self._activations = []

    # ------------------------------------------------------- the learned graph
    @property
    def update_due(self):
        """Whether a learned graph's schedule asks for a new graph now."""
        return self.learned_ is not None and self.learned_.update_due

    def update_graph(self, activations, scheduled=True):
        """Build the learned graph from activations and use it from now on.

        Parameters
        ----------
        activations : array-like or torch.Tensor of shape (n_samples, n_nodes)
            The layer's activations on some training samples (each column a
            unit, a point of the kNN graph).
        scheduled : bool, default=True
            This is the rebuild the schedule asked for (:attr:`update_due`
            becomes False). False: a graph built outside the schedule (e.g. to
            look at it), which leaves a due rebuild due.

        Returns
        -------
        adjacency : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        """
        self._check_usable()
        if self.learned_ is None:
            raise ValueError(
                f"update_graph builds a learned graph, but graph={self.graph!r}; "
                "use graph='learned'."
            )
        if isinstance(activations, torch.Tensor):
            activations = activations.detach().cpu().numpy()
        activations = np.asarray(activations)
        if activations.ndim != 2:
            raise ValueError(
                "activations must be a 2-D array (n_samples, n_nodes); got shape "
                f"{activations.shape}."
            )
        if self.n_nodes_ is None:
            self.resolve(activations.shape[1])
        elif activations.shape[1] != self.n_nodes_:
            raise ValueError(
                f"activations have {activations.shape[1]} columns but the layer has "
                f"{self.n_nodes_} units."
            )
        adjacency, inactive = self.learned_.build(activations)
        if self.penalty_ is None:
            self.penalty_ = self.make_penalty(adjacency)
        else:
            self.penalty_.set_graph(adjacency)
        self.learned_.record(self.penalty_.adjacency, inactive, scheduled)
        inactive = self.learned_.inactive
        if (
            self._warn_inactive
            and inactive.size
            and self.alpha > 0
            and not self._warned_inactive
        ):
            self._warned_inactive = True
            warn(
                f"{inactive.size} of {self.n_nodes_} units of the regularized layer "
                "did not vary over the samples encoded for the learned graph (dead "
                "or saturated units); they are isolated nodes without penalty: "
                f"{inactive[:10].tolist()}{' ...' if inactive.size > 10 else ''}.",
                UserWarning,
            )
        return adjacency

    def epoch_end(self, inputs=None, *, model=None):
        """Count an epoch; rebuild a learned graph when its schedule says so.

        Call it after every training epoch. With ``graph="learned"``, once
        ``graph_warmup`` epochs have ended (and every ``graph_update_interval``
        epochs after) up to ``graph_n_samples`` rows of ``inputs`` are run through
        ``model`` (evaluation mode, no gradient) and the graph is rebuilt from the
        layer's activations. Without inputs the rebuild stays due
        (:attr:`update_due`) until :meth:`update_graph` is called.

        Parameters
        ----------
        inputs : torch.Tensor, array-like or iterable of batches, optional
            Training inputs of the model (rows are samples), or an iterable of
            batches (a ``DataLoader``; a tuple batch contributes its first item).
        model : torch.nn.Module, optional
            The model to run; defaults to the ``model`` given at construction.

        Returns
        -------
        rebuilt : bool
            Whether a new graph was built.
        """
        self._check_usable()
        if self.learned_ is None:
            return False
        self.learned_.end_epoch()
        if not self.update_due or inputs is None:
            return False
        model = model if model is not None else self.model
        if model is None:
            raise ValueError(
                "epoch_end(inputs) runs the inputs through the model to rebuild the "
                "learned graph: pass model= here or when creating the regularizer."
            )
        self.update_graph(self._encode(inputs, model))
        return True

    def _encode(self, inputs, model):
        """The layer's activations on up to ``graph_n_samples`` rows of ``inputs``."""
        device = module_device(model)
        with evaluation_mode(model), torch.no_grad(), self._recorded() as recorded:
            for batch in self._input_batches(inputs):
                model(batch.to(device))
        if not recorded:
            raise ValueError("epoch_end got no inputs to encode (an empty data set).")
        return torch.cat(recorded).cpu().numpy()

    @contextmanager
    def _recorded(self):
        """Collect the layer's (detached) signals of every pass in the block."""
        self._recording = recorded = []
        try:
            yield recorded
        finally:
            self._recording = None

    def _input_batches(self, inputs):
        limit = self.graph_n_samples
        if isinstance(inputs, torch.Tensor | np.ndarray):
            inputs = torch.as_tensor(inputs)
            if len(inputs) > limit:
                rows = np.sort(self._rng.permutation(len(inputs))[:limit])
                inputs = inputs[torch.from_numpy(rows)]
            yield from inputs.split(INFERENCE_BATCH)
            return
        seen = 0
        for batch in inputs:
            if isinstance(batch, tuple | list):
                batch = batch[0]
            batch = torch.as_tensor(batch)[: limit - seen]
            yield batch
            seen += len(batch)
            if seen >= limit:
                return

    @property
    def graph_history_(self):
        """With ``graph="learned"``: the graphs built so far (the last 50)."""
        return None if self.learned_ is None else self.learned_.history

    @property
    def inactive_neurons_(self):
        """With ``graph="learned"``: units left out of the last graph."""
        return None if self.learned_ is None else self.learned_.inactive

    @property
    def n_epochs_(self):
        return 0 if self.learned_ is None else self.learned_.n_epochs

    # ------------------------------------------------------------- estimators
    def continue_from(self, penalty, learned_attributes=None, n_epochs=0):
        """Continue with a fitted penalty (and learned-graph state), not anew.

        Used by the estimators' warm starts: the fitted penalty (whose
        eigendecomposition may have been costly) is reused as it is.
        """
        self.penalty_ = copy.deepcopy(penalty)
        if self.learned_ is not None:
            self.learned_.restore(learned_attributes or {}, n_epochs)
        return self

    def to(self, device):
        """Move the penalty's operators to ``device`` (they follow the activations'
        device on their own too); returns self."""
        if self.penalty_ is not None:
            self.penalty_ = self.penalty_.to(device)
        return self

    def __repr__(self):
        graph = self.graph if isinstance(self.graph, str) else "<adjacency>"
        name = self.filter if isinstance(self.filter, str) else "<callable>"
        state = (
            "removed"
            if self._removed
            else ("attached" if self._handle is not None else "detached")
        )
        return (
            f"GraphRegularizer(graph={graph!r}, alpha={self.alpha}, filter={name!r}, "
            f"n_nodes={self.n_nodes_}, {state})"
        )
