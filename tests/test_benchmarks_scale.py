"""The scaling benchmark runs end to end in its quick mode (no timing asserted)."""

import json
import sys

import pytest

# the memory part reads /proc and forks a process per case
LINUX = sys.platform == "linux"


def test_bench_scale_quick_writes_tables_and_json(run_benchmark):
    done, out = run_benchmark("bench_scale.py")
    assert done.returncode == 0, done.stderr
    for title in ("against samples", "structured layer's width"):
        assert title in done.stdout
    assert ("Peak RSS of fit" in done.stdout) == LINUX
    result = json.loads(out.read_text())
    meta, config = result["meta"], result["meta"]["config"]
    assert meta["quick"] is True and meta["threads"] == 1
    assert {"cpu_count", "torch", "numpy", "python", "loadavg_before"} <= set(meta)

    # samples: one row per size, every epoch timed, ratios relative to the first
    samples = result["samples"]
    assert [r["n_samples"] for r in samples] == config["samples"]["sizes"]
    for r in samples:
        assert len(r["durations"]) == r["epochs"] >= 2
        assert min(r["durations"]) > 0 and r["epoch_s"] > 0
        assert r["ms_per_1k_samples"] == pytest.approx(
            1e6 * r["epoch_s"] / r["n_samples"]
        )
    assert samples[0]["per_sample_ratio"] == 1.0

    # width: one row per size, the three variants each timed
    width = result["width"]
    assert [r["n_components"] for r in width] == config["width"]["sizes"]
    for r in width:
        assert r["grid_s"] > 0 and r["alpha0_s"] > 0 and r["none_s"] > 0
        assert r["graph_shape"][0] * r["graph_shape"][1] == r["n_components"]
        assert r["edges"] > 0 and r["penalty_share"] < 1.0
    assert width[0]["growth"] is None and width[1]["growth"] > 0

    if not LINUX:
        assert "memory" not in result
        return
    # memory: every case measured in its own process
    memory = {r["case"]: r for r in result["memory"]}
    assert list(memory) == config["memory"]["cases"]
    for r in memory.values():
        assert r["n_rows"] == config["memory"]["n_rows"]
        assert r["baseline_rss_mb"] > 0 and r["peak_rss_mb"] >= r["baseline_rss_mb"]
        extra = r["peak_rss_mb"] - r["baseline_rss_mb"]
        assert r["extra_mb"] == pytest.approx(extra)
    # float32 C-contiguous data is viewed, not copied: no full copy of the data
    assert memory["dense_float32"]["extra_over_data"] < 1.0
    # sparse data is densified a batch at a time, never as a whole
    sparse = memory["sparse_csr"]
    assert sparse["format"] == "csr" and sparse["nnz"] < sparse["n_rows"] * 100
    assert sparse["extra_mb"] < sparse["dense_float32_mb"]
