"""format="openai-batch": OpenAI Batch API / vLLM run_batch output (tests/fixtures/openai_batch).

The fixtures are hand-written to the documented schema (README there); the truth is
``truth.json`` (the prompts and texts per custom_id) and the failure plan below.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from phasekit import SchemaError
from phasekit.ingest.formats import detect_format
from phasekit.ingest.formats import openai_batch as ob

FIX = Path(__file__).parent / "fixtures" / "openai_batch"
TRUTH = json.loads((FIX / "truth.json").read_text())
CHAT_REQ = str(FIX / "chat_requests.jsonl")
BATCH = [FIX / "chat_output.jsonl", FIX / "chat_errors.jsonl"]
#: custom_id -> what the fixture made of it (None: succeeded)
PLAN = {"q-1": None, "q-2": None, "q-3": "HTTP 500", "q-4": "batch_expired", "q-5": "no output line",
        "q-6": "HTTP 400"}


def _chat_rows():
    frames = [ob.read(p, fields={}, options={"requests": CHAT_REQ, "batch": BATCH}) for p in BATCH]
    import pandas as pd

    return pd.concat([f.rows for f in frames], ignore_index=True), frames


def test_chat_batch_every_generation_and_every_failure():
    rows, _ = _chat_rows()
    n = TRUTH["chat_n"]
    assert len(rows) == n * len(PLAN)                      # six requests x n=3, none dropped
    ok = rows[rows["failure"].isna()]
    want = Counter((TRUTH["chat"][c]["prompt"], t) for c in PLAN if PLAN[c] is None for t in TRUTH["chat"][c]["texts"])
    assert Counter(zip(ok["prompt"], ok["text"], strict=True)) == want
    for cid, reason in PLAN.items():
        g = rows[rows["custom_id"] == cid]
        assert sorted(g["sample"]) == list(range(n))
        if reason is None:
            assert list(g.sort_values("sample")["text"]) == TRUTH["chat"][cid]["texts"]
        else:
            assert g["text"].isna().all() and g["failure"].str.contains(reason).all()
    assert set(rows["model"]) == {TRUTH["chat_model"]}     # failures carry the request's model
    assert rows["checkpoint"].isna().all()                 # left to name_pattern in the core


def test_missing_custom_id_counted_once_across_output_and_error_files():
    rows, frames = _chat_rows()
    missing = rows[rows["failure"].fillna("").str.startswith("no output line")]
    assert set(missing["custom_id"]) == {"q-5"} and len(missing) == 3
    assert [f.meta["n_missing_requests"] for f in frames] == [0, 1]


def test_batch_option_ignores_files_of_other_formats():
    inspect_log = FIX.parent / "inspect/zstd/sft-step100.eval"
    f = ob.read(FIX / "chat_errors.jsonl", fields={},
                options={"requests": CHAT_REQ, "batch": [inspect_log, FIX / "chat_requests.jsonl", *BATCH]})
    assert f.meta["n_missing_requests"] == 1                 # q-5 only: q-1..q-3 are in chat_output


def test_output_file_alone_counts_the_error_files_requests_as_missing():
    f = ob.read(FIX / "chat_output.jsonl", fields={}, options={"requests": CHAT_REQ})
    missing = f.rows[f.rows["failure"].fillna("").str.startswith("no output line")]
    assert set(missing["custom_id"]) == {"q-4", "q-5", "q-6"}
    assert f.meta["n_missing_requests"] == 3 and f.meta["n_failed"] == 3 * 4


def test_without_requests_prompt_is_custom_id_and_failures_count_once():
    f = ob.read(FIX / "chat_output.jsonl", fields={}, options={})
    assert set(f.rows["prompt"]) == {"q-1", "q-2", "q-3"}
    assert f.meta["prompt_from"].startswith("custom_id")
    assert len(f.rows[f.rows["custom_id"] == "q-3"]) == 1  # n unknown without the request
    assert set(f.rows["model"]) == {TRUTH["chat_model"]}


def test_completions_vllm_output_missing_choice_is_a_failed_row(tmp_path):
    req = tmp_path / "req.jsonl"
    req.write_text((FIX / "completions_requests.jsonl").read_text())
    f = ob.read(FIX / "completions_output.jsonl", fields={}, options={"requests": [str(req)]})
    rows = f.rows
    assert len(rows) == TRUTH["completions_n"] * 2
    for cid, t in TRUTH["completions"].items():
        g = rows[rows["custom_id"] == cid].sort_values("sample")
        assert list(g["text"].dropna()) == t["texts"] and (g["prompt"] == t["prompt"]).all()
    bad = rows[rows["failure"].notna()]
    assert list(zip(bad["custom_id"], bad["sample"], strict=True)) == [("c-2", 1)]
    assert "choice 1 missing" in bad["failure"].iloc[0]
    assert set(rows["model"]) == {TRUTH["completions_model"]}


def test_user_fields_from_line_and_request_roots():
    f = ob.read(FIX / "chat_output.jsonl", fields={"prompt": "request.body.messages.0.content",
                                                   "model": "response.request_id"},
                options={"requests": CHAT_REQ})
    ok = f.rows[f.rows["failure"].isna()]
    assert set(ok["prompt"]) == {TRUTH["chat"]["q-1"]["prompt"], TRUTH["chat"]["q-2"]["prompt"]}
    assert set(ok["model"]) == {"req_q-1", "req_q-2"}
    with pytest.raises(SchemaError, match="needs the requests file"):
        ob.read(FIX / "chat_output.jsonl", fields={"prompt": "request.body.x"}, options={})


def test_output_line_without_request_is_an_error(tmp_path):
    req = tmp_path / "req.jsonl"
    req.write_text("".join(ln for ln in (FIX / "chat_requests.jsonl").read_text().splitlines(True)
                           if '"q-1"' not in ln))
    with pytest.raises(SchemaError, match="q-1") as err:
        ob.read(FIX / "chat_output.jsonl", fields={}, options={"requests": str(req)})
    assert "chat_output.jsonl, line 2" in str(err.value)


def test_duplicate_custom_id_is_an_error(tmp_path):
    p = tmp_path / "dup.jsonl"
    line = (FIX / "chat_output.jsonl").read_text().splitlines()[0]
    p.write_text(line + "\n" + line + "\n")
    with pytest.raises(SchemaError, match="twice"):
        ob.read(p, fields={}, options={})


def test_detection():
    for name in ("chat_output.jsonl", "chat_errors.jsonl", "completions_output.jsonl"):
        assert ob.detect(FIX / name) and detect_format(FIX / name) == "openai-batch"
    for name in ("chat_requests.jsonl", "completions_requests.jsonl", "truth.json", "README.md"):
        assert not ob.detect(FIX / name)


def test_end_to_end_open_samples_when_available():
    import phasekit as pk

    try:
        ds = pk.open_samples([str(p) for p in BATCH], format="openai-batch", requests=CHAT_REQ,
                             encoder="integer", states=list(range(1, 11)),
                             name_pattern=r"(?P<model>.+):(?P<checkpoint>ckpt-step-\d+)$")
    except (ImportError, NotImplementedError) as err:
        pytest.skip(f"core not ready: {err}")
    assert ds.attrs["n_generations"] == 18 and ds.attrs["n_failed"] == 12 and ds.attrs["n_parsed"] == 6


def test_end_to_end_output_file_with_requests_detected():
    import phasekit as pk

    ds = pk.open_samples(str(FIX / "chat_output.jsonl"), requests=CHAT_REQ, encoder="integer",
                         states=list(range(1, 11)), name_pattern=r"(?P<model>.+):(?P<checkpoint>ckpt-step-\d+)$")
    assert ds.attrs["format"] == "openai-batch"
    assert ds.attrs["n_generations"] == 18 and ds.attrs["n_failed"] == 12 and ds.attrs["n_parsed"] == 6
    assert list(ds["checkpoint"].values) == ["ckpt-step-100"]
    q2 = ds["token"].sel(prompt=TRUTH["chat"]["q-2"]["prompt"]).squeeze()
    assert [str(ds["state"].values[i]) for i in q2.values] == ["4", "4", "10"]
