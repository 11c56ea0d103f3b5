"""The shared map the default penalty grows (doc/user_guide/gsr.rst).

The digits autoencoder of ``bench_defaults.py --part verify_autoencoder`` (40
epochs, two thirds to train, the held-out third measured, seeds 200-202): the
norm of the layer's mean map over the held-out samples against the mean norm of
a sample's deviation from it, at ``alpha=0``, with the default penalty at
``alpha=0.1`` and with the raw Laplacian at ``alpha=1e-3``.

Run (one thread, seconds)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/study_mean_map.py
"""

import numpy as np
from bench_defaults import fixed_epochs, quiet_fit
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skgsr import GSRAutoencoder

MODELS = {
    "alpha=0": dict(alpha=0.0),
    "default, alpha=0.1": dict(alpha=0.1),
    "raw Laplacian, alpha=1e-3": dict(
        filter="laplacian", scale_alpha=False, alpha=1e-3
    ),
}


def main():
    X = load_digits().data / 16.0
    X_train, X_test = train_test_split(X, test_size=1 / 3, random_state=0)
    print(f"{'model':<26} seed  mean map norm  deviation norm")
    for name, params in MODELS.items():
        for seed in (200, 201, 202):
            ae = GSRAutoencoder(
                random_state=seed, device="cpu", **params, **fixed_epochs(40)
            )
            quiet_fit(ae, X_train)
            Z = ae.transform(X_test).astype(np.float64)
            mean_map = Z.mean(axis=0)
            deviation = np.linalg.norm(Z - mean_map, axis=1).mean()
            print(
                f"{name:<26} {seed:>4}  {np.linalg.norm(mean_map):13.2f}  "
                f"{deviation:14.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
