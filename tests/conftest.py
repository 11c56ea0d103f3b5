"""Fixtures shared by several test modules."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Property tests: random examples on a developer's machine (they find new
# cases), the same examples in CI (CI=true), so that a run of main is
# reproducible and a rare new case cannot fail a submission at random.
try:
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI", "").lower() == "true":
        settings.load_profile("ci")
except ImportError:  # hypothesis is in the test extra
    pass


def pytest_configure(config):
    """Share the cores between pytest-xdist's workers instead of oversubscribing.

    Each worker would otherwise run torch on every core; with
    ``OMP_NUM_THREADS`` set, the estimators' fits (which honour it) and the
    tests' own torch operations use the worker's share. A value the caller set
    is kept.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers or "OMP_NUM_THREADS" in os.environ:
        return
    threads = max(1, (os.cpu_count() or 1) // int(workers))
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


@pytest.fixture
def run_benchmark(tmp_path):
    """Run ``benchmarks/<script> --quick --out <json> *args`` in a subprocess.

    Returns ``(completed_process, json_path)``. One thread (``OMP_NUM_THREADS=1``),
    the repository on ``PYTHONPATH``, ``tmp_path`` as working directory; the
    caller asserts on the exit status, the printed table and the JSON.
    """

    def run(script, *args, timeout=300):
        out = tmp_path / f"{Path(script).stem}.json"
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
        completed = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / script), "--quick"]
            + ["--out", str(out), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=timeout,
            check=False,
        )
        return completed, out

    return run
