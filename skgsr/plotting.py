"""Pictures of a fitted GSR estimator: activation maps, the feature graph, training.

matplotlib is an optional dependency (``pip install skgsr[plot]``), imported only
when a function here is called. Every function returns a
:class:`matplotlib.figure.Figure` (made with :mod:`matplotlib.pyplot`, so that
notebooks and sphinx-gallery pick it up), accepts existing axes, and never calls
``plt.show()``: showing or saving is the caller's choice.

The functions take any fitted skgsr estimator (:class:`~skgsr.GSRAutoencoder`,
:class:`~skgsr.GSRClassifier`, :class:`~skgsr.GSRRegressor`) or a
:class:`~sklearn.pipeline.Pipeline` ending in one.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import graphs

__all__ = [
    "plot_activation_maps",
    "plot_feature_graph",
    "plot_training",
    "spectral_layout",
]

# Components up to this size get a dense eigendecomposition in the spectral
# layout; larger ones a sparse shift-invert solve for the three smallest.
_DENSE_LAYOUT_MAX = 1500


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skgsr.plotting needs matplotlib, an optional dependency. Install it "
            "with: pip install skgsr[plot]"
        ) from exc
    return plt


def _gsr_step(estimator, attribute):
    """The fitted skgsr estimator behind ``estimator`` (the last step of a Pipeline).

    Raises NotFittedError when it is not fitted, TypeError when it is not an
    estimator with ``attribute``.
    """
    step = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    check_is_fitted(
        estimator,
        msg=(
            "This %(name)s instance is not fitted yet: call 'fit' with appropriate "
            "arguments before plotting it."
        ),
    )
    if not hasattr(step, attribute):
        raise TypeError(
            f"{type(step).__name__} has no attribute {attribute!r}: the skgsr plot "
            "functions take a fitted skgsr estimator (GSRAutoencoder, GSRClassifier, "
            "GSRRegressor) or a Pipeline ending in one."
        )
    return step


def _new_axes(plt, n_panels, ncols, figsize, panel_size):
    nrows = math.ceil(n_panels / ncols)
    if figsize is None:
        figsize = (panel_size[0] * ncols + 1.2, panel_size[1] * nrows + 0.4)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=figsize, squeeze=False, layout="constrained"
    )
    axes = axes.ravel()
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    return fig, axes[:n_panels]


def _given_axes(axes, n_panels, name):
    axes = np.ravel(np.asarray(axes, dtype=object))
    if len(axes) < n_panels:
        raise ValueError(
            f"{name} has {len(axes)} axes but {n_panels} panels are to be drawn; "
            f"pass at least {n_panels} axes or leave {name}=None."
        )
    return axes[0].figure, axes[:n_panels]


# --------------------------------------------------------------------------- #
# Activation maps
# --------------------------------------------------------------------------- #
def plot_activation_maps(
    estimator,
    X,
    y=None,
    *,
    max_maps=16,
    ncols=None,
    activation_transform=None,
    cmap="viridis",
    vmin=None,
    vmax=None,
    colorbar=True,
    axes=None,
    figsize=None,
):
    """Activation maps of the structured layer, per class or per sample.

    The activations :math:`Z` = ``estimator.transform(X)`` (one value per
    neuron) are drawn as images on the estimator's ``graph_shape_`` layout
    (node ``r * w + c`` at row ``r``, column ``c``). With ``y``, one map per
    class: the mean :math:`\\frac{1}{|C_k|}\\sum_{i \\in C_k} z_i` over the samples
    of class ``k``, titled by the class label. Without ``y``, the maps of the
    first ``max_maps`` samples. All maps share one colour scale, by default
    the minimum and maximum over the maps drawn, shown by one colourbar.

    Parameters
    ----------
    estimator : fitted skgsr estimator or Pipeline ending in one
        Gives the activations (``transform``) and the layout (``graph_shape_``).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples,), default=None
        Class labels (or any grouping) to average the maps over; the panels
        follow the sorted labels (:func:`numpy.unique`).
    max_maps : int, default=16
        Most per-sample maps drawn when ``y`` is None (the first rows of X).
    ncols : int, default=None
        Panels per row; None chooses up to 5 (one column for 1-row layouts
        such as rings and lines, drawn as strips).
    activation_transform : callable, default=None
        Applied to the activations, shape (n_samples, n_components), before
        averaging: e.g. ``lambda Z: Z @ P.T`` with a descrambler ``P`` of
        :mod:`skgsr.descramble`, to view an unregularized network's layer on
        the graph.
    cmap : str or Colormap, default="viridis"
    vmin, vmax : float, default=None
        Limits of the shared colour scale; None takes the maps' min / max.
    colorbar : bool, default=True
        Draw one colourbar for all panels.
    axes : array-like of matplotlib Axes, default=None
        Axes to draw in (at least one per map); None makes a new figure.
    figsize : tuple of float, default=None
        Size of a new figure in inches; None sizes it from the number of panels.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skgsr import GSRClassifier
    >>> from skgsr.plotting import plot_activation_maps
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = GSRClassifier(max_iter=3, random_state=0).fit(X[:300] / 16, y[:300])
    >>> fig = plot_activation_maps(clf, X[:300] / 16, y[:300])
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['0', '1', '2']
    """
    plt = _pyplot()
    step = _gsr_step(estimator, "graph_shape_")
    Z = np.asarray(estimator.transform(X), dtype=np.float64)
    if activation_transform is not None:
        Z = np.asarray(activation_transform(Z), dtype=np.float64)
    h, w = step.graph_shape_
    if Z.ndim != 2 or Z.shape[1] != h * w:
        raise ValueError(
            f"The activations have shape {Z.shape} but the layout graph_shape_="
            f"{(h, w)} needs {h * w} columns; an activation_transform must keep the "
            "shape (n_samples, n_components)."
        )
    if y is not None:
        y = column_or_1d(y)
        if len(y) != Z.shape[0]:
            raise ValueError(
                f"y has {len(y)} labels but X has {Z.shape[0]} samples; they must "
                "match."
            )
        labels, inverse = np.unique(y, return_inverse=True)
        sums = np.zeros((len(labels), Z.shape[1]))
        np.add.at(sums, inverse, Z)
        maps = sums / np.bincount(inverse)[:, None]
        titles = [str(label) for label in labels]
    else:
        if not isinstance(max_maps, numbers.Integral) or max_maps < 1:
            raise ValueError(f"max_maps must be a positive integer, got {max_maps!r}.")
        maps = Z[:max_maps]
        titles = [f"sample {i}" for i in range(len(maps))]
    if len(maps) == 0:
        raise ValueError("X has no samples: there is no activation map to draw.")
    maps = maps.reshape(-1, h, w)
    lo = maps.min() if vmin is None else vmin
    hi = maps.max() if vmax is None else vmax

    strip = h == 1
    if ncols is not None and (
        isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1
    ):
        raise ValueError(f"ncols must be a positive integer or None, got {ncols!r}.")
    if axes is None:
        if ncols is None:
            ncols = 1 if strip else min(len(maps), 5)
        panel = (6.0, 0.8) if strip else (1.8, 1.8 * h / w + 0.3)
        fig, axes = _new_axes(plt, len(maps), ncols, figsize, panel)
    else:
        fig, axes = _given_axes(axes, len(maps), "axes")
    for ax, image, title in zip(axes, maps, titles, strict=True):
        mappable = ax.imshow(
            image,
            cmap=cmap,
            vmin=lo,
            vmax=hi,
            interpolation="nearest",
            aspect="auto" if strip else "equal",
        )
        ax.set_title(title, fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    if colorbar:
        fig.colorbar(mappable, ax=list(axes), shrink=0.8, label="activation")
    return fig


# --------------------------------------------------------------------------- #
# Feature graph
# --------------------------------------------------------------------------- #
def _component_layout(L):
    """Coordinates of one connected component from its Laplacian's eigenvectors."""
    n = L.shape[0]
    if n == 1:
        return np.zeros((1, 2))
    if n <= _DENSE_LAYOUT_MAX:
        _, vectors = np.linalg.eigh(L.toarray())
        coords = vectors[:, 1:3]
    else:
        from scipy.sparse.linalg import eigsh

        # shift-invert just below 0: L - sigma I is positive definite
        values, vectors = eigsh(sp.csc_array(L), k=3, sigma=-1e-3, which="LM")
        coords = vectors[:, np.argsort(values)[1:3]]
    if coords.shape[1] < 2:  # a 2-node component has one non-constant mode
        coords = np.column_stack([coords, np.zeros(n)])
    coords = coords - coords.mean(axis=0)
    span = np.abs(coords).max(axis=0)
    span[span < 1e-12] = 1.0
    return coords / span


