"""A capsule network whose class-capsule layer is the graph-structured layer.

Capsules (Sabour, Frosst & Hinton, 2017) are groups of neurons whose vector is
an entity's *instantiation parameters* and whose length is the probability that
the entity is present. :class:`CapsuleNetwork` is their dynamic-routing network
over a dense encoder::

    x -> MLP encoder -> primary capsules (linear, squash)
      -> class capsules (one per class, dynamic routing)   <- structured layer
      -> capsule lengths (class scores) [+ a reconstruction decoder]

The structured layer, the one the graph penalty sees and ``transform`` returns,
is the class capsules flattened, ``(B, n_classes * capsule_dim)``, capsule ``c``
at columns ``c * capsule_dim:(c + 1) * capsule_dim``; reshaped to ``(n_classes,
capsule_dim)`` it is the layout of ``graph="capsules"``, which joins dimension
``d`` of every capsule to dimension ``d`` of the others.

The network follows the interface of :class:`skgsr._network.GSRNetwork`:
``embed(x)`` returns the structured layer and ``forward(x)`` returns
``(output, z)``. ``output`` holds the capsule lengths, and in training mode,
when the network has a decoder, the reconstruction error of ``x`` from each
class capsule after them (:meth:`CapsuleNetwork.forward`), so that the loss can
take the error of the true class' capsule (Sabour et al.'s masking by the
label) without the network knowing the labels.
"""

import torch
from torch import nn

from ._network import ACTIVATIONS, make_mlp

__all__ = [
    "CapsuleNetwork",
    "ClassCapsules",
    "PrimaryCapsules",
    "capsule_loss",
    "margin_loss",
    "squash",
]

# Margin loss constants of Sabour et al. (2017): a present class' capsule is
# asked to be longer than M_PLUS, an absent one shorter than M_MINUS, absent
# classes weighted by DOWN_WEIGHT.
M_PLUS = 0.9
M_MINUS = 0.1
DOWN_WEIGHT = 0.5


def squash(s, dim=-1, eps=1e-8):
    """Sabour et al.'s non-linearity: keep the direction, map the length into [0, 1).

    .. math:: v = \\frac{\\|s\\|^2}{1 + \\|s\\|^2} \\frac{s}{\\|s\\|}

    Parameters
    ----------
    s : torch.Tensor
        Capsule vectors along ``dim``.
    dim : int, default=-1
    eps : float, default=1e-8
        Added under the square root, so that a zero vector maps to zero with a
        finite gradient.

    Returns
    -------
    v : torch.Tensor
        Same shape as ``s``; ``||v|| = ||s||^2 / (1 + ||s||^2)``.
    """
    squared = (s * s).sum(dim=dim, keepdim=True)
    return s * (squared / ((1.0 + squared) * torch.sqrt(squared + eps)))


def capsule_lengths(v, eps=1e-12):
    """Lengths of capsule vectors ``v`` of shape ``(..., dim)``, kept above ``eps``."""
    return torch.sqrt((v * v).sum(dim=-1) + eps)


class PrimaryCapsules(nn.Module):
    """A linear layer read as ``n_capsules`` vectors of ``capsule_dim``, squashed.

    Parameters
    ----------
    in_features : int
        Width of the encoder's last layer.
    n_capsules : int
    capsule_dim : int
    """

    def __init__(self, in_features, n_capsules, capsule_dim):
        super().__init__()
        self.n_capsules = n_capsules
        self.capsule_dim = capsule_dim
        self.linear = nn.Linear(in_features, n_capsules * capsule_dim)

    def forward(self, h):
        """``(B, in_features)`` -> squashed ``(B, n_capsules, capsule_dim)``."""
        u = self.linear(h).reshape(h.shape[0], self.n_capsules, self.capsule_dim)
        return squash(u)


