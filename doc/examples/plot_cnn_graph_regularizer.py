"""
====================================================
GSR in a network of your own: a CNN in plain PyTorch
====================================================

The estimators of skgsr build their network for you. To regularize a network
you already have, :class:`skgsr.nn.GraphRegularizer` puts the graph penalty on
one of its layers: a forward hook keeps the layer's output of each training
step, and ``reg.penalty()`` returns :math:`\\alpha\\, \\mathrm{mean}_b\\, z_b^T
L z_b`, to add to the loss. The training loop is otherwise yours.

Here a small convolutional network classifies scikit-learn's digits; its
64-unit dense layer is laid on an 8x8 grid and trained without and with the
penalty. We compare the test accuracy, the smoothness of the layer on the
grid (:func:`~skgsr.metrics.smoothness_score`, :math:`1 - E/E_{shuffled}`: 0
for a random arrangement of the units, 1 for a perfectly smooth layer) and the
class-average activation maps.
"""

# %%
# The data and the network
# ------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from skgsr.metrics import smoothness_score
from skgsr.nn import GraphRegularizer

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
X_train, X_test, y_train, y_test = map(
    torch.from_numpy,
    train_test_split(X, y, test_size=0.25, stratify=y, random_state=0),
)


class CNN(nn.Module):
    """Two 3x3 convolutions, a 64-unit dense layer, a linear read-out."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.dense = nn.Sequential(nn.Linear(32 * 4 * 4, 64), nn.ReLU())
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        return self.out(self.dense(self.features(x)))


# %%
# The training loop
# -----------------
# A plain loop; GSR adds two lines: the regularizer on ``model.dense``, and its
# penalty in the loss. With ``alpha=0`` the penalty is zero and nothing is
# computed, so both models come from the same loop, weights and batches.
def train(alpha, epochs=40, seed=0):
    torch.manual_seed(seed)
    model = CNN()
    with GraphRegularizer(model.dense, graph="grid", alpha=alpha) as reg:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        shuffle = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            model.train()
            for batch in torch.randperm(len(X_train), generator=shuffle).split(64):
                logits = model(X_train[batch])
                loss = F.cross_entropy(logits, y_train[batch]) + reg.penalty()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        graph = reg.adjacency_  # the 8x8 grid over the 64 units
    return model.eval(), graph


def dense_layer(model, X):
    with torch.no_grad():
        return model.dense(model.features(X)).numpy()


results = {}
for name, alpha in (("no penalty", 0.0), ("GSR, alpha=0.03", 3e-2)):
    model, graph = train(alpha)
    with torch.no_grad():
        accuracy = (model(X_test).argmax(1) == y_test).float().mean().item()
    Z = dense_layer(model, X_test)
    smoothness = smoothness_score(Z, graph)
    results[name] = Z
    print(
        f"{name:<16} test accuracy {accuracy:.3f}  smoothness of the dense "
        f"layer {smoothness:5.2f}"
    )

# %%
# The dense layer as images
# -------------------------
# Class-average activation maps of the 64 units on their 8x8 grid, minus the
# mean over all test digits, for each model (one colour scale per row).
fig, axes = plt.subplots(2, 10, figsize=(11, 2.8), layout="constrained")
labels = y_test.numpy()
for row, (name, Z) in zip(axes, results.items(), strict=True):
    maps = np.stack([Z[labels == k].mean(axis=0) for k in range(10)])
    maps -= Z.mean(axis=0)
    limit = np.abs(maps).max()
    for k, ax in enumerate(row):
        ax.imshow(maps[k].reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(k), fontsize=9)
    row[0].set_ylabel(name, fontsize=9)
plt.show()

# %%
# What the numbers show
# ---------------------
# At this seed the penalty takes the smoothness of the dense layer from 0.03
# (no better than a random arrangement of its units) to 0.63, and the test
# accuracy from 0.973 to 0.991. Without the penalty the maps are noise on the
# grid; with it each digit lights up regions of neighbouring units.
#
# Over seeds 0-9 (same split, 40 epochs, run separately), the smoothness was
# -0.10 to 0.11 without the penalty and 0.53 to 0.76 with it (mean 0.65). The
# penalty did not cost accuracy: 0.969-0.982 without, 0.984-0.998 with, higher
# at every seed (by 0.008 to 0.027, 4 to 12 of the 450 test digits). The gain
# is that of a regularizer on a network trained for 40 epochs without any
# other (no weight decay, no dropout), not a property of the grid. With 25
# epochs the smoothness was lower and less certain: mean 0.58 over seeds 3-9,
# and 0.41 at the worst of them.
