"""Fixtures shared by several test modules."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
