"""Ingestion: every format round-trips, no token lost or invented, clear errors."""

import json
import pickle
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import phasekit as pk
from phasekit.ingest import encode_answers, integer_encoder, open_samples


def _long_rows(rng, n_ck=3, n_pr=2, n_sm=4, max_len=5):
    """One row per sample with ragged token lists; also returns the multiset of tokens."""
    rows, bag = [], Counter()
    for c in range(n_ck):
        for p in range(n_pr):
            for s in range(n_sm):
                length = int(rng.integers(0, max_len + 1))
                toks = rng.integers(0, 50, size=length).tolist()
                bag.update(toks)
                rows.append({"checkpoint": f"ckpt-{(c + 1) * 1000}", "prompt": f"p{p}", "sample": s, "token": toks})
    return rows, bag


def _bag(ds):
    tok = ds["token"].values
    return Counter(tok[tok >= 0].tolist())


def test_list_of_dicts_ragged_sequences_lose_nothing():
    rows, bag = _long_rows(np.random.default_rng(0))
    ds = open_samples(rows)
    assert ds["token"].dims == ("checkpoint", "prompt", "sample", "position")
    assert _bag(ds) == bag
    np.testing.assert_array_equal(ds["step"].values, [1000, 2000, 3000])
    # every padded cell is -1 and sits after the sequence's end
    for r in rows:
        seq = ds["token"].sel(checkpoint=r["checkpoint"], prompt=r["prompt"], sample=r["sample"]).values
        assert seq[: len(r["token"])].tolist() == r["token"]
        assert (seq[len(r["token"]):] == -1).all()


@pytest.mark.parametrize("ext", [".jsonl", ".json", ".csv", ".parquet"])
def test_table_formats_round_trip(tmp_path, ext):
    rng = np.random.default_rng(1)
    rows = [{"checkpoint": f"step_{c * 10}", "step": c * 10, "prompt": f"p{p}", "sample": s,
             "position": t, "token": int(rng.integers(0, 100))}
            for c in range(1, 4) for p in range(2) for s in range(3) for t in range(4) if rng.random() > 0.1]
    df = pd.DataFrame(rows)
    path = tmp_path / f"data{ext}"
    if ext == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif ext == ".json":
        path.write_text(json.dumps(rows))
    elif ext == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path)
    ds = open_samples(path, position="position", n_states=100)
    assert int((ds["token"].values >= 0).sum()) == len(rows)  # total equals input rows
    assert _bag(ds) == Counter(df["token"].tolist())
    for r in rows[:20]:
        assert int(ds["token"].sel(checkpoint=r["checkpoint"], prompt=r["prompt"], sample=r["sample"],
                                   position=r["position"])) == r["token"]
    missing = 3 * 2 * 3 * 4 - len(rows)
    assert int((ds["token"].values == -1).sum()) == missing  # missing tokens are -1, not invented


@pytest.mark.parametrize("ext", [".nc", ".zarr"])
def test_array_stores_round_trip_lazily(tmp_path, ext, make_samples):
    ds = make_samples(n_pos=3, pad=0.1)
    path = tmp_path / f"s{ext}"
    # Zarr keeps the store's own chunks: write it one checkpoint per chunk, as pipelines should
    (ds.to_netcdf(path) if ext == ".nc" else ds.chunk({"checkpoint": 1}).to_zarr(path))
    out = open_samples(path)
    assert type(out["token"].data).__module__.startswith("dask")
    assert out["token"].data.chunks[0] == (1,) * 4  # chunked along checkpoint
    np.testing.assert_array_equal(out["token"].values, ds["token"].values)
    assert out.attrs["n_states"] == 5


def test_zarr_wrong_dtype(tmp_path, make_samples):
    ds = make_samples()
    ds["token"] = ds["token"].astype("U3")
    ds.to_zarr(tmp_path / "bad.zarr")
    with pytest.raises(pk.SchemaError, match="integer"):
        open_samples(tmp_path / "bad.zarr")


def test_text_answers_with_junk_are_counted_not_dropped():
    answers = [" 7", "7.", "The number is 4", "3.5", "", None, "42!", "  3 "]
    rows = [{"checkpoint": "ckpt-5", "sample": i, "answer": a} for i, a in enumerate(answers)]
    with pytest.warns(UserWarning, match="3 of 8 answers"):
        ds = open_samples(rows, text="answer", encoder="integer")
    assert ds.attrs["n_unparsed"] == 3
    labels = ds["state"].values.tolist()
    assert labels == ["3", "4", "7", "42"]
    decoded = [labels[t] if t >= 0 else None for t in ds["token"].values[0]]
    assert decoded == ["7", "7", "4", None, None, None, "42", "3"]
    assert ds.sizes["sample"] == len(answers)  # nothing dropped


def test_exact_encoder_and_callable():
    codes, labels, bad = encode_answers(["a", "b", "a", None], "exact")
    assert labels == ["a", "b"] and codes.tolist() == [0, 1, 0, -1] and bad == 1
    codes, labels, bad = encode_answers(["H", "T", "x"], lambda s: {"H": "heads", "T": "tails"}.get(s))
    assert labels == ["heads", "tails"] and codes.tolist() == [0, 1, -1] and bad == 1


