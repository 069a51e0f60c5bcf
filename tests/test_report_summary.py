"""The summary of findings (issue 17 item 1): paragraph, key numbers, summary.json's
``summary`` block and the CLI's lines, checked against the result objects they summarise."""

import copy
import html
import json
import pickle
import re
import warnings

import numpy as np
import pytest
from _report_data import staged_run

import phasekit as pk
from phasekit.report.numbers import format_step
from phasekit.report.summary import boundary_rows, phase_rows, summary_lines


@pytest.fixture(scope="module")
def run():
    return staged_run()


@pytest.fixture(scope="module")
def page(run):
    """The HTML page with placeholder images (the figures are tested in test_report_figures,
    the whole write in test_cli and the slow test below)."""
    from phasekit.report.figures import FIGURE_ORDER
    from phasekit.report.html import render_html

    _, _, rep = run
    r = copy.copy(rep)
    r._figures = {name: b"\x89PNG placeholder" for name, _ in FIGURE_ORDER}
    return render_html(r)


def test_summary_boundaries_are_the_boundary_results(run):
    _, _, rep = run
    b = rep.boundaries
    assert b.locations, "the fixture run must have a boundary"
    block = rep.summary()
    assert [e["step"] for e in block["boundaries"]] == [float(v) for v in b.locations]
    assert [tuple(e["interval"]) for e in block["boundaries"]] == [(float(lo), float(hi)) for lo, hi in b.intervals]
    assert [e["index"] for e in block["boundaries"]] == list(b.indices)
    for e, (lo, hi) in zip(block["boundaries"], b.intervals, strict=True):
        assert e["interval_width"] == pytest.approx(hi - lo)


def test_p_value_text_is_a_bound_exactly_at_the_floor(run):
    _, _, rep = run
    B = rep.boundaries.attrs["n_bootstrap"]
    for e, ev in zip(boundary_rows(rep), rep.boundaries.evidence["boundaries"], strict=True):
        at_floor = ev["p_value"] <= 1 / (B + 1) * (1 + 1e-12)
        assert e["p_value_text"].startswith("<") == at_floor
        if at_floor:
            assert e["p_value_text"].endswith(f"(1/{B + 1})")
            assert e["n_resamples"] == B


def test_phases_partition_the_checkpoints_at_the_boundaries(run):
    ds, _, rep = run
    rows = phase_rows(rep)
    steps = ds["step"].values.astype(float)
    assert rows[0]["first_step"] == steps[0] and rows[-1]["last_step"] == steps[-1]
    assert sum(r["n_checkpoints"] for r in rows) == steps.size
    starts = [r["first_step"] for r in rows[1:]]
    assert starts == [float(v) for v in rep.boundaries.locations]
    stages = ds["stage"].values.astype(str)
    for r in rows:
        expected = list(dict.fromkeys(stages[r["first_index"]:r["last_index"] + 1]))
        assert r["stages"] == expected


def test_phase_levels_are_segment_means_with_errors(run):
    _, _, rep = run
    r = phase_rows(rep)[0]
    a, b = r["first_index"], r["last_index"] + 1
    m = rep.order["magnetization"].values[a:b]
    se = rep.order["magnetization_stderr"].values[a:b]
    assert r["levels"]["magnetization"]["value"] == pytest.approx(m.mean())
    assert r["levels"]["magnetization"]["stderr"] == pytest.approx(np.sqrt((se ** 2).sum()) / (b - a))


def test_seed_support_retention_is_the_last_checkpoint_mean_over_prompts(run):
    _, truth, rep = run
    s = rep.summary()["seed"]
    ret = rep.seed["support_retention"].isel(checkpoint=-1).values
    assert s["support_retention"] == pytest.approx(ret.mean())
    assert s["support_retention_stderr"] == pytest.approx(ret.std(ddof=1) / np.sqrt(ret.size))
    assert s["prompt"] == str(rep.seed["consensus_seed"].values[-1])
    assert s["prompt"] == truth["seed_prompt"]              # the generator's seed prompt