class ClassCapsules(nn.Module):
    """One capsule per class, computed from the primary capsules by routing.

    Each primary capsule ``i`` predicts each class capsule ``j`` through its own
    matrix, :math:`\\hat u_{j|i} = W_{ij} u_i`; routing by agreement (Sabour et
    al., 2017, Procedure 1) then runs ``routing_iterations`` times:

    .. math::

        c_{ij} = \\mathrm{softmax}_j(b_{ij}), \\quad
        v_j = \\mathrm{squash}\\Big(\\sum_i c_{ij} \\hat u_{j|i}\\Big), \\quad
        b_{ij} \\leftarrow b_{ij} + \\hat u_{j|i} \\cdot v_j,

    starting from :math:`b_{ij} = 0`. Every step is one batched tensor product
    over all samples, primary and class capsules; only the routing iterations
    are a Python loop. The logits' updates see the predictions detached, a
    common simplification: the gradient reaches :math:`W` through the last
    iteration's weighted sum only, which keeps the backward pass as cheap as one
    iteration.

    Parameters
    ----------
    n_primary : int
        Number of primary capsules.
    primary_dim : int
        Their dimension.
    n_classes : int
    capsule_dim : int
    routing_iterations : int

    Attributes
    ----------
    out_features : int
        ``n_classes * capsule_dim``, the width of the flattened output.
    """

    def __init__(
        self, n_primary, primary_dim, n_classes, capsule_dim, routing_iterations
    ):
        super().__init__()
        self.n_classes = n_classes
        self.capsule_dim = capsule_dim
        self.routing_iterations = routing_iterations
        self.out_features = n_classes * capsule_dim
        # Sabour et al. initialise W with small Gaussian weights; the fan-in of
        # each prediction is primary_dim
        self.weight = nn.Parameter(
            torch.randn(n_primary, n_classes, capsule_dim, primary_dim)
            / primary_dim**0.5
        )

    def capsules(self, u):
        """Class capsules ``(B, n_classes, capsule_dim)`` of primary capsules ``u``."""
        # predictions u_hat[b, j, i] = W_ij u_bi, laid out (B, n_classes,
        # n_primary, dim) so that each routing step is one batched product
        u_hat = torch.einsum("ijdk,bik->bjid", self.weight, u)
        detached = u_hat.detach()
        logits = u_hat.new_zeros(u_hat.shape[:3])
        for _ in range(self.routing_iterations - 1):
            coupling = logits.softmax(dim=1)  # over the class capsules
            v = squash(torch.einsum("bji,bjid->bjd", coupling, detached))
            logits = logits + torch.einsum("bjid,bjd->bji", detached, v)
        coupling = logits.softmax(dim=1)
        return squash(torch.einsum("bji,bjid->bjd", coupling, u_hat))

    def forward(self, u):
        """Flattened class capsules, ``(B, n_classes * capsule_dim)``."""
        return self.capsules(u).flatten(1)


class CapsuleDecoder(nn.Module):
    """An MLP reconstructing the input from one class capsule at a time.

    Sabour et al.'s decoder reads all class capsules with every capsule but one
    masked to zero. A masked input's first linear layer only sees the block of
    weights of the unmasked capsule, so the reconstructions from all capsules
    are computed at once: the first layer as one batched product per capsule
    block, the rest on the ``B * n_classes`` rows.

    Parameters
    ----------
    n_classes : int
    capsule_dim : int
    hidden_layer_sizes : sequence of int
        Widths of the decoder's hidden layers.
    n_features : int
        Width of the reconstruction.
    activation : str
        Activation between the layers (a key of ``skgsr._network.ACTIVATIONS``).
    """

    def __init__(
        self, n_classes, capsule_dim, hidden_layer_sizes, n_features, activation
    ):
        super().__init__()
        sizes = [n_classes * capsule_dim, *hidden_layer_sizes, n_features]
        self.n_classes = n_classes
        self.capsule_dim = capsule_dim
        self.first = nn.Linear(sizes[0], sizes[1])
        if len(sizes) == 2:
            # no hidden layer: the first layer is the output
            self.rest = nn.Identity()
        else:
            self.rest = nn.Sequential(
                ACTIVATIONS[activation](), make_mlp(sizes[1:], activation, None)
            )

    def forward(self, v):
        """Reconstructions from each capsule, ``(B, n_classes, n_features)``.

        Parameters
        ----------
        v : torch.Tensor of shape (B, n_classes, capsule_dim)
        """
        blocks = self.first.weight.reshape(-1, self.n_classes, self.capsule_dim)
        h = torch.einsum("bcd,hcd->bch", v, blocks) + self.first.bias
        return self.rest(h)


