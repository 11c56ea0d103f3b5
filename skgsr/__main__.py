"""Command line of skgsr: ``python -m skgsr demo --out DIR`` (or ``skgsr demo``)."""

import argparse
import sys

from . import __version__


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser():
    from ._demo import DEFAULT_ALPHA, DEFAULT_MAX_ITER

    parser = argparse.ArgumentParser(
        prog="python -m skgsr",
        description=(
            "skgsr: Graph Spectral Regularization for scikit-learn. Estimators whose "
            "hidden layer is a signal on a graph, made readable by a graph-filter "
            "penalty."
        ),
    )
    parser.add_argument("--version", action="version", version=f"skgsr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="fit a GSR autoencoder on digits with and without the penalty",
        description=(
            "Fit GSRAutoencoder on scikit-learn's digits with 64 structured neurons "
            "on an 8x8 grid, without and with the graph penalty; print the test "
            "reconstruction error and the smoothness of the layer for both, and "
            "write their class-average activation maps as PNG files (needs "
            "matplotlib). Takes about half a minute on 2 CPU cores."
        ),
    )
    demo.add_argument(
        "--out",
        default="demo_out",
        metavar="DIR",
        help="folder for the PNG files, created if missing (default: demo_out)",
    )
    demo.add_argument(
        "--alpha",
        type=_positive_float,
        default=DEFAULT_ALPHA,
        help=f"penalty strength of the regularized model (default: {DEFAULT_ALPHA})",
    )
    demo.add_argument(
        "--max-iter",
        type=_positive_int,
        default=DEFAULT_MAX_ITER,
        metavar="EPOCHS",
        help=f"epochs of each model (default: {DEFAULT_MAX_ITER})",
    )
    demo.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the data split and the models (default: 0)",
    )
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (``sys.argv[1:]`` when None).

    Parameters
    ----------
    argv : list of str, default=None
        Arguments after the program name.

    Returns
    -------
    status : int
        The exit status: 0 on success, 1 when the demo cannot run (e.g.
        matplotlib missing), 2 for a usage error.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo":
        from ._demo import run_demo

        try:
            run_demo(
                args.out,
                alpha=args.alpha,
                max_iter=args.max_iter,
                random_state=args.random_state,
            )
        except ImportError as exc:
            print(f"skgsr demo: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
