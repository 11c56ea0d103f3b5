"""Inference and pickling of a fitted GSR estimator's network.

:class:`FittedNetworkMixin` is the half of :class:`~skgsr._base.BaseGSR` that
reads the fitted ``module_``: validated input, batched forward passes without
gradient (``transform``, the supervised estimators' ``predict``), and pickles
that load on a machine without the accelerator the model was fitted on.
"""

import copy

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from ._torch_utils import (
    available_device,
    module_device,
    tensors_to,
    torch_threads,
)
from ._training import check_float32_range, dense_rows, explain_input_errors


class FittedNetworkMixin:
    """Inference and device-portable pickling over ``module_`` and ``penalty_``."""

    def _predict_outputs(self, module, X, device):
        """Head outputs for all rows of X (no gradient), as a CPU tensor.

        ``module`` is used in the mode it is in and not modified, so that
        concurrent predictions never mutate a shared ``module_``; training code
        wraps calls on the module it trains in :func:`evaluation_mode`.
        """
        outputs = []
        with torch.no_grad():
            for block in dense_rows(X, device):
                outputs.append(module(block)[0].float().cpu())
        return torch.cat(outputs) if outputs else torch.empty(0)

    def _check_fitted_input(self, X):
        check_is_fitted(self, "module_")
        with explain_input_errors():
            X = validate_data(
                self,
                X,
                accept_sparse=("csr", "csc", "coo"),
                dtype=(np.float32, np.float64),
                reset=False,
            )
        return check_float32_range(X)

    def _module_device(self):
        return module_device(self.module_)

    def _embed(self, X):
        """Structured-layer activations of validated X, float32 numpy."""
        module = self.module_
        device = self._module_device()
        out = []
        with torch_threads(), torch.no_grad():
            for block in dense_rows(X, device):
                out.append(module.embed(block).cpu())
        if not out:
            return np.empty((0, self._n_features_out), dtype=np.float32)
        return torch.cat(out).numpy()

    def _outputs(self, X):
        with torch_threads():
            return self._predict_outputs(self.module_, X, self._module_device())

    @property
    def _n_features_out(self):
        # the width that was fitted, not a later set_params(n_components=...);
        # unfitted, the AttributeError makes get_feature_names_out say so
        return self._fit_params["n_components"]

    # ============================================================ pickling
    def __getstate__(self):
        """Pickle with every tensor on the CPU.

        A model fitted on an accelerator would otherwise pickle CUDA storages,
        which cannot be unpickled on a machine without CUDA. The fitted device
        is recorded and :meth:`__setstate__` moves the model back to it when
        that device exists where it is unpickled.
        """
        state = super().__getstate__()
        module = state.get("module_")
        if module is None:
            return state
        device = module_device(module)
        if device.type == "cpu":
            return state
        # copies: pickling must not move the live model off its device
        state = dict(state)
        state["module_"] = copy.deepcopy(module).cpu()
        if state.get("penalty_") is not None:
            state["penalty_"] = copy.deepcopy(state["penalty_"]).cpu()
        state["_optimizer_state"] = tensors_to(state.get("_optimizer_state"), "cpu")
        state["_pickled_from_device"] = str(device)
        return state

    def __setstate__(self, state):
        device = state.pop("_pickled_from_device", None)
        super().__setstate__(state)
        if device is not None:
            target = available_device(device)
            if target.type != "cpu":
                self.module_ = self.module_.to(target)
                if self.penalty_ is not None:
                    self.penalty_ = self.penalty_.to(target)
