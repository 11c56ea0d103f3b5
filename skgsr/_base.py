"""BaseGSR: what the GSR estimators share, and their training loop.

:class:`BaseGSR` owns what is not specific to a task: hyperparameter validation,
the network's life cycle (a fresh fit, a warm start, ``partial_fit``) and the
training loop; inference and pickling come from
:class:`~skgsr._inference.FittedNetworkMixin`. Its subclasses choose the network's head
and the loss (``_build_head``, ``_task_loss``), and how targets are encoded and
outputs decoded.

How ``fit`` flows (``doc/contributing.rst`` has the map of the package):

1. ``_fit`` validates ``X`` and ``y`` and keeps the fitted state of the previous
   call, restored if anything below raises;
2. ``_initial_state`` or ``_continued_state`` builds a
   :class:`~skgsr._training.TrainState`: the network, the optimizer, the random
   streams, and the :class:`~skgsr.nn.GraphRegularizer` hooked on the structured
   layer, which owns the graph, the penalty and a learned graph's schedule;
3. ``_train`` runs the epochs (``_epoch``: a learned graph's rebuild when due,
   ``_run_epoch`` over shuffled minibatches, each a ``_train_step``, the
   validation score), records them (``_record_epoch``), and stops by
   :class:`~skgsr._training.EarlyStopping`;
4. ``_commit`` publishes the state as fitted attributes.
"""

import copy
import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
)

from ._inference import FittedNetworkMixin
from ._network import (
    ACTIVATIONS,
    GSRNetwork,
    build_user_encoder,
    encoder_width,
    make_mlp,
)
from ._progress import Progress
from ._torch_utils import (
    evaluation_mode,
    make_optimizer,
    resolve_device,
    resume_optimizer,
    snapshot,
    torch_seed,
    torch_threads,
)
from ._training import (
    INFERENCE_BATCH,
    Batches,
    DivergenceError,
    EarlyStopping,
    LossMeter,
    TrainState,
    check_float32_range,
    constant_prediction_loss,
    fitting_alone,
    learned_graph_modularity,
    monitored_every,
    split_validation,
)
from ._warnings import warn
from .nn import (
    PARAMETER_CONSTRAINTS,
    PENALTY_PARAMS,
    REGULARIZER_PARAMS,
    GraphRegularizer,
    _param_equal,
)

__all__ = ["BaseGSR", "DivergenceError"]


class _StructuredLayerRegularizer(GraphRegularizer):
    """The regularizer of an estimator's structured layer."""

    _warn_inactive = False  # the estimator warns once per fit, at its end


# The hyperparameters that shape the network: a warm start cannot change them.
_ARCHITECTURE_PARAMS = (
    "n_components",
    "hidden_layer_sizes",
    "encoder",
    "activation",
    "embedding_activation",
)


def _joined(chunks):
    """Tensors of consecutive rows as one array; one chunk (up to
    ``INFERENCE_BATCH`` rows) needs no copy."""
    return (chunks[0] if len(chunks) == 1 else torch.cat(chunks)).numpy()


