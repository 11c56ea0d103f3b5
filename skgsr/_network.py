"""The PyTorch networks behind the estimators.

Every network is ``encoder -> structured layer -> head``: the structured layer has
one neuron per graph node, and it is its output that the graph penalty sees and
that ``transform`` returns. The head is the mirrored decoder of the autoencoder,
or a dense or convolutional read-out of the supervised estimators.

Every layer starts from :func:`glorot_uniform_` (scikit-learn's MLP starts from
the same family), not from PyTorch's default initialization.
"""

import math

import torch
from torch import nn

from ._torch_utils import evaluation_mode

__all__ = [
    "ACTIVATIONS",
    "ConvHead",
    "GSRNetwork",
    "build_user_encoder",
    "encoder_width",
    "glorot_uniform_",
    "make_mlp",
]

#: Activation names accepted by the estimators (scikit-learn's MLP names first).
ACTIVATIONS = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
}


def glorot_uniform_(module, activation="relu"):
    """Glorot-uniform weights and zero biases for every linear and conv layer.

    Each weight is drawn from :math:`U(-b, b)` with

    .. math:: b = \\mathrm{gain} \\sqrt{6 / (\\mathrm{fan_{in}} + \\mathrm{fan_{out}})},

    (fans of a convolution counted over its kernel), gain 4 for the logistic
    sigmoid, whose slope at 0 is 1/4, and 1 otherwise; biases start at 0 (Glorot
    and Bengio, 2010). PyTorch's default, :math:`U(\\pm 1/\\sqrt{\\mathrm{fan_{in}}})`
    for weights and biases, starts smaller and trains slower (see
    ``benchmarks/README.rst``, "defaults").

    Parameters
    ----------
    module : torch.nn.Module
        Its ``Linear`` and ``Conv*d`` sub-modules (itself included) are
        re-initialized in place, in the order of ``module.modules()``.
    activation : str, default="relu"
        Key of :data:`ACTIVATIONS`: the network's hidden activation.

    Returns
    -------
    module : torch.nn.Module
        The same module.

    Examples
    --------
    >>> import torch
    >>> from skgsr._network import glorot_uniform_
    >>> layer = glorot_uniform_(torch.nn.Linear(10, 14))
    >>> bool(layer.weight.abs().max() <= 0.5), bool((layer.bias == 0).all())
    (True, True)
    """
    gain = 4.0 if activation == "logistic" else 1.0
    for layer in module.modules():
        if not isinstance(layer, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
            continue
        weight = layer.weight
        receptive = weight[0][0].numel()
        fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
        with torch.no_grad():
            weight.uniform_(-bound, bound)
            if layer.bias is not None:
                layer.bias.zero_()
    return module


def make_mlp(sizes, activation, last_activation):
    """A stack of ``Linear`` layers through ``sizes`` with an activation between.

    Parameters
    ----------
    sizes : sequence of int
        Widths, input first; ``len(sizes) - 1`` linear layers.
    activation : str
        Key of :data:`ACTIVATIONS` used after every hidden layer.
    last_activation : str or None
        Activation after the last layer (None for none).

    Returns
    -------
    mlp : torch.nn.Sequential
        Initialized by :func:`glorot_uniform_` for ``activation``.
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        is_last = i == len(sizes) - 2
        name = last_activation if is_last else activation
        if name is not None and name != "identity":
            layers.append(ACTIVATIONS[name]())
    return glorot_uniform_(nn.Sequential(*layers), activation)


class ConvHead(nn.Module):
    """A small CNN over the structured layer reshaped to its ``(h, w)`` grid.

    The papers' "convolution on the grid": two 3x3 convolutions (circular padding
    on a torus, zero padding on a grid) and a linear read-out.

    Parameters
    ----------
    grid_shape : tuple of int
        ``(h, w)`` with ``h * w`` the width of the structured layer.
    n_outputs : int
        Number of outputs (classes, or regression targets).
    activation : str
        Key of :data:`ACTIVATIONS`.
    periodic : bool
        Circular padding (torus) instead of zeros (grid).
    channels : tuple of int, default=(16, 16)
        Channels of the two convolutions.
    """

    def __init__(self, grid_shape, n_outputs, activation, periodic, channels=(16, 16)):
        super().__init__()
        self.grid_shape = tuple(grid_shape)
        padding_mode = "circular" if periodic else "zeros"
        act = ACTIVATIONS[activation]
        self.features = nn.Sequential(
            nn.Conv2d(1, channels[0], 3, padding=1, padding_mode=padding_mode),
            act(),
            nn.Conv2d(
                channels[0], channels[1], 3, padding=1, padding_mode=padding_mode
            ),
            act(),
        )
        h, w = self.grid_shape
        self.readout = nn.Linear(channels[1] * h * w, n_outputs)
        glorot_uniform_(self, activation)

    def forward(self, z):
        maps = z.reshape(z.shape[0], 1, *self.grid_shape)
        return self.readout(self.features(maps).flatten(1))


class GSRNetwork(nn.Module):
    """``encoder -> structured layer -> head``.

    Parameters
    ----------
    encoder : torch.nn.Module
        From the input to the last hidden layer.
    structured : torch.nn.Module
        The structured layer (a ``Linear`` and its activation); its output, of
        width ``n_components``, is the graph signal.
    head : torch.nn.Module
        From the structured layer to the output (decoder, classifier, regressor).
    """

    def __init__(self, encoder, structured, head):
        super().__init__()
        self.encoder = encoder
        self.structured = structured
        self.head = head

    def embed(self, x):
        """Activations of the structured layer, shape ``(B, n_components)``."""
        return self.structured(self.encoder(x))

    def forward(self, x):
        """Return ``(output, embedding)``: the head's output and the graph signal."""
        z = self.embed(x)
        return self.head(z), z


# ---- user encoders
def build_user_encoder(encoder_param, n_features):
    """``encoder_param(n_features)``, checked to be a module the estimator owns."""
    name = getattr(encoder_param, "__name__", type(encoder_param).__name__)
    if isinstance(encoder_param, torch.nn.Module):
        raise TypeError(
            f"encoder must be an nn.Module class or a function n_features -> "
            f"nn.Module, not a module instance ({name}): every fit (and every "
            "clone in a grid search) builds its own network. Pass the class, "
            "e.g. encoder=MyEncoder, or encoder=lambda n: MyEncoder(n, ...)."
        )
    encoder = encoder_param(n_features)
    if not isinstance(encoder, torch.nn.Module):
        raise TypeError(
            f"encoder({n_features}) must return a torch.nn.Module; {name} "
            f"returned an object of type {type(encoder).__name__}."
        )
    return encoder


def encoder_width(encoder, n_features):
    """The encoder's output width, from a forward pass of a zero batch.

    On the default device (the CPU in a fit, before the network moves to
    ``device``; the meta device when a model file is checked), in evaluation
    mode so that batch-norm statistics are not touched.
    """
    name = type(encoder).__name__
    try:
        with torch.no_grad(), evaluation_mode(encoder):
            output = encoder(torch.zeros(2, n_features))
    except Exception as exc:
        raise ValueError(
            f"The encoder ({name}) failed on a batch of shape (2, {n_features}) "
            f"(n_features_in_={n_features}): {type(exc).__name__}: {exc}. It "
            "must map (batch, n_features) float32 inputs to (batch, width)."
        ) from exc
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        raise ValueError(
            f"The encoder ({name}) must return a (batch, width) tensor; on a "
            f"batch of shape (2, {n_features}) it returned "
            f"{shape if shape else type(output).__name__}. End it with "
            "nn.Flatten() to feed maps to the structured layer."
        )
    return output.shape[1]
