"""Defaults that hold on data nobody tuned for (issue 14).

Five studies, each a ``--part``:

- ``init``: the initialization and the optimizer at ``alpha=0``, side by side
  with scikit-learn's MLP of the same widths. ``GSRClassifier(alpha=0,
  hidden_layer_sizes=(128,), n_components=64)`` against ``MLPClassifier((128,
  64))`` on digits (``MinMaxScaler``, 3-fold CV, 15 / 50 / 200 epochs, batch 200,
  learning rate 1e-3, ``tol=0`` so that both run every epoch), with ReLU and
  with logistic activations; ``GSRRegressor`` against ``MLPRegressor`` on
  diabetes (X and y standardized, 3-fold shuffled CV, R^2); the digits
  autoencoder's held-out reconstruction MSE. Contenders: ``gsr`` (the library:
  Glorot-uniform weights, gain 4 for logistic, zero biases), ``gsr_torch_init``
  (re-initialized with PyTorch's defaults: the library before issue 14),
  ``gsr_sklearn_init`` (re-initialized exactly as scikit-learn's MLP: biases
  uniform like the weights, factor 2 instead of 6 for logistic), ``mlp``
  (``alpha=0``, no L2) and ``mlp_l2`` (scikit-learn's default ``alpha=1e-4``).
- ``unscaled``: breast cancer and wine, unscaled, 3-fold CV: the classifier at
  each ``alpha`` against ``alpha=0`` with the same seed, for each penalty form,
  with the default stopping rule and with 200 fixed epochs.
- ``grid``: one alpha grid for every penalty form on several classification
  tasks (digits with a 64- and a 1024-neuron grid layer, breast cancer scaled
  and unscaled, wine as a held-out family): accuracy, smoothness score and
  scale-free grid energy of the held-out folds (3-fold CV, 50 epochs).
- ``autoencoder``: the digits autoencoder (8x8 grid, 40 epochs, the default
  network), trained on two thirds and measured on the held-out third: the
  scale-free grid energy and the reconstruction MSE as ratios to ``alpha=0``
  with the same seed, along each form's alpha curve (``laplacian@torch``: the
  raw form with PyTorch's default initialization, the library before issue 14).
- ``units``: the same alpha grid where the task loss has a unit: autoencoders
  on digits in [0, 16] (not [0, 1]) and on standardized breast cancer (16
  neurons), and the regressor on diabetes (X and y standardized).

The penalty forms (``FORMS``); ``x~_b`` is sample b's activations minus their
mean over the neurons, ``E_b = x~_b^T L x~_b`` (``= x_b^T L x_b`` for the
combinatorial Laplacian) and ``N_b = ||x~_b||^2``:

- ``laplacian``: ``mean_b E_b``, the raw Dirichlet energy (default before
  issue 14);
- ``rayleigh``: ``mean_b E_b / N_b`` (``filter="rayleigh", filter_center=True``);
- ``pooled``: ``mean_b E_b / mean_b N_b``, a ratio of batch means, both with
  gradient;
- ``batch``: ``mean_b E_b / sg(mean_b N_b)``: the raw energy divided by the
  batch's centred energy, detached (``sg``: stop-gradient);
- ``running``: ``mean_b E_b / sg(R)``, ``R`` a running mean (momentum 0.9 per
  step, starting at the first batch's value) of ``mean_b N_b``.

- ``rayleigh_unit``: ``rayleigh`` times the loss of a constant prediction, the
  mean variance of the reconstructed features (autoencoder) or of the targets
  (regressor); 1 for a classifier (``task_unit``).

``pooled``, ``batch``, ``running`` and ``rayleigh_unit`` are prototypes
(subclasses in this script); means over the batch are weighted by
``sample_weight`` when given. Run from the repository root
(with ``PYTHONPATH=.``)::

    python benchmarks/bench_defaults.py --part init --seeds $(seq 100 104)
    python benchmarks/bench_defaults.py --part unscaled --seeds $(seq 100 104)
    python benchmarks/bench_defaults.py --part grid         # seeds 100-102
    python benchmarks/bench_defaults.py --part autoencoder  # seeds 100-102
    python benchmarks/bench_defaults.py --part units        # seeds 100-102
    python benchmarks/bench_defaults.py --quick  # seconds

each with ``--out benchmarks/results/bench_defaults_PART.json``. Seeds 0-4 were
used while developing; the README's numbers use seeds from 100 on.
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np

EPSILON = 1e-12
BATCH_SIZE = 200
LEARNING_RATE = 1e-3
FORMS = ("laplacian", "rayleigh", "pooled", "batch", "running")

FULL = {
    "init_epochs": (15, 50, 200),
    "regression_epochs": (50, 200),
    "ae_epochs": 40,
    "unscaled_alphas": (1e-3, 1e-2, 1e-1, 1.0),
    "unscaled_forms": FORMS,
    "grid_alphas": (1e-3, 1e-2, 1e-1, 1.0),
    "grid_epochs": 50,
    "grid_tasks": ("digits", "digits_1024", "breast", "breast_raw", "wine"),
    "grid_forms": FORMS,
    "ae_alphas": (1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 0.3, 1.0),
    "ae_forms": (*FORMS, "rayleigh_unit", "laplacian@torch"),
    "unit_tasks": ("ae_digits_x16", "ae_breast", "reg_diabetes"),
    "unit_forms": ("laplacian", "rayleigh", "rayleigh_unit"),
    "unit_alphas": (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
}
QUICK = {
    "init_epochs": (2,),
    "regression_epochs": (2,),
    "ae_epochs": 2,
    "unscaled_alphas": (1e-2,),
    "unscaled_forms": ("laplacian", "running"),
    "grid_alphas": (1e-2,),
    "grid_epochs": 2,
    "grid_tasks": ("digits", "breast_raw"),
    "grid_forms": ("laplacian", "running"),
    "ae_alphas": (1e-2,),
    "ae_forms": ("laplacian", "running"),
    "unit_tasks": ("ae_digits", "reg_diabetes"),
    "unit_forms": ("rayleigh_unit",),
    "unit_alphas": (1e-2,),
}


# --------------------------------------------------------------------------- #
# Penalty forms (prototypes of a change in the library)
# --------------------------------------------------------------------------- #
def _weighted_mean(values, sample_weight):
    if sample_weight is None:
        return values.mean()
    return (values * sample_weight).sum() / sample_weight.sum()


def normalized_penalty_class():
    """``GraphPenalty`` divided by the layer's centred energy (see ``FORMS``)."""
    import torch

    from skgsr.penalty import GraphPenalty

    class NormalizedPenalty(GraphPenalty):
        """``mean_b E_b / D`` with ``D`` per ``mode``: ``"pooled"`` (the batch's
        ``mean_b N_b``, with gradient), ``"batch"`` (the same, detached) or
        ``"running"`` (a detached running mean of it, ``momentum`` per training
        step, starting at the first batch's value)."""

        def __init__(self, adjacency, mode, momentum=0.9, **kwargs):
            kwargs.update(filter="laplacian", center=True)
            super().__init__(adjacency, **kwargs)
            self.mode = mode
            self.momentum = momentum
            self.running_energy = None

        def forward(self, x, sample_weight=None):
            if sample_weight is not None:
                sample_weight = torch.as_tensor(
                    sample_weight, dtype=x.dtype, device=x.device
                )
            energy = _weighted_mean(self.per_sample(x), sample_weight)
            centred = x - x.mean(dim=1, keepdim=True)
            norm = _weighted_mean((centred * centred).sum(dim=1), sample_weight)
            if self.mode == "pooled":
                return energy / (norm + EPSILON)
            norm = norm.detach()
            if self.mode == "running":
                training = x.requires_grad and torch.is_grad_enabled()
                if self.running_energy is None:
                    self.running_energy = norm
                elif training:
                    m = self.momentum
                    self.running_energy = m * self.running_energy + (1 - m) * norm
                norm = self.running_energy
            return energy / (norm + EPSILON)

    return NormalizedPenalty