def test_transition_says_why_there_is_none(run):
    _, _, rep = run
    t = rep.summary()["transition"]
    assert t["kind"] is None and "size" in t["text"]
    assert "None" not in t["text"]


def test_cli_lines_come_from_the_summary_block(run):
    _, truth, rep = run
    block = rep.summary()
    text = rep.text_summary(truth=truth)
    for line in summary_lines(block):
        assert line in text
    assert block["headline"] in text
    for e in block["boundaries"]:
        assert f"{e['step']:,.0f}" in block["headline"]


def test_html_opens_with_the_summary(page, run):
    _, _, rep = run
    block = json.loads(json.dumps(rep.summary(), default=str))
    i_summary = page.index("id='summary'")
    assert i_summary < page.index("<img")
    assert html.escape(block["text"]) in page
    for row in block["key_numbers"]:
        assert html.escape(row["value"]) in page
    assert "<b>None</b>" not in page
    assert not re.search(r"(\d[\d,]*) – \1(?!\d)", page)          # no "2345 – 2345"
    assert "e+0" not in re.sub(r"base64,[^'\"]*", "", page)          # no 1.443e+04 steps


def test_summary_json_block_equals_the_report_summary(run):
    _, _, rep = run
    d = json.loads(json.dumps(rep.to_dict(), default=str))
    fresh = json.loads(json.dumps(rep.summary(), default=str))
    assert d["summary"] == fresh
    assert d["boundaries"] == fresh["boundaries"] and d["phases"] == fresh["phases"]


def test_html_has_the_tables_a_reader_needs(page, run):
    _, _, rep = run
    for anchor in ("id='boundaries'", "id='phases'", "id='methods'", "id='provenance'", "Phase levels"):
        assert anchor in page
    assert page.index("id='summary'") < page.index("id='boundaries'") < page.index("id='methods'")
    for row in phase_rows(rep):
        assert html.escape(f"{format_step(row['first_step'])}") in page
    assert "; ".join(["entropy=", "order_entropy="]) not in page   # levels are a table, not a blob
    assert not re.search(r"(src|href)=['\"](https?:|//)", page)     # self-contained: nothing fetched
    assert "<script" not in page


def test_unknown_q_and_unparsed_answers_are_caveats(tmp_path):
    rows = []
    rng = np.random.default_rng(0)
    for s in range(100, 1300, 100):
        for p in ("a", "b", "c"):
            for i in range(20):
                r = rng.random()
                text = "" if r < 0.1 else ("Paris" if s >= 700 and r < 0.8 else rng.choice(["Oslo", "Lima", "Rome"]))
                rows.append({"checkpoint": f"step{s}", "prompt": p, "sample": i, "text": text})
    path = tmp_path / "cities.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pk.open_samples(path, text="text", encoder="exact")
        rep = pk.analyze(ds, progress=False, n_bootstrap=50)
    block = rep.summary()
    assert block["q_known"] is False
    table = pk.ingest.audit_table(ds)
    rates = rep.to_dict()["parse_rates"]
    assert [r["checkpoint"] for r in rates] == table["checkpoint"].astype(str).tolist()
    np.testing.assert_allclose([r["parse_rate"] for r in rates], table["parsed"] / table["generations"])
    unparsed = table["unparsed"].sum() / table["generations"].sum()
    assert block["unparsed_rate"] == pytest.approx(unparsed)
    assert any(f"{100 * unparsed:.1f}%" in c for c in block["caveats"])
    assert any("q (the size of the answer space) is unknown" in c for c in block["caveats"])


def test_report_pickles_and_compares_equal(run):
    _, _, rep = run
    back = pickle.loads(pickle.dumps(rep))
    assert back == rep
    changed = pickle.loads(pickle.dumps(rep))
    changed.order["entropy"].values[0] += 1.0
    assert changed != rep
