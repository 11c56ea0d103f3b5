"""Cost growth of ``fit``: time per epoch against samples and width, and peak memory.

All fits are ``GSRAutoencoder`` (mean squared reconstruction error; it needs no
targets, so the data are plain ``float32`` Gaussian noise), Adam, batch size
256, ``tol=0`` (every fit runs exactly ``max_iter`` epochs), ``device="cpu"``.
Time per epoch is the median of ``history_[i]["duration"]`` over the epochs
after the first (the first pays one-time allocations); it covers the shuffled
minibatch pass (batch gathering, forward, backward, optimizer step).

1. ``samples``: the fixed network 100 -> 128 -> **64** (8x8 grid, laplacian
   filter, ``alpha=1e-3``) -> 128 -> 100 on 10k, 100k and 1M samples. Reported:
   time per epoch, per 1000 samples, and the per-sample cost over that of the
   smallest size (``ratio``; linear growth gives ~1).
2. ``width``: the structured layer at 64, 256, 1024, 4096 and 16384 neurons (a
   square grid, laplacian filter, sparse penalty), 20k samples, three variants
   of the same network taking turns at each width: ``grid`` (``alpha=1e-3``,
   trained on), ``alpha0`` (``alpha=0``: the penalty is still *measured* for
   ``penalty_curve_``, not trained on) and ``none`` (no penalty computed at
   all: a ``graph="learned"`` network kept in its warm-up,
   ``graph_warmup=max_iter``). ``penalty share`` is ``(grid - none) / grid``;
   ``growth`` is the ``grid`` time over that of the previous width (4x the
   neurons each step).
3. ``memory``: the peak resident memory (RSS) of one ``fit`` (one epoch) on
   1M x 100 rows, each case in a **fresh process** (forked before the
   benchmark has run any fit, so that nothing else it did is counted; the
   memory part runs first). In the child: the data are created, an
   identical estimator is fitted once on 1000 rows and dropped (so that the
   one-time lazy initialisation of torch's kernels is not charged to the data),
   then the baseline RSS is read, the kernel's high-water mark ``VmHWM`` is reset
   to it (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0), ``fit`` runs, and
   ``VmHWM`` is read again. A bare ``getrusage(RUSAGE_SELF).ru_maxrss`` delta
   is not enough: without the reset it never decreases, so it would report the
   transient peak of creating the data (index arrays, any temporary) whenever
   that exceeds the fit's (after the reset it agrees with ``VmHWM``; the JSON
   records it as ``ru_maxrss_mb``). A thread sampling ``/proc/self/statm``
   every 2 ms gives a second, lower-bound estimate (and the only one where
   ``clear_refs`` is refused).
   ``extra`` = peak - baseline, also as a multiple of the data's own bytes.
   Cases: dense float32 C-contiguous (viewed, not copied: expected ~0x), dense
   float64 (cast once to float32: expected 0.5x of the float64 data), a scipy
   CSR 1M x 2000 float32 at 1% density (densified one batch at a time: expected
   extra << the 8 GB the dense float32 matrix would take), and two paths
   that add work around the batches: ``early_stopping=True`` (a validation
   split) and ``graph="learned"`` (``graph_warmup=0``: a graph rebuilt from
   1000 encoded rows before the epoch), both on the dense float32 data.

MB are 10^6 bytes. Run from the repository root, with ``PYTHONPATH=.``::

    python benchmarks/bench_scale.py --out benchmarks/results/bench_scale.json
    python benchmarks/bench_scale.py --quick       # seconds (CI)
    python benchmarks/bench_scale.py --parts memory --threads 2

Ratios are the claim; absolute times depend on the machine and its load.
"""

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

MB = 1e6
FULL = {
    "samples": {
        "sizes": [10_000, 100_000, 1_000_000],
        "n_features": 100,
        "n_components": 64,
        # at least this many samples passed over per size (>= min_epochs epochs)
        "min_samples_seen": 200_000,
        "min_epochs": 4,
        "max_epochs": 20,
    },
    "width": {
        "sizes": [64, 256, 1024, 4096, 16384],
        "n_samples": 20_000,
        "n_features": 100,
        "epochs": 3,
    },
    "memory": {
        "n_rows": 1_000_000,
        "n_features": 100,
        "sparse_features": 2000,
        "density": 0.01,
        "n_components": 64,
        "epochs": 1,
        "warmup_rows": 1000,
        "cases": [
            "dense_float32",
            "dense_float64",
            "sparse_csr",
            "float32_early_stopping",
            "float32_learned_graph",
        ],
    },
}
QUICK = {
    "samples": {
        "sizes": [1_000, 4_000],
        "n_features": 100,
        "n_components": 64,
        "min_samples_seen": 8_000,
        "min_epochs": 2,
        "max_epochs": 8,
    },
    "width": {"sizes": [64, 256], "n_samples": 1_000, "n_features": 100, "epochs": 2},
    "memory": {**FULL["memory"], "n_rows": 20_000},
}
BATCH_SIZE = 256
ALPHA = 1e-3
PARTS = ("samples", "width", "memory")