def spectral_layout(adjacency):
    """2-D node positions from the graph Laplacian's low-frequency eigenvectors.

    Node ``i`` of a connected graph is placed at :math:`(u_2(i), u_3(i))`, the
    entries of the eigenvectors of :math:`L = D - A` with the second and third
    smallest eigenvalues (the smoothest non-constant graph signals), each axis
    scaled to [-1, 1]. A ring becomes a circle, a square grid a grid. Each
    connected component is laid out on its own and the components are placed
    side by side, largest first, in a square-ish arrangement of cells (a
    disconnected graph has one constant eigenvector per component, which would
    collapse every component to a point).

    Parameters
    ----------
    adjacency : array-like, scipy sparse matrix or networkx.Graph
        Symmetric, non-negative adjacency (:func:`skgsr.graphs.check_adjacency`).

    Returns
    -------
    positions : ndarray of shape (n_nodes, 2)

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.plotting import spectral_layout
    >>> pos = spectral_layout(make_graph("ring", 12))
    >>> radii = np.hypot(pos[:, 0], pos[:, 1])
    >>> bool(np.allclose(radii, radii[0]))
    True
    """
    adjacency = graphs.check_adjacency(adjacency)
    n_components, labels = csgraph.connected_components(adjacency, directed=False)
    sizes = np.bincount(labels, minlength=n_components)
    order = np.argsort(-sizes, kind="stable")
    ncols = math.ceil(math.sqrt(n_components))
    positions = np.zeros((adjacency.shape[0], 2))
    for cell, component in enumerate(order):
        nodes = np.flatnonzero(labels == component)
        sub = adjacency[nodes][:, nodes]
        coords = _component_layout(graphs.laplacian(sub, "combinatorial"))
        # smaller components in smaller boxes, so that size reads as size
        scale = max(0.3, math.sqrt(len(nodes) / sizes.max()))
        row, col = divmod(cell, ncols)
        positions[nodes] = coords * scale + np.array([2.5 * col, -2.5 * row])
    return positions


