"""A safe file format for GSR estimators: :func:`save` and :func:`load`.

Unpickling a file runs whatever code the file names, so a pickled model from
someone else is a program from someone else. An skgsr model file holds data
only and is read without unpickling code:

- ``skgsr.json``: the format name and version, the estimator's class (one of
  skgsr's estimators, looked up in a fixed table, never imported by name), its
  hyperparameters and its fitted attributes, as strict JSON (non-finite floats,
  tuples, arrays... as small tagged objects);
- ``tensors.pt``: the network's weights, the optimizer's state and every array,
  written by :func:`torch.save` and read by :func:`torch.load` with
  ``weights_only=True``, whose unpickler only rebuilds tensors and plain
  containers and refuses anything else.

Both sit in a zip archive. Tensors are stored from the CPU and mapped on load to
the device the model was fitted on when this machine has it, else to the CPU
(``map_location`` overrides): a model fitted on a GPU loads on a laptop.
"""

import io
import json
import math
import numbers
import os
import re
import tempfile
import zipfile

import numpy as np
import scipy.sparse as sp
import sklearn
import torch

from ._autoencoder import GSRAutoencoder
from ._supervised import GSRClassifier, GSRRegressor
from ._torch_utils import available_device, module_device, resolve_device, tensors_to

__all__ = ["FORMAT_VERSION", "load", "save"]

#: Version of the file layout written by :func:`save`; :func:`load` reads this
#: version and older ones.
FORMAT_VERSION = 1

_FORMAT_NAME = "skgsr.model"
_JSON_NAME = "skgsr.json"
_TENSORS_NAME = "tensors.pt"

# The only classes a file can name: nothing is imported from a name in a file.
_ESTIMATORS = {
    cls.__name__: cls for cls in (GSRAutoencoder, GSRClassifier, GSRRegressor)
}

# Fitted attributes rebuilt from the parameters and the stored tensors, not
# encoded as values.
_MODULE = "module_"
_PENALTY = "penalty_"
_OPTIMIZER = "_optimizer_state"

# Names of attributes a file may set: identifiers, no dunders.
_ATTRIBUTE_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")


class _Encoder:
    """Python values -> strict JSON, with arrays and tensors set aside.

    Tags: ``{"$float": "nan"}``, ``{"$tuple": [...]}``, ``{"$array": key}``
    (numeric arrays, stored as tensors), ``{"$strings": [...], "dtype": ...}``
    (arrays of strings), ``{"$sparse": ...}``, ``{"$networkx": ...}``,
    ``{"$random_state": ...}``, ``{"$tensor": key}``.
    """

    def __init__(self):
        self.tensors = {}

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


class _Decoder:
    """The inverse of :class:`_Encoder`, given the stored tensors."""

    def __init__(self, tensors):
        self.tensors = tensors

    def _tensor(self, key):
        try:
            tensor = self.tensors[key]
        except (KeyError, TypeError):
            raise ValueError(f"the tensor {key!r} is missing from the file") from None
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"the entry {key!r} of the file is not a tensor")
        return tensor

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$float" in value:
            return float(value["$float"])
        if "$tuple" in value:
            return tuple(self.decode(v) for v in value["$tuple"])
        if "$tensor" in value:
            return self._tensor(value["$tensor"]).clone()
        if "$array" in value or "$strings" in value:
            return self._array(value)
        if "$sparse" in value:
            return self._sparse(value)
        if "$networkx" in value:
            return self._networkx(value["$networkx"])
        if "$random_state" in value:
            spec = value["$random_state"]
            rng = np.random.RandomState()
            keys = self._array(spec["keys"]).astype(np.uint32)
            rng.set_state(
                (
                    "MT19937",
                    keys,
                    spec["pos"],
                    spec["has_gauss"],
                    spec["cached_gaussian"],
                )
            )
            return rng
        return {k: self.decode(v) for k, v in value.items()}

    def _array(self, value):
        if "$strings" in value:
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "UO":
                raise ValueError(f"unexpected dtype {dtype} for an array of strings")
            strings = value["$strings"]
            if not all(isinstance(v, str) for v in strings):
                raise ValueError("an array of strings holds something else")
            if dtype.kind == "O":
                array = np.empty(len(strings), dtype=object)
                array[:] = strings
            else:
                array = np.array(strings, dtype=dtype)
            return array.reshape(value["shape"])
        return self._tensor(value["$array"]).numpy().copy()

    def _sparse(self, value):
        csr = sp.csr_array(
            (
                self._array(value["data"]),
                self._array(value["indices"]),
                self._array(value["indptr"]),
            ),
            shape=tuple(value["shape"]),
        )
        return sp.csr_matrix(csr) if value["$sparse"] == "matrix" else csr

    def _networkx(self, value):
        try:
            import networkx as nx
        except ImportError:
            raise ImportError(
                "This model's graph parameter is a networkx graph; install networkx "
                "to load it."
            ) from None
        graph = nx.from_scipy_sparse_array(self._sparse(value["adjacency"]))
        if value["nodes"] is not None:
            graph = nx.relabel_nodes(graph, dict(enumerate(value["nodes"])))
        return graph