def make_dense(n_samples, n_features, dtype=np.float32, seed=0):
    """Standard normal rows, generated directly in ``dtype`` (no temporary)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_samples, n_features), dtype=dtype)


def make_sparse(n_samples, n_features, density, seed=0):
    """CSR float32 with ``density * n_features`` non-zeros in every row.

    Row ``i`` has one non-zero in each of ``k`` equal column stripes, so the
    column indices come sorted and distinct without a per-row sort.
    """
    import scipy.sparse as sp

    k = max(1, round(density * n_features))
    stripe = n_features // k
    rng = np.random.default_rng(seed)
    indices = (
        np.arange(k, dtype=np.int32) * stripe
        + rng.integers(0, stripe, (n_samples, k), dtype=np.int32)
    ).ravel()
    data = rng.standard_normal(n_samples * k, dtype=np.float32)
    indptr = np.arange(0, n_samples * k + 1, k, dtype=np.int64)
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))


def estimator(n_components, epochs, variant="grid", **params):
    from skgsr import GSRAutoencoder

    if variant == "none":
        # the penalty is off during a learned graph's warm-up: nothing computed
        params = {
            "graph": "learned",
            "graph_warmup": epochs,
            "graph_n_samples": 256,
            **params,
        }
    return GSRAutoencoder(
        n_components=n_components,
        hidden_layer_sizes=(128,),
        filter="laplacian",
        alpha=0.0 if variant == "alpha0" else ALPHA,
        batch_size=BATCH_SIZE,
        max_iter=epochs,
        tol=0.0,
        random_state=0,
        device="cpu",
        **params,
    )


def fit_quietly(est, X):
    with warnings.catch_warnings():
        # ConvergenceWarning (tol=0), the learned graph's warm-up warning
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est.fit(X)
    return time.perf_counter() - start


def epoch_time(est):
    """Median epoch duration after the first (all of them if only one)."""
    durations = [h["duration"] for h in est.history_]
    return statistics.median(durations[1:] or durations), durations


# --------------------------------------------------------------------------- #
# 1. samples
# --------------------------------------------------------------------------- #
def bench_samples(config):
    X_all = make_dense(max(config["sizes"]), config["n_features"])
    rows = []
    for n in config["sizes"]:
        epochs = -(-config["min_samples_seen"] // n)
        epochs = min(config["max_epochs"], max(config["min_epochs"], epochs))
        est = estimator(config["n_components"], epochs)
        fit_s = fit_quietly(est, X_all[:n])
        epoch_s, durations = epoch_time(est)
        rows.append(
            {
                "n_samples": n,
                "n_features": config["n_features"],
                "n_components": config["n_components"],
                "graph_shape": list(est.graph_shape_),
                "epochs": epochs,
                "n_batches": -(-n // BATCH_SIZE),
                "epoch_s": epoch_s,
                "ms_per_1k_samples": 1e6 * epoch_s / n,
                "fit_s": fit_s,
                "durations": durations,
            }
        )
        del est
    base = rows[0]["ms_per_1k_samples"]
    for row in rows:
        row["per_sample_ratio"] = row["ms_per_1k_samples"] / base
    return rows


# --------------------------------------------------------------------------- #
# 2. width
# --------------------------------------------------------------------------- #
def bench_width(config):
    X = make_dense(config["n_samples"], config["n_features"])
    rows = []
    for n in config["sizes"]:
        row = {"n_components": n, "n_samples": config["n_samples"]}
        # the variants take turns at each width: a change of load hits them alike
        for variant in ("grid", "alpha0", "none"):
            est = estimator(n, config["epochs"], variant)
            fit_s = fit_quietly(est, X)
            epoch_s, durations = epoch_time(est)
            row[f"{variant}_s"] = epoch_s
            row[f"{variant}_fit_s"] = fit_s
            row[f"{variant}_durations"] = durations
            if variant == "grid":
                row["graph_shape"] = list(est.graph_shape_)
                row["edges"] = int(est.feature_graph_.nnz // 2)
                row["n_parameters"] = int(
                    sum(p.numel() for p in est.module_.parameters())
                )
            del est
        row["penalty_share"] = (row["grid_s"] - row["none_s"]) / row["grid_s"]
        row["growth"] = row["grid_s"] / rows[-1]["grid_s"] if rows else None
        row["growth_vs_first"] = row["grid_s"] / (rows[0] if rows else row)["grid_s"]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- #
# 3. memory (each case in a fresh forked process)
# --------------------------------------------------------------------------- #
def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak():
    """Reset VmHWM to the current RSS; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kb("VmHWM") <= _status_kb("VmRSS") + 64


