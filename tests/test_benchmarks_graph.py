"""The learned-graph benchmark runs end to end in its quick mode."""

import json

import pytest


@pytest.mark.parametrize(
    "script", ["bench_graph.py", "bench_learned_graph_recovery.py"]
)
def test_quick_mode_prints_a_table_and_writes_json(run_benchmark, script):
    done, out = run_benchmark(script)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    if script == "bench_graph.py":
        assert "share" in done.stdout
        (row,) = result["results"]
        assert row["filter"] == "laplacian" and row["n_rebuilds"] == 2
        # the share is a fraction, and the rebuild's parts are all measured
        assert 0.0 < row["share"] < 1.0
        assert row["rebuild_s"] > 0 and row["knn_s"] > 0 and row["encode_s"] > 0
    else:
        assert "ARI" in done.stdout
        alphas = sorted(row["alpha"] for row in result["summary"])
        assert alphas == [0.0, 0.1]
        for row in result["summary"]:
            assert -1.0 <= row["ari"] <= 1.0 and 0.0 < row["share"] <= 1.0
