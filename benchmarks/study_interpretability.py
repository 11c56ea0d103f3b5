"""Study behind tests/test_interpretability.py: seeds and strengths.

Two measured claims on scikit-learn's digits (8x8 grid over a 64-neuron layer):

1. ``descrambling``: GSRClassifier at alpha in {0.03, 0.1, 0.3} against the best
   permutation of an alpha=0 network's neurons (skgsr.descramble), 60 epochs,
   smoothness score of held-out activations, one row per seed.
2. ``localization``: GSRAutoencoder, 30 epochs, alpha=0 vs the Laplacian, the
   wavelet and the papers' Mexican-hat filter at alpha=0.003 (and the Mexican
   hats at 0.03), spatial spread (and that of the same maps with the neurons
   relabelled at random) and participation ratio of the held-out maps.
3. ``strong`` (not in ``all``): stronger searches than the descrambler's
   default on the alpha=0 layer of seed 0 (``n_init=64``, then ``n_iter=5000``,
   ``random_state`` 0-2), the numbers of doc/user_guide/descrambling.rst.

Run (one thread, a few minutes)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/study_interpretability.py
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/study_interpretability.py \
        --study strong
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skgsr import GSRAutoencoder, GSRClassifier
from skgsr.descramble import descrambling_bound, permutation_descrambler
from skgsr.graphs import make_graph
from skgsr.metrics import (
    participation_ratio,
    shuffled_dirichlet_energy,
    smoothness_score,
    spatial_spread,
)

GRID = make_graph("grid", (8, 8))


def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.33, random_state=0, stratify=y)


def descrambling(seeds, epochs=60, alphas=(0.03, 0.1, 0.3)):
    X_train, X_test, y_train, y_test = digits()
    print(f"\n== descrambling: GSRClassifier, {epochs} epochs, held-out digits")
    print(
        "seed  acc(a=0)  as-trained  descrambled  rotation-bound  "
        + "  ".join(f"a={a:g}: acc / smooth" for a in alphas)
    )
    for seed in seeds:
        base = GSRClassifier(alpha=0, max_iter=epochs, random_state=seed)
        # the raw Laplacian penalty these numbers were measured with
        base.fit(X_train, y_train)
        Z = base.transform(X_test).astype(np.float64)
        perm = permutation_descrambler(Z, GRID, center=False, random_state=0)
        bound = 1 - descrambling_bound(Z, GRID, center=False) / (
            shuffled_dirichlet_energy(Z, GRID)
        )
        row = (
            f"{seed:>4}  {base.score(X_test, y_test):8.3f}  "
            f"{smoothness_score(Z, GRID):10.3f}  "
            f"{smoothness_score(Z[:, perm], GRID):11.3f}  {bound:14.3f}"
        )
        for alpha in alphas:
            est = GSRClassifier(
                filter="laplacian", alpha=alpha, max_iter=epochs, random_state=seed
            )
            est.fit(X_train, y_train)
            Zg = est.transform(X_test)
            row += (
                f"  {est.score(X_test, y_test):11.3f} / "
                f"{smoothness_score(Zg, GRID):.3f}"
            )
        print(row, flush=True)


def strong_searches(seed=0, epochs=60, random_states=(0, 1, 2)):
    X_train, X_test, y_train, _ = digits()
    print(f"\n== stronger descrambling searches: alpha=0 layer of seed {seed}")
    base = GSRClassifier(alpha=0, max_iter=epochs, random_state=seed)
    Z = base.fit(X_train, y_train).transform(X_test).astype(np.float64)
    perm = permutation_descrambler(Z, GRID, center=False, random_state=0)
    print(f"default search: {smoothness_score(Z[:, perm], GRID):.3f}")
    for search in ({"n_init": 64}, {"n_iter": 5000}):
        scores = []
        for rs in random_states:
            start = time.perf_counter()
            perm = permutation_descrambler(
                Z, GRID, center=False, random_state=rs, **search
            )
            scores.append(smoothness_score(Z[:, perm], GRID))
            print(
                f"{search} random_state={rs}: {scores[-1]:.3f} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
        print(f"{search}: {min(scores):.3f}-{max(scores):.3f}")


def localization(seeds, epochs=30, alpha=0.003):
    X_train, X_test, _, _ = digits()
    print(f"\n== localization: GSRAutoencoder, {epochs} epochs, held-out maps")
    print("seed  model                    spread  shuffled  particip.  smooth     MSE")
    configs = [
        ("unregularized", "laplacian", 0.0),
        ("laplacian", "laplacian", alpha),
        ("wavelet", "wavelet", alpha),
        ("mexican_hat", "mexican_hat", alpha),
        ("mexican_hat, x10", "mexican_hat", 10 * alpha),
    ]
    relabellings = [np.random.RandomState(k).permutation(64) for k in range(30)]
    for seed in seeds:
        for name, filter, a in configs:
            # the papers' raw penalties: alpha multiplies the penalty itself
            est = GSRAutoencoder(
                filter=filter,
                alpha=a,
                scale_alpha=False,
                max_iter=epochs,
                random_state=seed,
            )
            Z = est.fit(X_train).transform(X_test)
            # sparse maps have a small spread wherever their neurons are: the
            # same maps with the neurons relabelled at random are the baseline
            shuffled = np.mean([spatial_spread(Z[:, p], (8, 8)) for p in relabellings])
            print(
                f"{seed:>4}  {name:24s} {spatial_spread(Z, (8, 8)):6.3f}"
                f"  {shuffled:8.3f}  {participation_ratio(Z):9.3f}"
                f"  {smoothness_score(Z, GRID):6.3f}  {-est.score(X_test):.4f}",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--study",
        choices=["all", "descrambling", "localization", "strong"],
        default="all",
    )
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    if args.study in ("all", "descrambling"):
        descrambling(range(args.seeds))
    if args.study in ("all", "localization"):
        localization(range(args.seeds))
    if args.study == "strong":
        strong_searches()
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