def unit_penalty_class():
    """``GraphPenalty`` times a constant ``unit`` (see ``task_unit``)."""
    from skgsr.penalty import GraphPenalty

    class UnitPenalty(GraphPenalty):
        def __init__(self, adjacency, unit, **kwargs):
            super().__init__(adjacency, **kwargs)
            self.unit = unit

        def forward(self, x, sample_weight=None):
            return self.unit * super().forward(x, sample_weight)

    return UnitPenalty


def task_unit(estimator, X, y):
    """The task loss of a constant prediction: the mean variance of the
    reconstructed features (autoencoder) or of the targets (regressor); 1 for
    a classifier, whose cross-entropy has no unit."""
    from sklearn.base import is_classifier

    if is_classifier(estimator):
        return 1.0
    target = X if y is None else np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    return float(np.var(target, axis=0).mean())


def reinitialize(module, init, activation):
    """``init="torch"``: PyTorch's default initialization of every layer;
    ``"sklearn"``: scikit-learn MLP's (weights and biases uniform in
    +-sqrt(f / (fan_in + fan_out)), f = 2 for logistic activations, else 6)."""
    import torch

    for layer in module.modules():
        if not hasattr(layer, "reset_parameters"):
            continue
        if init == "torch":
            layer.reset_parameters()
            continue
        weight = layer.weight
        fans = weight.shape[0] + weight.shape[1]
        factor = 2.0 if activation == "logistic" else 6.0
        bound = (factor / (fans * weight[0][0].numel())) ** 0.5
        with torch.no_grad():
            weight.uniform_(-bound, bound)
            layer.bias.uniform_(-bound, bound)