class BaseGSR(FittedNetworkMixin, TransformerMixin, BaseEstimator):
    """Shared machinery of the GSR estimators; not to be used directly."""

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        # an nn.Module class or a function n_features -> nn.Module
        "encoder": [None, callable],
        **PARAMETER_CONSTRAINTS,
        "scale_alpha": ["boolean"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "embedding_activation": [StrOptions({"auto", *ACTIVATIONS})],
        "solver": [StrOptions({"adam", "adamw", "sgd"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str],
        "compile": ["boolean"],
    }

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(128,),
        encoder=None,
        graph="grid",
        graph_shape=None,
        filter="rayleigh",
        alpha=0.1,
        scale_alpha=True,
        laplacian="auto",
        filter_scale=None,
        filter_method="auto",
        filter_order=30,
        filter_center="auto",
        n_neighbors="auto",
        graph_warmup=10,
        graph_update_interval=5,
        graph_n_samples=1000,
        graph_kernel="auto",
        graph_metric="input_profile",
        learned_objective="modules",
        activation="relu",
        embedding_activation="auto",
        solver="adam",
        learning_rate_init=1e-3,
        batch_size="auto",
        max_iter=500,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        weight_decay=0.0,
        warm_start=False,
        random_state=None,
        verbose=0,
        device="auto",
        compile=False,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.encoder = encoder
        self.graph = graph
        self.graph_shape = graph_shape
        self.filter = filter
        self.alpha = alpha
        self.scale_alpha = scale_alpha
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
        self.learned_objective = learned_objective
        self.activation = activation
        self.embedding_activation = embedding_activation
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.weight_decay = weight_decay
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.compile = compile

    # ================================================================ hooks
    # What a subclass decides: the head, the loss, the targets, the score.
    _default_embedding_activation = "identity"
    _supports_early_stopping_stratify = False
    _min_validation_samples = 1
    _min_validation_reason = ""
    _architecture_params = _ARCHITECTURE_PARAMS

    def _n_outputs(self, X, y):
        """Width of the head's output."""
        raise NotImplementedError

    def _build_head(self, n_features, n_outputs, graph_shape):
        """The module from the structured layer to the output."""
        raise NotImplementedError

    def _validate_fit_data(self, X, y, reset):
        """Validated ``(X, y)`` of a fit (``y`` None for autoencoders)."""
        raise NotImplementedError

    def _encode_targets(self, y, incremental):
        """Targets as a numpy array the loss understands (None for autoencoders)."""
        return y

    def _check_continued_targets(self, previous):
        """Raise if the targets changed in a way the fitted head cannot follow.

        ``previous`` holds the fitted attributes before this call.
        """

    def _loss_scale(self, X, y, sample_weight):
        """The task loss of the best constant prediction (the loss's unit)."""
        return constant_prediction_loss(X if y is None else y, sample_weight)

    def _task_loss(self, output, target, x):
        """Per-sample task loss, shape ``(B,)``."""
        raise NotImplementedError

    def _mean_task_loss(self, output, target, x):
        """Unweighted batch mean of :meth:`_task_loss` (one fused op in subclasses)."""
        return self._task_loss(output, target, x).mean()

    def _validation_score(self, module, X, y, sample_weight=None):
        """Score of ``module`` on held-out data (higher is better)."""
        raise NotImplementedError

    # ============================================================ graph
    def _regularizer(self):
        """A fresh regularizer for the structured layer, from the current parameters.

        It resolves and validates the graph (once per fit) and builds the penalty.
        """
        params = {name: getattr(self, name) for name in REGULARIZER_PARAMS}
        if self.scale_alpha and hasattr(self, "loss_scale_"):
            params["alpha"] = self.alpha * self.loss_scale_
        if params["graph_shape"] is None:
            params["graph_shape"] = self._default_graph_shape()
        regularizer = _StructuredLayerRegularizer(**params)
        return regularizer.resolve(*self._structured_width())

    def _structured_width(self):
        """``(width, its name)`` of the structured layer, for the regularizer."""
        return self.n_components, "n_components"

    def _default_graph_shape(self):
        """The layout when ``graph_shape=None`` (None: the graph's own)."""
        return None

    def _make_penalty(self, adjacency, lmax=None):
        """The penalty of the current filter parameters over ``adjacency``."""
        return self._regularizer().make_penalty(adjacency, lmax=lmax)

    # ============================================================ module
    def _embedding_activation(self):
        if self.embedding_activation != "auto":
            return self.embedding_activation
        if self._default_embedding_activation == "activation":
            return self.activation
        return self._default_embedding_activation

    def _hidden_sizes(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes)).ravel()
        if sizes.size and (sizes.dtype.kind not in "iu" or np.any(sizes < 1)):
            raise ValueError(
                "hidden_layer_sizes must be positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _build_encoder(self, n_features):
        """The module from the input to the structured layer, and its output width."""
        if self.encoder is None:
            hidden = self._hidden_sizes()
            encoder = make_mlp([n_features, *hidden], self.activation, self.activation)
            return encoder, hidden[-1] if hidden else n_features
        encoder = build_user_encoder(self.encoder, n_features)
        return encoder, encoder_width(encoder, n_features)

    def _initialize_module(self, n_features, n_outputs, graph_shape):
        """Build the network (weights seeded by the caller)."""
        encoder, width = self._build_encoder(n_features)
        structured = make_mlp(
            [width, self.n_components], self.activation, self._embedding_activation()
        )
        head = self._build_head(n_features, n_outputs, graph_shape)
        return GSRNetwork(encoder, structured, head)

    def _make_optimizer(self, module):
        return make_optimizer(
            module, self.solver, self.learning_rate_init, self.weight_decay
        )

    def _compiled(self, module):
        """The network compiled for training (``compile=True``), else None."""
        return torch.compile(module) if self.compile else None

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    # ============================================================ fitting
    def _fit(self, X, y=None, sample_weight=None, incremental=False):
        """Validate, train, and commit the new fitted state, or leave all as it was.

        Everything a failed call could have set (``n_features_in_``, ``classes_``
        ...) is restored, so that a refit that raises keeps the previous model.
        """
        with fitting_alone(self):
            previous = dict(self.__dict__)
            try:
                return self._fit_unguarded(X, y, sample_weight, incremental, previous)
            except BaseException:
                self.__dict__.clear()
                self.__dict__.update(previous)
                raise

    def _fit_unguarded(self, X, y, sample_weight, incremental, previous):
        continuing = (incremental or self.warm_start) and hasattr(self, "module_")
        X, y = self._validate_fit_data(X, y, reset=not (incremental and continuing))
        check_float32_range(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float32, ensure_non_negative=True
            )
        y = self._encode_targets(y, incremental=incremental)
        if not (incremental and continuing):
            # partial_fit keeps the unit of its first call, a fit takes its data's
            self.loss_scale_ = self._loss_scale(X, y, sample_weight)
        with torch_threads():
            if continuing:
                state = self._continued_state(previous)
            else:
                state = self._initial_state(X, y)
            if self.early_stopping and not incremental:
                if state.validation_scores is None:
                    state.validation_scores = []
            try:
                self._train(state, X, y, sample_weight, incremental)
            finally:
                state.regularizer.remove()
        self._commit(state)
        return self

    def _initial_state(self, X, y):
        """The state of a fit from scratch: new weights, graph and streams."""
        device = resolve_device(self.device)
        seed = torch_seed(check_random_state(self.random_state))
        regularizer = self._regularizer()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = self._initialize_module(
                X.shape[1], self._n_outputs(X, y), regularizer.graph_shape_
            )
        module = module.to(device)
        generator = torch.Generator()
        generator.manual_seed(seed + 1)
        return TrainState(
            module=module,
            regularizer=regularizer.to(device).attach(module.structured),
            optimizer=self._make_optimizer(module),
            compiled=self._compiled(module),
            device=device,
            generator=generator,
            # the rows encoded for a learned graph come from a stream of their
            # own, so that building a graph never shifts the training shuffle
            graph_rng=np.random.RandomState(seed + 2),
        )

    def _continued_state(self, previous):
        """The state of a warm start or ``partial_fit``: the fitted one, copied.

        Copies, because a failed call must leave the fitted estimator as it was.
        """
        self._check_continuable(previous)
        device = resolve_device(self.device)
        module = copy.deepcopy(self.module_).to(device)
        regularizer = self._regularizer()
        fit_params = getattr(self, "_fit_params", None) or {}
        same_penalty = all(
            name in fit_params and _param_equal(fit_params[name], getattr(self, name))
            for name in PENALTY_PARAMS
        )
        if regularizer.learned_ is not None:
            penalty = self.penalty_
            if not same_penalty and self.feature_graph_ is not None:
                penalty = regularizer.make_penalty(self.feature_graph_)
            learned = {k: v for k, v in vars(self).items() if "graph" in k}
            regularizer.continue_from(penalty, learned, n_epochs=self.n_iter_)
        elif same_penalty:
            regularizer.continue_from(self.penalty_)
        optimizer = self._make_optimizer(module)
        resume_optimizer(optimizer, getattr(self, "_optimizer_state", None))
        generator = torch.Generator()
        if getattr(self, "_generator_state", None) is not None:
            generator.set_state(self._generator_state)
        else:
            generator.manual_seed(torch_seed(check_random_state(self.random_state)) + 1)
        return TrainState(
            module=module,
            regularizer=regularizer.to(device).attach(module.structured),
            optimizer=optimizer,
            compiled=self._compiled(module),
            device=device,
            generator=generator,
            graph_rng=copy.deepcopy(self._graph_rng),
            n_iter=self.n_iter_,
            loss_curve=list(self.loss_curve_),
            penalty_curve=list(self.penalty_curve_),
            history=list(self.history_),
            validation_scores=(
                None
                if self.validation_scores_ is None
                else list(self.validation_scores_)
            ),
            best_validation_score=self.best_validation_score_,
        )

    def _check_continuable(self, previous):
        """Refuse a warm start or ``partial_fit`` the fitted network cannot serve.

        A network fitted with other architecture parameters, on another number
        of features or for other targets would be silently kept while
        ``get_params()`` reports the new settings.
        """
        fit_params = previous.get("_fit_params") or {}
        changed = [
            f"{name}={fit_params[name]!r} -> {getattr(self, name)!r}"
            for name in self._architecture_params
            if name in fit_params
            and not _param_equal(fit_params[name], getattr(self, name))
        ]
        if changed:
            raise ValueError(
                "Cannot continue training (warm_start or partial_fit): the network was "
                f"fitted with other architecture parameters ({'; '.join(changed)}). "
                "Set warm_start=False to train a new network, or set the parameters "
                "back."
            )
        n_features = previous.get("n_features_in_")
        if n_features is not None and n_features != self.n_features_in_:
            raise ValueError(
                f"Cannot continue training (warm_start or partial_fit): X has "
                f"{self.n_features_in_} features but the network was fitted on "
                f"{n_features}. Set warm_start=False to train a new network."
            )
        self._check_continued_targets(previous)

    def _split_validation(self, X, y, sample_weight, state):
        """The training rows (all of X, indexed) and the held-out copy, or None."""
        if not (self.early_stopping and state.validation_scores is not None):
            return (X, y, sample_weight, None), None
        return split_validation(
            X,
            y,
            sample_weight,
            self.validation_fraction,
            check_random_state(self.random_state),
            stratify=self._supports_early_stopping_stratify,
            min_samples=self._min_validation_samples,
            reason=self._min_validation_reason,
        )

    def _train(self, state, X, y, sample_weight, incremental):
        """The epochs of one call of fit or partial_fit (one epoch for the latter)."""
        data, targets, weights, validation = self._training_data(
            X, y, sample_weight, state
        )
        batch_size = self._batch_size(data.n_samples)
        stopping = EarlyStopping(
            self.tol, self.n_iter_no_change, validation is not None
        )
        updates_at_start = self._graph_updates_of(state)
        last_good = snapshot(state.module)
        progress = Progress(
            self.verbose,
            1 if incremental else self.max_iter,
            type(self).__name__,
            incremental=incremental,
            first_call=state.n_iter == 0,
        )
        stopped = None
        for _ in range(1 if incremental else self.max_iter):
            # Ctrl-C anywhere in the epoch (a graph rebuild, the batches, the
            # validation score) keeps the model of the last finished epoch
            try:
                record = self._epoch(
                    state, data, targets, weights, batch_size, validation
                )
            except KeyboardInterrupt:
                self._keep_finished_epochs(state, last_good)
                break
            last_good = snapshot(state.module)
            if record.pop("penalty_switched_on"):
                # the objective gains a term: the warm-up's losses, scores and
                # weights (no penalty at all) are not comparable, nor restorable,
                # nor are those of the epochs that leave its optimum: after
                # warm-up epochs, this one and the next n_iter_no_change - 1
                # settle (a warm-up epoch's penalty is NaN)
                curve = state.penalty_curve
                after_warmup = self.alpha > 0 and bool(curve) and np.isnan(curve[-1])
                stopping.reset(settle=self.n_iter_no_change if after_warmup else 0)
            self._record_epoch(state, record)
            progress.epoch(record)
            if incremental or not state.penalty_applied:
                # no stopping before a learned graph's penalty is on: a network
                # stopped in its warm-up would never have been regularized
                continue
            adjacency = state.regularizer.adjacency_
            # a learned graph's penalty changes with each rebuild: its objective
            # is not comparable across rebuilds, the task loss is
            loss = record["task_loss" if state.regularizer.learned_ else "loss"]
            if stopping.update(loss, record["validation_score"], last_good, adjacency):
                stopped = (
                    f"no improvement by tol={self.tol} for "
                    f"{self.n_iter_no_change} epochs"
                )
                break
        else:
            if not incremental:
                warn(
                    f"Stopped at max_iter={self.max_iter} epochs without converging "
                    f"(tol={self.tol}); consider increasing max_iter.",
                    ConvergenceWarning,
                )
        progress.close(stopped)
        self._restore_best(state, stopping)
        # the fit's last optimizer step is followed by no training loss that
        # would show a divergence: one batch's loss with the final weights does
        self._check_final_loss(state, data, targets, batch_size)
        self._finish_learned_graph(state, data, incremental, updates_at_start)

    def _training_data(self, X, y, sample_weight, state):
        """Minibatch sources on the device, and the held-out validation data."""
        (X_train, y_train, w_train, rows), validation = self._split_validation(
            X, y, sample_weight, state
        )
        data = Batches(X_train, state.device, rows=rows)
        targets = None if y_train is None else torch.as_tensor(y_train).to(state.device)
        weights = (
            None
            if w_train is None
            else torch.as_tensor(w_train, dtype=torch.float32).to(state.device)
        )
        return data, targets, weights, validation

    def _keep_finished_epochs(self, state, last_good):
        """After Ctrl-C: the model of the last finished epoch, or none at all."""
        if state.n_iter == 0:
            raise  # the KeyboardInterrupt being handled: nothing to keep
        warn(
            f"fit was interrupted during epoch {state.n_iter + 1}; keeping the "
            f"model trained for {state.n_iter} epoch(s).",
            UserWarning,
        )
        state.module.load_state_dict(last_good)

    def _epoch(self, state, data, targets, weights, batch_size, validation):
        """One epoch: a learned graph's rebuild when due, the batches, the score."""
        regularizer = state.regularizer
        was_active = state.penalty_applied
        graph_time, rebuilt = 0.0, regularizer.update_due
        if rebuilt:
            graph_time = time.perf_counter()
            activations, inputs = self._encode_sample(state, data)
            regularizer.update_graph(activations, inputs=inputs)
            graph_time = time.perf_counter() - graph_time
        state.penalty_applied = regularizer.active
        start = time.perf_counter()
        loss, task_loss, penalty = self._run_epoch(
            state, data, targets, weights, batch_size
        )
        score = None
        if validation is not None:
            X_val, y_val, w_val = validation
            with evaluation_mode(state.module):
                score = float(self._validation_score(state.module, X_val, y_val, w_val))
        regularizer.epoch_end()
        record = {
            "epoch": state.n_iter + 1,
            "loss": loss,
            "task_loss": task_loss,
            "penalty": penalty,
            "validation_score": score,
            "duration": time.perf_counter() - start,
            "penalty_switched_on": state.penalty_applied and not was_active,
        }
        if regularizer.learned_ is not None:
            record["graph_updated"] = rebuilt
            record["graph_duration"] = graph_time
        return record

    def _run_epoch(self, state, data, targets, weights, batch_size):
        """One pass over the data in shuffled minibatches; returns epoch means."""
        state.module.train()
        order = torch.randperm(data.n_samples, generator=state.generator)
        meter = LossMeter(eager=state.device.type == "cpu")
        state.monitor = None
        if self.alpha == 0 and state.penalty_applied:
            # the penalty is measured for penalty_curve_, not trained on: on a
            # few batches spread over the (shuffled) epoch
            n_batches = -(-data.n_samples // batch_size)
            width = state.regularizer.n_nodes_
            state.monitor = state.regularizer.monitor(
                every=monitored_every(
                    n_batches, min(batch_size, data.n_samples) * width
                )
            )
        # the epoch's targets and weights in its order: each batch a view
        targets = None if targets is None else targets[order.to(targets.device)]
        weights = None if weights is None else weights[order.to(weights.device)]
        start = 0
        for index, xb in data.shuffled(order, batch_size):
            stop = start + len(index)
            tb = None if targets is None else targets[start:stop]
            wb = None if weights is None else weights[start:stop]
            start = stop
            if wb is not None and not wb.sum() > 0:
                continue  # a batch of zero-weight samples teaches nothing
            losses = self._train_step(state, xb, tb, wb)
            loss = meter.add(*losses, len(index))
            if loss is not None and not math.isfinite(loss):
                self._raise_divergence(loss, state)
        state.generator_state = state.generator.get_state()
        monitor, state.monitor = state.monitor, None
        loss, task_loss, penalty = meter.means(
            data.n_samples, None if monitor is None else monitor.result()
        )
        if not math.isfinite(loss):
            self._raise_divergence(loss, state)
        if not state.penalty_applied:
            penalty = float("nan")
        return loss, task_loss, penalty

    def _train_step(self, state, xb, tb, wb):
        """Forward, loss, backward and optimizer step on one minibatch.

        Returns the detached objective, task loss and penalty (without
        ``alpha``) of the batch; the penalty is None when it was not computed.
        """
        compiled = state.compiled is not None
        output, z = (state.compiled if compiled else state.module)(xb)
        if wb is None:
            task_loss = self._mean_task_loss(output, tb, xb)
        else:
            per_sample = self._task_loss(output, tb, xb)
            task_loss = (per_sample * wb).sum() / wb.sum()
        # the loss plus alpha x the penalty of z, which the regularizer's hook saw
        # (the inputs serve learned_objective="modules")
        loss, raw = state.regularizer._add_penalty(
            task_loss, wb, z if compiled else None, inputs=xb
        )
        if state.monitor is not None:
            state.monitor.add(z, wb, xb)
        state.steps.zero_grad()
        loss.backward()
        state.steps.step()
        return loss.detach(), task_loss.detach(), raw

    def _encode_sample(self, state, data):
        """Activations of up to ``graph_n_samples`` training rows, for a graph,
        and those rows' inputs (flattened) when the graph needs them, else None."""
        n_samples = min(self.graph_n_samples, data.n_samples)
        index = state.graph_rng.permutation(data.n_samples)[:n_samples]
        index = torch.from_numpy(np.sort(index))
        keep = state.regularizer._rebuild_needs_inputs
        activations, inputs = [], []
        with evaluation_mode(state.module), torch.no_grad():
            for chunk in index.split(INFERENCE_BATCH):
                rows = data.take(chunk)
                activations.append(state.module.embed(rows).cpu())
                if keep:
                    inputs.append(rows.reshape(len(rows), -1).cpu())
        return _joined(activations), _joined(inputs) if keep else None

    def _record_epoch(self, state, record):
        """Append an epoch to the curves and the history."""
        if record["validation_score"] is not None:
            state.validation_scores.append(record["validation_score"])
        state.n_iter += 1
        state.loss_curve.append(record["loss"])
        state.penalty_curve.append(record["penalty"])
        state.history.append(record)

    def _restore_best(self, state, stopping):
        """Put back the best validation epoch's weights, with their graph."""
        if stopping.best_weights is None:
            return
        state.module.load_state_dict(stopping.best_weights)
        state.best_validation_score = stopping.best_score
        penalty = state.regularizer.penalty_
        if stopping.best_graph is not penalty.adjacency:
            penalty.set_graph(stopping.best_graph)

    def _check_final_loss(self, state, data, targets, batch_size):
        index = torch.arange(min(batch_size, data.n_samples))
        xb = data.take(index)
        tb = None if targets is None else targets[index.to(targets.device)]
        with torch.no_grad(), evaluation_mode(state.module):
            output, _ = state.module(xb)
            loss = float(self._mean_task_loss(output, tb, xb))
        if not math.isfinite(loss):
            self._raise_divergence(
                loss,
                state,
                what=f"The loss became non-finite ({loss}) after the last step",
                epoch=state.n_iter,
            )

    def _raise_divergence(self, loss, state, what=None, epoch=None):
        what = what or f"The training loss became non-finite ({loss})"
        epoch = state.n_iter + 1 if epoch is None else epoch
        raise DivergenceError(
            f"{what} in epoch {epoch}; training stopped and the estimator was left "
            "unchanged. Likely causes: a learning rate too high (learning_rate_init="
            f"{self.learning_rate_init}), unscaled input features (standardize X, "
            "e.g. with StandardScaler in a Pipeline), or alpha too large "
            f"(alpha={self.alpha})."
        )

    @staticmethod
    def _graph_updates_of(state):
        learned = state.regularizer.learned_
        return 0 if learned is None else learned.n_updates

    def _finish_learned_graph(self, state, data, incremental, updates_at_start):
        """A learned graph exists even after a short fit; report what to know.

        Warns when the fit ended before the penalty was ever on, and when neurons
        were left out of the graph as inactive.
        """
        regularizer = state.regularizer
        if regularizer.learned_ is None:
            return
        in_warmup = not state.penalty_applied and not incremental
        if regularizer.adjacency_ is None or in_warmup:
            # the graph of the network as it is (partial_fit builds one only
            # once), outside the schedule: a continued fit still rebuilds
            activations, inputs = self._encode_sample(state, data)
            regularizer.update_graph(activations, False, inputs=inputs)
        if in_warmup:
            warn(
                f"The fit ended after {state.n_iter} epoch(s), within the learned "
                f"graph's warm-up (graph_warmup={self.graph_warmup}): the graph "
                "penalty was never applied. feature_graph_ is the co-activation "
                "graph of the unregularized network; increase max_iter or "
                "decrease graph_warmup.",
                UserWarning,
            )
        inactive = regularizer.inactive_neurons_
        rebuilt = regularizer.learned_.n_updates > updates_at_start
        # at alpha=0 the graph penalizes nothing: its isolated nodes change nothing;
        # a few dead ReLUs are common (1-3 of 64 in the default fits of a grid
        # search on breast cancer) and change little: warn when they are a
        # tenth of the layer or more (inactive_neurons_ is None until a rebuild)
        if rebuilt and self.alpha > 0 and inactive.size >= 0.1 * regularizer.n_nodes_:
            warn(
                f"{inactive.size} of {self.n_components} structured neurons "
                "did not vary over the samples encoded for the last learned graph "
                "(dead or saturated units); they are isolated nodes of "
                f"feature_graph_, without penalty: {inactive[:10].tolist()}"
                f"{' ...' if inactive.size > 10 else ''} (inactive_neurons_).",
                UserWarning,
            )

    def _commit(self, state):
        """Publish the trained state as fitted attributes."""
        regularizer = state.regularizer
        penalty = regularizer.penalty_
        scored = (
            getattr(self, "feature_graph_", None),
            getattr(self, "graph_modularity_", None),
        )
        self.module_ = state.module.eval()
        self.penalty_ = penalty
        self.feature_graph_ = None if penalty is None else penalty.adjacency
        self.laplacian_ = None if penalty is None else penalty.L
        self.graph_shape_ = regularizer.graph_shape_
        self.loss_curve_ = state.loss_curve
        self.penalty_curve_ = state.penalty_curve
        self.history_ = state.history
        self.validation_scores_ = state.validation_scores
        self.best_validation_score_ = state.best_validation_score
        self.n_iter_ = state.n_iter
        self._generator_state = state.generator_state
        self._graph_rng = state.graph_rng
        self._optimizer_state = state.optimizer.state_dict()
        if regularizer.learned_ is not None:
            self.__dict__.update(regularizer.learned_.fitted_attributes())
            self.graph_modularity_ = learned_graph_modularity(
                self.feature_graph_, *scored
            )
        # what the network and penalty were built from (warm starts and
        # skgsr.save compare with it)
        self._fit_params = self.get_params(deep=False)

    # ============================================================ inference
    # (defined here: scikit-learn wraps only a class's own transform for
    # set_output; the rest of inference is FittedNetworkMixin's)
    def transform(self, X):
        """Activations of the structured layer: the graph signal of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), dtype float32
            One value per structured neuron; ``Z.reshape(-1, *graph_shape_)`` gives
            the activation maps.
        """
        X = self._check_fitted_input(X)
        return self._embed(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # computations run in float32 and transform returns float32 whatever X is
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