# Predefined graphs drawn on their own rows and columns by layout="auto"; the
# others (rings, tori, trees, stars) would draw edges over each other there.
_GRID_LAYOUT_GRAPHS = ("grid", "lines", "ladder")


def _layout(layout, adjacency, step, random_state):
    n = adjacency.shape[0]
    if isinstance(layout, str) and layout == "auto":
        graph = getattr(step, "graph", None)
        on_grid = isinstance(graph, str) and graph in _GRID_LAYOUT_GRAPHS
        layout = "grid" if on_grid else "spectral"
    if isinstance(layout, str):
        if layout == "spectral":
            return spectral_layout(adjacency)
        if layout == "spring":
            try:
                import networkx as nx
            except ImportError as exc:
                raise ImportError(
                    "layout='spring' needs networkx, an optional dependency: pip "
                    "install skgsr[graph]; or use layout='spectral'."
                ) from exc
            G = nx.from_scipy_sparse_array(adjacency)
            pos = nx.spring_layout(G, seed=random_state)
            return np.array([pos[i] for i in range(n)])
        if layout == "grid":
            if step is None:
                raise ValueError(
                    "layout='grid' places node r * w + c at row r, column c of the "
                    "estimator's graph_shape_; it needs an estimator, not a bare "
                    "graph."
                )
            h, w = step.graph_shape_
            rows, cols = np.divmod(np.arange(n), w)
            return np.column_stack([cols, -rows]).astype(np.float64)
        raise ValueError(
            f"Unknown layout {layout!r}; use 'auto', 'spectral', 'spring', 'grid' "
            "or an array of shape (n_nodes, 2)."
        )
    positions = np.asarray(layout, dtype=np.float64)
    if positions.shape != (n, 2):
        raise ValueError(
            f"layout must have shape (n_nodes, 2) = ({n}, 2), got {positions.shape}."
        )
    return positions


