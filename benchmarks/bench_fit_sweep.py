"""Fit time across widths: skgsr against scikit-learn's MLP, a plain PyTorch
loop and an earlier skgsr (issue 18), side by side in one run.

The network is input -> 128 -> ``width`` -> classes (ReLU), the ``width``
neurons being skgsr's structured layer on the most square grid of that many
nodes; batch 200, Adam (learning rate 1e-3), no early stopping, one thread.
The data: scikit-learn's digits tiled ``--tile`` times (17 970 x 64 by default,
"digits-sized" as in issue 18). Contenders:

- ``mlp``: ``MLPClassifier(hidden_layer_sizes=(128, width), alpha=0)``;
- ``plain``: a hand-written PyTorch loop with skgsr's arithmetic at
  ``alpha=0`` (``index_select`` batches, cross-entropy, fused Adam);
  ``plain_grid`` adds ``GraphPenalty`` on the grid (``alpha=1e-3``): see
  ``bench_fit.plain_loop``;
- ``skgsr_alpha0``, ``skgsr_grid``: ``GSRClassifier`` with ``alpha=0`` (the
  penalty measured for ``penalty_curve_``, on about 8 batches an epoch) and
  with the grid penalty (the estimators' default filter, ``alpha=1e-3``);
  ``skgsr_laplacian``: with ``filter="laplacian"``, ``plain_grid``'s penalty;
- ``base_alpha0``, ``base_grid``: the same with the skgsr found under
  ``--baseline`` (a checkout of an earlier commit), run in its own process;
- ablations (``--ablate-widths``): ``skgsr_alpha0`` or ``skgsr_grid`` with one
  optimization of issue 18 undone by a patch in the worker (see ``ABLATIONS``).

Each repetition runs every width, and for each width one process per skgsr
version (this checkout, then the baseline), timing each contender's whole
``fit`` after an untimed warm-up fit, starting with another contender each
repetition. The time is the process's CPU time (every contender runs one
thread): on a shared machine it leaves out the time the process waits for a
core, which wall-clock time does not (both are in the JSON); reported is the
median over the repetitions and ratios between contenders of the same run. ``--compile``
measures ``compile=True`` in fresh processes: the first fit (compiling), a
second fit (compiled code cached) and the plain fit.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_fit_sweep.py --baseline /tmp/wt-devbase \\
        --out benchmarks/results/bench_fit_sweep.json
    PYTHONPATH=. python benchmarks/bench_fit_sweep.py --quick   # seconds

Ratios are the claim; absolute times depend on the machine and its load.
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH_SIZE = 200

# contender -> (skgsr alpha, the optimization undone)
ABLATIONS = {
    "alpha0-no_direct_adam": (0.0, "optimizer.step() instead of OptimizerSteps"),
    "alpha0-no_block_gather": (0.0, "one index_select per batch"),
    "alpha0-monitor_4MB": (0.0, "PenaltyMonitor gathers 4 MB, not 256 kB"),
    "alpha0-monitor_all": (0.0, "the penalty measured on every batch, not ~8 or fewer"),
    "alpha0-monitor_none": (0.0, "no penalty measured at all: the monitor's cost"),
    "grid-no_hook": (1e-3, "penalty through its autograd node, not the hook"),
    "grid-sparse_product": (1e-3, "sparse L x (no dense matrix, no lattice)"),
}


def load_data(tile):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = np.tile((X / 16.0).astype(np.float32), (tile, 1))
    return X, np.tile(y.astype(np.int64), tile)


@contextlib.contextmanager
def ablation(name):
    """Undo one optimization of this checkout's skgsr while inside."""

    from skgsr import _torch_utils, _training, penalty
    from skgsr import nn as gsr_nn

    saved = []

    def patch(owner, attribute, value):
        saved.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, value)

    kind = name.split("-", 1)[1] if "-" in name else None
    if kind == "no_direct_adam":
        patch(_torch_utils, "_fused_adam_kernel", lambda optimizer, params: None)
    elif kind == "no_block_gather":

        def shuffled(self, order, batch_size):
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                yield index, self.take(index)

        patch(_training.Batches, "shuffled", shuffled)
    elif kind == "monitor_4MB":
        init = _training.PenaltyMonitor.__init__

        def wide_init(self, penalty_, max_values=1 << 20, every=1):
            init(self, penalty_, max_values, every)

        patch(_training.PenaltyMonitor, "__init__", wide_init)
    elif kind == "monitor_all":
        monitor = gsr_nn.GraphRegularizer.monitor

        def every_batch(self, every=1):
            return monitor(self, every=1)

        patch(gsr_nn.GraphRegularizer, "monitor", every_batch)
    elif kind == "monitor_none":

        class Unmeasured(_training.SampledMonitor):
            def _record(self, z, sample_weight, inputs):
                pass

            def _total(self):
                return None

        patch(gsr_nn.GraphRegularizer, "monitor", lambda self, every=1: Unmeasured())
    elif kind == "no_hook":

        def add_penalty(self, loss, sample_weight=None, output=None, inputs=None):
            activations, captured = self._take_activations()
            if output is not None:
                activations = [output]
            inputs = self._modules_inputs(activations, inputs, captured)
            if not activations or self.alpha == 0 or not self.active:
                return loss, None
            raw = self._penalty_of(activations, sample_weight, inputs)
            self.last_penalty_ = raw.detach()
            return loss + self.alpha * raw, raw.detach()

        patch(gsr_nn.GraphRegularizer, "_add_penalty", add_penalty)
    elif kind == "sparse_product":
        patch(penalty, "_DENSE_MAX_NODES", 0)
        patch(penalty, "_lattice_of", lambda L: None)
    try:
        yield
    finally:
        for owner, attribute, value in reversed(saved):
            setattr(owner, attribute, value)