class CapsuleNetwork(nn.Module):
    """Encoder, primary capsules, routed class capsules and an optional decoder.

    Parameters
    ----------
    encoder : torch.nn.Module
        From the input to the last hidden layer (``in_features`` wide).
    in_features : int
        Width of the encoder's output.
    n_classes : int
    capsule_dim : int
        Dimension of each class capsule.
    primary_capsules : tuple of int
        ``(n_primary, primary_dim)``.
    routing_iterations : int
    decoder : CapsuleDecoder or None
        Reconstruction decoder (None for none).

    Attributes
    ----------
    structured : torch.nn.Sequential
        The class-capsule layer (``structured[0]``, a :class:`ClassCapsules`):
        the graph-structured layer.
    """

    def __init__(
        self,
        encoder,
        in_features,
        n_classes,
        capsule_dim,
        primary_capsules,
        routing_iterations,
        decoder=None,
    ):
        super().__init__()
        n_primary, primary_dim = primary_capsules
        self.n_classes = n_classes
        self.capsule_dim = capsule_dim
        self.encoder = encoder
        self.primary = PrimaryCapsules(in_features, n_primary, primary_dim)
        self.structured = nn.Sequential(
            ClassCapsules(
                n_primary, primary_dim, n_classes, capsule_dim, routing_iterations
            )
        )
        self.decoder = decoder

    def embed(self, x):
        """Class capsules flattened, ``(B, n_classes * capsule_dim)``."""
        return self.structured(self.primary(self.encoder(x)))

    def reconstruct(self, z):
        """The decoder's reconstruction from each capsule of ``z`` (flattened).

        Returns
        -------
        reconstructions : torch.Tensor of shape (B, n_classes, n_features)
        """
        if self.decoder is None:
            raise ValueError("This capsule network has no decoder.")
        return self.decoder(z.reshape(z.shape[0], self.n_classes, self.capsule_dim))

    def forward(self, x):
        """Return ``(output, z)``.

        ``z`` is the structured layer, ``(B, n_classes * capsule_dim)``.
        ``output`` is ``(B, n_classes)``, the capsule lengths; in training mode,
        with a decoder, it is ``(B, 2 * n_classes)``: the lengths, then the mean
        squared error of ``x``'s reconstruction from each class capsule. Outside
        training the decoder is not run: predictions need the lengths only.
        """
        z = self.embed(x)
        v = z.reshape(z.shape[0], self.n_classes, self.capsule_dim)
        lengths = capsule_lengths(v)
        if self.decoder is None or not self.training:
            return lengths, z
        errors = ((self.decoder(v) - x.unsqueeze(1)) ** 2).mean(dim=2)
        return torch.cat([lengths, errors], dim=1), z


def margin_loss(lengths, target):
    """Sabour et al.'s margin loss of each sample, summed over the classes.

    .. math::

        L_b = \\sum_c T_{bc} \\max(0, m^+ - \\|v_{bc}\\|)^2
              + \\lambda (1 - T_{bc}) \\max(0, \\|v_{bc}\\| - m^-)^2

    with :math:`m^+ = 0.9`, :math:`m^- = 0.1`, :math:`\\lambda = 0.5` and
    :math:`T_{bc} = 1` for the true class.

    Parameters
    ----------
    lengths : torch.Tensor of shape (B, n_classes)
        Capsule lengths.
    target : torch.Tensor of shape (B,)
        Class indices.

    Returns
    -------
    loss : torch.Tensor of shape (B,)
    """
    present = torch.nn.functional.one_hot(target, lengths.shape[1]).to(lengths.dtype)
    up = torch.clamp(M_PLUS - lengths, min=0.0) ** 2
    down = torch.clamp(lengths - M_MINUS, min=0.0) ** 2
    return (present * up + DOWN_WEIGHT * (1.0 - present) * down).sum(dim=1)


def capsule_loss(output, target, n_classes, reconstruction_weight):
    """Per-sample margin loss plus the weighted reconstruction error, ``(B,)``.

    Parameters
    ----------
    output : torch.Tensor of shape (B, n_classes) or (B, 2 * n_classes)
        :meth:`CapsuleNetwork.forward`'s output: the lengths, then (in
        training, with a decoder) the reconstruction error from each capsule.
    target : torch.Tensor of shape (B,)
    n_classes : int
    reconstruction_weight : float
        Weight of the error of the reconstruction from the true class' capsule.

    Returns
    -------
    loss : torch.Tensor of shape (B,)
    """
    loss = margin_loss(output[:, :n_classes], target)
    if output.shape[1] > n_classes:
        errors = output[:, n_classes:]
        loss = loss + reconstruction_weight * errors.gather(1, target[:, None])[:, 0]
    return loss
