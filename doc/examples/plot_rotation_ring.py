"""
=========================================
A cyclic data set on a ring graph
=========================================

The papers' synthetic example of "topological features": data whose hidden
cause lies on a circle, and a structured layer whose graph is a ring. Here the
data are one image (an arrow) rotated through 360 degrees
(:func:`skgsr.datasets.make_rotated_images`); the rotation angle
:math:`\\theta` is the latent, and it lies on a ring.

An autoencoder with 32 structured neurons on a ring (``graph="ring"``) and a
heat-filter penalty :math:`\\mathrm{mean}_b \\|(I - e^{-\\tau L}) x_b\\|^2` is
asked to be smooth around the ring. If the layer "reveals the cycle", its
activity moves around the ring as the image turns: the position of the most
active neuron, :math:`\\varphi = 2\\pi\\, \\mathrm{argmax}_i z_i / 32`, follows
the angle, :math:`\\varphi \\approx \\pm\\theta + c`. We measure it by the mean
resultant length

.. math:: r = \\max_{s = \\pm 1} \\Big|\\frac{1}{m} \\sum_b
          e^{\\,i(\\varphi_b - s\\theta_b)}\\Big| ,

1 when the peak turns exactly with the image (in either direction, from any
starting neuron), near 0 when they are unrelated.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skgsr import GSRAutoencoder
from skgsr.datasets import make_rotated_images

X_train, _ = make_rotated_images(600, random_state=0)
X_test, theta = make_rotated_images(300, random_state=1)
n = 32


def peak_angle(Z):
    """Position of the most active neuron on the ring, as an angle."""
    return 2 * np.pi * np.argmax(Z, axis=1) / Z.shape[1]


def rotation_agreement(phi, theta):
    """Mean resultant length of phi - s * theta, the best of s = +1 and -1."""
    return max(np.abs(np.mean(np.exp(1j * (phi - s * theta)))) for s in (1, -1))


# %%
# With and without the penalty
# ----------------------------
# The same network and seed; only ``alpha`` differs. As a reference, the same
# GSR layer with its neurons relabelled at random (20 relabellings) shows what
# ``r`` an unordered layer gets by chance.
rng = np.random.RandomState(0)
models = {}
for alpha in (0.0, 0.3):
    ae = GSRAutoencoder(
        n_components=n,
        graph="ring",
        filter="heat",
        alpha=alpha,
        scale_alpha=False,  # alpha multiplies the heat penalty itself
        max_iter=100,
        random_state=0,
    ).fit(X_train)
    models[alpha] = ae
    Z = ae.transform(X_test)
    r = rotation_agreement(peak_angle(Z), theta)
    shuffled = np.mean(
        [
            rotation_agreement(peak_angle(Z[:, rng.permutation(n)]), theta)
            for _ in range(20)
        ]
    )
    print(
        f"alpha={alpha:<4g} test reconstruction MSE {-ae.score(X_test):.4f}  "
        f"r = {r:.2f}  (neurons relabelled at random: {shuffled:.2f})"
    )

# %%
# The layer as the image turns
# ----------------------------
# Left: the 32 activations (minus each sample's mean) of the test images,
# ordered by their rotation angle. Right: the peak's position against the
# angle.
order = np.argsort(theta)
fig, axes = plt.subplots(
    2, 2, figsize=(9, 6), layout="constrained", gridspec_kw={"width_ratios": [2, 1]}
)
for row, (alpha, ae) in zip(axes, models.items(), strict=True):
    Z = ae.transform(X_test)[order]
    Zc = Z - Z.mean(axis=1, keepdims=True)
    limit = np.abs(Zc).max()
    row[0].imshow(
        Zc.T,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        extent=(0, 360, n - 0.5, -0.5),
        interpolation="nearest",
    )
    row[0].set_ylabel("neuron on the ring")
    row[0].set_title("no penalty" if alpha == 0 else f"GSR, heat filter, alpha={alpha}")
    row[1].scatter(np.degrees(theta), np.degrees(peak_angle(ae.transform(X_test))), s=6)
    row[1].set_ylabel("peak position (degrees)")
    row[1].set_xlim(0, 360)
    row[1].set_ylim(0, 360)
for ax in axes[1]:
    ax.set_xlabel("rotation angle of the image (degrees)")
plt.show()

# %%
# With the penalty, the active region of the layer travels around the ring as
# the image turns, and the peak follows the angle (the diagonal band on the
# right); without it, the peak jumps between unrelated neurons. The pattern is
# not one clean bump: the layer mixes the first and second harmonics of the
# ring, so the peak sometimes jumps by half a turn, and the size of the effect
# varies with the seed. Over seeds 0 to 3 (this setup, the same measure) we
# measured ``r`` = 0.70, 0.36, 0.46, 0.48 with the penalty (0.14 to 0.20 for
# the same layers relabelled at random) and 0.27, 0.34, 0.25, 0.27 without it
# (0.27 to 0.35 relabelled: no better than chance), at a test reconstruction
# MSE of 0.0054 to 0.0065 against 0.0032. The plain Laplacian filter at
# ``alpha=1`` (raw) reaches only 0.22 to 0.37 for 0.0086 to 0.0104, and the
# estimators' default penalty (the centred Rayleigh quotient at ``alpha=0.1``)
# 0.13 to 0.50 against 0.23 to 0.39 relabelled, at no cost in MSE: on a ring
# the heat filter is the one that reveals the cycle.
