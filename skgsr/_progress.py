"""What a fit prints: a progress bar (``verbose=1``) or a table (``verbose=2``).

``verbose=1`` shows a bar with the current loss and penalty and the time left
(tqdm's, in a terminal or a notebook, when tqdm is installed; a few plain lines
otherwise), then one summary line. ``verbose=2`` prints one line per epoch, the
learned graph's rebuilds marked, then the same summary. ``partial_fit`` prints
the table's header once, at its first call.
"""

import math
import sys
import time

__all__ = ["Progress"]

_HEADER = (
    f"{'epoch':>6} {'loss':>12} {'task loss':>12} {'penalty':>12} {'valid':>8} "
    f"{'time':>7}  graph"
)


def _number(value, width, spec=".6g"):
    """A table cell: ``-`` for a value that is not there (None, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'-':>{width}}"
    return f"{value:>{width}{spec}}"


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """Report the epochs of one call of ``fit`` or ``partial_fit``.

    Parameters
    ----------
    verbose : int
        0 prints nothing, 1 a bar and a summary, 2 (or more) a table and a
        summary.
    n_epochs : int
        Epochs this call may run (``max_iter``; 1 for ``partial_fit``).
    name : str
        The estimator's class name, for the summary.
    incremental : bool, default=False
        A ``partial_fit`` call: one epoch, no bar, no summary in the table.
    first_call : bool, default=True
        Whether the estimator was not fitted before this call (``partial_fit``
        prints the table's header only then).
    """

    def __init__(self, verbose, n_epochs, name, incremental=False, first_call=True):
        self.verbose = int(verbose)
        self.n_epochs = n_epochs
        self.name = name
        self.incremental = incremental
        self.start = time.perf_counter()
        self.epochs = 0
        self.last = None
        self.bar = None
        self._next_plain = 0
        if self.verbose >= 2 and (first_call or not incremental):
            print(_HEADER, flush=True)
        elif self.verbose == 1 and not incremental:
            tqdm = _tqdm()
            if tqdm is not None:
                self.bar = tqdm(total=n_epochs, desc=name, unit="epoch", leave=False)

    def epoch(self, record):
        """Report one finished epoch (a ``history_`` record)."""
        self.epochs += 1
        self.last = record
        if self.verbose >= 2:
            self._row(record)
        elif self.bar is not None:
            self.bar.set_postfix(
                loss=f"{record['loss']:.4g}", penalty=_number(record["penalty"], 0)
            )
            self.bar.update()
        elif self.verbose == 1 and not self.incremental:
            self._plain(record)

    def _row(self, record):
        rebuilt = "rebuilt" if record.get("graph_updated") else ""
        row = (
            f"{record['epoch']:>6} {_number(record['loss'], 12)} "
            f"{_number(record['task_loss'], 12)} {_number(record['penalty'], 12)} "
            f"{_number(record['validation_score'], 8, '.4f')} "
            f"{record['duration']:>6.2f}s  {rebuilt}"
        )
        print(row.rstrip(), flush=True)

    def _plain(self, record):
        # without tqdm: about ten lines over a fit, with the time left
        if self.epochs < self._next_plain and self.epochs < self.n_epochs:
            return
        self._next_plain = self.epochs + max(1, self.n_epochs // 10)
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.epochs * (self.n_epochs - self.epochs)
        print(
            f"{self.name} epoch {record['epoch']}/{self.n_epochs}: loss "
            f"{record['loss']:.4g}, penalty {_number(record['penalty'], 0)}, "
            f"about {left:.0f}s left",
            file=sys.stdout,
            flush=True,
        )

    def close(self, stopped=None):
        """The summary line; ``stopped`` says why training stopped early."""
        if self.bar is not None:
            self.bar.close()
        if not self.verbose or self.last is None:
            return
        if self.incremental and self.verbose >= 2:
            return  # the table's row says it all
        elapsed = time.perf_counter() - self.start
        why = f"; {stopped}" if stopped else ""
        what = (
            f"epoch {self.last['epoch']}"
            if self.incremental
            else f"{self.epochs} epoch(s)"
        )
        print(
            f"{self.name}: {what} in {elapsed:.1f}s, loss "
            f"{self.last['loss']:.6g}, penalty {_number(self.last['penalty'], 0)}"
            f"{why}.",
            flush=True,
        )
