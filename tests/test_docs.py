"""The documentation builds with warnings as errors, gallery included.

The build runs every example of ``doc/examples`` (sphinx-gallery), so this test
is also the gallery's test: an example that raises, or a docstring that numpydoc
or docutils cannot parse, fails it. Measured: the whole build 63 s (the eight
examples 56 s of it, the slowest, wavelet receptive fields, 13 s) with one torch
thread on a 2-core machine.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "doc")

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("pydata_sphinx_theme")
pytest.importorskip("matplotlib")

EXAMPLES = sorted(
    name[:-3]
    for name in os.listdir(os.path.join(DOC, "examples"))
    if name.startswith("plot_") and name.endswith(".py")
)


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """Build a copy of ``doc/`` (the checkout's sources stay clean)."""
    work = tmp_path_factory.mktemp("docs")
    source = work / "doc"
    shutil.copytree(
        DOC,
        source,
        ignore=shutil.ignore_patterns(
            "_build", "generated", "auto_examples", "sg_execution_times.rst"
        ),
    )
    out = work / "html"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, *filter(None, [env.get("PYTHONPATH")])])
    env["MPLBACKEND"] = "Agg"
    # the examples' networks are small: one torch thread each is as fast, and
    # cannot spin-wait against other work on a shared 2-core machine
    env.setdefault("OMP_NUM_THREADS", "1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "-d",
            str(work / "doctrees"),
            str(source),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
        cwd=work,
    )
    return result, out


@pytest.mark.slow
def test_docs_build_without_warnings(html):
    result, out = html
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-6000:])
    assert "warning" not in result.stderr.lower(), result.stderr[-6000:]
    for page in ("index", "install", "quickstart", "api", "changelog"):
        assert (out / f"{page}.html").is_file(), page
    for page in (
        "gsr",
        "estimators",
        "graphs",
        "filters",
        "learned_graph",
        "metrics",
        "descrambling",
        "persistence",
        "parallel",
    ):
        assert (out / "user_guide" / f"{page}.html").is_file(), page


@pytest.mark.slow
def test_api_reference_is_generated_from_the_docstrings(html):
    result, out = html
    assert result.returncode == 0, result.stderr[-6000:]
    page = (out / "generated" / "skgsr.GSRAutoencoder.html").read_text("utf-8")
    # numpydoc sections and the members
    assert "Parameters" in page and "Attributes" in page and "Examples" in page
    assert "inverse_transform" in page and "feature_graph_" in page
    for name in (
        "skgsr.graphs.make_graph",
        "skgsr.penalty.GraphPenalty",
        "skgsr.datasets.make_rotated_images",
        "skgsr.plotting.plot_activation_maps",
        "skgsr.metrics.smoothness_score",
        "skgsr.metrics.module_recovery",
        "skgsr.descramble.orthogonal_descrambler",
        "skgsr.descramble.permutation_descrambler",
        "skgsr.save",
        "skgsr.load",
    ):
        assert (out / "generated" / f"{name}.html").is_file(), name


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_gallery_example_ran_and_drew_its_figure(html, example):
    result, out = html
    assert result.returncode == 0, result.stderr[-6000:]
    page = (out / "auto_examples" / f"{example}.html").read_text("utf-8")
    # it printed its numbers...
    assert re.search(r"\d\.\d\d", page), example
    # ...and drew at least one figure
    images = list((out / "_images").glob(f"sphx_glr_{example}_*.png"))
    assert images, example
