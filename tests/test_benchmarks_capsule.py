"""The capsule and tree benchmarks run in quick mode; their measures are checked."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_capsule
        import bench_tree
        import study_tree_coupling
    finally:
        sys.path.remove(str(BENCHMARKS))
    return bench_capsule, bench_tree, study_tree_coupling


def test_bench_capsule_quick(run_benchmark):
    done, out = run_benchmark("bench_capsule.py")
    assert done.returncode == 0, done.stderr
    assert "alignment" in done.stdout
    rows = json.loads(out.read_text())["alignment"]
    assert [r["config"] for r in rows] == ["alpha=0", "gsr"]
    for row in rows:
        assert set(row["per_transformation"]) == {
            "shift right",
            "shift down",
            "rotate 15",
            "thicken",
        }
        # the alignment reported is the mean over the transformations
        per = list(row["per_transformation"].values())
        assert row["alignment"] == pytest.approx(np.mean(per), abs=1e-9)
        # two epochs of the quick mode: a digit classifier, however poor
        assert 0.05 < row["accuracy"] <= 1


def test_bench_tree_quick(run_benchmark):
    done, out = run_benchmark("bench_tree.py")
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["rows"]
    assert {(r["family"], r["config"]) for r in rows} == {
        (f, c)
        for f in ("hierarchical", "modules")
        for c in (
            "alpha=0",
            "gsr (normalized, 0.1)",
            "gsr (topographic, 1)",
            "gsr (topographic, 3)",
            "gsr (topographic, 3), best of 3",
        )
    }
    assert all(r["mse_ratio"] > 0 for r in rows)


def test_alignment_of_profiles(scripts):
    bench_capsule, *_ = scripts
    rng = np.random.RandomState(0)
    shared = rng.rand(3, 8)
    # every class moves the same dimensions under each transformation
    aligned = {t: np.tile(shared[t], (5, 1)) + 0.01 * rng.rand(5, 8) for t in range(3)}
    assert bench_capsule.alignment(aligned) > 0.99
    # ...and different ones under different transformations: specific
    assert bench_capsule.specificity(aligned) > 0.5
    unrelated = {t: rng.rand(5, 8) for t in range(3)}
    assert abs(bench_capsule.alignment(unrelated)) < 0.3


def test_subtree_mass_of_a_heap_ordered_tree(scripts):
    _, bench_tree, _ = scripts
    assert bench_tree.subtree_nodes(7, 1) == [[1, 3, 4], [2, 5, 6]]
    assert bench_tree.subtree_nodes(15, 2)[0] == [3, 7, 8]
    Z = np.zeros((2, 15))
    Z[0, [2, 5, 12]] = 1.0  # in node 2's subtree, and node 5's
    Z[1, [1, 4, 9]] = 1.0  # in node 1's subtree, and node 4's
    np.testing.assert_array_equal(bench_tree.subtree_mass(Z, 1), [[0, 3], [3, 0]])
    np.testing.assert_array_equal(
        bench_tree.subtree_mass(Z, 2), [[0, 0, 2, 0], [0, 2, 0, 0]]
    )
    assert bench_tree.tree_ari(Z, [1, 0], [2, 1]) == (1.0, 1.0)


def test_study_tree_coupling_quick(run_benchmark):
    done, out = run_benchmark("study_tree_coupling.py", "none:0", "distp:1")
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [r["config"] for r in rows] == ["none:0", "distp:1"]
    assert rows[0]["mse_ratio"] == 1.0


def test_study_topographic_term_is_the_librarys(scripts):
    import torch

    from skgsr.graphs import make_graph
    from skgsr.penalty import TopographicPenalty

    *_, study = scripts
    z = torch.randn(50, 15).relu()
    library = TopographicPenalty(make_graph("tree", 15))(z.double()).item()
    assert study.penalty(z, "distp").item() == pytest.approx(library, rel=1e-4)
    # a number after a term's name weighs it; "cov2" is a name of its own
    summed = study.penalty(z, "lap+distp10").item()
    expected = study.TERMS["lap"](z).item() + 10 * study.TERMS["distp"](z).item()
    assert summed == pytest.approx(expected, rel=1e-5)
    assert study.penalty(z, "cov2").item() == pytest.approx(
        study.TERMS["cov2"](z).item()
    )
