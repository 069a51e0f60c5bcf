"""Command-line interface: ``phasekit validate | demo | analyze``.

Errors in the input (``SchemaError`` and other ``ValueError``/``OSError``) are printed as
one line on stderr with exit code 2; ``--debug`` shows the traceback. Exit code 1 is
reserved for internal bugs.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def _add_mapping_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("mapping (table inputs: JSONL, JSON, CSV, Parquet)")
    g.add_argument("--checkpoint", default="checkpoint", help="column of checkpoint labels")
    g.add_argument("--step", default="step", help="column of numeric training steps")
    g.add_argument("--prompt", default="prompt", help="column of prompt ids")
    g.add_argument("--sample", default="sample", help="column of sample ids")
    g.add_argument("--position", default=None, help="column of token positions (one row per token)")
    g.add_argument("--token", default="token", help="column of token ids (ints or lists)")
    g.add_argument("--text", default=None, help="column of answer texts (needs --encoder)")
    g.add_argument("--encoder", default=None, choices=["integer", "exact"],
                   help="how answer texts become states")
    g.add_argument("--n-states", type=int, default=None, help="q, the size of the outcome space")
    g.add_argument("--stage", default=None, help="column of training stages (base, sft, rl…)")


def _mapping(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "checkpoint": args.checkpoint, "step": args.step, "prompt": args.prompt,
        "sample": args.sample, "position": args.position, "token": args.token,
        "text": args.text, "encoder": args.encoder, "n_states": args.n_states,
        "stage": args.stage,
    }


def _print_summary(summary: dict[str, Any], out=None) -> None:
    out = out or sys.stdout
    dims = ", ".join(f"{d}={n}" for d, n in summary["dims"].items())
    print(f"dims: {dims}", file=out)
    print(f"n_states: {summary.get('n_states') if summary.get('n_states') is not None else 'not set'}", file=out)
    if "steps" in summary:
        s = summary["steps"]
        print(f"steps: {s['count']} checkpoints, {s['first']:g} .. {s['last']:g}", file=out)
    if "stages" in summary:
        print(f"stages: {', '.join(summary['stages'])}", file=out)
    if "tokens" in summary:
        print(f"tokens: {summary['tokens']} counted, {summary['padding']} padding/missing (-1)", file=out)
    if "n_unparsed" in summary:
        print(f"unparsed answers: {summary['n_unparsed']}", file=out)


def cmd_validate(args: argparse.Namespace) -> int:
    from .ingest import open_samples
    from .schema import summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = open_samples(args.input, **_mapping(args))
    s = summary(ds)
    if args.json:
        print(json.dumps(s, indent=2, default=str))
    else:
        print(f"{args.input}: valid phasekit samples")
        _print_summary(s)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .datasets import demo_dataset

    outdir = Path(args.output)
    outdir.mkdir(parents=True, exist_ok=True)
    ds, truth = demo_dataset()
    if _has_analyze():
        return _run_analyze(ds, outdir, args, input_desc="embedded demo dataset", truth=truth)
    from .schema import summary

    ds.to_netcdf(outdir / "demo.nc")
    (outdir / "validation.json").write_text(json.dumps(summary(ds), indent=2, default=str))
    print(f"wrote {outdir / 'demo.nc'} and {outdir / 'validation.json'}")
    return 0


def _has_analyze() -> bool:
    try:
        from . import report  # noqa: F401
    except ImportError:
        return False
    return True


def _run_analyze(ds, outdir: Path, args: argparse.Namespace, *, input_desc: str, truth=None) -> int:
    from .report import analyze

    client = _start_client(args)
    try:
        rep = analyze(
            ds,
            system=_split(getattr(args, "system", None)),
            replica=_split(getattr(args, "replica", None)),
            control=getattr(args, "control", None),
            seed=getattr(args, "seed", 0),
            estimator=getattr(args, "estimator", None),
            progress=not getattr(args, "quiet", False),
            input_description=input_desc,
        )
        rep.write(outdir)
    finally:
        if client is not None:
            client.close()
    print(rep.text_summary(truth=truth))
    print(f"wrote {outdir}/report.html, results.nc, summary.json and figures/")
    return 0


def _start_client(args: argparse.Namespace):
    scheduler = getattr(args, "scheduler", None)
    workers = getattr(args, "workers", None)
    if not scheduler and not workers:
        return None
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise ValueError("--scheduler/--workers need dask.distributed: pip install 'phasekit[dask]'") from err
    if scheduler:
        return Client(scheduler)
    return Client(LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                               dashboard_address=None))


def _split(value: str | None):
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


def cmd_analyze(args: argparse.Namespace) -> int:
    from .ingest import open_samples

    ds = open_samples(args.input, **_mapping(args))
    return _run_analyze(ds, Path(args.output), args, input_desc=str(args.input))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phasekit",
        description="Statistical physics of language-model training dynamics, from samples.",
    )
    parser.add_argument("--version", action="version", version=f"phasekit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check an input against the data model and summarise it")
    p.add_argument("input", help="JSONL, JSON, CSV, Parquet, NetCDF (.nc) or Zarr (.zarr)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_mapping_flags(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("demo", help="run the analysis on the embedded demo dataset")
    p.add_argument("-o", "--output", default="phasekit-demo", help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)

    if _has_analyze():
        p = sub.add_parser("analyze", help="analyse samples and write report.html, results.nc, summary.json")
        p.add_argument("input")
        p.add_argument("-o", "--output", required=True, help="output directory")
        p.add_argument("--system", default=None, help="dims of one configuration, comma-separated")
        p.add_argument("--replica", default=None, help="replica dims, comma-separated")
        p.add_argument("--control", default=None, help="control dim (default checkpoint)")
        p.add_argument("--seed", type=int, default=0, help="seed for bootstraps and tests")
        p.add_argument("--estimator", default=None,
                       help="entropy estimator (default: bma, or chao_wang_jost beyond 20,000 configurations)")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.add_argument("--scheduler", default=None, help="dask scheduler address")
        p.add_argument("--workers", type=int, default=None, help="start a local dask cluster with N workers")
        _add_mapping_flags(p)
        p.set_defaults(func=cmd_analyze)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``phasekit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:
        if args.debug:
            raise
        msg = " ".join(str(err).split()) or type(err).__name__
        print(f"phasekit: error: {msg}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("phasekit: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # an internal bug: say so, exit 1
        if args.debug:
            raise
        print(f"phasekit: internal error ({type(err).__name__}: {err}); rerun with --debug and report it",
              file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
