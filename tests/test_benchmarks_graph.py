"""The learned-graph benchmark runs end to end in its quick mode."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    "script", ["bench_graph.py", "bench_learned_graph_recovery.py"]
)
def test_quick_mode_prints_a_table_and_writes_json(tmp_path, script):
    out = tmp_path / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmarks", script),
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
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
