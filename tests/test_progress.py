"""What a fit prints with verbose=1 (a bar, or plain lines) and verbose=2 (a table)."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skgsr import GSRAutoencoder, GSRClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:200] / 16.0).astype(np.float32), y[:200]


def test_table_marks_rebuilds_and_shows_no_nan_in_the_warmup(digits, capsys):
    X, _ = digits
    GSRAutoencoder(
        n_components=16,
        graph="learned",
        graph_warmup=2,
        graph_update_interval=2,
        max_iter=5,
        verbose=2,
        random_state=0,
    ).fit(X)
    lines = capsys.readouterr().out.splitlines()
    header, rows, summary = lines[0], lines[1:6], lines[6]
    assert header.split()[:2] == ["epoch", "loss"] and "graph" in header
    assert "nan" not in "\n".join(lines)
    # warm-up epochs 1-2: no penalty yet, shown as "-"
    assert [row.split()[3] for row in rows[:2]] == ["-", "-"]
    assert [row.endswith("rebuilt") for row in rows] == [0, 0, 1, 0, 1]
    assert summary.startswith("GSRAutoencoder: 5 epoch(s) in ")


def test_partial_fit_prints_its_header_once(digits, capsys):
    X, y = digits
    clf = GSRClassifier(verbose=2, random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.arange(10))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].split()[0] == "epoch"
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]


def test_verbose_1_without_tqdm_prints_a_few_lines_and_a_summary(
    digits, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # an import error
    X, y = digits
    GSRClassifier(max_iter=20, tol=0.0, verbose=1, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert 2 <= len(lines) <= 12
    assert "epoch 20/20" in lines[-2] and "s left" in lines[-2]
    assert lines[-1].startswith("GSRClassifier: 20 epoch(s) in ")


def test_verbose_1_shows_a_tqdm_bar_and_a_summary(digits, capsys):
    pytest.importorskip("tqdm")
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm's notebook detection, if any
        GSRClassifier(max_iter=3, verbose=1, random_state=0).fit(X, y)
    out, err = capsys.readouterr()
    # the bar, on stderr; tqdm redraws at most every 0.1 s (mininterval), so a
    # fit this fast may close (and clear) it before drawing "3/3"
    assert "/3 [" in err and "loss=" in err and "penalty=" in err
    assert out.splitlines() == [out.splitlines()[0]]
    assert out.startswith("GSRClassifier: 3 epoch(s) in ")


def test_summary_says_why_training_stopped(digits, capsys):
    X, y = digits
    GSRClassifier(
        max_iter=200, tol=10.0, n_iter_no_change=2, verbose=2, random_state=0
    ).fit(X, y)
    summary = capsys.readouterr().out.splitlines()[-1]
    # the first epoch sets the best loss, two more fail to beat it by tol
    assert "3 epoch(s)" in summary and "no improvement by tol=10.0" in summary