def with_form(Estimator, form, init=None):
    """``Estimator`` with the penalty ``form`` (``FORMS``, or ``"rayleigh_unit"``:
    the centred Rayleigh quotient times :func:`task_unit`) and, with ``init``,
    another initialization than the library's (:func:`reinitialize`)."""
    Penalty = normalized_penalty_class()
    UnitPenalty = unit_penalty_class()

    class Variant(Estimator):
        def _validate_fit_data(self, X, y, reset):
            X, y = super()._validate_fit_data(X, y, reset)
            if form.endswith("_unit") and (reset or not hasattr(self, "unit_")):
                self.unit_ = task_unit(self, X, y)
            return X, y

        def _make_penalty(self, adjacency, lmax=None):
            if form in ("laplacian", "rayleigh"):
                return super()._make_penalty(adjacency, lmax)
            if form == "rayleigh_unit":
                return UnitPenalty(
                    adjacency,
                    self.unit_,
                    filter="rayleigh",
                    center=True,
                    laplacian=self._resolved_laplacian(),
                    lmax=lmax,
                )
            return Penalty(
                adjacency, form, laplacian=self._resolved_laplacian(), lmax=lmax
            )

        def _initialize_module(self, *args):
            module = super()._initialize_module(*args)
            if init is not None:
                reinitialize(module, init, self.activation)
            return module

    Variant.__name__ = Estimator.__name__
    return Variant


def make_gsr(Estimator, form="laplacian", init=None, **params):
    if form == "rayleigh":
        params.update(filter="rayleigh", filter_center=True)
    params.setdefault("device", "cpu")
    return with_form(Estimator, form, init)(**params)


def fixed_epochs(epochs):
    """Every epoch runs: no stopping rule (both libraries)."""
    return dict(max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1)


# --------------------------------------------------------------------------- #
# Data and measures
# --------------------------------------------------------------------------- #
def load(name):
    from sklearn import datasets

    if name.startswith("digits"):
        X, y = datasets.load_digits(return_X_y=True)
        return X / 16.0, y
    if name.startswith("breast"):
        X, y = datasets.load_breast_cancer(return_X_y=True)
    else:
        X, y = datasets.load_wine(return_X_y=True)
    if name.endswith("_raw"):
        return X, y
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(X), y


def layer_scores(est, X):
    """Smoothness score and scale-free energy of the structured layer on X."""
    from skgsr.metrics import dirichlet_energy, smoothness_score

    Z = est.transform(X).astype(np.float64)
    graph = est.feature_graph_
    return smoothness_score(Z, graph), dirichlet_energy(Z, graph, scale_free=True)


def quiet_fit(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args)


def summary(values):
    values = np.asarray(values, dtype=float)
    return {
        "mean": float(values.mean()),
        "min": float(values.min()),
        "max": float(values.max()),
        "values": values.tolist(),
    }


# --------------------------------------------------------------------------- #
# Part 1: initialization and optimizer at alpha=0
# --------------------------------------------------------------------------- #
INITS = {"gsr": None, "gsr_torch_init": "torch", "gsr_sklearn_init": "sklearn"}


