"""Warnings that point at the caller's line, not at skgsr's internals."""

import sys
import warnings

__all__ = ["warn"]

# Frames of these packages are skipped: a fit reached through a Pipeline, a
# GridSearchCV or joblib is reported at the user's call.
_INTERNAL = ("skgsr", "sklearn", "joblib")


def _is_internal(frame):
    module = frame.f_globals.get("__name__", "")
    return module.split(".", 1)[0] in _INTERNAL


def warn(message, category=UserWarning):
    """``warnings.warn`` at the first frame outside skgsr, scikit-learn and joblib.

    A fixed ``stacklevel`` would point inside skgsr whenever the call depth
    changes (a ``partial_fit``, a ``Pipeline``, a grid search).
    """
    frame, level = sys._getframe(1), 2  # level 2: the caller of warn()
    while frame is not None and _is_internal(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