def test_explicit_states_fix_q():
    rows = [{"checkpoint": "ckpt-1", "sample": i, "a": str(v)} for i, v in enumerate([1, 2, 11])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = open_samples(rows, text="a", encoder="integer", states=list(range(1, 11)))
    assert ds.attrs["n_states"] == 10 and ds.attrs["n_unparsed"] == 1
    # labels given as strings mean the same integers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds2 = open_samples(rows, text="a", encoder="integer", states=[str(k) for k in range(1, 11)])
    assert ds2.attrs["n_unparsed"] == 1
    np.testing.assert_array_equal(ds2["token"].values, ds["token"].values)
    with pytest.raises(pk.SchemaError, match="not an integer"):
        open_samples(rows, text="a", encoder="integer", states=["one", "two"])


@pytest.mark.parametrize("text, value", [(" 7", 7), ("7.", 7), ("The number is 4", 4), ("-3", -3), ("none", None)])
def test_integer_encoder(text, value):
    assert integer_encoder(text) == value


def test_step_parsed_from_label_or_error():
    ds = open_samples([{"checkpoint": "ckpt-200", "sample": 0, "token": 1},
                       {"checkpoint": "ckpt-100", "sample": 0, "token": 2}])
    assert ds["step"].values.tolist() == [100, 200]  # sorted by step
    assert ds["token"].values[:, 0].tolist() == [2, 1]
    with pytest.raises(pk.SchemaError, match="no training step can be read from checkpoint name 'final'"):
        open_samples([{"checkpoint": c, "sample": 0, "token": 1} for c in ("final", "main")])
    # one checkpoint has a trivially certain order: step 0, and the dataset says so
    one = open_samples([{"checkpoint": "final", "sample": 0, "token": 1}])
    assert one["step"].values.tolist() == [0] and "single checkpoint" in one.attrs["step_source"]


def test_missing_samples_are_minus_one():
    rows = [{"checkpoint": "ckpt-1", "sample": 0, "token": 3}, {"checkpoint": "ckpt-2", "sample": 1, "token": 4}]
    ds = open_samples(rows)
    assert ds["token"].values.tolist() == [[3, -1], [-1, 4]]
    assert ds.attrs["n_missing"] == 2


def test_malformed_jsonl_names_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"checkpoint": "ckpt-1", "sample": 0, "token": 1}\n\n{"checkpoint": "ckpt-1", "sample": 1, token: 2}\n')
    with pytest.raises(pk.SchemaError, match="line 3"):
        open_samples(p)


def test_malformed_csv_names_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("checkpoint,sample,token\nckpt-1,0,1\nckpt-1,1,2,9,9\n")
    with pytest.raises(pk.SchemaError, match="line 3"):
        open_samples(p)


def test_csv_missing_column(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("checkpoint,sample,tok\nckpt-1,0,1\n")
    with pytest.raises(pk.SchemaError, match="'token'"):
        open_samples(p)


def test_mixed_types_in_jsonl_column(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"checkpoint": "ckpt-1", "sample": 0, "token": 1}\n{"checkpoint": "ckpt-1", "sample": 1, "token": "two"}\n')
    with pytest.raises(pk.SchemaError, match="'two'.*line 2"):
        open_samples(p)


def test_huge_jsonl_line_is_refused(tmp_path, monkeypatch):
    from phasekit.ingest import jsonio

    monkeypatch.setattr(jsonio, "MAX_LINE_BYTES", 1000)
    p = tmp_path / "x.jsonl"
    p.write_text('{"checkpoint": "ckpt-1", "sample": 0, "token": [' + ",".join(["1"] * 2000) + "]}\n")
    with pytest.raises(pk.SchemaError, match="line 1 is longer"):
        open_samples(p)


@pytest.mark.parametrize("name", ["x.pkl", "x.pickle", "x.txt", "x"])
def test_unsupported_extension_refused_never_loaded(tmp_path, name):
    p = tmp_path / name

    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "PWNED"), "w"))

    p.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(pk.SchemaError, match="unsupported file extension"):
        open_samples(p)
    assert not (tmp_path / "PWNED").exists()


def test_duplicate_rows_are_an_error():
    with pytest.raises(pk.SchemaError, match="duplicate"):
        open_samples([{"checkpoint": "ckpt-1", "sample": 0, "token": 1}] * 2)


def test_stage_column(tmp_path):
    rows = [{"checkpoint": f"ckpt-{s}", "sample": 0, "token": 1, "stage": st}
            for s, st in [(1, "base"), (2, "sft"), (3, "rl")]]
    ds = open_samples(rows, stage="stage")
    assert ds["stage"].values.tolist() == ["base", "sft", "rl"]


def test_dataset_source_is_validated(make_samples):
    ds = make_samples()
    ds["token"][0, 0, 0] = -3
    with pytest.raises(pk.SchemaError, match="-3"):
        open_samples(ds)
    assert isinstance(open_samples(make_samples()), xr.Dataset)


def test_array_store_takes_sizes_and_refuses_table_arguments(tmp_path):
    """sizes= on a NetCDF store becomes the size coordinate along 'model' (it used to be
    ignored silently); arguments that only describe records are refused, not ignored."""
    tok = np.random.default_rng(0).integers(0, 3, size=(2, 3, 4)).astype("int32")
    ds = xr.Dataset({"token": (("model", "checkpoint", "sample"), tok)},
                    coords={"model": ["tiny-1B", "tiny-7B"], "step": ("checkpoint", [10, 20, 30])},
                    attrs={"n_states": 3})
    path = tmp_path / "run.nc"
    ds.to_netcdf(path)
    out = pk.open_samples(str(path), sizes={"tiny-1B": 1.1e9, "tiny-7B": 6.9e9})
    assert out["size"].values.tolist() == [1.1e9, 6.9e9]
    with pytest.raises(pk.SchemaError, match="sizes= has no size for model 'tiny-7B'"):
        pk.open_samples(str(path), sizes={"tiny-1B": 1e9})
    with pytest.raises(pk.SchemaError, match="text=, encoder= only apply when reading records"):
        pk.open_samples(str(path), text="answer", encoder="integer")
    with pytest.raises(pk.SchemaError, match="no 'model' dim"):
        pk.open_samples(ds.isel(model=0, drop=True), sizes={"a": 1.0})