def part_init(config, seeds):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.model_selection import KFold, cross_val_score, train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor

    common = dict(batch_size=BATCH_SIZE, learning_rate_init=LEARNING_RATE)
    rows = []

    def classifier(name, epochs, seed, activation):
        fixed = fixed_epochs(epochs)
        if name.startswith("mlp"):
            l2 = 1e-4 if name == "mlp_l2" else 0.0
            return MLPClassifier(
                (128, 64),
                activation=activation,
                alpha=l2,
                random_state=seed,
                **common,
                **fixed,
            )
        return make_gsr(
            GSRClassifier,
            init=INITS[name],
            activation=activation,
            alpha=0.0,
            hidden_layer_sizes=(128,),
            n_components=64,
            random_state=seed,
            **common,
            **fixed,
        )

    def regressor(name, epochs, seed):
        fixed = fixed_epochs(epochs)
        if name.startswith("mlp"):
            l2 = 1e-4 if name == "mlp_l2" else 0.0
            est = MLPRegressor(
                hidden_layer_sizes=(128, 64),
                alpha=l2,
                random_state=seed,
                **common,
                **fixed,
            )
        else:
            est = make_gsr(
                GSRRegressor,
                init=INITS[name],
                alpha=0.0,
                hidden_layer_sizes=(128,),
                n_components=64,
                random_state=seed,
                **common,
                **fixed,
            )
        return TransformedTargetRegressor(
            make_pipeline(StandardScaler(), est), transformer=StandardScaler()
        )

    contenders = ("gsr", "gsr_torch_init", "gsr_sklearn_init", "mlp", "mlp_l2")
    X, y = load_digits(return_X_y=True)
    for task, activation, epochs in [
        (f"digits{suffix}", activation, epochs)
        for suffix, activation in (("", "relu"), ("_logistic", "logistic"))
        for epochs in config["init_epochs"]
    ]:
        for name in contenders:
            scores = [
                cross_val_score(
                    make_pipeline(
                        MinMaxScaler(), classifier(name, epochs, s, activation)
                    ),
                    X,
                    y,
                    cv=3,
                ).mean()
                for s in seeds
            ]
            rows.append(
                {
                    "task": task,
                    "contender": name,
                    "epochs": epochs,
                    "metric": "accuracy",
                    **summary(scores),
                }
            )
            print(_row_line(rows[-1]), flush=True)
    X, y = load_diabetes(return_X_y=True)
    for epochs in config["regression_epochs"]:
        for name in contenders[:2] + contenders[3:]:
            scores = [
                cross_val_score(
                    regressor(name, epochs, s),
                    X,
                    y,
                    cv=KFold(3, shuffle=True, random_state=0),
                ).mean()
                for s in seeds
            ]
            rows.append(
                {
                    "task": "diabetes",
                    "contender": name,
                    "epochs": epochs,
                    "metric": "r2",
                    **summary(scores),
                }
            )
            print(_row_line(rows[-1]), flush=True)
    X = load_digits().data / 16.0
    X_train, X_test = train_test_split(X, test_size=1 / 3, random_state=0)
    for alpha in (0.0, 1e-3):
        for name in ("gsr", "gsr_torch_init"):
            init = INITS[name]
            mse = []
            for s in seeds:
                ae = make_gsr(
                    GSRAutoencoder,
                    init=init,
                    alpha=alpha,
                    random_state=s,
                    **fixed_epochs(config["ae_epochs"]),
                )
                mse.append(-quiet_fit(ae, X_train).score(X_test))
            rows.append(
                {
                    "task": f"autoencoder alpha={alpha:g}",
                    "contender": name,
                    "epochs": config["ae_epochs"],
                    "metric": "mse",
                    **summary(mse),
                }
            )
            print(_row_line(rows[-1]), flush=True)
    return rows


def _row_line(r):
    return (
        f"{r['task']:>24} {r['contender']:>15} {r['epochs']:>4} {r['metric']:>8} "
        f"mean {r['mean']:.4f}  min {r['min']:.4f}  max {r['max']:.4f}"
    )


