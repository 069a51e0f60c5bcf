"""format="inspect": logs written by the real Inspect AI (tests/fixtures/inspect/make_fixtures.py).

Truth is ``truth.json``: what the mock model returned, per (sample id, epoch), as Inspect's
own ``read_eval_log`` saw it and checked against the generator's record.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from phasekit import SchemaError
from phasekit.ingest.formats import detect_format
from phasekit.ingest.formats import inspect as insp

FIX = Path(__file__).parent / "fixtures" / "inspect"
TRUTH = json.loads((FIX / "truth.json").read_text())
LOGS = sorted(TRUTH["logs"])


def _read(rel: str, **fields: str):
    return insp.read(FIX / rel, fields=fields, options={})


@pytest.mark.parametrize("rel", LOGS)
def test_every_generation_recovered_nothing_invented(rel):
    truth = TRUTH["logs"][rel]
    rows = _read(rel).rows
    want = Counter((s["id"], s["epoch"], t) for s in truth["samples"].values() for t in s["texts"])
    ok = rows[rows["failure"].isna()]
    got = Counter(zip(ok["prompt"], ok["epoch"], ok["text"], strict=True))
    assert got == want
    errors = {(s["id"], s["epoch"]) for s in truth["samples"].values() if s["error"]}
    failed = rows[rows["failure"].notna()]
    assert set(zip(failed["prompt"], failed["epoch"], strict=True)) == errors
    assert len(failed) == len(errors)          # one failed row per errored sample-epoch
    assert failed["text"].isna().all() and failed["failure"].str.startswith("sample error:").all()
    assert (rows["model"] == truth["model"]).all() and (rows["task"] == truth["task"]).all()
    assert (rows["checkpoint"] == truth["checkpoint"]).all()


def test_errored_sample_is_a_failed_row_with_the_message():
    rows = _read("zstd/sft-step100.eval").rows
    bad = rows[rows["failure"].notna()]
    assert len(bad) == 1 and bad["prompt"].iloc[0] == "4" and bad["epoch"].iloc[0] == 2
    assert "mock backend crashed" in bad["failure"].iloc[0]


@pytest.mark.parametrize("rel", LOGS)
def test_epochs_in_order_and_sample_index_dense(rel):
    rows = _read(rel).rows
    for _, g in rows.groupby("prompt"):
        assert list(g["sample"]) == list(range(len(g)))
        assert list(g["epoch"]) == sorted(g["epoch"])
        assert set(g["epoch"]) == {1, 2, 3}
        for _, e in g.groupby("epoch"):
            assert list(e["choice"]) == list(range(len(e)))


def test_two_choices_per_generation_are_two_samples():
    truth = TRUTH["logs"]["zstd/sft-step100.eval"]["samples"]
    rows = _read("zstd/sft-step100.eval").rows
    three = rows[rows["prompt"] == "3"]
    assert len(three) == 6
    assert list(three["text"]) == [t for e in (1, 2, 3) for t in truth[f"3|{e}"]["texts"]]


def test_deflate_and_zstd_archives_read_alike():
    z = _read("zstd/stage1-step1000-tokens4B.eval")
    d = _read("deflate/stage1-step1000-tokens4B.eval")
    assert len(z.rows) == len(d.rows) == 18
    with zipfile.ZipFile(FIX / "deflate/stage1-step1000-tokens4B.eval") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    with zipfile.ZipFile(FIX / "zstd/stage1-step1000-tokens4B.eval") as zf:
        assert {i.compress_type for i in zf.infolist()} == {93}


def test_checkpoint_defaults_and_where_they_came_from():
    assert _read("zstd/sft-step100.eval").meta["checkpoint_from"] == "eval.model_args.revision"
    js = _read("json/stage1-step2000-tokens8B.json")
    assert js.meta["checkpoint_from"] == "eval.metadata.checkpoint"
    assert (js.rows["checkpoint"] == "stage1-step2000-tokens8B").all()
    assert js.meta["prompt_from"].startswith("sample.id")


def test_user_fields_from_header_and_sample_roots():
    f = _read("zstd/sft-step100.eval", checkpoint="eval.task", prompt="sample.target")
    assert (f.rows["checkpoint"] == "pick_number").all()
    assert set(f.rows["prompt"]) == {"7"}                        # every sample's target
    assert list(f.rows["sample"]) == list(range(len(f.rows)))   # one prompt: numbered on
    assert f.meta["checkpoint_from"] == "eval.task" and f.meta["prompt_from"] == "sample.target"
    t = _read("zstd/sft-step100.eval", text="sample.output.completion")
    ok = t.rows[t.rows["failure"].isna()]
    assert len(t.rows) == 15 and len(ok) == 14               # completion: the first choice only
    with pytest.raises(SchemaError, match="sample.output.completion"):
        _read("zstd/sft-step100.eval", text="output.completion")
    with pytest.raises(SchemaError, match="eval.metadata.nothing"):
        _read("zstd/sft-step100.eval", checkpoint="eval.metadata.nothing")


def test_disagreeing_checkpoint_locations_are_an_error(tmp_path):
    log = json.loads((FIX / "json/stage1-step2000-tokens8B.json").read_text())
    log["eval"]["model_args"]["revision"] = "main"
    p = tmp_path / "two.json"
    p.write_text(json.dumps(log))
    with pytest.raises(SchemaError, match="several checkpoints") as err:
        insp.read(p, fields={}, options={})
    assert "checkpoint=" in str(err.value)
    assert insp.read(p, fields={"checkpoint": "eval.metadata.checkpoint"}, options={}).rows["checkpoint"].eq(
        "stage1-step2000-tokens8B").all()


def test_missing_epochs_of_an_unfinished_log_are_failed_rows(tmp_path):
    log = json.loads((FIX / "json/stage1-step2000-tokens8B.json").read_text())
    log["status"] = "cancelled"
    log["samples"] = [s for s in log["samples"] if not (s["id"] == "chat" and s["epoch"] == 3)]
    p = tmp_path / "cut.json"
    p.write_text(json.dumps(log))
    f = insp.read(p, fields={}, options={})
    miss = f.rows[f.rows["failure"].fillna("").str.startswith("missing from the log")]
    assert list(zip(miss["prompt"], miss["epoch"], miss["sample"], strict=True)) == [("chat", 3, 2)]
    assert "cancelled" in miss["failure"].iloc[0] and f.meta["n_missing"] == 1


def test_superseded_member_last_entry_wins(tmp_path):
    src = FIX / "deflate/stage1-step1000-tokens4B.eval"
    p = tmp_path / "relogged.eval"
    shutil.copy(src, p)
    with zipfile.ZipFile(src) as zf:
        sample = json.loads(zf.read("samples/1_epoch_1.json"))
    sample["output"]["choices"][0]["message"]["content"] = "relogged 5"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # zipfile warns on the duplicate name
        with zipfile.ZipFile(p, "a", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("samples/1_epoch_1.json", json.dumps(sample))
    rows = insp.read(p, fields={}, options={}).rows
    first = rows[(rows["prompt"] == "1") & (rows["epoch"] == 1)]
    assert list(first["text"]) == ["relogged 5"] and len(rows) == 18


@pytest.mark.parametrize("rel", LOGS)
def test_detected_as_inspect(rel):
    assert insp.detect(FIX / rel)
    assert detect_format(FIX / rel) == "inspect"


def test_not_detected_on_other_json(tmp_path):
    p = tmp_path / "table.json"
    p.write_text(json.dumps([{"checkpoint": "a", "text": "3"}]))
    assert not insp.detect(p)
    assert not insp.detect(FIX / "truth.json")


def test_end_to_end_open_samples_when_available():
    import phasekit as pk

    if not hasattr(pk, "open_samples"):
        pytest.skip("open_samples not available")
    paths = [str(FIX / "zstd" / f"{c}.eval") for c in ("stage1-step1000-tokens4B", "stage1-step2000-tokens8B",
                                                      "sft-step100")]
    try:
        ds = pk.open_samples(paths, format="inspect",
                             encoder="integer", states=list(range(1, 11)))
    except (ImportError, NotImplementedError) as err:     # the core is still being written
        pytest.skip(f"core not ready: {err}")
    assert ds.attrs["n_generations"] == 3 * 18
    assert ds.attrs["n_failed"] == 3


def test_log_still_being_written_reads_from_the_journal(tmp_path):
    """No header.json yet: the header is _journal/start.json and unrun epochs are missing rows."""
    src = FIX / "deflate/stage1-step1000-tokens4B.eval"
    p = tmp_path / "running.eval"
    keep = ("_journal/start.json", "samples/1_epoch_1.json", "samples/2_epoch_1.json")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in keep:
            zout.writestr(name, zin.read(name))
    f = insp.read(p, fields={}, options={})
    assert f.meta["header_member"] == "_journal/start.json" and f.meta["status"] is None
    truth = TRUTH["logs"]["deflate/stage1-step1000-tokens4B.eval"]["samples"]
    ok = f.rows[f.rows["failure"].isna()]
    assert list(zip(ok["prompt"], ok["text"], strict=True)) == [("1", truth["1|1"]["texts"][0]),
                                                                ("2", truth["2|1"]["texts"][0])]
    assert len(f.rows) == 15 and f.meta["n_missing"] == 13
    assert (f.rows["checkpoint"] == "stage1-step1000-tokens4B").all()


def test_content_lists_reasoning_only_choices_and_missing_sample_paths(tmp_path):
    log = json.loads((FIX / "json/stage1-step2000-tokens8B.json").read_text())
    first, second = log["samples"][0], log["samples"][1]
    first["output"]["choices"][0]["message"]["content"] = [
        {"type": "reasoning", "reasoning": "thinking 3"}, {"type": "text", "text": "Final: "},
        {"type": "text", "text": "8"}]
    second["output"]["choices"][0]["message"]["content"] = [{"type": "reasoning", "reasoning": "only 5"}]
    p = tmp_path / "content.json"
    p.write_text(json.dumps(log))
    rows = insp.read(p, fields={}, options={}).rows
    r0 = rows[(rows["prompt"] == str(first["id"])) & (rows["epoch"] == first["epoch"]) & (rows["choice"] == 0)]
    assert list(r0["text"]) == ["Final: 8"]                        # reasoning left out
    r1 = rows[(rows["prompt"] == str(second["id"])) & (rows["epoch"] == second["epoch"]) & (rows["choice"] == 0)]
    assert r1["text"].isna().all() and r1["failure"].str.contains("reasoning or tool calls only").all()
    assert len(rows) == 9                                          # nothing dropped
    with pytest.raises(SchemaError, match="sample.metadata.step"):
        insp.read(p, fields={"step": "sample.metadata.step"}, options={})
