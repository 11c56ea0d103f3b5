"""The plot functions, under matplotlib's Agg backend."""

import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skgsr import GSRAutoencoder, GSRClassifier
from skgsr.datasets import make_feature_modules
from skgsr.graphs import make_graph
from skgsr.plotting import (
    plot_activation_maps,
    plot_feature_graph,
    plot_training,
    spectral_layout,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
LineCollection = pytest.importorskip("matplotlib.collections").LineCollection
PathCollection = pytest.importorskip("matplotlib.collections").PathCollection
Figure = pytest.importorskip("matplotlib.figure").Figure

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    """Fail on any plt.show() call; close every figure after each test."""

    def show(*args, **kwargs):
        raise AssertionError("a plot function called plt.show()")

    monkeypatch.setattr(plt, "show", show)
    monkeypatch.setattr(Figure, "show", show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).astype(np.float32), y[:300]


@pytest.fixture(scope="module")
def classifier(digits):
    X, y = digits
    return GSRClassifier(max_iter=3, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def learned():
    """An autoencoder with a learned graph: warm-up 2 epochs, rebuilt every 2."""
    X, _, info = make_feature_modules(200, 24, random_state=0)
    ae = GSRAutoencoder(
        n_components=12,
        hidden_layer_sizes=(16,),
        graph="learned",
        n_neighbors=3,
        graph_warmup=2,
        graph_update_interval=2,
        max_iter=6,
        random_state=0,
    )
    return ae.fit(X), X


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def _class_means(Z, y):
    return np.array([Z[y == c].mean(axis=0) for c in np.unique(y)])


# ------------------------------------------------------------------ maps
def test_class_activation_maps(classifier, digits):
    X, y = digits
    fig = plot_activation_maps(classifier, X, y)
    assert isinstance(fig, Figure)
    images = _images(fig)
    assert len(images) == 10
    assert [im.axes.get_title() for im in images] == [str(c) for c in range(10)]
    means = _class_means(classifier.transform(X).astype(np.float64), y)
    for image, mean in zip(images, means, strict=True):
        np.testing.assert_allclose(image.get_array(), mean.reshape(8, 8), rtol=1e-6)
        # one colour scale shared by all maps: the min and max over the maps
        assert image.get_clim() == pytest.approx((means.min(), means.max()))
    # 10 panels on a 2 x 5 grid plus one colourbar
    assert len(fig.axes) == 11
    assert fig.axes[-1].get_ylabel() == "activation"


def test_sample_activation_maps(classifier, digits):
    X, _ = digits
    fig = plot_activation_maps(classifier, X, max_maps=6, ncols=3)
    images = _images(fig)
    assert len(images) == 6
    assert [im.axes.get_title() for im in images] == [f"sample {i}" for i in range(6)]
    # the same call as the plot's: a smaller batch may round differently in float32
    Z = classifier.transform(X)[:6]
    for image, z in zip(images, Z, strict=True):
        np.testing.assert_allclose(image.get_array(), z.reshape(8, 8), rtol=1e-6)
        assert image.get_clim() == pytest.approx((Z.min(), Z.max()))


def test_activation_maps_string_labels_and_limits(classifier, digits):
    X, y = digits
    names = np.array(["zero", "one", "two"])[y % 3]
    fig = plot_activation_maps(classifier, X, names, vmin=-1.0, vmax=2.0, cmap="gray")
    images = _images(fig)
    assert [im.axes.get_title() for im in images] == ["one", "two", "zero"]
    assert all(im.get_clim() == (-1.0, 2.0) for im in images)


def test_activation_transform_and_given_axes(classifier, digits):
    """A permutation of the neurons, as a descrambler would give, is applied."""
    X, y = digits
    reverse = np.arange(64)[::-1]
    fig, axes = plt.subplots(2, 5)
    out = plot_activation_maps(
        classifier,
        X,
        y,
        activation_transform=lambda Z: Z[:, reverse],
        axes=axes,
        colorbar=False,
    )
    assert out is fig
    means = _class_means(classifier.transform(X).astype(np.float64), y)
    np.testing.assert_allclose(
        _images(fig)[4].get_array(), means[4][reverse].reshape(8, 8), rtol=1e-6
    )
    with pytest.raises(ValueError, match="at least 10 axes"):
        plot_activation_maps(classifier, X, y, axes=axes[0])
    with pytest.raises(ValueError, match="must keep the shape"):
        plot_activation_maps(classifier, X, activation_transform=lambda Z: Z[:, :3])


def test_ring_maps_are_strips(digits):
    X, _ = digits
    ae = GSRAutoencoder(n_components=12, graph="ring", max_iter=2, random_state=0)
    fig = plot_activation_maps(ae.fit(X), X, max_maps=4)
    images = _images(fig)
    assert len(images) == 4
    assert all(im.get_array().shape == (1, 12) for im in images)
    # one column of strips
    assert len({im.axes.get_position().x0 for im in images}) == 1


def test_activation_maps_in_a_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(MinMaxScaler(), GSRClassifier(max_iter=2, random_state=0))
    fig = plot_activation_maps(pipe.fit(X, y), X, y)
    assert len(_images(fig)) == 10


def test_activation_maps_errors(classifier, digits):
    X, y = digits
    with pytest.raises(NotFittedError, match="not fitted yet"):
        plot_activation_maps(GSRClassifier(), X, y)
    with pytest.raises(TypeError, match="take a fitted skgsr estimator"):
        plot_activation_maps(PCA(4).fit(X), X)
    with pytest.raises(ValueError, match="y has 10 labels but X has 300"):
        plot_activation_maps(classifier, X, y[:10])
    with pytest.raises(ValueError, match="max_maps must be a positive integer"):
        plot_activation_maps(classifier, X, max_maps=0)
    for ncols in (0, -2, 2.5, True, "3"):
        with pytest.raises(ValueError, match="ncols must be a positive integer"):
            plot_activation_maps(classifier, X, y, ncols=ncols)


# ------------------------------------------------------------------ graph
def _edges_and_nodes(fig):
    ax = fig.axes[0]
    (edges,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    (nodes,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    return edges, nodes


def test_feature_graph_of_a_grid(classifier, digits):
    X, _ = digits
    fig = plot_feature_graph(classifier, X)
    assert isinstance(fig, Figure)
    edges, nodes = _edges_and_nodes(fig)
    assert len(edges.get_segments()) == 112  # the 8 x 8 grid's edges
    assert len(nodes.get_offsets()) == 64
    # layout "auto" puts a grid on its rows and columns: every edge has length 1
    lengths = [np.linalg.norm(s[1] - s[0]) for s in edges.get_segments()]
    np.testing.assert_allclose(lengths, 1.0)
    offsets = np.asarray(nodes.get_offsets())
    np.testing.assert_array_equal(offsets[9], [1, -1])  # node 9: row 1, column 1
    # colours: the mean activation of each neuron
    np.testing.assert_allclose(
        nodes.get_array(), classifier.transform(X).mean(axis=0), rtol=1e-6
    )
    assert fig.axes[-1].get_ylabel() == "mean activation"


def test_feature_graph_edges_match_the_adjacency():
    """Each segment joins the positions of an edge's two nodes, once per edge."""
    adjacency = make_graph("tree", 15)
    positions = np.random.RandomState(0).rand(15, 2)
    fig = plot_feature_graph(adjacency, layout=positions)
    edges, nodes = _edges_and_nodes(fig)
    np.testing.assert_allclose(nodes.get_offsets(), positions)
    drawn = set()
    for a, b in edges.get_segments():
        i = int(np.flatnonzero(np.all(positions == a, axis=1))[0])
        j = int(np.flatnonzero(np.all(positions == b, axis=1))[0])
        drawn.add((min(i, j), max(i, j)))
    upper = sp.triu(adjacency, k=1).tocoo()
    assert drawn == set(zip(upper.row.tolist(), upper.col.tolist(), strict=True))
    # default colours: the degree
    np.testing.assert_array_equal(nodes.get_array(), adjacency.sum(axis=1))


def test_feature_graph_learned_with_module_labels(learned):
    ae, _ = learned
    graph = ae.feature_graph_
    labels = np.arange(12) % 3
    fig = plot_feature_graph(ae, node_values=labels)
    edges, nodes = _edges_and_nodes(fig)
    assert len(edges.get_segments()) == sp.triu(graph, k=1).nnz
    assert len(nodes.get_offsets()) == 12
    # categories: one legend entry each, and nodes of a category share a colour
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
    colours = nodes.get_facecolors()
    for k in range(3):
        assert len(np.unique(colours[labels == k], axis=0)) == 1
    assert len(np.unique(colours, axis=0)) == 3


def test_feature_graph_categories_keep_their_colour_across_plots():
    graph = make_graph("ring", 6)
    everything = ["a", "b", "c"]
    with_b = plot_feature_graph(
        graph, node_values=list("aabbcc"), categories=everything
    )
    without_b = plot_feature_graph(
        graph, node_values=list("aaaccc"), categories=everything
    )
    _, nodes_with = _edges_and_nodes(with_b)
    _, nodes_without = _edges_and_nodes(without_b)
    # "c" has the same colour whether or not "b" is drawn, and "b" stays in the legend
    np.testing.assert_array_equal(
        nodes_with.get_facecolors()[5], nodes_without.get_facecolors()[5]
    )
    legend = without_b.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == everything
    # without categories the colours follow the values present
    default = plot_feature_graph(graph, node_values=list("aaaccc"))
    _, nodes_default = _edges_and_nodes(default)
    assert not np.array_equal(
        nodes_default.get_facecolors()[5], nodes_without.get_facecolors()[5]
    )
    with pytest.raises(ValueError, match=r"not listed: \['c'\]"):
        plot_feature_graph(graph, node_values=list("aaaccc"), categories=["a", "b"])
    with pytest.raises(ValueError, match="each category of node_values once"):
        plot_feature_graph(
            graph, node_values=list("aaaccc"), categories=["a", "a", "c"]
        )


@pytest.mark.parametrize(
    "node_values, given",
    [(None, "None"), (np.linspace(0, 1, 6), "of dtype float64")],
)
def test_feature_graph_categories_need_categorical_values(node_values, given):
    """categories with no labels to colour were silently ignored (a list of one
    label per node passed as categories drew the degrees)."""
    graph = make_graph("ring", 6)
    with pytest.raises(ValueError, match=f"node_values is {given}. Pass the label"):
        plot_feature_graph(graph, node_values=node_values, categories=list("aabbcc"))
    with pytest.raises(ValueError, match=r"1-D list of categories.*\(1, 2\)"):
        plot_feature_graph(graph, node_values=list("aabbaa"), categories=[["a", "b"]])


def test_feature_graph_spring_layout():
    pytest.importorskip("networkx")
    fig = plot_feature_graph(make_graph("ladder", 12), layout="spring")
    edges, nodes = _edges_and_nodes(fig)
    assert len(edges.get_segments()) == 5 + 5 + 3
    assert len(nodes.get_offsets()) == 12


def test_feature_graph_errors(classifier, digits):
    X, _ = digits
    ring = make_graph("ring", 6)
    with pytest.raises(NotFittedError):
        plot_feature_graph(GSRAutoencoder())
    with pytest.raises(ValueError, match="X is only used with a fitted estimator"):
        plot_feature_graph(ring, X)
    with pytest.raises(ValueError, match="it needs an estimator"):
        plot_feature_graph(ring, layout="grid")
    with pytest.raises(ValueError, match="Unknown layout"):
        plot_feature_graph(ring, layout="circle")
    with pytest.raises(ValueError, match=r"shape \(n_nodes, 2\) = \(6, 2\)"):
        plot_feature_graph(ring, layout=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="one value per node"):
        plot_feature_graph(classifier, node_values=np.zeros(3))
    with pytest.raises(ValueError, match="not symmetric"):
        plot_feature_graph(np.triu(np.ones((4, 4)), 1))


# ------------------------------------------------------------------ layout
def test_spectral_layout_ring_is_a_circle_and_path_is_ordered():
    pos = spectral_layout(make_graph("ring", 20))
    radii = np.hypot(*pos.T)
    np.testing.assert_allclose(radii, radii[0], rtol=1e-8)
    # the Fiedler vector of a path, cos(pi (i + 1/2) / n), is monotone
    for n in (30, 1600):  # dense, then sparse shift-invert eigensolver
        x = spectral_layout(make_graph("line", n))[:, 0]
        steps = np.diff(x)
        assert np.all(steps > 0) or np.all(steps < 0)


def test_spectral_layout_separates_components():
    """Disconnected rings are laid out as separate circles, apart."""
    pos = spectral_layout(make_graph("rings", (3, 8)))
    boxes = [
        (pos[k * 8 : (k + 1) * 8].min(0), pos[k * 8 : (k + 1) * 8].max(0))
        for k in range(3)
    ]
    for a in range(3):
        for b in range(a + 1, 3):
            (lo_a, hi_a), (lo_b, hi_b) = boxes[a], boxes[b]
            overlap = np.all((lo_a < hi_b) & (lo_b < hi_a))
            assert not overlap
    for k in range(3):
        ring = pos[k * 8 : (k + 1) * 8]
        radii = np.hypot(*(ring - ring.mean(0)).T)
        np.testing.assert_allclose(radii, radii[0], rtol=1e-8)
    # isolated nodes and a 2-node component are fine too
    adjacency = np.zeros((4, 4))
    adjacency[0, 1] = adjacency[1, 0] = 1
    assert np.all(np.isfinite(spectral_layout(adjacency)))


# ------------------------------------------------------------------ training
def test_training_curves(classifier):
    fig = plot_training(classifier)
    assert isinstance(fig, Figure)
    objective, penalty = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["objective", "graph penalty"]
    lines = {line.get_label(): line for line in objective.get_lines()}
    np.testing.assert_array_equal(lines["objective"].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(lines["objective"].get_ydata(), classifier.loss_curve_)
    task = [record["task_loss"] for record in classifier.history_]
    np.testing.assert_allclose(lines["task loss"].get_ydata(), task)
    (line,) = penalty.get_lines()
    np.testing.assert_allclose(line.get_ydata(), classifier.penalty_curve_)
    assert objective.get_yscale() == "log" and penalty.get_yscale() == "log"
    fig = plot_training(classifier, log_scale=False)
    assert fig.axes[0].get_yscale() == "linear"


def test_training_curves_with_validation(digits):
    X, y = digits
    clf = GSRClassifier(max_iter=4, early_stopping=True, random_state=0).fit(X, y)
    fig, axes = plt.subplots(1, 3)
    assert plot_training(clf, axes=axes) is fig
    assert axes[2].get_title() == "validation score"
    (line,) = axes[2].get_lines()
    assert len(line.get_ydata()) == clf.n_iter_ == 4
    np.testing.assert_allclose(line.get_ydata(), clf.validation_scores_)
    with pytest.raises(ValueError, match="at least 3 axes"):
        plot_training(clf, axes=axes[:2])


def test_training_curves_learned_graph(learned):
    """The penalty is NaN while the graph warms up; the first graph is marked."""
    ae, _ = learned
    fig = plot_training(ae)
    penalty_ax = fig.axes[1]
    curve, marker = penalty_ax.get_lines()
    assert len(curve.get_ydata()) == ae.n_iter_ == 6
    assert np.all(np.isnan(curve.get_ydata()[:2]))
    assert np.all(np.isfinite(curve.get_ydata()[2:]))
    assert marker.get_xdata()[0] == 2.5


def test_training_unfitted():
    with pytest.raises(NotFittedError, match="before plotting it"):
        plot_training(GSRAutoencoder())


# ------------------------------------------------------------------ extras
def test_missing_matplotlib_names_the_extra(monkeypatch, classifier):
    """Without matplotlib the error says how to install it."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skgsr\[plot\]"):
        plot_training(classifier)


def test_missing_networkx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(ImportError, match=r"pip install skgsr\[graph\]"):
        plot_feature_graph(make_graph("ring", 5), layout="spring")
    # the spectral layout needs no networkx
    plot_feature_graph(make_graph("ring", 5))
