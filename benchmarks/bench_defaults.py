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
  (regressor); 1 for a classifier: the library's ``scale_alpha=True``.

``pooled``, ``batch`` and ``running`` are prototypes (a subclass in this
script); means over the batch are weighted by ``sample_weight`` when given.
The other forms are the library's own parameters (``LIBRARY_FORMS``). Run from
the repository root (with ``PYTHONPATH=.``)::

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
    "verify_tasks": ("digits", "breast", "digits_1024"),
    "verify_ae_alphas": (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0),
    "verify_ae_raw_alphas": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1),
    "convergence_data": ("digits", "breast", "wine", "breast_raw", "wine_raw"),
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
    "verify_tasks": ("breast",),
    "verify_ae_alphas": (0.1,),
    "verify_ae_raw_alphas": (1e-3,),
    "convergence_data": ("wine",),
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
    """``Estimator`` with the prototype penalty ``form`` (``"pooled"``,
    ``"batch"`` or ``"running"``, see ``FORMS``) in place of the library's, and,
    with ``init``, another initialization than the library's
    (:func:`reinitialize`). The library's own forms need no subclass."""
    Penalty = normalized_penalty_class()

    class Variant(Estimator):
        def _regularizer(self):
            regularizer = super()._regularizer()
            if form in PROTOTYPES:
                # the same graph and Laplacian, the prototype's penalty
                regularizer.penalty_ = Penalty(
                    regularizer.penalty_.adjacency,
                    form,
                    laplacian=regularizer.laplacian_kind(),
                )
            return regularizer

        def _initialize_module(self, *args):
            module = super()._initialize_module(*args)
            if init is not None:
                reinitialize(module, init, self.activation)
            return module

    Variant.__name__ = Estimator.__name__
    return Variant


# The library's parameters of each form. The study ran before ``scale_alpha``:
# its ``laplacian``, ``rayleigh`` and prototype forms weigh the raw penalty;
# ``rayleigh_unit`` (then a prototype) is the library's ``scale_alpha=True``.
LIBRARY_FORMS = {
    "laplacian": dict(filter="laplacian", filter_center=False, scale_alpha=False),
    "rayleigh": dict(filter="rayleigh", filter_center=True, scale_alpha=False),
    "rayleigh_unit": dict(filter="rayleigh", filter_center=True, scale_alpha=True),
}
PROTOTYPES = ("pooled", "batch", "running")


def make_gsr(Estimator, form="laplacian", init=None, **params):
    params = {**LIBRARY_FORMS.get(form, dict(scale_alpha=False)), **params}
    params.setdefault("device", "cpu")
    if form not in PROTOTYPES and init is None:
        return Estimator(**params)
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


# --------------------------------------------------------------------------- #
# Parts 6-10: the library's defaults, verified (no subclass)
# --------------------------------------------------------------------------- #
# The former defaults and the new ones, as the library's own parameters.
OLD_DEFAULTS = dict(filter="laplacian", alpha=1e-3, scale_alpha=False)
CONTENDERS = {
    "alpha=0": dict(alpha=0.0),
    "default": {},
    "old default": OLD_DEFAULTS,
}


def deviation_smoothness(Z, graph):
    """Smoothness score of what varies across samples: ``Z`` minus its mean
    over the samples (the mean map, shared by every sample, can be made smooth
    and large to lower a per-sample scale-free penalty without organizing what
    distinguishes the samples)."""
    from skgsr.metrics import smoothness_score

    Z = np.asarray(Z, dtype=np.float64)
    return smoothness_score(Z - Z.mean(axis=0), graph)


