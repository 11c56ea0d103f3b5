"""GSR in a skorch net: the graph penalty of one of its module's layers.

`skorch <https://skorch.readthedocs.io>`_ wraps a PyTorch module in a
scikit-learn estimator. The nets of this module are skorch's own, with one
change in their training step: ``get_loss`` adds ``alpha`` times the GSR
penalty of a layer, named by ``regularizer__layer``, computed by a
:class:`skgsr.nn.GraphRegularizer` on that layer. Every other argument of
:class:`~skgsr.nn.GraphRegularizer` is given with the same ``regularizer__``
prefix, as skorch takes ``module__`` arguments, so that ``GridSearchCV`` can
search ``regularizer__alpha`` or ``regularizer__graph``.

:class:`GraphRegularizerMixin` makes any skorch net such a net; the nets
:class:`GSRNeuralNet`, :class:`GSRNeuralNetClassifier` and
:class:`GSRNeuralNetRegressor` are the mixin on skorch's three. This module
imports without skorch; the nets need it (``pip install skorch``).
"""

import numpy as np
import torch

from .nn import GraphRegularizer

__all__ = [
    "GSRNeuralNet",
    "GSRNeuralNetClassifier",
    "GSRNeuralNetRegressor",
    "GraphRegularizerMixin",
]

_PREFIX = "regularizer"
_REGULARIZER = "regularizer_"


class GraphRegularizerMixin:
    """Add the GSR penalty of one layer to a skorch net's training loss.

    Put it before the skorch net in the bases,
    ``class MyNet(GraphRegularizerMixin, NeuralNetClassifier)``. When skorch
    builds the module (``initialize_module``), a
    :class:`~skgsr.nn.GraphRegularizer` is hooked on the layer named
    ``regularizer__layer``; ``get_loss`` of a training step adds its
    :meth:`~skgsr.nn.GraphRegularizer.penalty` (``alpha`` times the penalty of
    the layer's activations in that step's forward pass) and records the
    penalty without ``alpha`` in the batch history as ``"train_penalty"``.
    Validation and prediction run without gradients and are not penalized.

    Parameters given with the ``regularizer__`` prefix go to
    :class:`~skgsr.nn.GraphRegularizer`:

    - ``regularizer__layer`` (required): the name of the layer in the module,
      as ``dict(net.module_.named_modules())`` lists it (``"hidden"``,
      ``"body.2"``...); its output must be ``(batch, n_nodes)``, or pass
      ``regularizer__flatten=True`` for maps;
    - ``regularizer__graph``, ``regularizer__alpha``,
      ``regularizer__graph_shape``, ``regularizer__filter`` ... : the graph over
      the layer's units and the filter (see :class:`~skgsr.nn.GraphRegularizer`).

    With ``regularizer__graph="learned"`` the graph is rebuilt at the end of
    the epochs its schedule names, from the layer's activations on up to
    ``regularizer__graph_n_samples`` training samples.

    Attributes
    ----------
    regularizer_ : skgsr.nn.GraphRegularizer
        The regularizer on the layer: its ``adjacency_``, ``graph_shape_`` and
        ``penalty_`` describe the graph, from the first forward pass through
        the layer on (or from ``initialize()`` when the layer has
        ``out_features`` or ``regularizer__n_nodes`` is given). Rebuilt with
        the module, and by ``set_params`` of a ``regularizer__`` parameter.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # regularizer__* are a component's arguments, as module__* are; the
        # regularizer's penalty holds tensors on the net's device
        if _PREFIX not in self.prefixes_:
            self.prefixes_ = [*self.prefixes_, _PREFIX]
        if _REGULARIZER not in self.cuda_dependent_attributes_:
            self.cuda_dependent_attributes_ = [
                *self.cuda_dependent_attributes_,
                _REGULARIZER,
            ]

    # ----------------------------------------------------------- the component
    def initialize_module(self):
        """Build the module, then hook the regularizer on its layer."""
        super().initialize_module()
        self._initialize_regularizer()
        return self

    def _initialize_regularizer(self):
        previous = getattr(self, _REGULARIZER, None)
        if previous is not None:
            previous.remove()  # a module reused by a new fit keeps no stale hook
        params = self.get_params_for(_PREFIX)
        layer = params.pop("layer", None)
        if not isinstance(layer, str):
            raise ValueError(
                f"{type(self).__name__} regularizes the layer named by "
                f"regularizer__layer, e.g. regularizer__layer='hidden' (a name of "
                f"dict(net.module_.named_modules())); got {layer!r}."
            )
        self.regularizer_ = GraphRegularizer(layer, model=self.module_, **params)
        return self

    def set_params(self, **kwargs):
        """Set parameters; a ``regularizer__`` one rebuilds the regularizer.

        Returns
        -------
        self
        """
        ours = {k: v for k, v in kwargs.items() if k.startswith(f"{_PREFIX}__")}
        super().set_params(**{k: v for k, v in kwargs.items() if k not in ours})
        if ours:
            vars(self).update(ours)
            self._params_to_validate |= set(ours)
            if self.initialized_:
                self._initialize_regularizer()
        return self

    def __setstate__(self, state):
        super().__setstate__(state)
        # an unpickled regularizer is detached: hook it on the unpickled module
        regularizer = getattr(self, _REGULARIZER, None)
        if regularizer is not None:
            regularizer.model = self.module_
            regularizer.attach(self.get_params_for(_PREFIX)["layer"])

    # ----------------------------------------------------------- the training
    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The net's loss, plus the graph penalty of the layer in training.

        Parameters
        ----------
        y_pred, y_true, X, training
            As skorch's ``get_loss``.

        Returns
        -------
        loss : torch.Tensor
        """
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if not training:
            return loss
        return loss + self.regularizer_.penalty()

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """Record the training step's penalty (without ``alpha``)."""
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        regularizer = self.regularizer_
        if training and regularizer.active and regularizer.alpha > 0:
            self.history.record_batch("train_penalty", float(regularizer.last_penalty_))

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Count the epoch; rebuild a learned graph when its schedule says so."""
        super().on_epoch_end(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        regularizer = self.regularizer_
        regularizer.epoch_end()  # no inputs: a due rebuild waits for update_graph
        if regularizer.update_due and dataset_train is not None:
            rows = regularizer._rng.permutation(len(dataset_train))
            sample = torch.utils.data.Subset(
                dataset_train, np.sort(rows[: regularizer.graph_n_samples]).tolist()
            )
            if regularizer._rebuild_needs_inputs:
                activations, inputs = self._layer_outputs_and_inputs(sample)
                regularizer.update_graph(activations, inputs=inputs)
            else:
                regularizer.update_graph(self._layer_outputs(sample))

    # ----------------------------------------------------------- inference
    def transform(self, X):
        """The regularized layer's activations: a graph signal per sample.

        Parameters
        ----------
        X : input data
            Anything the net's ``predict`` takes.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_nodes)
            One column per node of ``regularizer_``'s graph;
            ``Z.reshape(-1, *net.regularizer_.graph_shape_)`` gives the maps.
        """
        return self._layer_outputs(X)

    def _layer_outputs_and_inputs(self, X):
        """:meth:`_layer_outputs` and the module's (tensor) inputs, flattened
        to one row per sample: what ``graph_metric="input_profile"`` needs."""
        rows = []

        def keep(module, args):
            if args and isinstance(args[0], torch.Tensor):
                rows.append(args[0].detach().reshape(len(args[0]), -1).cpu())

        handle = self.module_.register_forward_pre_hook(keep)
        try:
            activations = self._layer_outputs(X)
        finally:
            handle.remove()
        if not rows:
            raise ValueError(
                "graph_metric='input_profile' needs the module's inputs as a "
                "tensor (its first argument); this net's module got none."
            )
        return activations, torch.cat(rows).numpy()

    def _layer_outputs(self, X):
        """The layer's outputs on X (evaluation mode, no gradient), on the CPU."""
        with self.regularizer_._recorded() as recorded:
            for _ in self.forward_iter(X, training=False):
                pass
        if not recorded:
            return np.empty((0, self.regularizer_.n_nodes_ or 0), dtype=np.float32)
        return torch.cat(recorded).cpu().numpy()


