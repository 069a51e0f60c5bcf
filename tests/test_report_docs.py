"""summary.json's JSON Schema and the generated docs (issue 17 items 6-7): the schema
validates real summaries and rejects broken ones, docs/report.md and docs/api.md are up
to date with the schema and the code, and benchmark tables hold one value per cell."""

import importlib.util
import json
import sys
from pathlib import Path

import jsonschema
import pytest
from _report_data import staged_run

from phasekit.report import SUMMARY_SCHEMA_VERSION
from phasekit.report.schema import schema_markdown, summary_schema, validate_summary

ROOT = Path(__file__).resolve().parents[1]


def _generate_module():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_schema_is_valid_and_versioned():
    schema = summary_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["const"] == SUMMARY_SCHEMA_VERSION


def test_a_real_summary_follows_the_schema():
    _, _, rep = staged_run()
    d = json.loads(json.dumps(rep.to_dict(), default=str))
    validate_summary(d)
    assert d["schema_version"] == SUMMARY_SCHEMA_VERSION


@pytest.mark.parametrize("breakage", ["drop_summary", "levels_as_numbers", "interval_of_three", "version"])
def test_broken_summaries_are_rejected(breakage):
    _, _, rep = staged_run()
    d = json.loads(json.dumps(rep.to_dict(), default=str))
    if breakage == "drop_summary":
        del d["summary"]
    elif breakage == "levels_as_numbers":        # the v1 layout: a bare number per level
        d["phases"][0]["levels"] = {"entropy": 1.5}
    elif breakage == "interval_of_three":
        d["boundaries"][0]["interval"] = [1, 2, 3]
    else:
        d["schema_version"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate_summary(d)


def test_report_page_lists_exactly_the_schema_keys():
    gen = _generate_module()
    text = (ROOT / "docs" / "report.md").read_text()
    assert gen.report_keys_section() in text, "docs/report.md is out of date: run python docs/generate.py"
    table = schema_markdown()
    for key in summary_schema()["required"]:
        assert f"`{key} *`" in table


def test_api_page_is_generated_markdown_and_up_to_date():
    gen = _generate_module()
    text = (ROOT / "docs" / "api.md").read_text()
    assert ":::" not in text
    assert text == gen.api_markdown(), "docs/api.md is out of date: run python docs/generate.py"
    import phasekit as pk

    for name in ("analyze", "detect_boundaries", "entropy", "Report"):
        assert f"### `pk.{name}`" in text
        assert f"pk.{name}(" in text
    assert pk.analyze.__doc__.strip().splitlines()[0].strip() in text


def test_benchmark_tables_hold_one_value_per_cell():
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import to_markdown

    record = {"mode": "ci", "created": "t", "machine": {"cpus": 2, "python": "3.11"},
              "benchmarks": {"x": {"status": "ok", "seconds": 1.0, "result": {
                  "worst": {"100": {"a": 0.1, "b": 0.2}, "300": {"a": 0.3, "b": 0.4}},
                  "cases": {"u|N=1": {"a": {"bias": 1.0, "rmse": 2.0}}},
                  "rows": [{"case": "c", "fit": {"nu": 1.0, "err": {"lo": 0.5}}}], "n": 3}}}}
    md = to_markdown(record)
    rows = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert not [r for r in rows if ";" in r]
    assert "| 100 | 0.1 | 0.2 |" in md and "| u\\|N=1 | a | 1 | 2 |" in md
    assert "fit.err.lo" in md
    real = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    assert (ROOT / "docs" / "benchmarks.md").read_text() == to_markdown(real)


def test_benchmark_runner_fails_when_a_benchmark_fails():
    """A benchmark whose own check fails (e.g. disagreement with its baseline) turns the
    runner's exit status red; a missing one is only skipped."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import exit_status

    ok = {"benchmarks": {"a": {"status": "ok"}, "b": {"status": "skipped"}}}
    bad = {"benchmarks": {"a": {"status": "ok"}, "c": {"status": "failed", "error": "AssertionError"}}}
    assert exit_status(ok) == 0 and exit_status(bad) == 1