# --------------------------------------------------------------------------- #
# Part 2: unscaled data, each form against alpha=0
# --------------------------------------------------------------------------- #
def part_unscaled(config, seeds):
    from sklearn.model_selection import cross_val_score

    from skgsr import GSRClassifier

    rows = []
    for data in ("breast_raw", "wine_raw"):
        X, y = load(data)
        for training in ("default", "fixed200"):
            extra = {} if training == "default" else fixed_epochs(200)

            def cv(form, alpha, seed, X=X, y=y, extra=extra):
                est = make_gsr(
                    GSRClassifier, form, alpha=alpha, random_state=seed, **extra
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return cross_val_score(est, X, y, cv=3).mean()

            base = [cv("laplacian", 0.0, s) for s in seeds]
            rows.append(
                {
                    "data": data,
                    "training": training,
                    "form": "none",
                    "alpha": 0.0,
                    "accuracy": summary(base),
                    "difference": summary(np.zeros(len(seeds))),
                }
            )
            print(_unscaled_line(rows[-1]), flush=True)
            for form in config["unscaled_forms"]:
                for alpha in config["unscaled_alphas"]:
                    acc = [cv(form, alpha, s) for s in seeds]
                    diff = np.asarray(acc) - np.asarray(base)
                    rows.append(
                        {
                            "data": data,
                            "training": training,
                            "form": form,
                            "alpha": alpha,
                            "accuracy": summary(acc),
                            "difference": summary(diff),
                        }
                    )
                    print(_unscaled_line(rows[-1]), flush=True)
    return rows


def _unscaled_line(r):
    a, d = r["accuracy"], r["difference"]
    return (
        f"{r['data']:>10} {r['training']:>8} {r['form']:>9} {r['alpha']:>6g}  "
        f"acc {a['mean']:.3f} (min {a['min']:.3f})  vs alpha=0 "
        f"{d['mean']:+.3f} (worst {d['min']:+.3f})"
    )


# --------------------------------------------------------------------------- #
# Part 3: one alpha grid on several tasks
# --------------------------------------------------------------------------- #
def part_grid(config, seeds):
    from sklearn.model_selection import StratifiedKFold

    from skgsr import GSRClassifier

    rows = []
    for task in config["grid_tasks"]:
        X, y = load(task)
        width = 1024 if task.endswith("1024") else 64
        folds = list(StratifiedKFold(3).split(X, y))

        def run(form, alpha, seed, X=X, y=y, width=width, folds=folds):
            acc, smooth, energy = [], [], []
            for train, test in folds:
                est = make_gsr(
                    GSRClassifier,
                    form,
                    alpha=alpha,
                    n_components=width,
                    random_state=seed,
                    **fixed_epochs(config["grid_epochs"]),
                )
                quiet_fit(est, X[train], y[train])
                acc.append(est.score(X[test], y[test]))
                s, e = layer_scores(est, X[test])
                smooth.append(s)
                energy.append(e)
            return np.mean(acc), np.mean(smooth), np.mean(energy)

        base = {s: run("laplacian", 0.0, s) for s in seeds}
        rows.append(_grid_row(task, "none", 0.0, base, base))
        print(_grid_line(rows[-1]), flush=True)
        for form in config["grid_forms"]:
            for alpha in config["grid_alphas"]:
                start = time.perf_counter()
                res = {s: run(form, alpha, s) for s in seeds}
                rows.append(_grid_row(task, form, alpha, res, base))
                rows[-1]["seconds"] = time.perf_counter() - start
                print(_grid_line(rows[-1]), flush=True)
    return rows


def _grid_row(task, form, alpha, res, base):
    seeds = list(res)
    return {
        "task": task,
        "form": form,
        "alpha": alpha,
        "seeds": seeds,
        "accuracy": summary([res[s][0] for s in seeds]),
        "accuracy_difference": summary([res[s][0] - base[s][0] for s in seeds]),
        "smoothness": summary([res[s][1] for s in seeds]),
        "energy": summary([res[s][2] for s in seeds]),
        "energy_ratio": summary([res[s][2] / base[s][2] for s in seeds]),
    }


def _grid_line(r):
    return (
        f"{r['task']:>11} {r['form']:>9} {r['alpha']:>6g}  "
        f"acc {r['accuracy']['mean']:.3f}"
        f" ({r['accuracy_difference']['mean']:+.3f}, worst "
        f"{r['accuracy_difference']['min']:+.3f})  smooth "
        f"{r['smoothness']['mean']:.2f} (min {r['smoothness']['min']:.2f})  energy x"
        f"{r['energy_ratio']['mean']:.2f} (max {r['energy_ratio']['max']:.2f})"
    )


# --------------------------------------------------------------------------- #
# Part 4: the digits autoencoder's trade-off curve
# --------------------------------------------------------------------------- #
def part_autoencoder(config, seeds):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from skgsr import GSRAutoencoder

    X = load_digits().data / 16.0
    X_train, X_test = train_test_split(X, test_size=1 / 3, random_state=0)

    def run(form, alpha, seed):
        # "FORM@torch": the form with PyTorch's default initialization
        form, _, init = form.partition("@")
        ae = make_gsr(
            GSRAutoencoder,
            form,
            init=init or None,
            alpha=alpha,
            random_state=seed,
            **fixed_epochs(config["ae_epochs"]),
        )
        quiet_fit(ae, X_train)
        smooth, energy = layer_scores(ae, X_test)
        norm = float(
            np.sqrt((ae.transform(X_test).astype(np.float64) ** 2).sum(1)).mean()
        )
        return -ae.score(X_test), energy, smooth, norm

    bases, rows = {}, []
    for form in config["ae_forms"]:
        init = form.partition("@")[2]
        if init not in bases:
            # the ratios are to alpha=0 with the same seed and initialization
            bases[init] = {s: run(f"laplacian@{init}", 0.0, s) for s in seeds}
            rows.append(
                _ae_row(
                    f"none@{init}" if init else "none", 0.0, bases[init], bases[init]
                )
            )
            print(_ae_line(rows[-1]), flush=True)
        for alpha in config["ae_alphas"]:
            res = {s: run(form, alpha, s) for s in seeds}
            rows.append(_ae_row(form, alpha, res, bases[init]))
            print(_ae_line(rows[-1]), flush=True)
    return rows


def _ae_row(form, alpha, res, base):
    seeds = list(res)
    return {
        "form": form,
        "alpha": alpha,
        "seeds": seeds,
        "mse": summary([res[s][0] for s in seeds]),
        "mse_ratio": summary([res[s][0] / base[s][0] for s in seeds]),
        "energy": summary([res[s][1] for s in seeds]),
        "energy_ratio": summary([res[s][1] / base[s][1] for s in seeds]),
        "smoothness": summary([res[s][2] for s in seeds]),
        "norm": summary([res[s][3] for s in seeds]),
    }


def _ae_line(r):
    return (
        f"{r['form']:>9} {r['alpha']:>6g}  mse x{r['mse_ratio']['mean']:.2f} "
        f"(max {r['mse_ratio']['max']:.2f})  energy x{r['energy_ratio']['mean']:.2f} "
        f"(max {r['energy_ratio']['max']:.2f})  smooth {r['smoothness']['mean']:.2f}  "
        f"norm {r['norm']['mean']:.2f}"
    )


# --------------------------------------------------------------------------- #
# Part 5: the task's unit (reconstruction and regression)
# --------------------------------------------------------------------------- #
def part_units(config, seeds):
    """The same alpha on data at two scales: autoencoders on digits in [0, 1]
    and in [0, 16] and on standardized breast cancer (16 neurons, 4x4 grid);
    the regressor on diabetes (X standardized) with y standardized and raw.
    Autoencoders: held-out third; regressor: 3-fold shuffled CV."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.model_selection import KFold, train_test_split
    from sklearn.preprocessing import StandardScaler

    from skgsr import GSRAutoencoder, GSRRegressor

    digits = load_digits().data
    breast = StandardScaler().fit_transform(load_breast_cancer().data)
    X_dia, y_dia = load_diabetes(return_X_y=True)
    X_dia = StandardScaler().fit_transform(X_dia)
    tasks = {
        "ae_digits": (GSRAutoencoder, digits / 16.0, None, 64),
        "ae_digits_x16": (GSRAutoencoder, digits, None, 64),
        "ae_breast": (GSRAutoencoder, breast, None, 16),
        "reg_diabetes": (GSRRegressor, X_dia, (y_dia - y_dia.mean()) / y_dia.std(), 64),
        "reg_diabetes_raw_y": (GSRRegressor, X_dia, y_dia, 64),
    }
    rows = []
    for task, (Est, X, y, width) in tasks.items():
        if task not in config["unit_tasks"]:
            continue
        if y is None:
            splits = [
                train_test_split(np.arange(len(X)), test_size=1 / 3, random_state=0)
            ]
        else:
            splits = list(KFold(3, shuffle=True, random_state=0).split(X))

        def run(form, alpha, seed, Est=Est, X=X, y=y, width=width, splits=splits):
            scores, smooth, energy = [], [], []
            for train, test in splits:
                est = make_gsr(
                    Est,
                    form,
                    alpha=alpha,
                    n_components=width,
                    random_state=seed,
                    **fixed_epochs(config["ae_epochs"]),
                )
                if y is None:
                    quiet_fit(est, X[train])
                    scores.append(-est.score(X[test]))  # MSE
                else:
                    quiet_fit(est, X[train], y[train])
                    scores.append(est.score(X[test], y[test]))  # R^2
                s, e = layer_scores(est, X[test])
                smooth.append(s)
                energy.append(e)
            return np.mean(scores), np.mean(energy), np.mean(smooth)

        base = {s: run("laplacian", 0.0, s) for s in seeds}
        rows.append(_unit_row(task, "none", 0.0, base, base))
        print(_unit_line(rows[-1]), flush=True)
        for form in config["unit_forms"]:
            for alpha in config["unit_alphas"]:
                res = {s: run(form, alpha, s) for s in seeds}
                rows.append(_unit_row(task, form, alpha, res, base))
                print(_unit_line(rows[-1]), flush=True)
    return rows


def _unit_row(task, form, alpha, res, base):
    seeds = list(res)
    row = {
        "task": task,
        "form": form,
        "alpha": alpha,
        "seeds": seeds,
        "score": summary([res[s][0] for s in seeds]),
        "energy_ratio": summary([res[s][1] / base[s][1] for s in seeds]),
        "smoothness": summary([res[s][2] for s in seeds]),
    }
    if task.startswith("ae"):
        row["score_ratio"] = summary([res[s][0] / base[s][0] for s in seeds])
    else:
        row["score_difference"] = summary([res[s][0] - base[s][0] for s in seeds])
    return row


def _unit_line(r):
    if "score_ratio" in r:
        score = (
            f"mse x{r['score_ratio']['mean']:.2f} (max {r['score_ratio']['max']:.2f})"
        )
    else:
        d = r["score_difference"]
        score = f"r2 {r['score']['mean']:.3f} ({d['mean']:+.3f}, worst {d['min']:+.3f})"
    return (
        f"{r['task']:>18} {r['form']:>13} {r['alpha']:>6g}  {score}  energy "
        f"x{r['energy_ratio']['mean']:.2f} (max {r['energy_ratio']['max']:.2f})  "
        f"smooth {r['smoothness']['mean']:.2f}"
    )


PARTS = {
    "init": part_init,
    "unscaled": part_unscaled,
    "grid": part_grid,
    "autoencoder": part_autoencoder,
    "units": part_units,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[100, 101, 102])
    parser.add_argument("--tasks", nargs="+", help="only these tasks (grid, units)")
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds)")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads")
    parser.add_argument("--out", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    config = dict(QUICK if args.quick else FULL)
    if args.tasks:
        config["grid_tasks"] = config["unit_tasks"] = tuple(args.tasks)
    seeds = args.seeds[:1] if args.quick else args.seeds
    from sklearn.exceptions import ConvergenceWarning

    # every fit runs a fixed number of epochs on purpose
    warnings.simplefilter("ignore", ConvergenceWarning)
    results = {}
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        for part in args.part:
            print(f"== {part}", flush=True)
            results[part] = PARTS[part](config, seeds)
    if args.out:
        import sklearn

        meta = {
            "seeds": seeds,
            "threads": args.threads,
            "quick": args.quick,
            "config": {
                k: list(v) if isinstance(v, tuple) else v for k, v in config.items()
            },
            "python": platform.python_version(),
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "cpu_count": os.cpu_count(),
            "total_s": time.perf_counter() - start,
            "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        }
        with open(args.out, "w") as f:
            json.dump({"meta": meta, **results}, f, indent=1)
    return results


if __name__ == "__main__":
    sys.exit(main() and 0)
