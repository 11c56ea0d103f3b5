"""The PyTorch networks behind the estimators.

Every network is ``encoder -> structured layer -> head``: the structured layer has
one neuron per graph node, and it is its output that the graph penalty sees and
that ``transform`` returns. The head is the mirrored decoder of the autoencoder,
or a dense or convolutional read-out of the supervised estimators.
"""

from torch import nn

__all__ = ["ACTIVATIONS", "ConvHead", "GSRNetwork", "make_mlp"]

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
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        is_last = i == len(sizes) - 2
        name = last_activation if is_last else activation
        if name is not None and name != "identity":
            layers.append(ACTIVATIONS[name]())
    return nn.Sequential(*layers)


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
