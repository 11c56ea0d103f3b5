"""GSRRegressor at alpha=0 against MLPRegressor on diabetes, paired by seed.

Both with the same widths (128 hidden units, then 64: the structured layer of
``GSRRegressor``), Adam at 1e-3, batch 200, a fixed number of epochs (no early
stop: ``tol=0`` and, for scikit-learn, ``n_iter_no_change`` beyond the
epochs), 3-fold shuffled CV (R^2), one seed per row for the split and both
networks' weights. ``--standardize``: X and y standardized first (as in
``bench_defaults.py``); otherwise scikit-learn's diabetes as it comes (X
already scaled, y raw).

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/study_regressor.py \\
        --seeds 0-9 --epochs 200 --standardize --out regressor.json
"""

import argparse
import json
import warnings

import numpy as np


def parse_seeds(text):
    start, _, stop = text.partition("-")
    return list(range(int(start), int(stop or start) + 1))


def run(seed, epochs, standardize):
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neural_network import MLPRegressor

    from skgsr import GSRRegressor

    X, y = load_diabetes(return_X_y=True)
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        y = (y - y.mean()) / y.std()
    cv = KFold(3, shuffle=True, random_state=seed)
    mlp = MLPRegressor(
        hidden_layer_sizes=(128, 64),
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    gsr = GSRRegressor(
        hidden_layer_sizes=(128,),
        n_components=64,
        alpha=0.0,
        max_iter=epochs,
        tol=0.0,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "seed": seed,
            "mlp": float(cross_val_score(mlp, X, y, cv=cv).mean()),
            "gsr": float(cross_val_score(gsr, X, y, cv=cv).mean()),
        }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--standardize", action="store_true")
    parser.add_argument("--out", help="write the rows and summary as JSON")
    args = parser.parse_args(argv)
    rows = []
    for seed in parse_seeds(args.seeds):
        rows.append(run(seed, args.epochs, args.standardize))
        r = rows[-1]
        print(f"seed {seed:3d}  MLPRegressor {r['mlp']:.3f}  GSR {r['gsr']:.3f}")
    diff = np.array([r["gsr"] - r["mlp"] for r in rows])
    summary = {
        "mlp_mean": float(np.mean([r["mlp"] for r in rows])),
        "gsr_mean": float(np.mean([r["gsr"] for r in rows])),
        "diff_mean": float(diff.mean()),
        "diff_min": float(diff.min()),
        "diff_max": float(diff.max()),
    }
    print(
        f"mean R^2: MLPRegressor {summary['mlp_mean']:.3f}, GSRRegressor "
        f"{summary['gsr_mean']:.3f}; GSR - MLP {summary['diff_mean']:+.3f} "
        f"(per seed {summary['diff_min']:+.3f} to {summary['diff_max']:+.3f})"
    )
    if args.out:
        with open(args.out, "w") as f:
            result = {"args": vars(args), "rows": rows, "summary": summary}
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
