"""Helpers of the gallery build, referenced by name from ``conf.py``.

- :class:`PaperOrder`: the order of the examples, the papers' experiments in
  the order they build up. sphinx-gallery sorts the examples of a folder with a
  key class; this one puts the files named in ``ORDER`` first, in that order,
  and any other example after them by file name. A new example is placed by
  adding its file name here.
- :func:`reset_warnings`: run before each example.
"""

import warnings

ORDER = [
    "plot_digits_activation_maps.py",  # 1. digits on an 8x8 grid
    "plot_conv_head.py",  # 2. convolution on the grid vs a dense head
    "plot_rotation_ring.py",  # 3. a cyclic data set on a ring graph
    "plot_tree_hierarchy.py",  # 3b. hierarchical clusters on a tree graph
    "plot_capsule_alignment.py",  # 3c. capsule networks: aligned dimensions
    "plot_wavelet_receptive_fields.py",  # 4. wavelet filters: localized maps
    "plot_learned_graph_modules.py",  # 5. learned graph on feature modules
    "plot_single_cell_learned_graph.py",  # 6. single-cell RNA-seq
    "plot_alpha_tradeoff.py",  # 7. GridSearchCV over alpha in a Pipeline
    "plot_descrambling.py",  # 8. descrambling vs GSR
    "plot_cnn_graph_regularizer.py",  # 9. GraphRegularizer in a plain PyTorch CNN
]


class PaperOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``.

    Parameters
    ----------
    src_dir : str
        The gallery folder (unused: the order is by file name).
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in ORDER:
            return (0, ORDER.index(filename), filename)
        return (1, 0, filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"


def reset_warnings(gallery_conf, fname):
    """Before each example: hide the ConvergenceWarning of short fits.

    The examples train for a fixed, small number of epochs on purpose (to stay
    fast); the warning that ``max_iter`` was reached would only be noise there.
    """
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