def part_verify_unscaled(config, seeds):
    """Unscaled breast cancer and wine, 3-fold CV (scikit-learn's
    ``cross_val_score``), the library's ``GSRClassifier()`` with its default
    training against ``alpha=0`` and the former defaults, seed by seed."""
    from sklearn.model_selection import cross_val_score

    from skgsr import GSRClassifier

    rows = []
    for data in ("breast_raw", "wine_raw"):
        X, y = load(data)
        base = None
        for name, params in CONTENDERS.items():
            scores = []
            for seed in seeds:
                est = GSRClassifier(random_state=seed, **params)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores.append(cross_val_score(est, X, y, cv=3).mean())
            base = scores if base is None else base
            rows.append(
                {
                    "data": data,
                    "contender": name,
                    "params": {k: v for k, v in params.items()},
                    "accuracy": summary(scores),
                    "difference": summary(np.subtract(scores, base)),
                }
            )
            a, d = rows[-1]["accuracy"], rows[-1]["difference"]
            print(
                f"{data:>10} {name:>11}  acc {a['mean']:.3f} (min {a['min']:.3f}) "
                f" vs alpha=0 {d['mean']:+.3f} (worst {d['min']:+.3f})  "
                f"{np.round(a['values'], 3).tolist()}",
                flush=True,
            )
    return rows


def part_verify_grid(config, seeds):
    """One alpha grid with the library's default penalty (3-fold CV, 50
    epochs): accuracy, per-sample smoothness and the smoothness of what varies
    across samples (:func:`deviation_smoothness`) of the held-out folds."""
    from sklearn.model_selection import StratifiedKFold

    from skgsr import GSRClassifier
    from skgsr.metrics import smoothness_score

    rows = []
    for task in config["verify_tasks"]:
        X, y = load(task)
        width = 1024 if task.endswith("1024") else 64
        folds = list(StratifiedKFold(3).split(X, y))

        def run(alpha, seed, X=X, y=y, width=width, folds=folds):
            acc, smooth, deviation = [], [], []
            for train, test in folds:
                est = GSRClassifier(
                    alpha=alpha,
                    n_components=width,
                    random_state=seed,
                    device="cpu",
                    **fixed_epochs(config["grid_epochs"]),
                )
                quiet_fit(est, X[train], y[train])
                acc.append(est.score(X[test], y[test]))
                Z = est.transform(X[test])
                smooth.append(smoothness_score(Z, est.feature_graph_))
                deviation.append(deviation_smoothness(Z, est.feature_graph_))
            return np.mean(acc), np.mean(smooth), np.mean(deviation)

        base = {s: run(0.0, s) for s in seeds}
        for alpha in (0.0, *config["grid_alphas"]):
            res = base if alpha == 0 else {s: run(alpha, s) for s in seeds}
            row = {
                "task": task,
                "alpha": alpha,
                "accuracy": summary([res[s][0] for s in seeds]),
                "accuracy_difference": summary([res[s][0] - base[s][0] for s in seeds]),
                "smoothness": summary([res[s][1] for s in seeds]),
                "deviation_smoothness": summary([res[s][2] for s in seeds]),
            }
            rows.append(row)
            print(
                f"{task:>11} {alpha:>6g}  acc {row['accuracy']['mean']:.3f} "
                f"({row['accuracy_difference']['mean']:+.3f}, worst "
                f"{row['accuracy_difference']['min']:+.3f})  smooth "
                f"{row['smoothness']['mean']:.2f} (min {row['smoothness']['min']:.2f})"
                f"  deviations {row['deviation_smoothness']['mean']:.2f} "
                f"(min {row['deviation_smoothness']['min']:.2f})",
                flush=True,
            )
    return rows


