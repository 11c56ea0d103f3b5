"""The documentation builds with warnings as errors, gallery included.

The build runs every example of ``doc/examples`` (sphinx-gallery), so this test
is also the gallery's test: an example that raises, or a docstring that numpydoc
or docutils cannot parse, fails it. Measured: the whole build 63 s (the eight
examples 56 s of it, the slowest, wavelet receptive fields, 13 s) with one torch
thread on a 2-core machine. The README's quick start runs here too (about 20 s).
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from html.parser import HTMLParser

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


# a number with decimals, not part of a word or a dotted version ("python3.11")
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")


class _ScriptOutput(HTMLParser):
    """The text of each element of class ``sphx-glr-script-out`` of a page.

    sphinx-gallery puts what an example prints in
    ``<div class="sphx-glr-script-out highlight-none notranslate"><div
    class="highlight"><pre>...</pre></div></div>``.
    """

    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self):
        super().__init__()
        self.blocks = []
        self._depth = 0  # open elements inside the current output block

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        if self._depth:
            self._depth += 1
        elif "sphx-glr-script-out" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.blocks.append("")

    def handle_endtag(self, tag):
        if self._depth and tag not in self.VOID:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.blocks[-1] += data


def script_outputs(page):
    """The captured outputs of a sphinx-gallery page, as text."""
    parser = _ScriptOutput()
    parser.feed(page)
    parser.close()
    return parser.blocks


def test_script_outputs_reads_the_gallery_markup():
    page = (
        "<p>Total running time of the script: (0 minutes 8.211 seconds)</p>"
        '<div class="sphx-glr-script-out highlight-none notranslate">'
        '<div class="highlight"><pre><span></span>accuracy <span>0.956</span>'
        "<br>done</pre></div></div><p>after</p>"
    )
    assert script_outputs(page) == ["accuracy 0.956done"]
    assert script_outputs(page.replace("sphx-glr-script-out", "other")) == []
    assert not DECIMAL.search("python3.11 version 1.2.3 digits 12")
    assert DECIMAL.search("smoothness -0.06")


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
        "networks",
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
        "skgsr.nn.GraphRegularizer",
        "skgsr.skorch.GSRNeuralNetClassifier",
    ):
        assert (out / "generated" / f"{name}.html").is_file(), name


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_gallery_example_ran_and_drew_its_figure(html, example):
    result, out = html
    assert result.returncode == 0, result.stderr[-6000:]
    page = (out / "auto_examples" / f"{example}.html").read_text("utf-8")
    # it printed its numbers (in its captured output, not elsewhere on the page:
    # the "Total running time ... seconds" line has decimals too)...
    outputs = script_outputs(page)
    assert outputs, f"{example}: no captured output on the page"
    assert any(DECIMAL.search(text) for text in outputs), (example, outputs)
    # ...and drew at least one figure
    images = list((out / "_images").glob(f"sphx_glr_{example}_*.png"))
    assert images, example


README = os.path.join(ROOT, "README.rst")


def readme_quick_start():
    """The code of the README's "Quick start": the section's python block."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = re.search(
        r"^Quick start\n=+\n(.*?)(?=^[^\s][^\n]*\n=+\n|\Z)", text, re.S | re.M
    )
    assert section, "README.rst has no 'Quick start' section"
    block = re.search(
        r"^\.\. code-block:: python\n((?:[ \t]*\n|[ \t]+[^\n]*\n)+)",
        section.group(1),
        re.M,
    )
    assert block, "the README's quick start has no python code block"
    return textwrap.dedent(block.group(1)).strip() + "\n"


def test_readme_quick_start_is_found():
    code = readme_quick_start()
    assert code.startswith("from sklearn.datasets import load_digits\n"), code
    assert "search.fit(X).best_params_" in code, code
    compile(code, "README.rst", "exec")


@pytest.mark.slow
def test_readme_quick_start_runs_as_it_says():
    """The README's quick start, verbatim: about 20 s with one thread.

    Run as written, with no ``max_iter`` reduced, so that it also checks what a
    new user sees: no ConvergenceWarning (every fit of it converges, in 80-126
    epochs, measured).
    """
    import numpy as np
    import scipy.sparse as sp
    from sklearn.exceptions import ConvergenceWarning

    from skgsr.graphs import make_graph

    namespace = {"__name__": "readme_quick_start"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(readme_quick_start(), "README.rst", "exec"), namespace)
    ours = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, ConvergenceWarning)
        or os.path.abspath(w.filename).startswith(os.path.join(ROOT, "skgsr"))
    ]
    assert not ours, ours
    X, ae, maps, search = (namespace[k] for k in ("X", "ae", "maps", "search"))
    # "(1797, 8, 8) images"
    assert maps.shape == (1797, 8, 8)
    # "the 8x8 grid, scipy sparse"
    assert sp.issparse(ae.feature_graph_)
    grid = make_graph("grid", (8, 8))
    assert ae.feature_graph_.shape == (64, 64)
    assert abs(ae.feature_graph_ - grid).max() == 0
    # "score = -reconstruction MSE": the best of the README's grid, by that score
    assert search.best_params_["alpha"] in (0, 0.01, 0.1, 1)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_score_ == scores.max()
    best = search.best_estimator_
    mse = np.mean((X - best.inverse_transform(best.transform(X))) ** 2)
    assert best.score(X) == pytest.approx(-mse, rel=1e-4)
