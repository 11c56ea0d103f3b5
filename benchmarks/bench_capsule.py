"""Capsule networks with GSR: fit time, and the first paper's alignment claim.

The first paper's claim: "a smoothing regularization imposes semantically
consistent ordering of nodes when applied to capsule nets". Measured here on
scikit-learn's digits (8x8), with ``GSRClassifier(head="capsule")``: ten class
capsules, and ``graph="capsules"``, which joins dimension ``d`` of every capsule
to dimension ``d`` of the others.

Alignment. Known transformations (a one-pixel shift right and down, a rotation
by 15 degrees, stroke thickening) are applied to the held-out digits. For a
transformation ``t`` and a class ``c``, the *movement profile* is, for each
dimension ``d`` of class ``c``'s own capsule, the mean over the held-out digits
of class ``c`` of ``|z_cd(t(x)) - z_cd(x)|``. The alignment of ``t`` is the mean
Pearson correlation of the profiles of two classes over all pairs of classes
(1: every capsule moves the same dimensions under ``t``; 0: no relation), and
the alignment of a model is the mean over the transformations.

A control: a shared *scale* of the dimensions (dimension ``d`` large in every
capsule) correlates the profiles whatever the transformation. ``specificity`` is
the alignment minus the mean correlation of profiles of two classes under two
*different* transformations: what is aligned per transformation, beyond what
all transformations share.

Commands (from the repository root, one thread)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_capsule.py \\
        --study alignment --out benchmarks/results/bench_capsule.json
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_capsule.py \\
        --study alignment --seeds 3-5 --split-seed 1 \\
        --out benchmarks/results/bench_capsule_heldout.json
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_capsule.py \\
        --study alignment --variants \\
        --out benchmarks/results/bench_capsule_variants.json
    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_capsule.py \\
        --study timing --out benchmarks/results/bench_capsule_timing.json
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_capsule.py --quick
"""

import argparse
import itertools
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skgsr import GSRClassifier  # noqa: E402
from skgsr.graphs import make_graph  # noqa: E402


# --------------------------------------------------------------------------- #
# Data and transformations
# --------------------------------------------------------------------------- #
def digits(split_seed=0):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.33, random_state=split_seed, stratify=y)


def _images(X):
    return X.reshape(-1, 8, 8)


def shift(X, rows, cols):
    """Move every image by ``(rows, cols)`` pixels, filling with 0."""
    return np.stack(
        [ndimage.shift(im, (rows, cols), order=0, cval=0.0) for im in _images(X)]
    ).reshape(len(X), 64)


def rotate(X, degrees):
    """Rotate every image about its centre (bilinear), clipped to [0, 1]."""
    out = [ndimage.rotate(im, degrees, reshape=False, order=1) for im in _images(X)]
    return np.clip(np.stack(out), 0, 1).reshape(len(X), 64).astype(np.float32)


def thicken(X):
    """Thicker strokes: half-way to the grey dilation by a 3x3 cross."""
    cross = ndimage.generate_binary_structure(2, 1)
    dilated = np.stack(
        [ndimage.grey_dilation(im, footprint=cross) for im in _images(X)]
    )
    return (0.5 * (_images(X) + dilated)).reshape(len(X), 64).astype(np.float32)


TRANSFORMATIONS = {
    "shift right": lambda X: shift(X, 0, 1),
    "shift down": lambda X: shift(X, 1, 0),
    "rotate 15": lambda X: rotate(X, 15),
    "thicken": thicken,
}


# --------------------------------------------------------------------------- #
# Alignment
# --------------------------------------------------------------------------- #
def movement_profiles(estimator, X, y, transformations=TRANSFORMATIONS, signed=False):
    """``profiles[t][c, d]``: mean ``|change|`` of dimension d of capsule c.

    Over the samples of class ``c`` (its own capsule only) under transformation
    ``t``; ``estimator`` is a fitted ``GSRClassifier(head="capsule")``.
    ``signed=True``: the mean change itself, ``z_cd(t(x)) - z_cd(x)``, the
    direction in which ``t`` moves the capsule.
    """
    n_classes, dim = estimator.graph_shape_
    Z = estimator.transform(X).reshape(len(X), n_classes, dim)
    classes = np.searchsorted(estimator.classes_, y)
    profiles = {}
    for name, transform in transformations.items():
        moved = estimator.transform(transform(X)).reshape(len(X), n_classes, dim)
        change = (moved - Z)[np.arange(len(X)), classes]  # own capsule
        if not signed:
            change = np.abs(change)
        profiles[name] = np.stack(
            [change[classes == c].mean(axis=0) for c in range(n_classes)]
        )
    return profiles


def _mean_pair_correlation(A, B=None):
    """Mean Pearson correlation of rows ``A[c]`` and ``B[c']`` over ``c != c'``."""
    B = A if B is None else B
    C = np.corrcoef(A, B)[: len(A), len(A) :]
    return float(C[~np.eye(len(A), dtype=bool)].mean())


def alignment(profiles):
    """Mean over transformations of the mean correlation of two classes' profiles."""
    return float(np.mean([_mean_pair_correlation(P) for P in profiles.values()]))


def specificity(profiles):
    """Alignment minus the same correlation across two different transformations."""
    names = list(profiles)
    across = [
        _mean_pair_correlation(profiles[a], profiles[b])
        for a, b in itertools.permutations(names, 2)
    ]
    return alignment(profiles) - float(np.mean(across))