def part_verify_autoencoder(config, seeds):
    """The digits autoencoder (40 epochs, two thirds to train, the held-out
    third measured): the library's default penalty and the raw Laplacian
    (``filter="laplacian", scale_alpha=False``) along one alpha grid each;
    scale-free energy and MSE as ratios to ``alpha=0`` of the same seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from skgsr import GSRAutoencoder

    X = load_digits().data / 16.0
    X_train, X_test = train_test_split(X, test_size=1 / 3, random_state=0)

    def run(params, seed):
        ae = GSRAutoencoder(
            random_state=seed,
            device="cpu",
            **params,
            **fixed_epochs(config["ae_epochs"]),
        )
        quiet_fit(ae, X_train)
        smooth, energy = layer_scores(ae, X_test)
        deviation = deviation_smoothness(ae.transform(X_test), ae.feature_graph_)
        return -ae.score(X_test), energy, smooth, deviation

    base = {s: run(dict(alpha=0.0), s) for s in seeds}
    rows = []
    forms = {
        "default": ({}, config["verify_ae_alphas"]),
        "laplacian (raw)": (
            dict(filter="laplacian", scale_alpha=False),
            config["verify_ae_raw_alphas"],
        ),
    }
    for form, (params, alphas) in forms.items():
        for alpha in alphas:
            res = {s: run({**params, "alpha": alpha}, s) for s in seeds}
            row = {
                "form": form,
                "alpha": alpha,
                "mse": summary([res[s][0] for s in seeds]),
                "mse_ratio": summary([res[s][0] / base[s][0] for s in seeds]),
                "energy_ratio": summary([res[s][1] / base[s][1] for s in seeds]),
                "smoothness": summary([res[s][2] for s in seeds]),
                "deviation_smoothness": summary([res[s][3] for s in seeds]),
            }
            rows.append(row)
            print(
                f"{form:>15} {alpha:>6g}  mse x{row['mse_ratio']['mean']:.2f} "
                f"(max {row['mse_ratio']['max']:.2f})  energy "
                f"x{row['energy_ratio']['mean']:.2f} (max "
                f"{row['energy_ratio']['max']:.2f})  smooth "
                f"{row['smoothness']['mean']:.2f}  deviations "
                f"{row['deviation_smoothness']['mean']:.2f}",
                flush=True,
            )
    rows.append({"form": "alpha=0", "mse": summary([base[s][0] for s in seeds])})
    return rows


def part_convergence(config, seeds):
    """Do default fits stop on their own? ``GSRClassifier()`` (and
    ``alpha=0``) against ``MLPClassifier((128, 64))``, whole data sets, default
    training: epochs run and whether a ConvergenceWarning came."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from skgsr import GSRClassifier

    rows = []
    for data in config["convergence_data"]:
        X, y = load(data)
        models = {
            "mlp": lambda s: MLPClassifier((128, 64), random_state=s),
            "alpha=0": lambda s: GSRClassifier(alpha=0.0, random_state=s),
            "default": lambda s: GSRClassifier(random_state=s),
            "default, max_iter=200": lambda s: GSRClassifier(
                max_iter=200, random_state=s
            ),
        }
        for name, make in models.items():
            epochs, warned = [], []
            for seed in seeds:
                with warnings.catch_warnings(record=True) as record:
                    warnings.simplefilter("always")
                    est = make(seed).fit(X, y)
                epochs.append(est.n_iter_)
                warned.append(
                    any(issubclass(w.category, ConvergenceWarning) for w in record)
                )
            rows.append(
                {"data": data, "model": name, "epochs": epochs, "warned": warned}
            )
            print(
                f"{data:>10} {name:>22}  epochs {epochs}  ConvergenceWarning "
                f"{sum(warned)}/{len(seeds)}",
                flush=True,
            )
    return rows


def part_warnings(config, seeds):
    """The warnings of a 27-fit ``GridSearchCV`` with default settings:
    ``alpha`` in {0.01, 0.1, 1} x ``graph`` in {grid, ring, learned}, cv=3, on
    standardized breast cancer (and the refit)."""
    import collections

    from sklearn.model_selection import GridSearchCV

    from skgsr import GSRClassifier

    X, y = load("breast")
    rows = []
    for seed in seeds:
        search = GridSearchCV(
            GSRClassifier(random_state=seed),
            {"alpha": [0.01, 0.1, 1.0], "graph": ["grid", "ring", "learned"]},
            cv=3,
        )
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            search.fit(X, y)
        kinds = collections.Counter(
            f"{w.category.__name__}: {str(w.message)[:70]}" for w in record
        )
        rows.append(
            {
                "seed": seed,
                "n_warnings": len(record),
                "warnings": dict(kinds),
                "best_params": search.best_params_,
                "seconds": time.perf_counter() - start,
            }
        )
        print(f"seed {seed}: {len(record)} warnings {dict(kinds)}", flush=True)
    return rows


PARTS = {
    "init": part_init,
    "unscaled": part_unscaled,
    "grid": part_grid,
    "autoencoder": part_autoencoder,
    "units": part_units,
    "verify_unscaled": part_verify_unscaled,
    "verify_grid": part_verify_grid,
    "verify_autoencoder": part_verify_autoencoder,
    "convergence": part_convergence,
    "warnings": part_warnings,
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
        config["verify_tasks"] = tuple(args.tasks)
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
