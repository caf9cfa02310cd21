"""The `spikeforge` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import _convert, _evaluate, _graph, _profile, _report, _simulate, _train

    parser = argparse.ArgumentParser(prog="spikeforge", description="Spiking neural networks on PyTorch.")
    parser.add_argument("--version", action="version", version=f"spikeforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _train.add_parser(sub)
    _evaluate.add_parser(sub)
    _simulate.add_parser(sub)
    _profile.add_parser(sub)
    _report.add_parser(sub)
    _convert.add_parser(sub)
    _graph.add_parser(sub)
    from . import _nir

    _nir.add_parsers(sub)  # export, import
    from . import _deploy

    _deploy.add_parser(sub)  # deploy-check
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command. Run as a program (``argv`` from the command line) it first keeps freed memory for reuse
    (:func:`spikeforge.kernels.cpu.keep_freed_memory`, glibc; ``SPIKEFORGE_MALLOC=0`` leaves malloc alone); called
    with ``argv`` it changes nothing."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:
        from ..kernels.cpu import keep_freed_memory

        keep_freed_memory()
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as err:
        print(f"spikeforge {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (a run with a checkpoint is kept for --resume; others leave nothing)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