# --------------------------------------------------------------------------- #
# Studies
# --------------------------------------------------------------------------- #
def path_across_capsules(n_classes, dim):
    """Dimension d of capsule c joined to dimension d of capsules c - 1 and c + 1."""
    return make_graph("grid", (n_classes, dim)) - make_graph("lines", (n_classes, dim))


def configurations(quick, variants=False):
    # the raw Laplacian penalty, the default when this study was run
    base = {"head": "capsule", "graph": "capsules", "filter": "laplacian"}
    if quick:
        base.update(capsule_dim=4, primary_capsules=(8, 4), hidden_layer_sizes=(32,))
        return {"alpha=0": {**base, "alpha": 0.0}, "gsr": {**base, "alpha": 0.3}}
    configs = {
        "alpha=0": {**base, "alpha": 0.0},
        "gsr (alpha=0.3)": {**base, "alpha": 0.3},
    }
    if variants:
        decoder = {"reconstruction_weight": 0.5}
        configs.update(
            {
                "alpha=0, decoder": {**base, "alpha": 0.0, **decoder},
                "alpha=0.3, decoder": {**base, "alpha": 0.3, **decoder},
                "alpha=1": {**base, "alpha": 1.0},
                "alpha=1, decoder": {**base, "alpha": 1.0, **decoder},
                "alpha=1, path across capsules": {
                    **base,
                    "alpha": 1.0,
                    "graph": "path",
                },
            }
        )
    return configs


def run_alignment(configs, seeds, split_seed, max_iter, verbose=True):
    X_train, X_test, y_train, y_test = digits(split_seed)
    rows = []
    if verbose:
        print(
            f"{'config':<28} {'seed':>4} {'acc':>6} {'align':>6} {'spec.':>6} "
            f"{'dir.':>6} {'spec.':>6} {'epochs':>6} {'fit s':>6}  per transformation"
        )
    for name, params in configs.items():
        for seed in seeds:
            kwargs = dict(params)
            graph = kwargs.pop("graph")
            if graph == "path":
                graph = path_across_capsules(10, kwargs.get("capsule_dim", 16))
            est = GSRClassifier(
                graph=graph, max_iter=max_iter, random_state=seed, **kwargs
            )
            start = time.perf_counter()
            est.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            profiles = movement_profiles(est, X_test, y_test)
            directions = movement_profiles(est, X_test, y_test, signed=True)
            row = {
                "config": name,
                "seed": seed,
                "accuracy": est.score(X_test, y_test),
                "alignment": alignment(profiles),
                "specificity": specificity(profiles),
                "direction_alignment": alignment(directions),
                "direction_specificity": specificity(directions),
                "per_transformation": {
                    t: _mean_pair_correlation(P) for t, P in profiles.items()
                },
                "epochs": est.n_iter_,
                "fit_seconds": seconds,
            }
            rows.append(row)
            if verbose:
                per = " ".join(f"{v:5.2f}" for v in row["per_transformation"].values())
                print(
                    f"{name:<28} {seed:>4} {row['accuracy']:6.3f} "
                    f"{row['alignment']:6.3f} {row['specificity']:6.3f} "
                    f"{row['direction_alignment']:6.3f} "
                    f"{row['direction_specificity']:6.3f} "
                    f"{row['epochs']:>6} {seconds:6.1f}  {per}",
                    flush=True,
                )
    return rows


def summarize(rows):
    keys = ["accuracy", "alignment", "specificity", "direction_specificity"]
    print(f"\n{'config':<28} " + " ".join(f"{k[:21]:>21}" for k in keys))
    print(f"{'':<28} " + " ".join(f"{'mean / worst':>21}" for k in keys))
    for name in dict.fromkeys(r["config"] for r in rows):
        sub = [r for r in rows if r["config"] == name]
        cells = []
        for key in keys:
            values = [r[key] for r in sub]
            cells.append(f"{np.mean(values):12.3f} / {min(values):6.3f}")
        print(f"{name:<28} " + " ".join(cells))


def run_timing(repeats):
    """Default ``GSRClassifier(head="capsule", graph="capsules")`` on all digits."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rows = []
    for seed in range(repeats):
        est = GSRClassifier(head="capsule", graph="capsules", random_state=seed)
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
        per_epoch = float(np.median([h["duration"] for h in est.history_[1:]]))
        rows.append(
            {
                "seed": seed,
                "fit_seconds": seconds,
                "epochs": est.n_iter_,
                "epoch_ms": 1e3 * per_epoch,
            }
        )
        print(
            f"seed {seed}: fit {seconds:.1f} s, {est.n_iter_} epochs, "
            f"{1e3 * per_epoch:.0f} ms per epoch",
            flush=True,
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--study", choices=["all", "alignment", "timing"], default="all"
    )
    parser.add_argument("--seeds", default="0-2", help="e.g. 0-2 or 3,4,5")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if "-" in args.seeds:
        first, last = map(int, args.seeds.split("-"))
        seeds = list(range(first, last + 1))
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
    result = {
        "machine": platform.platform(),
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if args.quick:
        seeds, args.max_iter, args.repeats = [0], 2, 0
    if args.study in ("all", "alignment"):
        rows = run_alignment(
            configurations(args.quick, args.variants),
            seeds,
            args.split_seed,
            args.max_iter,
        )
        summarize(rows)
        result["alignment"] = rows
    if args.study in ("all", "timing") and args.repeats:
        result["timing"] = run_timing(args.repeats)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
