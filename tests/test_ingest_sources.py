"""Sources as labs have them: dotted paths, lists of samples, folders, globs, hostile files (issue 13)."""

import json
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phasekit as pk
from phasekit.ingest import audit_table
from phasekit.ingest.paths import get_path, get_samples


def _write_jsonl(path, records):
    with open(path, "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    return path


def _lab_records(n_ck=3, n_prompts=2, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    recs, truth = [], {}
    for c in range(n_ck):
        for p in range(n_prompts):
            outs = [int(x) for x in rng.integers(1, 11, n_out)]
            truth[(f"step{100 * (c + 1)}", f"p{p}")] = outs
            recs.append({"meta": {"ckpt": f"step{100 * (c + 1)}"}, "prompt": {"id": f"p{p}"},
                         "outputs": [{"text": f"My answer: {x}", "token_ids": [x, x + 1][: 1 + (x % 2)]}
                                     for x in outs]})
    return recs, truth


def test_star_path_reads_every_item_as_a_sample(tmp_path):
    recs, truth = _lab_records()
    path = _write_jsonl(tmp_path / "lab.jsonl", recs)
    ds = pk.open_samples(path, text="outputs.*.text", checkpoint="meta.ckpt", prompt="prompt.id",
                         encoder="integer", states=list(range(1, 11)))
    assert ds.sizes["sample"] == 4 and ds.attrs["n_generations"] == 3 * 2 * 4
    labels = ds["state"].values
    for (ck, pr), outs in truth.items():
        got = [int(labels[t]) for t in ds["token"].sel(checkpoint=ck, prompt=pr).values]
        assert got == outs                       # every generation, in order, nothing invented


def test_star_path_for_token_ids_gives_sequences(tmp_path):
    recs, truth = _lab_records()
    path = _write_jsonl(tmp_path / "lab.jsonl", recs)
    ds = pk.open_samples(path, token="outputs.*.token_ids", checkpoint="meta.ckpt", prompt="prompt.id")
    assert ds["token"].dims == ("checkpoint", "prompt", "sample", "position")
    for (ck, pr), outs in truth.items():
        seqs = ds["token"].sel(checkpoint=ck, prompt=pr).values
        for x, seq in zip(outs, seqs, strict=True):
            assert seq[seq >= 0].tolist() == [x, x + 1][: 1 + (x % 2)]


def test_a_list_where_a_scalar_is_expected_names_the_star_path(tmp_path):
    recs, _ = _lab_records()
    path = _write_jsonl(tmp_path / "lab.jsonl", recs)
    with pytest.raises(pk.SchemaError, match=r"outputs\.\*\.text"):
        pk.open_samples(path, text="outputs.text", checkpoint="meta.ckpt", prompt="prompt.id", encoder="integer")
    with pytest.raises(pk.SchemaError, match=r"prompt\.<field>"):     # an object where a value is expected
        pk.open_samples(path, text="outputs.*.text", checkpoint="meta.ckpt", encoder="integer")
    rows = [{"checkpoint": "step1", "resps": ["3", "7", "1"]}]
    with pytest.raises(pk.SchemaError, match=r"resps\.\*"):
        pk.open_samples(rows, text="resps", encoder="integer")


def test_missing_named_field_is_an_error_with_the_fields_present(tmp_path):
    path = _write_jsonl(tmp_path / "a.jsonl", [{"checkpoint": "step1", "answer": "3"}])
    with pytest.raises(pk.SchemaError, match="'text'.*missing|missing.*answer") as err:
        pk.open_samples(path, text="text", encoder="integer")
    assert "answer" in str(err.value)


def test_get_path_and_samples_unit():
    rec = {"a": {"b": [{"c": 1}, {"c": 2}, {}]}, "x": [5, 6]}
    vals = get_samples(rec, "a.b.*.c")
    assert vals[:2] == [1, 2] and repr(vals[2]) == "MISSING"
    assert get_path(rec, "x.1") == 6
    with pytest.raises(pk.SchemaError, match=r"x\.\*"):
        get_path(rec, "x")
    with pytest.raises(pk.SchemaError, match="more than one"):
        get_samples(rec, "a.*.b.*")


def _per_checkpoint_files(tmp_path, layout):
    for c in (100, 200, 300):
        d = tmp_path / "run" / f"step{c}" if layout == "folders" else tmp_path / "run"
        d.mkdir(parents=True, exist_ok=True)
        name = "gens.jsonl" if layout == "folders" else f"gens-step{c}.jsonl"
        _write_jsonl(d / name, [{"prompt": "p", "token": int(c // 100 + i)} for i in range(3)])
    return tmp_path / "run"


@pytest.mark.parametrize("layout", ["folders", "files"])
def test_folder_of_per_checkpoint_files_with_checkpoint_from_the_path(tmp_path, layout):
    root = _per_checkpoint_files(tmp_path, layout)
    ds = pk.open_samples(root, name_pattern=r"(?P<checkpoint>step\d+)")
    assert ds["step"].values.tolist() == [100, 200, 300]
    assert ds["token"].sel(checkpoint="step200").values.ravel().tolist() == [2, 3, 4]
    # a glob and a list of files read the same
    files = sorted(str(p) for p in root.rglob("*.jsonl"))
    ds_glob = pk.open_samples(str(root) + "/**/*.jsonl", name_pattern=r"(?P<checkpoint>step\d+)")
    ds_list = pk.open_samples(files, name_pattern=r"(?P<checkpoint>step\d+)")
    assert ds_glob["token"].equals(ds["token"]) and ds_list["token"].equals(ds["token"])


def test_symlink_loop_in_a_folder_terminates(tmp_path):
    root = _per_checkpoint_files(tmp_path, "folders")
    os.symlink(root, root / "step100" / "loop")
    ds = pk.open_samples(root, name_pattern=r"(?P<checkpoint>step\d+)")
    assert ds.attrs["n_generations"] == 9                # each file once


def test_empty_folder_and_unmatched_glob(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(pk.SchemaError, match="no readable files"):
        pk.open_samples(tmp_path / "empty")
    with pytest.raises(pk.SchemaError, match="glob matches no file"):
        pk.open_samples(str(tmp_path / "nothing-*.jsonl"))


def test_deep_nesting_is_a_schema_error_naming_the_file(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"checkpoint": "step1", "token": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(pk.SchemaError, match="deep.jsonl") as err:
        pk.open_samples(path)
    assert "nested" in str(err.value)


def test_huge_line_is_refused_without_reading_it(tmp_path):
    from phasekit.ingest import jsonio

    path = tmp_path / "huge.jsonl"
    with open(path, "w") as fh:
        fh.write('{"checkpoint": "step1", "text": "' + "x" * (3 << 20) + '"}\n')
    with pytest.raises(pk.SchemaError, match="huge.jsonl, line 1"):
        list(jsonio.iter_jsonl(path, max_line_bytes=1 << 20))


@pytest.mark.slow
def test_one_gigabyte_single_line_json_is_refused_with_bounded_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "giant.jsonl"
    chunk = "x" * (1 << 24)
    with open(path, "w") as fh:
        fh.write('{"checkpoint": "step1", "text": "')
        for _ in range(64):                              # 1 GiB of one string
            fh.write(chunk)
        fh.write('"}\n')
    tracemalloc.start()
    with pytest.raises(pk.SchemaError, match="longer than"):
        pk.open_samples(path, text="text", encoder="exact")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200 * 2**20                            # the 64 MiB line limit, not the 1 GiB line


def test_failed_generations_counted_never_dropped():
    rows = [{"checkpoint": "step1", "prompt": "p", "token": 3},
            {"checkpoint": "step1", "prompt": "p", "token": None, "error": "HTTP 500"},
            {"checkpoint": "step1", "prompt": "p", "token": 4}]
    ds = pk.open_samples(rows, failure="error")
    assert ds.attrs["n_generations"] == 3 and ds.attrs["n_failed"] == 1 and ds.attrs["n_parsed"] == 2
    assert ds["token"].values.ravel().tolist() == [3, -1, 4]
    table = audit_table(ds)
    assert table.loc[0, "failed"] == 1 and table.loc[0, "generations"] == 3


# ----------------------------------------------------------------- property: nothing is lost
_answers = st.one_of(st.integers(-3, 14).map(str), st.sampled_from(["", "seven", "3.5", "7 or 8", "x"]),
                     st.none())


@st.composite
def _nested_records(draw):
    recs = []
    for c in range(draw(st.integers(1, 3))):
        for _ in range(draw(st.integers(1, 3))):
            outs = draw(st.lists(_answers, min_size=0, max_size=5))
            recs.append({"run": {"ckpt": f"step{c + 1}"}, "prompt": draw(st.sampled_from(["a", "b"])),
                         "gens": [{"out": {"text": o}} for o in outs]})
    return recs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_nested_records())
def test_samples_in_equal_parsed_plus_unparsed_plus_failed(recs):
    n_in = sum(len(r["gens"]) for r in recs)
    if n_in == 0:
        with pytest.raises(pk.SchemaError, match="no generations"):
            pk.open_samples(recs, text="gens.*.out.text", checkpoint="run.ckpt", encoder="integer")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pk.open_samples(recs, text="gens.*.out.text", checkpoint="run.ckpt", encoder="integer",
                             states=list(range(1, 11)))
    a = ds.attrs
    assert a["n_generations"] == n_in
    assert a["n_parsed"] + a["n_unparsed"] + a["n_failed"] == n_in
    assert int((ds["token"].values >= 0).sum()) == a["n_parsed"]
    assert sum(json.loads(a["unparsed_reasons"]).values()) == a["n_unparsed"]
    table = audit_table(ds)
    assert int(table["generations"].sum()) == n_in


def test_integer_list_answers_become_sequences_counted_per_item():
    rows = [{"checkpoint": "step1", "prompt": "p", "text": t}
            for t in ("Here are ten numbers: 4, 8, 15", "[3, 7, 1]", "3\n7\n1\n9", "1, 2.5, 99", "no idea")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pk.open_samples(rows, text="text", encoder="integer-list", states=list(range(1, 21)))
    assert ds["token"].dims == ("checkpoint", "prompt", "sample", "position")
    labels = ds["state"].values
    seqs = [[int(labels[t]) if t >= 0 else None for t in row] for row in ds["token"].values[0, 0]]
    assert seqs[0][:3] == [4, 8, 15] and seqs[1][:3] == [3, 7, 1] and seqs[2] == [3, 7, 1, 9]
    assert seqs[3][:3] == [1, None, None]               # 2.5 decimal, 99 out of space: unparsed items
    reasons = json.loads(ds.attrs["unparsed_reasons"])
    assert reasons.get("decimal") == 1 and reasons.get("out of space") == 1
    # items: 3 + 3 + 4 + 3 + (one unreadable answer counted as one item)
    assert ds.attrs["n_parsed"] + ds.attrs["n_unparsed"] == 14
    assert ds.attrs["n_generations"] == 5


def test_a_checkpoint_with_no_parsed_answer_is_named_at_error_level():
    from phasekit.ingest.audit import DataQualityWarning

    rows = [{"checkpoint": "step1", "text": "7"}, {"checkpoint": "step2", "text": "dunno"}]
    with pytest.warns(DataQualityWarning, match="ERROR-LEVEL.*step2"):
        pk.open_samples(rows, text="text", encoder="integer")


def test_max_unparsed_fraction_decides_between_warning_and_error():
    rows = [{"checkpoint": "step1", "text": t} for t in ("7", "3", "7 or 8", "5")]
    with pytest.warns(UserWarning, match="1 of 4 answers"):
        pk.open_samples(rows, text="text", encoder="integer", max_unparsed=0.3)
    with pytest.raises(pk.SchemaError, match="max_unparsed="):
        pk.open_samples(rows, text="text", encoder="integer", max_unparsed=0.2)


def test_exact_encoder_normalises_open_answers():
    rows = [{"checkpoint": "step1", "text": t} for t in ("Paris", "paris", "Paris.", " PARIS ", "Lyon")]
    ds = pk.open_samples(rows, text="text", encoder="exact")
    assert ds.sizes["state"] == 2
    raw = pk.open_samples(rows, text="text", encoder="exact", normalize=False)
    assert raw.sizes["state"] == 5


def test_saved_hf_dataset_folder_reads_whole(tmp_path):
    datasets = pytest.importorskip("datasets")
    d = datasets.Dataset.from_list([{"checkpoint": f"step{s}", "prompt": "p",
                                     "outputs": [{"text": str(i % 10 + 1)} for i in range(4)]} for s in (10, 20)])
    d.save_to_disk(str(tmp_path / "saved"))
    ds = pk.open_samples(tmp_path / "saved", text="outputs.*.text", encoder="integer", states=list(range(1, 11)))
    assert ds.attrs["format"] == "hf" and ds.attrs["n_generations"] == 8
    assert ds["token"].sel(checkpoint="step20").values.ravel().tolist() == [0, 1, 2, 3]