class _Sampler(threading.Thread):
    """Largest RSS seen, polling every ``interval`` seconds."""

    def __init__(self, interval=0.002):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = _rss_bytes()
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self.samples += 1
            time.sleep(self.interval)


def memory_case(case, config):
    """Peak RSS of one fit, in this (fresh) process."""
    import torch  # noqa: F401 - imported before the baseline is read

    n, d = config["n_rows"], config["n_features"]
    params = {}
    if case == "sparse_csr":
        d = config["sparse_features"]
        X = make_sparse(n, d, config["density"])
        data_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    else:
        dtype = np.float64 if case == "dense_float64" else np.float32
        X = make_dense(n, d, dtype)
        data_bytes = X.nbytes
        if case == "float32_early_stopping":
            params = {"early_stopping": True}
        elif case == "float32_learned_graph":
            params = {"graph": "learned", "graph_warmup": 0}
    est = estimator(config["n_components"], config["epochs"], **params)
    # one-time lazy initialisation (kernels, thread pools) outside the measurement
    fit_quietly(
        estimator(config["n_components"], 1, **params), X[: config["warmup_rows"]]
    )
    gc.collect()
    baseline = _rss_bytes()
    hwm_reset = _reset_peak()
    sampler = _Sampler()
    sampler.start()
    fit_s = fit_quietly(est, X)
    sampler.stop.set()
    sampler.join()
    after = _rss_bytes()
    hwm = _status_kb("VmHWM") * 1024 if hwm_reset else None
    peak = max(hwm or 0, sampler.peak)
    extra = peak - baseline
    dense_float32_bytes = n * d * 4
    return {
        "case": case,
        "n_rows": n,
        "n_features": d,
        "dtype": str(X.dtype),
        "format": "csr" if case == "sparse_csr" else "dense",
        "nnz": int(X.nnz) if case == "sparse_csr" else n * d,
        "data_mb": data_bytes / MB,
        "dense_float32_mb": dense_float32_bytes / MB,
        "baseline_rss_mb": baseline / MB,
        "peak_rss_mb": peak / MB,
        "after_rss_mb": after / MB,
        "extra_mb": extra / MB,
        "extra_over_data": extra / data_bytes,
        "extra_over_dense_float32": extra / dense_float32_bytes,
        "retained_mb": (after - baseline) / MB,
        "peak_source": "VmHWM" if hwm_reset else "sampled",
        "hwm_peak_mb": None if hwm is None else hwm / MB,
        "sampled_peak_mb": sampler.peak / MB,
        "n_rss_samples": sampler.samples,
        "ru_maxrss_mb": _ru_maxrss_bytes() / MB,
        "fit_s": fit_s,
        "epochs": config["epochs"],
    }