def skgsr_fit(X, y, width, epochs, seed, alpha, compile=False, **params):
    from skgsr import GSRClassifier

    est = GSRClassifier(
        hidden_layer_sizes=(128,),
        n_components=width,
        graph="grid",
        alpha=alpha,
        batch_size=BATCH_SIZE,
        learning_rate_init=1e-3,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
        device="cpu",
        **({"compile": True} if compile else {}),
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return est


def run_contender(name, X, y, width, epochs, seed):
    sys.path.insert(0, HERE)
    import bench_fit

    bench_fit.N_COMPONENTS = width
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        est = MLPClassifier(
            hidden_layer_sizes=(128, width),
            alpha=0.0,
            batch_size=BATCH_SIZE,
            learning_rate_init=1e-3,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        return
    if name == "plain":
        return bench_fit.plain_loop(X, y, epochs, seed, fused=True)
    if name == "plain_grid":
        return bench_fit.plain_loop(X, y, epochs, seed, True, alpha=1e-3)
    if name in ("skgsr_alpha0", "base_alpha0"):
        return skgsr_fit(X, y, width, epochs, seed, 0.0)
    if name in ("skgsr_grid", "base_grid"):
        return skgsr_fit(X, y, width, epochs, seed, 1e-3)
    if name == "skgsr_laplacian":  # plain_grid's penalty, in the estimator
        return skgsr_fit(X, y, width, epochs, seed, 1e-3, filter="laplacian")
    alpha = ABLATIONS[name][0]
    with ablation(name):
        return skgsr_fit(X, y, width, epochs, seed, alpha)


def worker(args):
    """Time each contender once (after a warm-up) and print JSON."""
    import torch

    torch.set_num_threads(1)
    X, y = load_data(args.tile)
    times = {}
    for name in args.contenders:  # warm-up: imports, allocator, thread pools
        run_contender(name, X[:400], y[:400], args.width, 1, 0)
    # each repetition starts with another contender
    k = args.seed % len(args.contenders)
    for name in args.contenders[k:] + args.contenders[:k]:
        wall, cpu = time.perf_counter(), time.process_time()
        run_contender(name, X, y, args.width, args.epochs, args.seed)
        times[name] = (time.process_time() - cpu, time.perf_counter() - wall)
    print(json.dumps(times))


def compile_worker(args):
    """The first compile=True fit, a second one, and the plain fit (fresh process)."""
    import torch

    torch.set_num_threads(1)
    X, y = load_data(args.tile)
    skgsr_fit(X[:400], y[:400], args.width, 1, 0, 0.0)  # warm-up, not compiled
    times = {}
    for label, compile in (("first", True), ("second", True), ("plain", False)):
        start = time.process_time()
        skgsr_fit(X, y, args.width, args.epochs, 0, 0.0, compile=compile)
        times[label] = time.process_time() - start
    print(json.dumps(times))


def product_times(sizes, repeats):
    """Microseconds per forward and backward pass of the grid penalty (batch 200,
    float32) with each product: ``{n: {"dense", "sparse", "lattice": us}}``.

    The product is forced by patching ``_DENSE_MAX_NODES`` and ``_lattice_of``
    while the penalty is built; the median of 5 blocks of ``repeats`` calls.
    """
    import torch

    from skgsr import penalty as module
    from skgsr.graphs import infer_grid_shape, make_graph

    torch.set_num_threads(1)
    saved = module._DENSE_MAX_NODES, module._lattice_of
    table = {}
    for n in sizes:
        grid = make_graph("grid", infer_grid_shape(n))
        table[n] = {}
        for kind in ("dense", "sparse", "lattice"):
            module._DENSE_MAX_NODES = n if kind == "dense" else 0
            if kind != "lattice":
                module._lattice_of = lambda L: None
            try:
                penalty = module.GraphPenalty(grid)
            finally:
                module._DENSE_MAX_NODES, module._lattice_of = saved
            x = torch.randn(200, n, requires_grad=True)
            for _ in range(max(1, repeats // 10)):
                penalty(x).backward()
            blocks = []
            for _ in range(5):
                start = time.process_time()
                for _ in range(repeats):
                    penalty(x).backward()
                blocks.append(1e6 * (time.process_time() - start) / repeats)
            table[n][kind] = statistics.median(blocks)
    return table


def _spawn(pythonpath, argv):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": pythonpath}
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compile-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--contenders", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds)")
    parser.add_argument("--widths", type=int, nargs="*", default=[64, 256, 1024])
    parser.add_argument(
        "--wide",
        type=int,
        nargs="*",
        default=[16384],
        help="widths run for --wide-epochs epochs",
    )
    parser.add_argument("--wide-epochs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tile", type=int, default=10, help="digits tiled")
    parser.add_argument("--baseline", help="checkout of an earlier skgsr")
    parser.add_argument("--ablate-widths", type=int, nargs="*", default=[64, 1024])
    parser.add_argument(
        "--compile",
        type=int,
        nargs="*",
        default=[],
        help="widths at which to measure compile=True",
    )
    parser.add_argument(
        "--products",
        type=int,
        nargs="*",
        default=[],
        help="sizes at which to time the penalty with each product of L x",
    )
    parser.add_argument("--out", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.compile_worker:
        return compile_worker(args)
    if args.quick:
        args.widths, args.wide, args.epochs, args.repeats, args.tile = [16], [], 1, 1, 1
        args.ablate_widths = [16]
        args.products = [16] if args.products else []
    here = os.path.dirname(HERE)
    plan = [(w, args.epochs) for w in args.widths]
    plan += [(w, args.wide_epochs) for w in args.wide]
    times, walls = {}, {}  # (width, contender) -> [CPU seconds], [wall seconds]
    for seed in range(args.repeats):
        for width, epochs in plan:
            ours = ["mlp", "plain", "plain_grid", "skgsr_alpha0", "skgsr_grid"]
            ours.append("skgsr_laplacian")
            if width in args.ablate_widths:
                ours += list(ABLATIONS)
            common = ["--width", str(width), "--epochs", str(epochs)]
            common += ["--seed", str(seed), "--tile", str(args.tile)]
            runs = [(here, ours)]
            if args.baseline:
                runs.append((args.baseline, ["base_alpha0", "base_grid"]))
            for path, contenders in runs:
                got = _spawn(path, ["--worker", *common, "--contenders", *contenders])
                for name, (cpu, wall) in got.items():
                    times.setdefault((width, name), []).append(cpu)
                    walls.setdefault((width, name), []).append(wall)
            print(f"repeat {seed} width {width} done", file=sys.stderr, flush=True)
    rows = []
    for (width, name), values in times.items():
        epochs = dict(plan)[width]
        rows.append(
            {
                "width": width,
                "contender": name,
                "epochs": epochs,
                "fit_cpu_s": values,
                "fit_wall_s": walls[width, name],
                "median_s": statistics.median(values),
            }
        )
    compiled = []
    for width in args.compile:
        common = ["--width", str(width), "--epochs", str(args.epochs)]
        got = _spawn(here, ["--compile-worker", *common, "--tile", str(args.tile)])
        compiled.append({"width": width, "epochs": args.epochs, **got})
    products = product_times(args.products, 30 if args.quick else 300)
    print(format_tables(rows, compiled, args))
    if products:
        print("\ngrid penalty forward + backward, batch 200 (CPU us per call)")
        print(f"{'n':>6} {'dense':>9} {'sparse':>9} {'lattice':>9}")
        for n, t in products.items():
            print(f"{n:>6} {t['dense']:>9.1f} {t['sparse']:>9.1f} {t['lattice']:>9.1f}")
    if args.out:
        meta = {
            "cpu_count": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "loadavg": os.getloadavg(),
            "argv": sys.argv[1:],
        }
        with open(args.out, "w") as f:
            document = {"meta": meta, "results": rows, "compile": compiled}
            json.dump({**document, "products": products}, f, indent=1)
    return rows, compiled


def format_tables(rows, compiled, args):
    median = {(r["width"], r["contender"]): r["median_s"] for r in rows}
    widths = sorted({r["width"] for r in rows})

    def ratio(width, a, b):
        if (width, a) in median and (width, b) in median:
            return f"{median[width, a] / median[width, b]:.2f}"
        return "-"

    pairs = [
        ("alpha0/mlp", "skgsr_alpha0", "mlp"),
        ("alpha0/plain", "skgsr_alpha0", "plain"),
        ("grid/alpha0", "skgsr_grid", "skgsr_alpha0"),
        ("grid/plain_grid", "skgsr_grid", "plain_grid"),
        ("lap/alpha0", "skgsr_laplacian", "skgsr_alpha0"),
        ("lap/plain_grid", "skgsr_laplacian", "plain_grid"),
        ("alpha0/base", "skgsr_alpha0", "base_alpha0"),
        ("grid/base", "skgsr_grid", "base_grid"),
        ("base_alpha0/mlp", "base_alpha0", "mlp"),
        ("base grid/alpha0", "base_grid", "base_alpha0"),
    ]
    lines = ["fit CPU time (median s) and ratios, 1 thread, batch 200"]
    lines.append(
        f"{'width':>6} {'epochs':>6} {'mlp s':>8} {'alpha0 s':>9} "
        + " ".join(f"{label:>16}" for label, _, _ in pairs)
    )
    for w in widths:
        epochs = next(r["epochs"] for r in rows if r["width"] == w)
        lines.append(
            f"{w:>6} {epochs:>6} {median.get((w, 'mlp'), float('nan')):>8.2f} "
            f"{median.get((w, 'skgsr_alpha0'), float('nan')):>9.2f} "
            + " ".join(f"{ratio(w, a, b):>16}" for _, a, b in pairs)
        )
    ablated = [w for w in widths if any((w, a) in median for a in ABLATIONS)]
    if ablated:
        lines.append("")
        lines.append("ablations: fit time with one optimization undone / without")
        for w in ablated:
            for name, (alpha, what) in ABLATIONS.items():
                base = "skgsr_alpha0" if alpha == 0 else "skgsr_grid"
                lines.append(f"{w:>6} {name:>24} {ratio(w, name, base):>6}  ({what})")
    if compiled:
        lines.append("")
        lines.append("compile=True (alpha=0): first fit, second fit, plain fit (CPU s)")
        for c in compiled:
            lines.append(
                f"{c['width']:>6} {c['epochs']:>3} epochs: first {c['first']:.2f}"
                f"  second {c['second']:.2f}  plain {c['plain']:.2f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