def _is_categorical(values):
    return values.dtype.kind in "biuOSU"


def plot_feature_graph(
    estimator,
    X=None,
    *,
    node_values=None,
    categories=None,
    layout="auto",
    cmap=None,
    node_size=None,
    edge_width=0.8,
    colorbar=True,
    random_state=0,
    title=None,
    ax=None,
    figsize=None,
):
    """Draw the graph over the structured neurons, nodes coloured by a quantity.

    The graph is ``estimator.feature_graph_`` (the predefined graph, or the one
    learned from co-activations), or an adjacency given directly. Edges are
    drawn as one :class:`~matplotlib.collections.LineCollection` (widths
    proportional to the weights), nodes as one scatter.

    Parameters
    ----------
    estimator : fitted skgsr estimator, Pipeline ending in one, or graph
        A fitted estimator, or an adjacency (array-like, scipy sparse matrix or
        ``networkx.Graph``) to draw as it is.
    X : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
        With an estimator and no ``node_values``: colour each neuron by its mean
        activation over X.
    node_values : array-like of shape (n_nodes,), default=None
        The colour of each node. Floats are drawn on a colour scale with a
        colourbar; integers, booleans and strings are categories (e.g. module
        labels, or the module each neuron encodes) drawn in distinct colours with
        a legend. None: the mean activation over X if X is given, else the
        (weighted) degree.
    categories : array-like, default=None
        With categorical ``node_values``: every category, in the order of the
        legend and of the colours; None takes the distinct values, sorted. Give
        several plots the same list to colour each category alike in all of
        them, including categories some plots lack (they stay in the legend).
    layout : {"auto", "spectral", "spring", "grid"} or array-like of shape \
(n_nodes, 2), default="auto"
        ``"auto"``: ``"grid"`` for an estimator with ``graph="grid"``,
        ``"lines"`` or ``"ladder"``, else ``"spectral"``.
        ``"spectral"``: :func:`spectral_layout` (no networkx needed).
        ``"spring"``: :func:`networkx.spring_layout` seeded by ``random_state``
        (needs networkx). ``"grid"``: node ``r * w + c`` at row ``r``, column
        ``c`` of ``graph_shape_``. Or the positions themselves.
    cmap : str or Colormap, default=None
        Colour map of continuous values (``"viridis"`` if None).
    node_size : float, default=None
        Marker area in points²; None scales it down as the graph grows.
    edge_width : float, default=0.8
        Line width of the heaviest edge.
    colorbar : bool, default=True
        Draw a colourbar (continuous values) or a legend (categories).
    random_state : int, default=0
        Seed of the spring layout.
    title : str, default=None
        Axes title; None describes the graph.
    ax : matplotlib Axes, default=None
        Axes to draw in; None makes a new figure.
    figsize : tuple of float, default=None
        Size of a new figure in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.plotting import plot_feature_graph
    >>> fig = plot_feature_graph(make_graph("grid", (4, 4)))
    >>> len(fig.axes[0].collections[0].get_segments())  # edges of a 4x4 grid
    24
    """
    plt = _pyplot()
    adjacency, step = _graph_to_draw(estimator, X)
    n = adjacency.shape[0]
    values, label = _node_values(node_values, categories, X, estimator, adjacency)
    positions = _layout(layout, adjacency, step, random_state)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize or (5.5, 4.5))
    else:
        fig = ax.figure
    n_edges = _draw_edges(ax, adjacency, positions, edge_width)
    size = node_size if node_size is not None else float(np.clip(4000 / n, 8, 150))
    if _is_categorical(values):
        _draw_categories(ax, positions, values, categories, size, colorbar)
    else:
        nodes = ax.scatter(
            positions[:, 0],
            positions[:, 1],
            c=values.astype(np.float64),
            s=size,
            cmap=cmap or "viridis",
            edgecolors="k",
            linewidths=0.3,
            zorder=2,
        )
        if colorbar:
            fig.colorbar(nodes, ax=ax, shrink=0.8, label=label)
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.set_axis_off()
    ax.set_title(f"{n} nodes, {n_edges} edges" if title is None else title)
    return fig


