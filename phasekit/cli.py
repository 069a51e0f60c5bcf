"""Command-line interface: ``phasekit validate | demo | analyze``.

Errors in the input (``SchemaError`` and other ``ValueError``/``OSError``) are printed as
one line on stderr with exit code 2; ``--debug`` shows the traceback. Exit code 1 is
reserved for internal bugs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 1


#: open_samples argument -> CLI flag, so that errors raised from the CLI name the flag.
FLAG_OF_ARGUMENT = {
    "format": "--format", "text": "--text", "token": "--token", "checkpoint": "--checkpoint",
    "step": "--step", "stage": "--stage", "model": "--model", "task": "--task", "prompt": "--prompt",
    "sample": "--sample", "position": "--position", "failure": "--failure", "requests": "--requests",
    "responses": "--responses", "name_pattern": "--name-pattern", "stage_order": "--stage-order",
    "sizes": "--sizes", "encoder": "--encoder", "states": "--states", "answer_pattern": "--answer-pattern",
    "normalize": "--normalize/--no-normalize", "aliases": "--aliases", "n_states": "--n-states",
    "max_unparsed": "--max-unparsed",
}


def _add_mapping_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading the input (every option of phasekit.open_samples)")
    g.add_argument("--format", default=None,
                   help="lm-eval, inspect, openai-batch, hf, jsonl, json, csv, parquet (default: detected)")
    for role, what in (("text", "answer texts (needs --encoder)"), ("token", "token ids (ints or lists)"),
                       ("checkpoint", "checkpoint labels"), ("model", "model names (makes a model dim)"),
                       ("task", "task names"), ("prompt", "prompt ids or texts"), ("sample", "sample ids"),
                       ("position", "token positions (one row per token)"),
                       ("failure", "the error of a failed generation")):
        g.add_argument(f"--{role}", default=None, help=f"field of {what}; a column or dotted path, "
                       "'*' marking a list of samples (outputs.*.text)")
    g.add_argument("--step", default=None, help="field of numeric training steps, or a JSON object "
                   '{"checkpoint": step}')
    g.add_argument("--stage", default=None, help="field of training stages (base, sft, rl…), or a JSON object")
    g.add_argument("--requests", action="append", default=None,
                   help="OpenAI batch input file(s), joined on custom_id for the prompts (repeatable)")
    g.add_argument("--responses", default="resps",
                   help="lm-eval: raw generations (resps), or filtered_resps / filtered_resps:<filter name>")
    g.add_argument("--name-pattern", default=None,
                   help="regex with groups (?P<model>) (?P<checkpoint>) (?P<stage>) (?P<step>) read from "
                   "the model name, else the file path")
    g.add_argument("--stage-order", default=None, help="training stages in order, comma-separated")
    g.add_argument("--sizes", default=None, help='model sizes as JSON {"OLMo-2-1B": 1e9} or name=size,…')
    g.add_argument("--encoder", default=None, help="integer, integer-list, exact (how texts become states)")
    g.add_argument("--states", default=None,
                   help="the answer space: comma-separated labels, or a range like 1..10")
    g.add_argument("--answer-pattern", default=None, help="regex extracting the answer (group 'answer' or 1)")
    g.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=True,
                   help="exact encoder: NFKC, case, whitespace and punctuation normalisation")
    g.add_argument("--aliases", default=None, help='JSON object mapping answers to states {"NYC": "New York"}')
    g.add_argument("--n-states", type=int, default=None, help="q, the size of the outcome space")
    g.add_argument("--max-unparsed", type=float, default=None,
                   help="fail when more than this fraction of answers is unparsed (default: warn)")


def _json_or(value: str | None, flag: str, parse_pairs: bool = False):
    if value is None:
        return None
    v = value.strip()
    if v.startswith("{"):
        try:
            return json.loads(v)
        except json.JSONDecodeError as err:
            raise ValueError(f"{flag}: not valid JSON ({err.msg}); fix: write {flag} '{{\"name\": value}}'") from None
    if parse_pairs:
        out = {}
        for part in v.split(","):
            name, _, size = part.rpartition("=")
            try:
                out[name.strip()] = float(size)
            except ValueError:
                raise ValueError(f"{flag}: cannot read {part!r}; fix: write {flag} name=size,name=size") from None
        return out
    return value


def _states(value: str | None) -> list | None:
    if value is None:
        return None
    lo, sep, hi = value.partition("..")
    if sep and lo.strip().lstrip("-").isdigit() and hi.strip().lstrip("-").isdigit():
        return list(range(int(lo), int(hi) + 1))
    return [s.strip() for s in value.split(",") if s.strip()]


def _mapping(args: argparse.Namespace) -> dict[str, Any]:
    out = {role: getattr(args, role) for role in ("format", "text", "token", "checkpoint", "model", "task",
                                                  "prompt", "sample", "position", "failure", "encoder",
                                                  "answer_pattern", "n_states", "max_unparsed", "responses",
                                                  "name_pattern")}
    out["step"] = _json_or(args.step, "--step")
    out["stage"] = _json_or(args.stage, "--stage")
    out["requests"] = args.requests
    out["stage_order"] = [s.strip() for s in args.stage_order.split(",")] if args.stage_order else None
    out["sizes"] = _json_or(args.sizes, "--sizes", parse_pairs=True)
    out["states"] = _states(args.states)
    out["normalize"] = args.normalize
    out["aliases"] = _json_or(args.aliases, "--aliases")
    if isinstance(out["aliases"], str):
        raise ValueError("--aliases: expected a JSON object; fix: --aliases '{\"NYC\": \"New York\"}'")
    return out


def cli_message(message: str) -> str:
    """An error message with every ``open_samples`` argument (``stage_order=``) named as its CLI flag."""
    def flag(m: re.Match) -> str:
        return FLAG_OF_ARGUMENT[m.group(1)]

    names = "|".join(sorted(FLAG_OF_ARGUMENT, key=len, reverse=True))
    message = re.sub(rf"open_samples\((?:[^()]*?,\s*)?({names})=[^()]*\)", lambda m: flag(m), message)
    message = re.sub(rf"(?<![\w.\-])({names})=(\s?)", lambda m: flag(m) + " ", message)
    return re.sub(r" +([;,)])", r"\1", message)


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


def _print_audit(ds, out=None) -> None:
    """The ingestion audit: per checkpoint counts, top unparsed answers, a few examples."""
    out = out or sys.stdout
    if "audit" not in ds.attrs:
        return
    from .ingest import audit_table

    table = audit_table(ds)
    print(f"format: {ds.attrs.get('format', '?')}" + (" (detected)" if ds.attrs.get("format_detected") else ""),
          file=out)
    print(f"generations: {ds.attrs['n_generations']} read, {ds.attrs['n_parsed']} parsed, "
          f"{ds.attrs['n_unparsed']} unparsed, {ds.attrs['n_failed']} failed", file=out)
    print("per checkpoint:", file=out)
    print(table.to_string(index=False), file=out)
    ex = json.loads(ds.attrs.get("audit_examples", "{}"))
    if ex.get("unparsed_top"):
        print("most common unparsed answers:", file=out)
        for text, reason, n in ex["unparsed_top"]:
            print(f"  {n:>6}  {text!r:<40}  ({reason})", file=out)
    if ex.get("parsed_examples"):
        print("examples (text -> state):", file=out)
        for text, state in ex["parsed_examples"][:6]:
            print(f"  {text!r:<40} -> {state}", file=out)
    if ex.get("failures_top"):
        print("most common failures:", file=out)
        for msg, n in ex["failures_top"]:
            print(f"  {n:>6}  {msg}", file=out)


def _open(args: argparse.Namespace):
    from .ingest import open_samples

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = open_samples(args.input if len(args.input) > 1 else args.input[0], **_mapping(args))
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"phasekit: warning: {cli_message(str(w.message))}", file=sys.stderr)
    return ds


def cmd_validate(args: argparse.Namespace) -> int:
    from .schema import check_token_values, summary

    ds = _open(args)
    check_token_values(ds)  # a lazy store's values are otherwise checked only when first read
    s = summary(ds)
    if args.json:
        print(json.dumps(s, indent=2, default=str))
    else:
        print(f"{' '.join(args.input)}: valid phasekit samples")
        _print_summary(s)
        _print_audit(ds)
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
        from . import pipeline  # noqa: F401
    except ImportError:
        return False
    return True


def _run_analyze(ds, outdir: Path, args: argparse.Namespace, *, input_desc: str, truth=None) -> int:
    from .pipeline import analyze

    sizes = _json_or(getattr(args, "sizes", None), "--sizes", parse_pairs=True)
    if not isinstance(sizes, dict) or "model" not in ds.dims or "size" in ds.coords:
        sizes = None  # readers of raw dumps put --sizes into the data; NetCDF/Zarr inputs get them here
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
            across=getattr(args, "across", None),
            sizes=sizes,
        )
        rep.write(outdir)
    finally:
        if client is not None:
            client.close()
    print(rep.text_summary(truth=truth))
    print(f"wrote {outdir}/report.html, summary.json, methods.md, references.bib, results.nc and figures/")
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
    assert workers is not None  # neither given returned above
    return Client(LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                               dashboard_address=None))


def _split(value: str | None):
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


def cmd_analyze(args: argparse.Namespace) -> int:
    ds = _open(args)
    return _run_analyze(ds, Path(args.output), args, input_desc=" ".join(args.input))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phasekit",
        description="Statistical physics of language-model training dynamics, from samples.",
    )
    parser.add_argument("--version", action="version", version=f"phasekit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check an input against the data model and summarise it")
    p.add_argument("input", nargs="+", help="file(s), folder(s) or glob(s): JSONL, JSON, CSV, Parquet, "
                   "lm-eval output, Inspect logs, OpenAI batch output, NetCDF (.nc) or Zarr (.zarr)")
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
        p.add_argument("input", nargs="+", help="file(s), folder(s) or glob(s), as for validate")
        p.add_argument("-o", "--output", required=True, help="output directory")
        p.add_argument("--system", default=None, help="dims of one configuration, comma-separated")
        p.add_argument("--replica", default=None, help="replica dims, comma-separated")
        p.add_argument("--control", default=None, help="control dim (default checkpoint)")
        p.add_argument("--across", default=None,
                       help="a second control dim (e.g. temperature): analyse every value, compare the "
                       "boundaries and draw the phase diagram")
        p.add_argument("--seed", type=int, default=0, help="seed for bootstraps and tests")
        p.add_argument("--estimator", default=None,
                       help="entropy estimator (default: bma with q known, chao_wang_jost without)")
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
        msg = cli_message(" ".join(str(err).split())) or type(err).__name__
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
