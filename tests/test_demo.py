"""The command line (``python -m skgsr``) and the quick-start demo, end to end."""

import os
import re
import subprocess
import sys

import pytest

from skgsr import __main__ as cli

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
    """(MSE, smoothness) of the results row starting with ``label``."""
    match = re.search(
        rf"^\s+{re.escape(label)}\s+([-\d.]+)\s+([-\d.]+)\s*$", stdout, re.M
    )
    assert match, f"no results row {label!r} in:\n{stdout}"
    return tuple(float(v) for v in match.groups())


def test_demo_runs_end_to_end(demo):
    """Defaults (alpha=0.1, the estimators' default penalty, up to 100 epochs,
    seed 0), measured on 450 test digits: no penalty MSE 0.0028, smoothness
    -0.05; GSR MSE 0.0025, smoothness 0.93 (skgsr.metrics.smoothness_score);
    mean-image MSE 0.073. A few seconds of training on one thread."""
    result, out = demo
    assert result.returncode == 0, result.stderr
    stdout = result.stdout
    # a progress line per stage, in order
    stages = re.findall(r"^\[(\d)/4\]", stdout, re.M)
    assert stages == ["1", "2", "3", "4"], stdout
    assert re.search(r"model\s+reconstruction MSE\s+smoothness$", stdout, re.M)
    mse_plain, s_plain = _row(stdout, "no penalty")
    mse_gsr, s_gsr = _row(stdout, "GSR, alpha=0.1")
    # without the penalty the layer is no smoother than a random arrangement of
    # its neurons; with it, clearly smoother
    assert abs(s_plain) < 0.2, s_plain
    assert s_gsr > 0.5 and s_gsr > s_plain + 0.4, (s_plain, s_gsr)
    # ...at little cost in reconstruction, far better than the mean image
    mean_mse = float(re.search(r"mean image: (\d+\.\d+)", stdout).group(1))
    assert mse_gsr < 1.25 * mse_plain < mean_mse / 4, (mse_plain, mse_gsr)


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