def _graph_to_draw(estimator, X):
    """The adjacency to draw, and the fitted estimator step (None for a graph)."""
    if hasattr(estimator, "fit"):
        step = _gsr_step(estimator, "feature_graph_")
        if step.feature_graph_ is None:
            raise ValueError(
                f"This {type(step).__name__} has no feature graph (feature_graph_ is "
                "None)."
            )
        return graphs.check_adjacency(step.feature_graph_), step
    if X is not None:
        raise ValueError(
            "X is only used with a fitted estimator (to colour the neurons by "
            "their mean activation); with a bare graph pass node_values."
        )
    return graphs.check_adjacency(estimator), None


def _node_values(node_values, categories, X, estimator, adjacency):
    """The colour of each node and the colourbar's label (None for given values).

    With X, the mean activation is ``estimator.transform(X)`` (a whole
    Pipeline's, preprocessing included).
    """
    n = adjacency.shape[0]
    label = None
    if node_values is not None:
        values = np.asarray(node_values)
        if values.shape != (n,):
            raise ValueError(
                f"node_values must have one value per node, shape ({n},); got "
                f"{values.shape}."
            )
    elif X is not None:
        values = np.asarray(estimator.transform(X), dtype=np.float64).mean(axis=0)
        label = "mean activation"
    else:
        values = np.asarray(adjacency.sum(axis=1)).ravel()
        label = "degree"
    if categories is not None:
        if not _is_categorical(values):
            given = "None" if label is not None else f"of dtype {values.dtype}"
            raise ValueError(
                "categories lists the categories of categorical node_values (ints, "
                f"bools or strings, one per node); node_values is {given}. Pass the "
                "label of each node as node_values."
            )
        if np.ndim(categories) != 1:
            raise ValueError(
                "categories must be a 1-D list of categories, got an array of shape "
                f"{np.shape(categories)}."
            )
    return values, label


def _draw_edges(ax, adjacency, positions, edge_width):
    """Draw the edges as one line collection, widths by weight; their number."""
    from matplotlib.collections import LineCollection

    upper = sp.triu(adjacency, k=1).tocoo()
    segments = np.stack([positions[upper.row], positions[upper.col]], axis=1)
    weights = upper.data / upper.data.max() if upper.nnz else upper.data
    edges = LineCollection(
        segments.reshape(-1, 2, 2),
        linewidths=edge_width * weights,
        colors="0.55",
        zorder=1,
    )
    ax.add_collection(edges)
    return upper.nnz


def _draw_categories(ax, positions, values, categories, size, legend):
    """Draw the nodes coloured by category, with a legend of every category."""
    import matplotlib
    from matplotlib.lines import Line2D

    if categories is None:
        categories, codes = np.unique(values, return_inverse=True)
    else:
        categories = np.asarray(categories)
        position = {c: i for i, c in enumerate(categories.tolist())}
        unknown = [v for v in np.unique(values).tolist() if v not in position]
        if len(position) != len(categories) or unknown:
            raise ValueError(
                "categories must list each category of node_values once; "
                f"not listed: {unknown}, given: {categories.tolist()}."
            )
        codes = np.array([position[v] for v in values.tolist()], dtype=np.intp)
    palette = matplotlib.colormaps["tab10" if len(categories) <= 10 else "tab20"]
    colours = palette(np.arange(len(categories)) % palette.N)
    ax.scatter(
        positions[:, 0],
        positions[:, 1],
        c=colours[codes],
        s=size,
        edgecolors="k",
        linewidths=0.3,
        zorder=2,
    )
    if legend:
        handles = [
            Line2D([], [], marker="o", linestyle="", color=colour, label=str(cat))
            for cat, colour in zip(categories, colours, strict=True)
        ]
        ax.legend(handles=handles, loc="best", fontsize="small", frameon=False)


