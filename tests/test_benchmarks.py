"""The penalty benchmark runs (quick mode) and writes the JSON it documents.

No timing is asserted: the machine running the tests decides those.
"""

import json
import sys
from pathlib import Path

from skgsr.graphs import infer_grid_shape

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_penalty.py"


def test_bench_penalty_quick_writes_expected_json(run_benchmark):
    completed, out = run_benchmark("bench_penalty.py", "--threads", "1")
    assert completed.returncode == 0, completed.stderr
    assert "dense/sparse" in completed.stdout  # the printed table

    results = json.loads(out.read_text())
    assert set(results) == {"meta", "quadratic", "filters", "order_sweep"}
    meta = results["meta"]
    assert meta["quick"] is True and meta["threads"] == 1
    assert {"torch", "cpu_count", "config", "total_s", "loadavg_before_after"} <= set(
        meta
    )
    sizes = meta["config"]["sizes"]

    assert [row["n"] for row in results["quadratic"]] == sizes
    for row in results["quadratic"]:
        assert {"batch", "edges", "sparse_ms", "dense_ms", "dense_over_sparse"} <= set(
            row
        )
        assert row["sparse_ms"] > 0 and row["dense_ms"] > 0
        # the grid the script timed: an h x w lattice has 2hw - h - w edges
        h, w = infer_grid_shape(row["n"])
        assert row["edges"] == 2 * h * w - h - w
        # the two formulations compute the same penalty
        assert row["relative_difference"] < 1e-5

    filters = results["filters"]
    assert [(row["filter"], row["n"]) for row in filters] == [
        (name, n) for name in ("heat", "wavelet") for n in sizes
    ]
    for row in filters:
        assert {"chebyshev_ms", "exact_ms", "exact_over_chebyshev", "order"} <= set(row)
        assert row["chebyshev_ms"] > 0
        assert row["relative_difference"] < 0.05  # order 10 in quick mode

    orders = meta["config"]["sweep_orders"]
    assert [row["order"] for row in results["order_sweep"]] == orders
    assert all(row["chebyshev_ms"] > 0 for row in results["order_sweep"])


def test_bench_penalty_skips_exact_above_its_limit(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_penalty
    finally:
        sys.path.remove(str(SCRIPT.parent))
    config = dict(
        bench_penalty.QUICK,
        sizes=[16, 64],
        exact_max_nodes=16,
        order=5,
        warmup=0,
        repeats=1,
    )
    rows = bench_penalty.bench_filters(config)
    skipped = [row for row in rows if row["n"] == 64]
    assert len(skipped) == 2
    for row in skipped:
        assert row["exact_ms"] is None and "n > 16" in row["exact_skipped"]
        assert row["chebyshev_ms"] > 0
    table = bench_penalty.format_tables(
        {"quadratic": [], "filters": rows, "order_sweep": []}
    )
    assert "skipped" in table
