"""The fit benchmark runs end to end in its quick mode (no timing assertions)."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_mode_prints_a_table_and_writes_json(run_benchmark):
    done, out = run_benchmark("bench_fit.py")
    assert done.returncode == 0, done.stderr
    assert "/plain" in done.stdout
    result = json.loads(out.read_text())
    rows = result["results"]
    expected = {
        "plain_glorot",
        "plain",
        "plain_fused",
        "plain_grid",
        "skgsr_alpha0",
        "skgsr_grid",
        "mlp",
    }
    for dataset in ("digits", "synthetic"):
        names = {r["contender"] for r in rows if r["dataset"] == dataset}
        # skorch is in the test extra; the script skips it only when missing
        assert expected <= names
        assert ("skorch" in names) == _has_skorch()
    for r in rows:
        assert r["epoch_s"] > 0 and r["ratio_to_plain"] > 0
        assert 0.0 <= r["accuracy"] <= 1.0
        assert len(r["fit_s"]) == r["repeats"]
    plain = [r for r in rows if r["contender"] == "plain"]
    assert all(r["ratio_to_plain"] == 1.0 for r in plain)
    assert result["meta"]["threads"] == 1 and result["meta"]["quick"]


def test_contenders_share_seeds_and_data():
    """The plain loop and its fused twin see the same data and seeds: both give
    the same test accuracy (fused Adam is the same arithmetic)."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import bench_fit
    finally:
        sys.path.pop(0)
    X_train, X_test, y_train, y_test = bench_fit.load_data("digits", {})
    assert X_train.dtype == X_test.dtype == "float32"
    assert len(X_train) + len(X_test) == 1797
    plain = bench_fit.plain_loop(X_train, y_train, 3, 0)
    fused = bench_fit.plain_loop(X_train, y_train, 3, 0, fused=True)
    agree = (plain(X_test) == fused(X_test)).mean()
    assert agree > 0.97


def _has_skorch():
    try:
        import skorch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_sweep_quick_mode_runs_every_contender(run_benchmark):
    """bench_fit_sweep.py --quick: every contender and ablation timed once."""
    done, out = run_benchmark("bench_fit_sweep.py", "--baseline", ROOT)
    assert done.returncode == 0, done.stderr
    assert "alpha0/mlp" in done.stdout
    result = json.loads(out.read_text())
    names = {r["contender"] for r in result["results"]}
    expected = {"mlp", "plain", "plain_grid", "skgsr_alpha0", "skgsr_grid"}
    expected |= {"base_alpha0", "base_grid", "grid-no_hook", "alpha0-no_direct_adam"}
    assert expected <= names
    for r in result["results"]:
        assert len(r["fit_cpu_s"]) == len(r["fit_wall_s"]) == 1
        assert r["median_s"] > 0
