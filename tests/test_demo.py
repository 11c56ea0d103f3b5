"""The command line (``python -m skgsr``) and the quick-start demo, end to end."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from skgsr import __main__ as cli
from skgsr._demo import (
    centred_rayleigh,
    layer_smoothness,
    random_relabelling_rayleigh,
)
from skgsr.graphs import laplacian, make_graph

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, timeout=300):
    """``python -m skgsr ARGS`` in a subprocess that imports this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run(
        [sys.executable, "-m", "skgsr", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_out")
    return _run("demo", "--out", str(out)), out


def _row(stdout, label):
    """(MSE, R, smoothness) of the results row starting with ``label``."""
    match = re.search(
        rf"^\s+{re.escape(label)}\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*$",
        stdout,
        re.M,
    )
    assert match, f"no results row {label!r} in:\n{stdout}"
    return tuple(float(v) for v in match.groups())


def test_demo_runs_end_to_end(demo):
    """Defaults (alpha=1e-2, 100 epochs, seed 0), measured on 450 test digits:
    no penalty MSE 0.0038, R 3.77, smoothness -0.06; GSR MSE 0.0086, R 1.08,
    smoothness 0.70; R_random 3.56; mean-image MSE 0.073. About 10-20 s of
    training on one thread."""
    result, out = demo
    assert result.returncode == 0, result.stderr
    stdout = result.stdout
    # a progress line per stage, in order
    stages = re.findall(r"^\[(\d)/4\]", stdout, re.M)
    assert stages == ["1", "2", "3", "4"], stdout
    mse_plain, r_plain, s_plain = _row(stdout, "no penalty")
    mse_gsr, r_gsr, s_gsr = _row(stdout, "GSR, alpha=0.01")
    # the penalty makes the layer clearly smoother than a random arrangement...
    assert s_gsr > 0.5 and s_gsr > s_plain + 0.4, (s_plain, s_gsr)
    assert r_gsr < r_plain / 2
    # ...at a reconstruction still far better than the mean image
    mean_mse = float(re.search(r"mean image: (\d+\.\d+)", stdout).group(1))
    assert mse_plain < mse_gsr < mean_mse / 4
    # the smoothness printed is 1 - R / R_random with the printed R_random
    r_random = float(re.search(r"R_random = tr\(L\)/\(n-1\) = ([\d.]+)", stdout)[1])
    assert r_random == pytest.approx(224 / 63, abs=0.01)  # 8x8 grid: 2|E| / 63
    assert s_gsr == pytest.approx(1 - r_gsr / r_random, abs=0.01)


def test_demo_writes_the_activation_maps(demo):
    result, out = demo
    assert result.returncode == 0, result.stderr
    names = sorted(os.listdir(out))
    assert names == [
        "activation_maps.png",
        "activation_maps_gsr.png",
        "activation_maps_plain.png",
    ]
    mpimg = pytest.importorskip("matplotlib.image")
    for name in names:
        path = out / name
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        image = mpimg.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 200
        # a picture, not a blank canvas
        assert image[..., :3].std() > 0.05
        assert str(path) in result.stdout


def test_help():
    result = _run("--help", timeout=120)
    assert result.returncode == 0
    assert "demo" in result.stdout and "usage: python -m skgsr" in result.stdout
    result = _run("demo", "--help", timeout=120)
    assert result.returncode == 0
    for option in ("--out", "--alpha", "--max-iter", "--random-state"):
        assert option in result.stdout


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["demo", "--alpha", "0"], "must be a positive number"),
        (["demo", "--max-iter", "0"], "must be a positive integer"),
        (["demo", "--alpha", "abc"], "invalid _positive_float value"),
        (["nope"], "invalid choice: 'nope'"),
    ],
)
def test_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_matplotlib_is_a_clear_error(monkeypatch, tmp_path, capsys):
    # a None entry in sys.modules makes `import matplotlib` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert cli.main(["demo", "--out", str(tmp_path / "maps")]) == 1
    err = capsys.readouterr().err
    assert "matplotlib" in err and "pip install" in err
    # it fails before training, and writes nothing
    assert not (tmp_path / "maps").exists()


def test_random_relabelling_rayleigh_is_the_permutation_mean():
    """tr(L)/(n-1) is the mean centred Rayleigh quotient over random
    relabellings of the neurons, for any signal (checked by Monte Carlo)."""
    rng = np.random.RandomState(0)
    adjacency = make_graph("grid", (4, 5))
    z = rng.normal(size=(1, 20)) ** 2
    # one row per relabelling: centred_rayleigh averages over the rows
    relabelled = np.stack([z[0, rng.permutation(20)] for _ in range(20000)])
    expected = random_relabelling_rayleigh(adjacency)
    assert expected == pytest.approx(2 * 31 / 19)  # a 4x5 grid has 31 edges
    assert centred_rayleigh(relabelled, adjacency) == pytest.approx(expected, rel=0.01)


def test_centred_rayleigh_against_the_edge_sum():
    rng = np.random.RandomState(1)
    adjacency = make_graph("ring", 7)
    Z = rng.normal(size=(5, 7))
    L = laplacian(adjacency).toarray()
    expected = []
    for z in Z:
        c = z - z.mean()
        edges = sum((c[i] - c[(i + 1) % 7]) ** 2 for i in range(7))
        expected.append(edges / (c @ c))
    assert centred_rayleigh(Z, adjacency) == pytest.approx(np.mean(expected))
    # invariant to the layer's scale and offset: shrinking is not smoothing
    assert centred_rayleigh(3 * Z + 5, adjacency) == pytest.approx(np.mean(expected))
    # a Laplacian eigenvector scores 1 - lambda / (tr(L) / (n - 1)): the
    # smoothest non-constant one 1 - 0.753 / 2.33 = 0.68, the roughest -0.68
    values, vectors = np.linalg.eigh(L)
    for k in (1, 6):
        expected = 1 - values[k] / (np.trace(L) / 6)
        assert layer_smoothness(vectors[:, k][None], adjacency) == pytest.approx(
            expected
        )
    assert layer_smoothness(vectors[:, 6][None], adjacency) < -0.6
