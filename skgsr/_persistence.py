"""A safe file format for GSR estimators: :func:`save` and :func:`load`.

Unpickling a file runs whatever code the file names, so a pickled model from
someone else is a program from someone else. An skgsr model file holds data
only and is read without unpickling code:

- ``skgsr.json``: the format name and version, the estimator's class (one of
  skgsr's estimators, looked up in a fixed table, never imported by name), its
  hyperparameters as set when it was saved, and, for a fitted estimator, the
  hyperparameters it was fitted with and its fitted attributes, as strict JSON
  (non-finite floats, tuples, arrays... as small tagged objects). A user
  ``encoder`` is code: the file records its name only (``{"$code": name}``),
  and :func:`load` takes the encoder from its caller;
- ``tensors.pt``: the network's weights, the optimizer's state and every array,
  written by :func:`torch.save` and read by :func:`torch.load` with
  ``weights_only=True``, whose unpickler only rebuilds tensors and plain
  containers and refuses anything else.

Both sit in a zip archive. Tensors are stored from the CPU and mapped on load to
the device the model was fitted on when this machine has it, else to the CPU
(``map_location`` overrides): a model fitted on a GPU loads on a laptop.

A file may come from anyone, so :func:`load` trusts nothing in it: it bounds
what it reads before parsing it, checks every value against what
:func:`save` writes (known attribute names only, the shapes the fitted
hyperparameters declare against the stored weights, the penalty's largest
eigenvalue against the graph) before building anything from it, and reports
any problem as a :class:`ModelFileError`.
"""

import errno
import io
import json
import math
import numbers
import os
import re
import tempfile
import zipfile
import zlib

import numpy as np
import scipy.sparse as sp
import sklearn
import torch
from scipy.sparse.linalg import eigsh

from . import graphs
from ._autoencoder import GSRAutoencoder
from ._supervised import GSRClassifier, GSRRegressor
from ._torch_utils import available_device, module_device, resolve_device, tensors_to
from .filters import _resolve_filter
from .penalty import _usable_lmax

__all__ = ["FORMAT_VERSION", "ModelFileError", "load", "save"]

#: Version of the file layout written by :func:`save`; :func:`load` reads this
#: version and older ones. Version 2 added the fitted hyperparameters, version 3
#: the record of a user ``encoder``.
FORMAT_VERSION = 3
_CODE = "$code"

_FORMAT_NAME = "skgsr.model"
_JSON_NAME = "skgsr.json"
_TENSORS_NAME = "tensors.pt"

# The only classes a file can name: nothing is imported from a name in a file.
_ESTIMATORS = {
    cls.__name__: cls for cls in (GSRAutoencoder, GSRClassifier, GSRRegressor)
}

# Fitted attributes rebuilt from the fitted hyperparameters and the stored
# tensors, or stored apart, not encoded as values.
_MODULE = "module_"
_PENALTY = "penalty_"
_OPTIMIZER = "_optimizer_state"
_FIT_PARAMS = "_fit_params"

# Bounds on what a file can make load spend before its content is checked.
# A file written by save is far below each: its JSON is kilobytes, its members
# are stored uncompressed, and fitting the model it holds cost more than
# loading it. Files beyond them can still be pickled (by people who trust
# each other).
_MAX_JSON_BYTES = 64 * 2**20
# A compressed member may expand to this many times its size plus
# _EXPANSION_SLACK: deflate shrinks a model file's members a few times at
# most, a zip bomb about a thousand times (deflate's limit).
_MAX_EXPANSION = 20
_EXPANSION_SLACK = 64 * 2**20
# The values save writes nest a few levels (a list of records, a tuple).
_MAX_DEPTH = 32
# Integers in the JSON: counts, sizes, seeds.
_MAX_INT_DIGITS = 64
# The exact penalty eigendecomposes an n x n Laplacian at load: O(n^3) time and
# O(n^2) memory (8192 nodes: a 0.5 GB eigenbasis).
_MAX_EXACT_NODES = 8192
# The Chebyshev coefficients cost O(order^2).
_MAX_FILTER_ORDER = 4096
# A networkx graph costs about a kilobyte per edge in memory.
_MAX_NETWORKX_EDGES = 2**20


class ModelFileError(ValueError):
    """A file that :func:`skgsr.load` refuses.

    Not a file written by :func:`skgsr.save` (a pickle, say: refused, never
    unpickled), damaged, crafted, beyond the bounds load puts on what a file
    may make it spend, or written by a newer skgsr. Whatever is wrong with the
    content of a file, ``load`` raises this error and no other, and no
    estimator is returned. A subclass of :class:`ValueError`.
    """


class _Invalid(ValueError):
    """A value of a file that is not what save writes (turned into ModelFileError)."""


class _EncoderUnusable(ValueError):
    """The caller's encoder cannot be checked against a file (not the file's fault)."""


