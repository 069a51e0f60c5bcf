"""The lm-eval reader on output written by the real lm-evaluation-harness (0.4.13).

Fixtures: ``tests/fixtures/lmeval/make_fixtures.py`` (run by hand in its own venv); the
ground truth ``truth.json`` was recorded by the model class while it generated, not read
back from the harness's files.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from phasekit import SchemaError
from phasekit.ingest.formats import lmeval

FIX = Path(__file__).parent / "fixtures" / "lmeval"
OUT = FIX / "out"
TRUTH = json.loads((FIX / "truth.json").read_text())


def _multisets(rows) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for m, c, d, t in zip(rows["model"], rows["checkpoint"], rows["doc_id"], rows["text"], strict=True):
        out.setdefault(f"{m}|{c}|{d}", Counter())[t] += 1
    return out


def test_every_generation_recovered_per_model_checkpoint_doc():
    frame = lmeval.read(OUT, fields={}, options={})
    assert _multisets(frame.rows) == {k: Counter(v) for k, v in TRUTH.items()}
    assert len(frame.rows) == sum(len(v) for v in TRUTH.values()) == 2 * 3 * 6 * 5
    assert frame.rows["failure"].isna().all()


def test_docs_logged_once_per_filter_count_once_and_samples_are_repeat_indices():
    frame = lmeval.read(OUT, fields={}, options={})
    for run in frame.meta["runs"]:
        assert run["filters"] == {"strict-digit": 6, "first-digit": 6}   # each doc logged twice
        assert run["n_generations"] == 30                                  # but read once
    per_doc = frame.rows.groupby(["model", "checkpoint", "doc_id"])["sample"].apply(sorted)
    assert all(s == [0, 1, 2, 3, 4] for s in per_doc)


def test_checkpoint_model_task_prompt_from_model_args_string_and_dict():
    frame = lmeval.read(OUT, fields={}, options={})
    runs = frame.meta["runs"]
    assert {(r["model"], r["checkpoint"]) for r in runs} == {
        (m, c) for m in ("org/Tiny-1B", "org/Tiny-7B")
        for c in ("stage1-step1000-tokens4B", "stage1-step2000-tokens8B", "sft-step100")}
    assert {type(r["model_args"]).__name__ for r in runs} == {"str", "dict"}
    assert all(r["checkpoint_from"] == "model_args revision=" for r in runs)
    assert set(frame.rows["task"]) == {"pick_number"}
    questions = [json.loads(x)["question"] for x in (FIX / "task" / "docs.jsonl").read_text().splitlines()]
    for d, p in zip(frame.rows["doc_id"], frame.rows["prompt"], strict=True):
        assert p == questions[d] + "\nAnswer:"


def test_filtered_resps_needs_a_filter_and_reads_that_filter():
    with pytest.raises(SchemaError, match="first-digit"):
        lmeval.read(OUT, fields={}, options={"responses": "filtered_resps"})
    strict = lmeval.read(OUT, fields={}, options={"responses": "filtered_resps:strict-digit"}).rows
    first = lmeval.read(OUT, fields={}, options={"responses": "filtered_resps", "filter": "first-digit"}).rows
    assert len(strict) == 180 and len(first) == 36                      # take_first keeps one per doc
    import re
    expect = Counter()
    for key, texts in TRUTH.items():
        m, c, _ = key.split("|")
        expect.update((m, c, re.findall(r"\d+", t)[-1]) for t in texts)
    assert Counter(zip(strict["model"], strict["checkpoint"], strict["text"], strict=True)) == expect
    with pytest.raises(SchemaError, match="no filter 'nope'"):
        lmeval.read(OUT, fields={}, options={"responses": "filtered_resps:nope"})


def test_detection():
    assert lmeval.detect(OUT) and lmeval.detect(OUT / "org__Tiny-1B")
    one = next((OUT / "org__Tiny-1B").glob("samples_*.jsonl"))
    assert lmeval.detect(one)
    assert not lmeval.detect(FIX / "task") and not lmeval.detect(FIX / "truth.json")
    assert not lmeval.detect(FIX / "task" / "docs.jsonl")


def test_single_samples_file_matches_its_own_results_file():
    files = sorted((OUT / "org__Tiny-7B").glob("samples_*.jsonl"))
    for f in files:
        res = json.loads(f.with_name(f.name.replace("samples_pick_number_", "results_")
                                     .replace(".jsonl", ".json")).read_text())
        rows = lmeval.read(f, fields={}, options={}).rows
        assert set(rows["checkpoint"]) == {res["config"]["model_args"]["revision"]}
        assert set(rows["file"]) == {str(f)}


def test_no_results_file_falls_back_to_folder_name(tmp_path):
    src = next((OUT / "org__Tiny-1B").glob("samples_*.jsonl"))
    dst = tmp_path / "stage2-step300" / src.name
    dst.parent.mkdir()
    shutil.copy(src, dst)
    frame = lmeval.read(dst, fields={}, options={})
    assert set(frame.rows["checkpoint"]) == {"stage2-step300"}
    assert frame.meta["runs"][0]["checkpoint_from"] == "folder name"
    assert frame.rows["model"].isna().all()


def test_field_overrides_are_dotted_paths_into_each_line():
    frame = lmeval.read(OUT, fields={"prompt": "doc.question", "task": "doc.target"}, options={})
    assert set(frame.rows["task"]) == {"7"}
    assert frame.rows["prompt"].iloc[0] == "Pick a random number between 1 and 10."
    with pytest.raises(SchemaError, match=r"doc\.\*|\*"):
        lmeval.read(OUT, fields={"prompt": "resps"}, options={})


def _copy_run(tmp_path: Path) -> Path:
    src = next((OUT / "org__Tiny-1B").glob("samples_*.jsonl"))
    d = tmp_path / "org__Tiny-1B"
    d.mkdir()
    shutil.copy(src, d / src.name)
    res = src.with_name(src.name.replace("samples_pick_number_", "results_").replace(".jsonl", ".json"))
    shutil.copy(res, d / res.name)
    return d / src.name


def test_truncated_and_malformed_files_name_file_and_line(tmp_path):
    f = _copy_run(tmp_path)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 40])                   # cut inside the last line
    with pytest.raises(SchemaError) as err:
        lmeval.read(f.parent, fields={}, options={})
    assert f.name in str(err.value) and "line 12" in str(err.value)
    f.write_bytes(b'{"doc_id": 0, "resps": [[{"x": 1}]], "filtered_resps": [], "arguments": {}}\n')
    with pytest.raises(SchemaError, match="loglikelihood") as err:
        lmeval.read(f, fields={}, options={})
    assert f.name in str(err.value)
    f.write_bytes(b'[1, 2]\n')
    with pytest.raises(SchemaError, match="line 1"):
        lmeval.read(f, fields={}, options={})


def test_disagreeing_resps_across_filters_is_an_error(tmp_path):
    f = _copy_run(tmp_path)
    lines = f.read_text().splitlines()
    last = json.loads(lines[-1])
    last["resps"][0][0] = "tampered"
    f.write_text("\n".join(lines[:-1] + [json.dumps(last)]) + "\n")
    with pytest.raises(SchemaError, match="differ") as err:
        lmeval.read(f, fields={}, options={})
    assert f.name in str(err.value)


def test_results_file_malformed_names_it(tmp_path):
    f = _copy_run(tmp_path)
    res = next(f.parent.glob("results_*.json"))
    res.write_text('{"config": {"model_args": ')
    with pytest.raises(SchemaError) as err:
        lmeval.read(f, fields={}, options={})
    assert res.name in str(err.value)


def test_open_samples_end_to_end_detects_and_reads_every_answer():
    import re

    import numpy as np

    import phasekit as pk

    ds = pk.open_samples(OUT, encoder="integer", states=list(range(1, 11)))
    assert ds.attrs["format"] == "lm-eval" and ds.attrs["n_unparsed"] == 0
    assert list(ds["checkpoint"].values) == ["stage1-step1000-tokens4B", "stage1-step2000-tokens8B", "sft-step100"]
    labels = np.asarray(ds["state"].values).astype(str)
    for m in ds["model"].values:
        for c in ds["checkpoint"].values:
            tok = ds["token"].sel(model=m, checkpoint=c).values.ravel()
            got = Counter(labels[t] for t in tok if t >= 0)
            want = Counter(re.findall(r"\d+", t)[-1] for d in range(6) for t in TRUTH[f"{m}|{c}|{d}"])
            assert got == want