def _is_networkx_graph(obj):
    return type(obj).__module__.startswith("networkx") and hasattr(obj, "edges")


def _estimator_class(estimator):
    cls = type(estimator)
    if _ESTIMATORS.get(cls.__name__) is not cls:
        raise TypeError(
            f"skgsr.save stores {', '.join(_ESTIMATORS)}; got {cls.__name__}. A file "
            "names its class and load only ever builds skgsr's own estimators, so a "
            "subclass cannot be stored in the safe format; pickle it instead."
        )
    return cls.__name__


def save(estimator, path):
    """Write a GSR estimator to a file that :func:`load` reads without running code.

    The file is a zip archive holding ``skgsr.json`` (format version, class,
    hyperparameters and fitted attributes as JSON) and ``tensors.pt`` (weights,
    optimizer state and arrays, read back with ``torch.load(weights_only=True)``).
    An unfitted estimator stores its hyperparameters only. The file is written
    next to ``path`` and renamed into place, so an interrupted save never leaves
    a half-written model at ``path``.

    Parameters
    ----------
    estimator : GSRAutoencoder, GSRClassifier or GSRRegressor
        Fitted or not. Every hyperparameter must be data: a graph name, a dense or
        scipy sparse adjacency (stored as CSR), a ``networkx.Graph`` (stored as its
        weighted adjacency in ``graph.nodes`` order, with the node labels when
        they are strings or ints; other node and edge attributes are dropped), a
        ``RandomState``... A callable ``filter`` is code, and is refused.
    path : str, os.PathLike or binary file object
        Where to write (``.skgsr`` is a good suffix).

    Raises
    ------
    TypeError
        If the estimator is not one of skgsr's estimators, or if a hyperparameter
        (e.g. a callable filter) or a fitted attribute cannot be stored as data.

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
    encoder = _Encoder()
    params = {
        name: encoder.encode(value, f"parameter {name}")
        for name, value in estimator.get_params(deep=False).items()
    }
    fitted = None
    payload = {}
    module = getattr(estimator, _MODULE, None)
    if module is not None:
        fitted = {}
        for name, value in vars(estimator).items():
            if name in params or name in (_MODULE, _PENALTY, _OPTIMIZER):
                continue
            fitted[name] = encoder.encode(value, f"fitted attribute {name}")
        payload[_MODULE] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        optimizer_state = getattr(estimator, _OPTIMIZER, None)
        if optimizer_state is not None:
            payload[_OPTIMIZER] = tensors_to(optimizer_state, "cpu")
        penalty = getattr(estimator, _PENALTY, None)
        penalty_spec = None if penalty is None else {"lmax": penalty.lmax}
        fitted_spec = {
            "device": str(module_device(module)),
            "n_outputs": _n_outputs(estimator),
            "penalty": penalty_spec,
            "attributes": fitted,
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
        "fitted": None if fitted is None else fitted_spec,
    }
    text = json.dumps(document, allow_nan=False, indent=1)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    _write_archive(path, text, buffer.getvalue())


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


def _write_archive(path, text, tensors):
    def write(target):
        # stored, not deflated: weights barely compress and this keeps save fast
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(_JSON_NAME, text)
            archive.writestr(_TENSORS_NAME, tensors)

    if hasattr(path, "write"):
        write(path)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".skgsr-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _display_name(path):
    return os.fspath(path) if isinstance(path, str | os.PathLike) else "<file>"


def _not_a_model(path, reason):
    return ValueError(
        f"{path!r} is not an skgsr model file ({reason}). skgsr.load reads only files "
        "written by skgsr.save. If this is a pickle or joblib file, note that loading "
        "one runs any code it contains: use pickle.load or joblib.load only on files "
        "from people you trust."
    )


def _read_archive(path):
    name = _display_name(path)
    if not zipfile.is_zipfile(path):
        raise _not_a_model(name, "it is not a zip archive")
    if hasattr(path, "seek"):
        path.seek(0)
    try:
        return _read_entries(path, name)
    except zipfile.BadZipFile as exc:
        raise _not_a_model(name, f"a damaged zip archive: {exc}") from None


def _read_entries(path, name):
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if _JSON_NAME not in names:
            raise _not_a_model(name, f"it has no {_JSON_NAME}")
        try:
            document = json.loads(archive.read(_JSON_NAME).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _not_a_model(name, f"its {_JSON_NAME} is not JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != _FORMAT_NAME:
            raise _not_a_model(
                name, f"its {_JSON_NAME} does not describe an skgsr model"
            )
        version = document.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise _not_a_model(name, f"invalid format_version {version!r}")
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{name!r} was written in skgsr model format version {version} by a "
                f"newer skgsr ({document.get('versions', {}).get('skgsr')}); this "
                f"skgsr ({_skgsr_version()}) reads versions up to {FORMAT_VERSION}. "
                "Upgrade skgsr to load it."
            )
        if _TENSORS_NAME not in names:
            raise _not_a_model(name, f"it has no {_TENSORS_NAME}")
        raw = archive.read(_TENSORS_NAME)
    try:
        # weights_only: tensors and plain containers only; a pickled object that
        # names a function or class is refused before anything runs
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's message goes on to explain how to allow the refused object;
        # only the line that names it is relevant here
        refused = re.search(r"Unsupported global: GLOBAL \S+", str(exc))
        detail = refused.group(0) if refused else type(exc).__name__
        raise _not_a_model(
            name, f"its {_TENSORS_NAME} holds something other than tensors: {detail}"
        ) from None
    if not isinstance(payload, dict):
        raise _not_a_model(name, f"its {_TENSORS_NAME} is not a dict of tensors")
    return document, payload


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


def load(path, map_location=None):
    """Read an estimator written by :func:`save`, without running code from the file.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        A file written by :func:`save`.
    map_location : str or torch.device, default=None
        Device for the network: None puts it on the device it was fitted on when
        this machine has that device, else on the CPU (a model fitted on a GPU
        loads on a CPU-only machine); ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
        ``"auto"`` choose.

    Returns
    -------
    estimator : GSRAutoencoder, GSRClassifier or GSRRegressor
        With the saved hyperparameters and, if it was fitted, every fitted
        attribute: it predicts exactly as the saved estimator did and continues
        training (``warm_start``, ``partial_fit``) from the same optimizer state.

    Raises
    ------
    ValueError
        If the file is not an skgsr model file (a pickle, for instance: it is
        refused, never unpickled), was written by a newer skgsr, or is corrupt.

    See Also
    --------
    save : Write the file.
    """
    # an explicit device is checked first: its error is the caller's, not the file's
    device = None if map_location is None else _target_device(None, map_location)
    document, payload = _read_archive(path)
    name = _display_name(path)
    cls = _ESTIMATORS.get(document.get("class"))
    if cls is None:
        raise _not_a_model(name, f"unknown estimator class {document.get('class')!r}")
    decoder = _Decoder(payload.get("arrays", {}))
    try:
        params = {k: decoder.decode(v) for k, v in document["params"].items()}
        estimator = cls()
        unknown = set(params) - set(estimator.get_params(deep=False))
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        estimator.set_params(**params)
        fitted = document.get("fitted")
        if fitted is not None:
            # the network is rebuilt from the hyperparameters: they must be valid
            estimator._validate_params()
            if device is None:
                device = _target_device(fitted["device"], None)
            _restore_fitted(estimator, fitted, decoder, payload, device)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise ValueError(
            f"{name!r} is a corrupt or incompatible skgsr model file: {exc}"
        ) from exc
    return estimator


def _restore_fitted(estimator, fitted, decoder, payload, device):
    params = set(estimator.get_params(deep=False))
    for attr, value in fitted["attributes"].items():
        if not _ATTRIBUTE_NAME.match(attr) or attr in params:
            raise ValueError(f"invalid fitted attribute name {attr!r}")
        setattr(estimator, attr, decoder.decode(value))
    # the architecture follows from the hyperparameters; the seed is irrelevant
    # (the weights are overwritten) but must not touch the global RNG
    with torch.random.fork_rng(devices=[]):
        module = estimator._initialize_module(
            estimator.n_features_in_, int(fitted["n_outputs"]), estimator.graph_shape_
        )
    state_dict = payload.get(_MODULE)
    if not isinstance(state_dict, dict):
        raise ValueError("the network's weights are missing")
    module.load_state_dict(state_dict, strict=True)
    estimator.module_ = module.to(device).eval()
    penalty = fitted.get("penalty")
    if penalty is None:
        estimator.penalty_ = None
    else:
        # built as fit builds it, so that no filter parameter can be left out
        estimator.penalty_ = estimator._make_penalty(
            estimator.feature_graph_, lmax=penalty["lmax"]
        ).to(device)
    if _OPTIMIZER in payload:
        # stays on the CPU: the optimizer moves its state to the parameters'
        # device when a warm start loads it
        estimator._optimizer_state = payload[_OPTIMIZER]