# --------------------------------------------------------------------------- #
# Training curves
# --------------------------------------------------------------------------- #
def _set_log_if_positive(ax, values):
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size and np.all(finite > 0):
        ax.set_yscale("log")


def plot_training(estimator, *, log_scale=True, axes=None, figsize=None):
    """Training curves: the objective, the graph penalty, the validation score.

    One panel per curve, against the epoch (1 to ``n_iter_``):

    - ``loss_curve_``: the training objective, task loss + ``alpha`` x penalty
      (with the task loss alone, dashed, when ``history_`` has it);
    - ``penalty_curve_``: the graph penalty of the structured layer without
      ``alpha`` (a gap while a learned graph warms up; the first learned graph
      is marked);
    - ``validation_scores_``: only when the estimator was fitted with
      ``early_stopping``.

    Parameters
    ----------
    estimator : fitted skgsr estimator or Pipeline ending in one
    log_scale : bool, default=True
        Logarithmic y axis for the objective and the penalty (for each panel
        whose values are all positive).
    axes : array-like of matplotlib Axes, default=None
        Axes to draw in, one per panel (2, or 3 with validation scores); None
        makes a new figure.
    figsize : tuple of float, default=None
        Size of a new figure in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skgsr import GSRAutoencoder
    >>> from skgsr.plotting import plot_training
    >>> X = load_digits().data[:200] / 16
    >>> ae = GSRAutoencoder(n_components=16, max_iter=4, random_state=0).fit(X)
    >>> fig = plot_training(ae)
    >>> [ax.get_title() for ax in fig.axes]
    ['objective', 'graph penalty']
    """
    plt = _pyplot()
    step = _gsr_step(estimator, "loss_curve_")
    loss = np.asarray(step.loss_curve_, dtype=np.float64)
    penalty = np.asarray(getattr(step, "penalty_curve_", []), dtype=np.float64)
    scores = getattr(step, "validation_scores_", None)
    n_panels = 3 if scores else 2
    if axes is None:
        fig, axes = plt.subplots(
            1,
            n_panels,
            figsize=figsize or (4.0 * n_panels, 3.2),
            squeeze=False,
            layout="constrained",
        )
        axes = axes.ravel()
    else:
        fig, axes = _given_axes(axes, n_panels, "axes")
    epochs = np.arange(1, len(loss) + 1)

    ax = axes[0]
    ax.plot(epochs, loss, marker=".", label="objective")
    history = getattr(step, "history_", None) or []
    task = np.array(
        [np.nan if r.get("task_loss") is None else r["task_loss"] for r in history],
        dtype=np.float64,
    )
    if len(task) == len(loss) and np.any(np.isfinite(task)):
        ax.plot(epochs, task, linestyle="--", label="task loss")
        ax.legend(fontsize="small", frameon=False)
    else:
        task = np.empty(0)
    ax.set_title("objective")
    ax.set_xlabel("epoch")
    if log_scale:
        _set_log_if_positive(ax, np.concatenate([loss, task]))

    ax = axes[1]
    ax.plot(np.arange(1, len(penalty) + 1), penalty, marker=".", color="C2")
    ax.set_title("graph penalty")
    ax.set_xlabel("epoch")
    ax.set_ylabel("penalty (without alpha)")
    warmup = getattr(step, "graph_warmup", None)
    graph = getattr(step, "graph", None)
    if isinstance(graph, str) and graph == "learned" and warmup is not None:
        if 0 < warmup < len(penalty):
            ax.axvline(warmup + 0.5, color="0.5", linestyle=":", linewidth=1)
            ax.annotate(
                "first learned graph",
                xy=(warmup + 0.5, 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize="x-small",
                color="0.4",
            )
    if log_scale:
        _set_log_if_positive(ax, penalty)

    if scores:
        ax = axes[2]
        ax.plot(np.arange(1, len(scores) + 1), scores, marker=".", color="C3")
        ax.set_title("validation score")
        ax.set_xlabel("epoch")
    return fig