def _ru_maxrss_bytes():
    import resource

    # kilobytes on Linux; reported only to show why it is not used
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _memory_child(case, config, connection):
    try:
        connection.send(("ok", memory_case(case, config)))
    except BaseException:  # pragma: no cover - reported by the parent
        import traceback

        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def bench_memory(config):
    """One fresh process per case, forked before this process ran any fit.

    Forking (rather than starting a new interpreter) spares each case the
    imports (seconds); the child inherits only imported modules, which are part
    of its baseline, and it creates its own data.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    rows = []
    for case in config["cases"]:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_memory_child, args=(case, config, sender))
        process.start()
        sender.close()
        status, value = receiver.recv()
        process.join()
        if status != "ok":
            raise RuntimeError(f"memory case {case} failed:\n{value}")
        rows.append(value)
    return rows


# --------------------------------------------------------------------------- #
# Output
# --------------------------------------------------------------------------- #
def format_tables(results):
    lines = []
    if results.get("samples"):
        rows = results["samples"]
        r0 = rows[0]
        lines += [
            f"Time per epoch against samples: {r0['n_features']} -> 128 -> "
            f"{r0['n_components']} ({'x'.join(map(str, r0['graph_shape']))} grid) "
            f"-> 128 -> {r0['n_features']}, batch {BATCH_SIZE}",
            "",
            f"{'samples':>9} {'epochs':>6} {'epoch_s':>8} {'ms/1k':>7} {'ratio':>6}",
        ]
        for r in rows:
            lines.append(
                f"{r['n_samples']:>9} {r['epochs']:>6} {r['epoch_s']:>8.3f} "
                f"{r['ms_per_1k_samples']:>7.2f} {r['per_sample_ratio']:>6.2f}"
            )
        lines.append("")
    if results.get("width"):
        rows = results["width"]
        lines += [
            f"Time per epoch against the structured layer's width: "
            f"{rows[0]['n_samples']} samples, grid graph, batch {BATCH_SIZE}",
            "",
            f"{'neurons':>7} {'grid':>7} {'edges':>6} {'grid_s':>7} {'alpha0_s':>8} "
            f"{'none_s':>7} {'pen.share':>9} {'growth':>6}",
        ]
        for r in rows:
            growth = "-" if r["growth"] is None else f"{r['growth']:.2f}"
            lines.append(
                f"{r['n_components']:>7} {'x'.join(map(str, r['graph_shape'])):>7} "
                f"{r['edges']:>6} {r['grid_s']:>7.3f} {r['alpha0_s']:>8.3f} "
                f"{r['none_s']:>7.3f} {r['penalty_share']:>9.1%} {growth:>6}"
            )
        lines.append("")
    if results.get("memory"):
        rows = results["memory"]
        lines += [
            f"Peak RSS of fit ({rows[0]['epochs']} epoch, fresh process per case), MB",
            "",
            f"{'case':>22} {'shape':>13} {'data':>7} {'dense32':>7} "
            f"{'baseline':>8} {'peak':>7} {'extra':>7} {'x data':>6} {'x dense':>7}",
        ]
        for r in rows:
            shape = f"{r['n_rows']}x{r['n_features']}"
            lines.append(
                f"{r['case']:>22} {shape:>13} {r['data_mb']:>7.0f} "
                f"{r['dense_float32_mb']:>7.0f} {r['baseline_rss_mb']:>8.0f} "
                f"{r['peak_rss_mb']:>7.0f} {r['extra_mb']:>7.0f} "
                f"{r['extra_over_data']:>6.2f} {r['extra_over_dense_float32']:>7.3f}"
            )
        lines.append(f"(peak from {rows[0]['peak_source']})")
    return "\n".join(lines)


def _git_state():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "skgsr"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    except OSError:
        return None
    return {"head": head, "skgsr_modified": [line for line in dirty if line]}


def _loadavg():
    """The 1, 5 and 15-minute load averages, or None where the OS has none."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (seconds)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads")
    parser.add_argument("--out", help="write the results as JSON")
    args = parser.parse_args(argv)
    # before torch starts its thread pool
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    import scipy

    config = QUICK if args.quick else FULL
    if "memory" in args.parts and sys.platform != "linux":
        # the peak RSS is read from /proc and each case runs in a forked process
        print("The memory part needs Linux (/proc, fork): skipped.", file=sys.stderr)
        args.parts = [part for part in args.parts if part != "memory"]
    load_before = _loadavg()
    start = time.perf_counter()
    results = {
        "meta": {
            "quick": args.quick,
            "parts": args.parts,
            "threads": args.threads,
            "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "batch_size": BATCH_SIZE,
            "alpha": ALPHA,
            "config": {part: config[part] for part in args.parts},
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "git": _git_state(),
        }
    }
    import skgsr  # noqa: F401 - imported once, before the memory cases fork

    # memory first: its processes are forked before this one has run any fit
    # (no torch thread pool or allocator state to inherit)
    if "memory" in args.parts:
        results["memory"] = bench_memory(config["memory"])
    # numpy's and scipy's BLAS too (numpy was imported before OMP_NUM_THREADS)
    with threadpool_limits(args.threads):
        if "samples" in args.parts:
            results["samples"] = bench_samples(config["samples"])
        if "width" in args.parts:
            results["width"] = bench_width(config["width"])
    results["meta"]["total_s"] = time.perf_counter() - start
    results["meta"]["loadavg_before"] = load_before
    results["meta"]["loadavg_after"] = _loadavg()

    print(format_tables(results))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