_NETS = {
    "GSRNeuralNet": "NeuralNet",
    "GSRNeuralNetClassifier": "NeuralNetClassifier",
    "GSRNeuralNetRegressor": "NeuralNetRegressor",
}

try:
    from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
except ImportError:  # the nets are reported missing when asked for

    def __getattr__(name):
        if name in _NETS:
            raise ImportError(
                f"skgsr.skorch.{name} is a skorch net ({_NETS[name]}) and needs "
                "skorch, which is not installed: pip install skorch"
            )
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

else:

    class GSRNeuralNet(GraphRegularizerMixin, NeuralNet):
        """skorch's ``NeuralNet`` with the GSR penalty of a layer in its loss.

        See :class:`GraphRegularizerMixin` for the ``regularizer__``
        parameters and :class:`GSRNeuralNetClassifier` for an example; the
        other parameters are skorch's.
        """

    class GSRNeuralNetRegressor(GraphRegularizerMixin, NeuralNetRegressor):
        """skorch's ``NeuralNetRegressor`` with the GSR penalty of a layer.

        See :class:`GraphRegularizerMixin` for the ``regularizer__``
        parameters and :class:`GSRNeuralNetClassifier` for an example; the
        other parameters are skorch's.
        """

    class GSRNeuralNetClassifier(GraphRegularizerMixin, NeuralNetClassifier):
        """skorch's ``NeuralNetClassifier`` with the GSR penalty of a layer.

        See :class:`GraphRegularizerMixin` for the ``regularizer__``
        parameters; the other parameters are skorch's.

        Examples
        --------
        A plain PyTorch network, its 64-unit hidden layer laid on an 8x8 grid
        and made smooth on it while it learns the digits:

        >>> import numpy as np
        >>> import torch
        >>> from torch import nn
        >>> from sklearn.datasets import load_digits
        >>> from skgsr.metrics import smoothness_score
        >>> from skgsr.skorch import GSRNeuralNetClassifier
        >>> class MLP(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = nn.Sequential(nn.Linear(64, 64), nn.Tanh())
        ...         self.out = nn.Linear(64, 10)
        ...
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x))
        >>> X, y = load_digits(return_X_y=True)
        >>> X = (X / 16.0).astype(np.float32)
        >>> _ = torch.manual_seed(0)
        >>> net = GSRNeuralNetClassifier(
        ...     MLP,
        ...     criterion=nn.CrossEntropyLoss,
        ...     optimizer=torch.optim.Adam,
        ...     lr=1e-2,
        ...     max_epochs=15,
        ...     train_split=None,
        ...     verbose=0,
        ...     regularizer__layer="hidden",
        ...     regularizer__graph="grid",
        ...     regularizer__alpha=0.01,
        ... ).initialize()
        >>> Z = net.transform(X)  # the untrained layer's activations
        >>> graph = net.regularizer_.adjacency_  # the 8x8 grid
        >>> before = smoothness_score(Z, graph)
        >>> after = smoothness_score(net.fit(X, y).transform(X), graph)
        >>> bool(before < 0.2), bool(after > 0.5), net.score(X, y) > 0.95
        (True, True, True)
        """