# --------------------------------------------------------------------------- #
# Encoding
# --------------------------------------------------------------------------- #
class _Encoder:
    """Python values -> strict JSON, with arrays and tensors set aside.

    Tags: ``{"$float": "nan"}``, ``{"$tuple": [...]}``, ``{"$array": key}``
    (numeric arrays, stored as tensors), ``{"$strings": [...], "dtype": ...}``
    (arrays of strings), ``{"$sparse": ...}``, ``{"$networkx": ...}``,
    ``{"$random_state": ...}``, ``{"$tensor": key}``. An object met twice (a
    graph that is both a hyperparameter and a fitted hyperparameter) is stored
    once, and comes back as one object.
    """

    def __init__(self):
        self.tensors = {}
        # id -> (object, its JSON form); holding the object keeps its id unique
        self._seen = {}

    def _store(self, tensor, where):
        key = f"{len(self.tensors)}:{where}"
        self.tensors[key] = tensor.detach().cpu()
        return key

    def encode(self, value, where):
        """The JSON form of ``value``; ``where`` names it in error messages."""
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            value = float(value)
            if math.isfinite(value):
                return value
            return {"$float": repr(value)}  # 'nan', 'inf', '-inf'
        if isinstance(value, tuple):
            return {
                "$tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            }
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            if not all(isinstance(k, str) and not k.startswith("$") for k in value):
                raise TypeError(
                    f"{where} is a dict whose keys are not all plain strings; the safe "
                    "format cannot store it."
                )
            return {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        if id(value) in self._seen:
            return self._seen[id(value)][1]
        encoded = self._encode_object(value, where)
        self._seen[id(value)] = (value, encoded)
        return encoded

    def _encode_object(self, value, where):
        if isinstance(value, torch.Tensor):
            return {"$tensor": self._store(value, where)}
        if isinstance(value, np.ndarray):
            return self._encode_array(value, where)
        if sp.issparse(value):
            return self._encode_sparse(value, where)
        if _is_networkx_graph(value):
            return self._encode_networkx(value, where)
        if isinstance(value, np.random.RandomState):
            _, keys, pos, has_gauss, cached = value.get_state(legacy=True)
            return {
                "$random_state": {
                    "keys": self._encode_array(keys, where),
                    "pos": int(pos),
                    "has_gauss": int(has_gauss),
                    "cached_gaussian": float(cached),
                }
            }
        if callable(value):
            raise TypeError(
                f"{where} is a callable ({value!r}). The safe format stores data, not "
                "code, so it cannot hold a function: use a named filter, or pickle or "
                "joblib.dump the estimator (and only ever load such files from people "
                "you trust)."
            )
        raise TypeError(
            f"{where} is a {type(value).__name__}, which the safe format cannot store "
            "(it holds numbers, strings, arrays, sparse matrices and networkx graphs). "
            "Use pickle or joblib for this estimator."
        )

    def _encode_array(self, array, where):
        if array.dtype.kind in "biufc":
            return {
                "$array": self._store(
                    torch.from_numpy(np.ascontiguousarray(array)), where
                )
            }
        if array.dtype.kind == "U" or (
            array.dtype == object and all(isinstance(v, str) for v in array.flat)
        ):
            return {
                "$strings": array.ravel().tolist(),
                "dtype": array.dtype.str,
                "shape": list(array.shape),
            }
        raise TypeError(
            f"{where} is an array of dtype {array.dtype}; the safe format stores "
            "numeric arrays and arrays of strings only."
        )

    def _encode_sparse(self, matrix, where):
        csr = sp.csr_array(matrix)
        csr.sort_indices()
        return {
            "$sparse": "matrix" if sp.isspmatrix(matrix) else "array",
            "shape": list(csr.shape),
            "data": self._encode_array(csr.data, f"{where}.data"),
            "indices": self._encode_array(csr.indices, f"{where}.indices"),
            "indptr": self._encode_array(csr.indptr, f"{where}.indptr"),
        }

    def _encode_networkx(self, graph, where):
        import networkx as nx

        if graph.is_directed():
            raise TypeError(
                f"{where} is a directed networkx graph; use an undirected one."
            )
        nodes = list(graph.nodes)
        plain = all(isinstance(n, str) or type(n) is int for n in nodes)
        adjacency = nx.to_scipy_sparse_array(graph, nodelist=nodes, weight="weight")
        return {
            "$networkx": {
                "nodes": nodes if plain else None,
                "adjacency": self._encode_sparse(adjacency, where),
            }
        }


# --------------------------------------------------------------------------- #
# Decoding: every value checked against what the encoder writes
# --------------------------------------------------------------------------- #
_TAGS = ("$float", "$tuple", "$tensor", "$array", "$strings", "$sparse")
_TAGS += ("$networkx", "$random_state")


class _Decoder:
    """The inverse of :class:`_Encoder`, given the stored tensors.

    Raises :class:`_Invalid` for anything the encoder does not write. Tagged
    objects that name the same stored tensors decode to one object, as they were
    one object when saved.
    """

    def __init__(self, tensors):
        if not isinstance(tensors, dict):
            raise _Invalid("the stored arrays are not a dict of tensors")
        self.tensors = tensors
        self._memo = {}

    def _tensor(self, key):
        if not isinstance(key, str) or key not in self.tensors:
            raise _Invalid(f"the tensor {key!r} is missing from the file")
        tensor = self.tensors[key]
        if not isinstance(tensor, torch.Tensor):
            raise _Invalid(f"the entry {key!r} of the file is not a tensor")
        return tensor

    def decode(self, value, depth=0):
        if depth > _MAX_DEPTH:
            raise _Invalid(f"values are nested more than {_MAX_DEPTH} levels deep")
        if isinstance(value, list):
            return [self.decode(v, depth + 1) for v in value]
        if not isinstance(value, dict):
            return value
        tags = [k for k in value if k.startswith("$")]
        if not tags:
            return {k: self.decode(v, depth + 1) for k, v in value.items()}
        if len(tags) > 1 or tags[0] not in _TAGS:
            raise _Invalid(f"unknown tag(s) {tags}")
        tag = tags[0]
        if tag == "$float":
            if value[tag] not in ("nan", "inf", "-inf"):
                raise _Invalid(f"invalid float {value[tag]!r}")
            return float(value[tag])
        if tag == "$tuple":
            items = value[tag]
            if not isinstance(items, list):
                raise _Invalid("a tuple that is not a list of values")
            return tuple(self.decode(v, depth + 1) for v in items)
        if tag == "$strings":
            return self._strings(value)
        # tensor-backed objects: decoded once per set of stored tensors
        memo_key = json.dumps(value, sort_keys=True)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._decode_stored(tag, value)
        return self._memo[memo_key]

    def _decode_stored(self, tag, value):
        if tag == "$tensor":
            return self._tensor(value[tag]).clone()
        if tag == "$array":
            return self._array(value)
        if tag == "$sparse":
            return self._sparse(value)
        if tag == "$networkx":
            return self._networkx(value[tag])
        return self._random_state(value[tag])

    def _array(self, value):
        if not isinstance(value, dict) or "$array" not in value:
            raise _Invalid("a numeric array is missing")
        return self._tensor(value["$array"]).numpy().copy()

    def _strings(self, value):
        strings, shape = value["$strings"], value.get("shape")
        if not isinstance(strings, list) or not all(
            isinstance(v, str) for v in strings
        ):
            raise _Invalid("an array of strings holds something else")
        if not (
            isinstance(shape, list)
            and all(type(s) is int and s >= 0 for s in shape)
            and math.prod(shape) == len(strings)
        ):
            raise _Invalid(f"invalid shape {shape!r} for {len(strings)} strings")
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "UO":
            raise _Invalid(f"unexpected dtype {dtype} for an array of strings")
        if dtype.kind == "U":
            # fixed-width strings: the width is the file's to declare, not to inflate
            text = sum(map(len, strings)) + 3 * len(strings)
            if dtype.itemsize * len(strings) > 2**20 + 16 * text:
                raise _Invalid(
                    f"an array of {len(strings)} strings declares dtype {dtype}, far "
                    "wider than its strings"
                )
            array = np.array(strings, dtype=dtype)
        else:
            array = np.empty(len(strings), dtype=object)
            array[:] = strings
        return array.reshape(shape)

    def _sparse(self, value):
        kind, shape = value["$sparse"], value.get("shape")
        if kind not in ("matrix", "array"):
            raise _Invalid(f"unknown sparse kind {kind!r}")
        if not (
            isinstance(shape, list)
            and len(shape) == 2
            and all(type(s) is int and s >= 0 for s in shape)
        ):
            raise _Invalid(f"invalid sparse shape {shape!r}")
        csr = sp.csr_array(
            (
                self._array(value.get("data")),
                self._array(value.get("indices")),
                self._array(value.get("indptr")),
            ),
            shape=tuple(shape),
        )
        csr.check_format(full_check=True)  # indices within the shape
        return sp.csr_matrix(csr) if kind == "matrix" else csr

    def _networkx(self, value):
        if not isinstance(value, dict):
            raise _Invalid("invalid networkx graph")
        adjacency = self._sparse(value.get("adjacency"))
        if adjacency.nnz > 2 * _MAX_NETWORKX_EDGES:
            raise _Invalid(
                f"a networkx graph of {adjacency.nnz // 2} edges (more than "
                f"{_MAX_NETWORKX_EDGES}); give such graphs as scipy sparse matrices"
            )
        nodes = value.get("nodes")
        if nodes is not None and not (
            isinstance(nodes, list)
            and len(nodes) == adjacency.shape[0]
            and all(isinstance(n, str) or type(n) is int for n in nodes)
            and len(set(nodes)) == len(nodes)
        ):
            raise _Invalid("the node labels of a networkx graph are invalid")
        try:
            import networkx as nx
        except ImportError:
            raise ImportError(
                "This model's graph parameter is a networkx graph; install networkx "
                "to load it."
            ) from None
        graph = nx.from_scipy_sparse_array(adjacency)
        if nodes is not None:
            graph = nx.relabel_nodes(graph, dict(enumerate(nodes)))
        return graph

    def _random_state(self, spec):
        if not isinstance(spec, dict):
            raise _Invalid("invalid random state")
        rng = np.random.RandomState()
        rng.set_state(
            (
                "MT19937",
                self._array(spec.get("keys")).astype(np.uint32),
                _int(spec.get("pos"), "random state position"),
                _int(spec.get("has_gauss"), "random state flag"),
                _number(spec.get("cached_gaussian"), "random state value"),
            )
        )
        return rng


def _is_networkx_graph(obj):
    return type(obj).__module__.startswith("networkx") and hasattr(obj, "edges")


# --------------------------------------------------------------------------- #
# Fitted attributes a file may restore, each with its check
# --------------------------------------------------------------------------- #
def _int(value, what, minimum=None):
    if type(value) is not int or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise _Invalid(f"{what} must be an integer{bound}, got {value!r}")
    return value


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{what} must be a number, got {value!r}")
    return value


def _positive(value, what):
    _number(value, what)
    if not (math.isfinite(value) and value > 0):
        raise _Invalid(f"{what} must be a finite positive number, got {value!r}")
    return value


def _numbers(value, what):
    if not isinstance(value, list):
        raise _Invalid(f"{what} must be a list of numbers")
    for v in value:
        _number(v, what)


def _optional(check):
    def optional(value, what):
        if value is not None:
            check(value, what)

    return optional


def _records(value, what):
    if not isinstance(value, list) or not all(
        isinstance(record, dict)
        and all(v is None or isinstance(v, bool | int | float) for v in record.values())
        for record in value
    ):
        raise _Invalid(f"{what} must be a list of records of numbers")


def _sparse_matrix(value, what):
    if not sp.issparse(value):
        raise _Invalid(f"{what} must be a sparse matrix")


def _graph_history(value, what):
    if not isinstance(value, list):
        raise _Invalid(f"{what} must be a list of graphs")
    for graph in value:
        _sparse_matrix(graph, what)


def _counts(value, what):
    if not isinstance(value, list):
        raise _Invalid(f"{what} must be a list of integers")
    for v in value:
        _int(v, what, 0)


def _input_weights(value, what):
    if not (
        isinstance(value, np.ndarray)
        and value.ndim == 1
        and value.dtype.kind == "f"
        and value.size
        and np.all(np.isfinite(value))
        and np.all(value > 0)
    ):
        raise _Invalid(f"{what} must be a 1-D array of positive finite numbers")


def _index_array(value, what):
    if not (
        isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu"
    ):
        raise _Invalid(f"{what} must be a 1-D array of integers")


def _shape(value, what):
    if not (isinstance(value, tuple) and len(value) == 2):
        raise _Invalid(f"{what} must be a tuple (h, w), got {value!r}")
    for s in value:
        _int(s, what, 1)


def _names(value, what):
    if not (
        isinstance(value, np.ndarray)
        and value.ndim == 1
        and all(isinstance(v, str) for v in value)
    ):
        raise _Invalid(f"{what} must be a 1-D array of strings")


def _classes(value, what):
    if not (isinstance(value, np.ndarray) and value.ndim == 1 and len(value) >= 2):
        raise _Invalid(f"{what} must be a 1-D array of at least 2 labels")
    # np.unique's order: predict indexes it, partial_fit searches it
    if not np.all(value[:-1] < value[1:]):
        raise _Invalid(f"{what} must hold distinct labels in sorted order")


def _generator_state(value, what):
    if not (isinstance(value, torch.Tensor) and value.dtype == torch.uint8):
        raise _Invalid(f"{what} must be a tensor of bytes")
    torch.Generator().set_state(value)  # refuses a state of the wrong size


def _random_state(value, what):
    if not isinstance(value, np.random.RandomState):
        raise _Invalid(f"{what} must be a RandomState")


def _output_config(value, what):
    if not (
        isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise _Invalid(f"{what} must map method names to output containers")


def _y_ndim(value, what):
    if value not in (1, 2) or type(value) is not int:
        raise _Invalid(f"{what} must be 1 or 2, got {value!r}")


# name -> check, for every estimator; a file may restore these and no others
_FITTED_ATTRIBUTES = {
    "n_features_in_": lambda v, what: _int(v, what, 1),
    "feature_names_in_": _names,
    "n_iter_": lambda v, what: _int(v, what, 0),
    "loss_scale_": lambda v, what: _positive(v, what),
    "loss_curve_": _numbers,
    "penalty_curve_": _numbers,
    "history_": _records,
    "validation_scores_": _optional(_numbers),
    "best_validation_score_": _optional(_number),
    "graph_shape_": _shape,
    "feature_graph_": _optional(_sparse_matrix),
    "laplacian_": _optional(_sparse_matrix),
    "graph_history_": _graph_history,
    "graph_history_epochs_": _counts,
    "inactive_neurons_": _optional(_index_array),
    "graph_input_weights_": _optional(_input_weights),
    "graph_modularity_": _number,
    "_graph_updates": lambda v, what: _int(v, what, 0),
    "_generator_state": _optional(_generator_state),
    "_graph_rng": _random_state,
    "_sklearn_output_config": _output_config,
}
_CLASS_ATTRIBUTES = {
    "GSRAutoencoder": {},
    "GSRClassifier": {"classes_": _classes},
    "GSRRegressor": {
        "n_outputs_": lambda v, what: _int(v, what, 1),
        "_y_ndim": _y_ndim,
    },
}
# what every fit sets and the estimator reads without a default
_REQUIRED_ATTRIBUTES = {
    "n_features_in_",
    "n_iter_",
    "loss_curve_",
    "penalty_curve_",
    "history_",
    "validation_scores_",
    "best_validation_score_",
    "graph_shape_",
    "feature_graph_",
    "laplacian_",
    # the generator of the rows a learned graph encodes, which partial_fit and
    # warm_start copy (every fit sets one, whatever the graph)
    "_graph_rng",
}
_REQUIRED_CLASS_ATTRIBUTES = {
    "GSRAutoencoder": set(),
    "GSRClassifier": {"classes_"},
    "GSRRegressor": {"n_outputs_", "_y_ndim"},
}


def _attribute_checks(class_name):
    return {**_FITTED_ATTRIBUTES, **_CLASS_ATTRIBUTES[class_name]}


# --------------------------------------------------------------------------- #
# save
# --------------------------------------------------------------------------- #
def _estimator_class(estimator):
    cls = type(estimator)
    if _ESTIMATORS.get(cls.__name__) is not cls:
        raise TypeError(
            f"skgsr.save stores {', '.join(_ESTIMATORS)}; got {cls.__name__}. A file "
            "names its class and load only ever builds skgsr's own estimators, so a "
            "subclass cannot be stored in the safe format; pickle it instead."
        )
    return cls.__name__


def _fitted_twin(cls, fit_params):
    """An unfitted estimator with the hyperparameters a model was fitted with.

    The network and the penalty are rebuilt from it, never from the current
    hyperparameters, which ``set_params`` may have changed since the fit.
    """
    twin = cls()
    twin.set_params(**fit_params)
    return twin


def _architecture(module):
    """What two networks must share for weights to mean the same: layers and shapes."""
    return repr(module), {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _check_fitted_architecture(estimator, fit_params):
    """Refuse to save a network that its fitted hyperparameters do not describe."""
    twin = _fitted_twin(type(estimator), fit_params)
    if twin.encoder is not None:  # a file load could not check is not written
        _probe_encoder(twin, estimator.n_features_in_)
    try:
        with torch.device("meta"):
            skeleton = twin._initialize_module(
                estimator.n_features_in_, _n_outputs(estimator), estimator.graph_shape_
            )
    except (ValueError, TypeError) as exc:
        skeleton, reason = None, str(exc)
    if skeleton is None or _architecture(skeleton) != _architecture(estimator.module_):
        detail = "" if skeleton is not None else f" ({reason})"
        raise ValueError(
            "The fitted network does not match the hyperparameters it was fitted "
            f"with{detail}: the file could not rebuild it. This happens when "
            "warm_start or partial_fit continued training after set_params changed "
            "the architecture (hidden_layer_sizes, activation, head...). Refit with "
            "warm_start=False, then save."
        )


def save(estimator, path):
    """Write a GSR estimator to a file that :func:`load` reads without running code.

    The file is a zip archive holding ``skgsr.json`` (format version, class,
    hyperparameters, fitted hyperparameters and fitted attributes as JSON) and
    ``tensors.pt`` (weights, optimizer state and arrays, read back with
    ``torch.load(weights_only=True)``). An unfitted estimator stores its
    hyperparameters only. The file is written next to ``path`` and renamed into
    place, so an interrupted save never leaves a half-written model at ``path``.

    Both the hyperparameters as they are now and those the model was fitted
    with are stored: after ``set_params`` without a refit, the loaded estimator,
    like the saved one, has the new hyperparameters (``get_params``, used by the
    next ``fit``) and the network and penalty that were fitted.

    Parameters
    ----------
    estimator : GSRAutoencoder, GSRClassifier or GSRRegressor
        Fitted or not. Every hyperparameter must be data: a graph name, a dense or
        scipy sparse adjacency (stored as CSR), a ``networkx.Graph`` (stored as its
        weighted adjacency in ``graph.nodes`` order, with the node labels when
        they are strings or ints; other node and edge attributes are dropped), a
        ``RandomState``... A callable ``filter`` is code, and is refused. A
        user ``encoder`` is code too: the file stores its weights and its name,
        never its code, and :func:`load` needs ``encoder=`` to rebuild it.
    path : str, os.PathLike or binary file object
        Where to write (``.skgsr`` is a good suffix). Its folder must exist.

    Raises
    ------
    TypeError
        If the estimator is not one of skgsr's estimators, if a hyperparameter
        (e.g. a callable filter) or a fitted attribute cannot be stored as data,
        or if the estimator carries an attribute that is not one of skgsr's
        fitted attributes (load would refuse it).
    ValueError
        If the fitted network does not match the hyperparameters it was fitted
        with (a warm start after ``set_params`` changed the architecture), or
        if the user ``encoder`` cannot run on PyTorch's meta device, where
        :func:`load` checks it against the stored weights.
    FileNotFoundError, IsADirectoryError
        If ``path`` is in a folder that does not exist, or is a folder.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skgsr
    >>> X = np.random.RandomState(0).rand(30, 5)
    >>> ae = skgsr.GSRAutoencoder(n_components=4, max_iter=2, random_state=0)
    >>> ae = ae.fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skgsr")
    >>> skgsr.save(ae, path)
    >>> loaded = skgsr.load(path)
    >>> loaded.get_params() == ae.get_params()
    True
    """
    class_name = _estimator_class(estimator)
    target = _check_save_path(path)
    encoder = _Encoder()
    current = estimator.get_params(deep=False)
    params = _encode_params(encoder, current, "parameter")
    fitted = None
    payload = {}
    module = getattr(estimator, _MODULE, None)
    if module is not None:
        fit_params = getattr(estimator, _FIT_PARAMS, None) or current
        known = _attribute_checks(class_name)
        attributes = {}
        for name, value in vars(estimator).items():
            if name in current or name in (_MODULE, _PENALTY, _OPTIMIZER, _FIT_PARAMS):
                continue
            if name not in known:
                raise TypeError(
                    f"The estimator has an attribute {name!r} that is not one of "
                    "skgsr's fitted attributes, and skgsr.load restores only those "
                    "(skgsr/_persistence.py lists them). Delete it before saving, or "
                    "pickle the estimator."
                )
            attributes[name] = encoder.encode(value, f"fitted attribute {name}")
        _check_fitted_architecture(estimator, fit_params)
        payload[_MODULE] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        optimizer_state = getattr(estimator, _OPTIMIZER, None)
        if optimizer_state is not None:
            payload[_OPTIMIZER] = tensors_to(optimizer_state, "cpu")
        penalty = getattr(estimator, _PENALTY, None)
        fitted = {
            "device": str(module_device(module)),
            "n_outputs": _n_outputs(estimator),
            "params": _encode_params(encoder, fit_params, "fitted parameter"),
            "penalty": None if penalty is None else {"lmax": penalty.lmax},
            "attributes": attributes,
        }
    payload["arrays"] = encoder.tensors
    document = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "class": class_name,
        "versions": {
            "skgsr": _skgsr_version(),
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "params": params,
        "fitted": fitted,
    }
    text = json.dumps(document, allow_nan=False, indent=1)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    _write_archive(target, text, buffer.getvalue())


def _encode_params(encoder, params, what):
    """Hyperparameters as JSON; a user encoder, being code, by its name only."""
    encoded = {}
    for name, value in params.items():
        if name == "encoder" and value is not None:
            encoded[name] = {_CODE: _code_name(value)}
        else:
            encoded[name] = encoder.encode(value, f"{what} {name}")
    return encoded


def _recorded_encoders(params, fitted):
    """The names of the user encoders a document records (JSON as written)."""
    fitted_params = fitted.get("params") if isinstance(fitted, dict) else None
    names = []
    for encoded in (params, fitted_params):
        record = encoded.get("encoder") if isinstance(encoded, dict) else None
        if isinstance(record, dict) and isinstance(record.get(_CODE), str):
            names.append(record[_CODE][:200])
    return names


def _code_name(code):
    name = getattr(code, "__qualname__", None) or type(code).__qualname__
    module = getattr(code, "__module__", None)
    return f"{module}.{name}" if module else name


def _skgsr_version():
    from . import __version__

    return __version__


def _n_outputs(estimator):
    """Width of the network's output, to rebuild its architecture."""
    if hasattr(estimator, "classes_"):
        return len(estimator.classes_)
    if hasattr(estimator, "n_outputs_"):
        return int(estimator.n_outputs_)
    return int(estimator.n_features_in_)


def _check_save_path(path):
    """``path`` as a string (or the file object), its folder checked to exist.

    Checked before anything is written so that the error names the caller's
    path, not the temporary file written beside it.
    """
    if hasattr(path, "write"):
        return path
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            errno.EISDIR, "skgsr.save needs a file name, not a folder", path
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT,
            f"skgsr.save cannot write there: the folder {directory!r} does not exist",
            path,
        )
    return path


def _write_archive(path, text, tensors):
    def write(target):
        # stored, not deflated: weights barely compress and this keeps save fast
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(_JSON_NAME, text)
            archive.writestr(_TENSORS_NAME, tensors)

    if hasattr(path, "write"):
        write(path)
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".skgsr-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise type(exc)(
            exc.errno, f"skgsr.save cannot write: {exc.strerror}", path
        ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise type(exc)(
                exc.errno, f"skgsr.save cannot write: {exc.strerror}", path
            ) from None
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# --------------------------------------------------------------------------- #
# load: reading the archive
# --------------------------------------------------------------------------- #
def _display_name(path):
    return os.fspath(path) if isinstance(path, str | os.PathLike) else "<file>"


def _not_a_model(path, reason):
    return ModelFileError(
        f"{path!r} is not an skgsr model file ({reason}). skgsr.load reads only files "
        "written by skgsr.save. If this is a pickle or joblib file, note that loading "
        "one runs any code it contains: use pickle.load or joblib.load only on files "
        "from people you trust."
    )


def _corrupt(path, reason):
    return ModelFileError(
        f"{path!r} is a corrupt or incompatible skgsr model file: {reason}"
    )


def _read_archive(path, name):
    if isinstance(path, str | os.PathLike):
        # a missing file or a folder is an OSError naming the path, not "not a model"
        with open(path, "rb") as file:
            return _read_archive_file(file, name)
    return _read_archive_file(path, name)


def _read_archive_file(file, name):
    if not zipfile.is_zipfile(file):
        raise _not_a_model(name, "it is not a zip archive")
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            text = _read_member(archive, _JSON_NAME, name, _MAX_JSON_BYTES)
            document = _parse_json(text, name)
            _check_header(document, name)
            raw = _read_member(archive, _TENSORS_NAME, name, None)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise _not_a_model(name, f"a damaged zip archive: {exc}") from None
    except (OSError, ValueError) as exc:  # offsets that point outside the file
        raise _not_a_model(name, f"a damaged zip archive: {exc!r}") from None
    return document, _load_tensors(raw, name)


def _read_member(archive, member, name, limit):
    """The bytes of one member, its size bounded before it is read."""
    infos = [info for info in archive.infolist() if info.filename == member]
    if not infos:
        raise _not_a_model(name, f"it has no {member}")
    if len(infos) > 1:
        raise _not_a_model(name, f"it has {len(infos)} members named {member}")
    info = infos[0]
    # zipfile never returns more than the declared size (a larger member fails
    # its checksum), so the declared size bounds what is read
    bound = _EXPANSION_SLACK + _MAX_EXPANSION * info.compress_size
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > bound:
        raise _not_a_model(
            name,
            f"its {member} expands from {info.compress_size} to {info.file_size} "
            "bytes, as a zip bomb does",
        )
    if limit is not None and info.file_size > limit:
        raise _not_a_model(
            name, f"its {member} has {info.file_size} bytes, more than {limit}"
        )
    return archive.read(info)


def _parse_int(digits):
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(digits)} digits")
    return int(digits)


def _refuse_constant(constant):
    raise ValueError(f"{constant} is not strict JSON")


def _parse_json(raw, name):
    try:
        return json.loads(
            raw.decode("utf-8"), parse_int=_parse_int, parse_constant=_refuse_constant
        )
    except RecursionError:
        raise _not_a_model(name, f"its {_JSON_NAME} is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise _not_a_model(name, f"its {_JSON_NAME} is not JSON: {exc}") from None


def _check_header(document, name):
    if not isinstance(document, dict) or document.get("format") != _FORMAT_NAME:
        raise _not_a_model(name, f"its {_JSON_NAME} does not describe an skgsr model")
    version = document.get("format_version")
    if type(version) is not int or version < 1:
        raise _not_a_model(name, f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        versions = document.get("versions")
        writer = versions.get("skgsr") if isinstance(versions, dict) else None
        raise ModelFileError(
            f"{name!r} was written in skgsr model format version {version} by a "
            f"newer skgsr ({writer}); this skgsr ({_skgsr_version()}) reads versions "
            f"up to {FORMAT_VERSION}. Upgrade skgsr to load it."
        )
    class_name = document.get("class")
    if not isinstance(class_name, str) or class_name not in _ESTIMATORS:
        raise _not_a_model(name, f"unknown estimator class {document.get('class')!r}")


def _load_tensors(raw, name):
    # torch.save writes a zip of stored records; torch.load would also inflate
    # compressed ones, which no file from save has
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as inner:
            compressed = [
                i.filename
                for i in inner.infolist()
                if i.compress_type != zipfile.ZIP_STORED
            ]
    except zipfile.BadZipFile:
        raise _not_a_model(name, f"its {_TENSORS_NAME} is not a torch file") from None
    if compressed:
        raise _not_a_model(
            name, f"its {_TENSORS_NAME} has compressed records {compressed[:3]}"
        )
    try:
        # weights_only: tensors and plain containers only; a pickled object that
        # names a function or class is refused before anything runs
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's message goes on to explain how to allow the refused object;
        # only the line that names it is relevant here
        refused = re.search(r"Unsupported global: GLOBAL \S+", str(exc))
        detail = refused.group(0) if refused else f"{type(exc).__name__}: {exc}"
        raise _not_a_model(
            name, f"its {_TENSORS_NAME} holds something other than tensors: {detail}"
        ) from None
    if not isinstance(payload, dict):
        raise _not_a_model(name, f"its {_TENSORS_NAME} is not a dict of tensors")
    return payload


def _target_device(fitted_device, map_location):
    """Where loaded tensors go.

    ``map_location=None``: the device the model was fitted on if this machine has
    it, else the CPU. Otherwise ``map_location`` (``"cpu"``, ``"cuda:1"``,
    ``"auto"``...), which must exist here.
    """
    if map_location is None:
        return available_device(fitted_device)
    if isinstance(map_location, torch.device):
        map_location = str(map_location)
    return resolve_device(map_location)


def load(path, map_location=None, encoder=None):
    """Read an estimator written by :func:`save`, without running code from the file.

    The file is checked before anything is built from it: its size, that it
    holds only what :func:`save` writes (known fitted attributes, each of the
    right type), that the stored weights have the shapes the fitted
    hyperparameters declare, and that the penalty's settings fit its graph.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        A file written by :func:`save`.
    map_location : str or torch.device, default=None
        Device for the network: None puts it on the device it was fitted on when
        this machine has that device, else on the CPU (a model fitted on a GPU
        loads on a CPU-only machine); ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
        ``"auto"`` choose.
    encoder : torch.nn.Module class or callable, default=None
        For a model fitted with a user ``encoder`` (required then, refused
        otherwise): the encoder it was fitted with. The file holds its weights
        but not its code; it is rebuilt with ``encoder(n_features_in_)`` and
        its layers checked against the stored weights (built first on the meta
        device, shapes without memory). It becomes the ``encoder``
        hyperparameter of the loaded estimator.

    Returns
    -------
    estimator : GSRAutoencoder, GSRClassifier or GSRRegressor
        With the hyperparameters it had when saved (``get_params``) and, if it
        was fitted, every fitted attribute, the network and penalty rebuilt from
        the hyperparameters it was fitted with: it predicts exactly as the saved
        estimator did and continues training (``warm_start``, ``partial_fit``)
        from the same optimizer state.

    Raises
    ------
    ModelFileError
        A :class:`ValueError`: the file is not an skgsr model file (a pickle,
        for instance: it is refused, never unpickled), was written by a newer
        skgsr, is damaged or crafted, or exceeds the bounds load puts on what a
        file may make it spend (see the user guide), or its weights do not fit
        the ``encoder`` given.
    ValueError
        If ``map_location`` is not a device of this machine, if the file
        records a user encoder and ``encoder`` is not given (the message says
        how to call load), or ``encoder`` is given for a model without one.
    TypeError
        If ``encoder`` is not a class or a function.
    FileNotFoundError
        If ``path`` does not exist.

    See Also
    --------
    save : Write the file.
    """
    # the arguments are checked first: their errors are the caller's, not the file's
    device = None if map_location is None else _target_device(None, map_location)
    if encoder is not None and (
        not callable(encoder) or isinstance(encoder, torch.nn.Module)
    ):
        raise TypeError(
            "encoder must be the nn.Module class or the function n_features -> "
            "nn.Module the model was fitted with (not a module instance); got "
            f"{type(encoder).__name__}."
        )
    name = _display_name(path)
    document, payload = _read_archive(path, name)
    _check_encoder_argument(document, encoder, name)
    try:
        return _build(document, payload, device, encoder)
    except (ImportError, MemoryError, _EncoderUnusable):
        raise
    except Exception as exc:
        # anything a file makes go wrong is the file's problem, reported as such
        if not isinstance(exc, _Invalid):
            exc_name = type(exc).__name__
            raise _corrupt(name, f"{exc_name}: {exc}") from exc
        raise _corrupt(name, str(exc)) from exc


# --------------------------------------------------------------------------- #
# load: building the estimator
# --------------------------------------------------------------------------- #
def _check_encoder_argument(document, encoder, name):
    """``encoder=`` is given exactly when the file records a user encoder."""
    recorded = _recorded_encoders(document.get("params"), document.get("fitted"))
    if recorded and encoder is None:
        shown = recorded[-1].rsplit(".", 1)[-1]
        raise ValueError(
            f"{name!r} holds a model fitted with a user encoder ({recorded[-1]!r}). "
            "A model file stores the encoder's weights but not its code, which "
            "load would have to run: pass the encoder again, "
            f"skgsr.load(path, encoder={shown})."
        )
    if encoder is not None and not recorded:
        raise ValueError(
            f"encoder= was given, but {name!r} holds a model without a user "
            "encoder: load it without encoder=."
        )


def _decode_params(decoder, encoded, cls, what, encoder=None):
    if not isinstance(encoded, dict):
        raise _Invalid(f"{what} must be a JSON object, got {type(encoded).__name__}")
    unknown = set(encoded) - set(cls().get_params(deep=False))
    if unknown:
        raise _Invalid(f"unknown parameters {sorted(unknown)} in {what}")
    encoded = dict(encoded)
    record = encoded.pop("encoder", None)
    params = {k: decoder.decode(v) for k, v in encoded.items()}
    if record is not None:
        # code is never read from a file: the record stands for the caller's encoder
        if not (
            isinstance(record, dict)
            and set(record) == {_CODE}
            and isinstance(record[_CODE], str)
            and encoder is not None
        ):
            raise _Invalid(f"the encoder in {what} is not the record of an encoder")
        params["encoder"] = encoder
    estimator = cls()
    estimator.set_params(**params)
    estimator._validate_params()
    return estimator


def _build(document, payload, device, encoder=None):
    cls = _ESTIMATORS[document["class"]]
    decoder = _Decoder(payload.get("arrays", {}))
    if "fitted" not in document:
        raise _Invalid("the fitted state (null when unfitted) is missing")
    estimator = _decode_params(decoder, document.get("params"), cls, "params", encoder)
    fitted = document["fitted"]
    if fitted is None:
        return estimator
    if not isinstance(fitted, dict) or not isinstance(fitted.get("attributes"), dict):
        raise _Invalid("the fitted state is not a JSON object with attributes")
    if "params" in fitted:
        twin = _decode_params(decoder, fitted["params"], cls, "fitted params", encoder)
    else:  # format version 1: the hyperparameters as saved
        twin = _fitted_twin(cls, estimator.get_params(deep=False))
    _restore_fitted(estimator, twin, fitted, decoder, payload, device)
    return estimator


def _restore_fitted(estimator, twin, fitted, decoder, payload, device):
    class_name = type(estimator).__name__
    checks = _attribute_checks(class_name)
    encoded = fitted["attributes"]
    unknown = set(encoded) - set(checks)
    if unknown:
        raise _Invalid(
            f"invalid fitted attribute name(s) {sorted(unknown)}: a model file "
            "restores skgsr's fitted attributes only"
        )
    missing = (_REQUIRED_ATTRIBUTES | _REQUIRED_CLASS_ATTRIBUTES[class_name]) - set(
        encoded
    )
    if missing:
        raise _Invalid(f"the fitted attribute(s) {sorted(missing)} are missing")
    attributes = {name: decoder.decode(value) for name, value in encoded.items()}
    for name, value in attributes.items():
        checks[name](value, name)
    _check_consistency(attributes, twin, fitted, class_name)

    fitted_device = fitted.get("device")
    if not isinstance(fitted_device, str) or torch.device(fitted_device).type not in (
        "cpu",
        "cuda",
        "mps",
    ):
        raise _Invalid(f"invalid device {fitted_device!r}")
    if device is None:
        device = _target_device(fitted_device, None)
    module = _rebuild_module(twin, attributes, payload.get(_MODULE))
    penalty = _rebuild_penalty(twin, attributes, fitted.get("penalty"))
    optimizer_state = payload.get(_OPTIMIZER)
    if optimizer_state is not None:
        _check_optimizer_state(optimizer_state, module)

    # every check passed: the estimator is assembled, and nothing can fail after
    for name, value in attributes.items():
        setattr(estimator, name, value)
    estimator._fit_params = twin.get_params(deep=False)
    estimator.module_ = module.to(device).eval()
    estimator.penalty_ = None if penalty is None else penalty.to(device)
    if optimizer_state is not None:
        # stays on the CPU: the optimizer moves its state to the parameters'
        # device when a warm start loads it
        estimator._optimizer_state = optimizer_state


def _output_width(attributes, class_name):
    if class_name == "GSRClassifier":
        return len(attributes["classes_"])
    if class_name == "GSRRegressor":
        return attributes["n_outputs_"]
    return attributes["n_features_in_"]


def _layer_width(twin, attributes):
    """``(width, its name)`` of the structured layer the fitted hyperparameters
    declare.

    ``n_components``, or for the capsule head ``n_classes * capsule_dim``: the
    twin is given the fitted classes to say it.
    """
    if "classes_" in attributes:
        twin.classes_ = attributes["classes_"]
    return twin._structured_width()


def _check_consistency(attributes, twin, fitted, class_name):
    """Fitted attributes that must agree with each other and with the fit."""
    n, width = _layer_width(twin, attributes)
    h, w = attributes["graph_shape_"]
    if h * w != n:
        raise _Invalid(f"graph_shape_ {(h, w)} does not have {width}={n} nodes")
    names = attributes.get("feature_names_in_")
    if names is not None and len(names) != attributes["n_features_in_"]:
        raise _Invalid("feature_names_in_ does not have n_features_in_ names")
    if (
        class_name == "GSRRegressor"
        and attributes["_y_ndim"] == 1
        and attributes["n_outputs_"] != 1
    ):
        raise _Invalid("a regressor fitted on a 1-D y has one output")
    n_outputs = fitted.get("n_outputs", _output_width(attributes, class_name))
    if n_outputs != _output_width(attributes, class_name):
        raise _Invalid(f"n_outputs={n_outputs!r} does not match the fitted attributes")
    inactive = attributes.get("inactive_neurons_")
    if (
        inactive is not None
        and inactive.size
        and not (0 <= inactive.min() and inactive.max() < n)
    ):
        raise _Invalid("inactive_neurons_ names neurons beyond the layer's width")
    if len(attributes.get("graph_history_", [])) != len(
        attributes.get("graph_history_epochs_", [])
    ):
        raise _Invalid("graph_history_ and graph_history_epochs_ differ in length")
    for graph in attributes.get("graph_history_", []):
        graphs.check_adjacency(graph, n_nodes=n, name="a graph of graph_history_")


def _probe_encoder(twin, n_features):
    """Build and run the user's encoder on the meta device: shapes, no memory."""
    try:
        with torch.device("meta"):
            twin._build_encoder(n_features)
    except (TypeError, ValueError) as exc:
        raise _EncoderUnusable(
            f"The encoder cannot be checked against a model file: {exc} skgsr.save "
            "and skgsr.load build it on PyTorch's meta device (shapes without "
            "memory) to compare it with the stored weights before allocating them, "
            "so its forward pass must not read values (.item(), numpy...). Pickle "
            "the estimator instead if it must."
        ) from exc


def _rebuild_module(twin, attributes, state_dict):
    """The fitted network, its shapes checked against the weights before it is built."""
    if not isinstance(state_dict, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor)
        for k, v in state_dict.items()
    ):
        raise _Invalid("the network's weights are missing or not a dict of tensors")
    # every layer has weights: a declared depth beyond them is refused unbuilt
    if len(twin._hidden_sizes()) > len(state_dict):
        raise _Invalid(
            f"hidden_layer_sizes declares {len(twin._hidden_sizes())} layers, more "
            f"than the {len(state_dict)} stored tensors"
        )
    args = (
        attributes["n_features_in_"],
        _output_width(attributes, type(twin).__name__),
        attributes["graph_shape_"],
    )
    if twin.encoder is not None:
        _probe_encoder(twin, args[0])
    # the architecture the hyperparameters declare, on the meta device: shapes
    # without memory, so that sizes the file does not back with weights cost nothing
    with torch.device("meta"):
        skeleton = twin._initialize_module(*args)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in state_dict.items()}
    if expected != stored:
        missing = sorted(set(expected) - set(stored))
        unexpected = sorted(set(stored) - set(expected))
        wrong = [
            f"{k}: stored {stored[k]}, declared {expected[k]}"
            for k in expected
            if k in stored and stored[k] != expected[k]
        ]
        hint = ""
        if twin.encoder is not None:
            hint = (
                f"; is encoder={_code_name(twin.encoder)} the encoder the model was "
                "fitted with, built the same way?"
            )
        raise _Invalid(
            "the stored weights do not fit the network the fitted hyperparameters "
            f"declare (missing {missing[:3]}, unexpected {unexpected[:3]}, shapes "
            f"{wrong[:3]}){hint}"
        )
    declared = skeleton.state_dict()
    for key, tensor in state_dict.items():
        if not declared[key].is_floating_point():
            # an integer buffer of a user encoder (batch norm's step count)
            if tensor.dtype != declared[key].dtype:
                raise _Invalid(
                    f"the buffer {key!r} is {tensor.dtype}, not {declared[key].dtype}"
                )
        elif not tensor.is_floating_point() or not torch.isfinite(tensor).all():
            raise _Invalid(f"the weights {key!r} are not finite floating-point numbers")
    # the seed is irrelevant (the weights are overwritten) but must not touch
    # the global RNG
    with torch.random.fork_rng(devices=[]):
        module = twin._initialize_module(*args)
    module.load_state_dict(state_dict, strict=True)
    return module


def _rebuild_penalty(twin, attributes, spec):
    """The fitted penalty, built as fit builds it, its inputs checked.

    What the file can make this cost is bounded first; the lmax it gives is
    checked against the graph after the (then cheap) construction, which
    resolves the Laplacian the fitted hyperparameters ask for.
    """
    adjacency, stored_laplacian = attributes["feature_graph_"], attributes["laplacian_"]
    if adjacency is None:
        if spec is not None or stored_laplacian is not None:
            raise _Invalid("a penalty or a Laplacian without a feature graph")
        return None
    if not isinstance(spec, dict) or set(spec) != {"lmax"} or stored_laplacian is None:
        raise _Invalid("the penalty of the feature graph is missing or invalid")
    n, _ = _layer_width(twin, attributes)
    adjacency = graphs.check_adjacency(adjacency, n_nodes=n, name="feature_graph_")
    lmax = spec["lmax"]
    # the quadratic forms and the topographic penalty have no spectral interval
    quadratic = (isinstance(twin.filter, str) and twin.filter == "topographic") or (
        _resolve_filter(twin.filter, twin.filter_scale, 1.0).is_quadratic_form
    )
    if quadratic:
        if lmax is not None:
            raise _Invalid(f"filter={twin.filter!r} has no lmax, got {lmax!r}")
    else:
        # "auto" is never exact above _MAX_EXACT_NODES: only an explicit
        # "exact" could make a file eigendecompose a huge graph
        if twin.filter_method == "exact" and n > _MAX_EXACT_NODES:
            raise _Invalid(
                f"filter_method='exact' on {n} neurons would eigendecompose a "
                f"{n} x {n} matrix at load (more than {_MAX_EXACT_NODES})"
            )
        if twin.filter_order > _MAX_FILTER_ORDER:
            raise _Invalid(
                f"filter_order={twin.filter_order} is beyond {_MAX_FILTER_ORDER}"
            )
        if not (
            isinstance(lmax, int | float)
            and not isinstance(lmax, bool)
            and math.isfinite(lmax)
            and lmax > 0
        ):
            raise _Invalid(f"the penalty's lmax={lmax!r} is not a positive number")
    penalty = twin._make_penalty(adjacency, lmax=lmax)
    L = penalty.L
    if stored_laplacian.shape != L.shape or _max_difference(stored_laplacian, L) > (
        1e-9 * max(1.0, abs(L).max())
    ):
        raise _Invalid("laplacian_ is not the Laplacian of feature_graph_")
    if not quadratic:
        # the Chebyshev interval and the default scales follow lmax: below the
        # spectrum the penalty blows up (to NaN for a tiny lmax)
        # fit stores the exact value (exact filters) or an estimate at most 1%
        # above it (Chebyshev): below the spectrum the polynomial blows up
        reference = _largest_eigenvalue(L)
        if not reference * (1 - 1e-6) <= lmax <= 1.02 * reference:
            raise _Invalid(
                f"the penalty's lmax={lmax!r} is not the largest Laplacian "
                f"eigenvalue of feature_graph_ ({reference:.6g})"
            )
    return penalty


def _largest_eigenvalue(L):
    """The largest eigenvalue of a Laplacian to 1e-8 (1 for a graph without edges
    or with vanishing weights, as :func:`skgsr.penalty.largest_eigenvalue` says)."""
    if L.nnz == 0:
        return 1.0
    if L.shape[0] <= 256:
        top = float(np.linalg.eigvalsh(L.toarray())[-1])
    else:
        v0 = np.random.default_rng(0).standard_normal(L.shape[0])
        top = float(eigsh(L, k=1, which="LA", tol=1e-8, v0=v0)[0][0])
    return _usable_lmax(top)


def _max_difference(a, b):
    difference = abs(sp.csr_array(a) - sp.csr_array(b))
    return float(difference.max()) if difference.nnz else 0.0


def _check_optimizer_state(state, module):
    """The optimizer's state as ``Optimizer.state_dict`` gives it, for ``module``."""
    if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
        raise _Invalid("the optimizer state is not an optimizer's state_dict")
    shapes = [p.shape for p in module.parameters()]
    groups = state["param_groups"]
    if not isinstance(groups, list) or not all(
        isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups
    ):
        raise _Invalid("the optimizer's parameter groups are invalid")
    indices = [i for g in groups for i in g["params"]]
    if indices != list(range(len(shapes))):
        raise _Invalid("the optimizer's parameter groups do not cover the network")
    for group in groups:
        for key, value in group.items():
            values = value if isinstance(value, list | tuple) else [value]
            if not isinstance(key, str) or not all(
                v is None or isinstance(v, bool | int | float | str) for v in values
            ):
                raise _Invalid(f"the optimizer setting {key!r} is invalid")
    per_parameter = state["state"]
    if not isinstance(per_parameter, dict):
        raise _Invalid("the optimizer's per-parameter state is invalid")
    for index, entry in per_parameter.items():
        if type(index) is not int or not 0 <= index < len(shapes):
            raise _Invalid(f"the optimizer has state for no parameter {index!r}")
        if not isinstance(entry, dict):
            raise _Invalid("the optimizer's per-parameter state is invalid")
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                if value.ndim and value.shape != shapes[index]:
                    raise _Invalid(
                        f"the optimizer's {key!r} of parameter {index} has shape "
                        f"{tuple(value.shape)}, not {tuple(shapes[index])}"
                    )
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise _Invalid(f"the optimizer's {key!r} is invalid")
