"""
===========================================================
Digits on an 8x8 grid: activation maps with and without GSR
===========================================================

The first experiment of the papers: a fully connected network with a 64-neuron
hidden layer, whose neurons are laid on an 8x8 grid. Without a penalty the
neurons are in no order, and the class-average activation maps are noise. With
the Laplacian penalty :math:`\\alpha\\, \\mathrm{mean}_b\\, x_b^T L x_b` on the
grid, neighbouring neurons fire together, and each digit lights up its own
regions of the grid.

We fit an autoencoder (:class:`~skgsr.GSRAutoencoder`) and a classifier
(:class:`~skgsr.GSRClassifier`) on scikit-learn's digits, each without and with
the penalty, and measure on held-out digits the task score and the smoothness
of the layer, :math:`1 - E/E_{shuffled}`
(:func:`~skgsr.metrics.smoothness_score`, see :ref:`metrics`): 0 for a layer no
smoother than a random arrangement of its neurons, 1 for a perfectly smooth one.
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skgsr import GSRAutoencoder, GSRClassifier
from skgsr.metrics import smoothness_score
from skgsr.plotting import plot_activation_maps

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)


# %%
# Four models
# -----------
# The same network and seed for each pair; only ``alpha`` differs. ``alpha=0``
# trains without the penalty (the grid is then only used to draw the maps).
common = dict(n_components=64, graph="grid", filter="laplacian", random_state=0)
models = {
    "autoencoder, no penalty": GSRAutoencoder(alpha=0.0, max_iter=60, **common),
    "autoencoder, GSR": GSRAutoencoder(alpha=1e-2, max_iter=60, **common),
    "classifier, no penalty": GSRClassifier(alpha=0.0, max_iter=40, **common),
    "classifier, GSR": GSRClassifier(alpha=1e-2, max_iter=40, **common),
}
for name, model in models.items():
    if isinstance(model, GSRClassifier):
        model.fit(X_train, y_train)
        task = f"test accuracy {model.score(X_test, y_test):.3f}"
    else:
        model.fit(X_train)
        task = f"test reconstruction MSE {-model.score(X_test):.4f}"
    s = smoothness_score(model.transform(X_test), model.feature_graph_)
    print(f"{name:<24} {task:<32} smoothness {s:5.2f}")

# %%
# Class-average activation maps
# -----------------------------
# Each panel is the mean activation of the 64 neurons over the test digits of
# one class, drawn on the grid, minus the mean over all classes (what all
# digits share). One colour scale per row, symmetric about 0.


def centre(Z):
    return Z - Z.mean(axis=0)


def draw(pair, title):
    fig, axes = plt.subplots(2, 10, figsize=(12, 3.4), layout="constrained")
    for row, name in zip(axes, pair, strict=True):
        model = models[name]
        Z = centre(model.transform(X_test))
        limit = max(np.abs(Z[y_test == k].mean(axis=0)).max() for k in range(10))
        plot_activation_maps(
            model,
            X_test,
            y_test,
            activation_transform=centre,
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            axes=row,
        )
        row[0].set_ylabel(name.split(", ")[1], fontsize="small")
    fig.suptitle(title)
    return fig


draw(["autoencoder, no penalty", "autoencoder, GSR"], "Autoencoder")
draw(["classifier, no penalty", "classifier, GSR"], "Classifier")
plt.show()

# %%
# With the penalty each digit has its own regions of the grid (in this run the
# zeros the bottom centre, the sevens the top left), while without it the maps
# show no spatial structure. The autoencoder pays for it in reconstruction error (the
# layer must stay smooth), the classifier hardly in accuracy. The
# :ref:`sphx_glr_auto_examples_plot_alpha_tradeoff.py` example traces the whole
# trade-off as ``alpha`` grows.
