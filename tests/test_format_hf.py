"""The hf reader: datasets.Dataset objects, save_to_disk folders, Parquet/Arrow folders."""

from __future__ import annotations

from collections import Counter

import pytest

from phasekit import SchemaError
from phasekit.ingest.formats import hf

datasets = pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

RECORDS = [
    {"checkpoint": f"step{1000 * (1 + i % 3)}", "model": "org/Tiny-1B", "prompt": f"q{i % 4}",
     "outputs": [{"text": f"{(i * 7 + j) % 10}", "idx": j} for j in range(1 + i % 5)]}
    for i in range(24)
]
TRUTH = Counter((r["checkpoint"], r["prompt"], o["idx"], o["text"]) for r in RECORDS for o in r["outputs"])


def _rows(frame):
    r = frame.rows
    return Counter(zip(r["checkpoint"], r["prompt"], r["sample"], r["text"], strict=True))


def test_dataset_object_star_path_every_generation():
    ds = datasets.Dataset.from_list(RECORDS)
    frame = hf.read_object(ds, fields={"text": "outputs.*.text"}, options={})
    assert _rows(frame) == TRUTH and len(frame.rows) == sum(1 + i % 5 for i in range(24))
    assert set(frame.rows["model"]) == {"org/Tiny-1B"}
    explicit = hf.read_object(ds, fields={"text": "outputs.*.text", "sample": "outputs.*.idx"}, options={})
    assert _rows(explicit) == TRUTH


def test_dataset_dict_one_split_and_many(tmp_path):
    dd = datasets.DatasetDict({"test": datasets.Dataset.from_list(RECORDS)})
    assert _rows(hf.read_object(dd, fields={"text": "outputs.*.text"}, options={})) == TRUTH
    dd["train"] = dd["test"]
    with pytest.raises(SchemaError, match="one split"):
        hf.read_object(dd, fields={"text": "outputs.*.text"}, options={})


def test_save_to_disk_folder_after_shuffle_select(tmp_path):
    ds = datasets.Dataset.from_list(RECORDS).shuffle(seed=0).select(range(20))
    ds.save_to_disk(str(tmp_path / "saved"))
    assert hf.detect(tmp_path / "saved")
    frame = hf.read(tmp_path / "saved", fields={"text": "outputs.*.text"}, options={})
    want = Counter((r["checkpoint"], r["prompt"], o["idx"], o["text"]) for r in ds.to_list() for o in r["outputs"])
    assert frame.meta["n_records"] == 20
    assert _rows(frame) == want


def test_parquet_and_arrow_folders(tmp_path):
    table = pa.Table.from_pylist(RECORDS)
    (tmp_path / "pq").mkdir()
    pq.write_table(table.slice(0, 10), tmp_path / "pq" / "part-0.parquet")
    pq.write_table(table.slice(10), tmp_path / "pq" / "part-1.parquet")
    assert _rows(hf.read(tmp_path / "pq", fields={"text": "outputs.*.text"}, options={})) == TRUTH
    (tmp_path / "ar").mkdir()
    with pa.OSFile(str(tmp_path / "ar" / "a.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    assert hf.detect(tmp_path / "ar") and not hf.detect(tmp_path / "pq")
    assert _rows(hf.read(tmp_path / "ar", fields={"text": "outputs.*.text"}, options={})) == TRUTH


def test_list_where_scalar_expected_names_star_path():
    ds = datasets.Dataset.from_list(RECORDS)
    with pytest.raises(SchemaError, match=r"outputs\.\*"):
        hf.read_object(ds, fields={"text": "outputs"}, options={})
    with pytest.raises(SchemaError, match=r"outputs\.\*"):
        hf.read_object(ds, fields={"text": "outputs.text"}, options={})


def test_defaults_missing_column_and_truncated_file(tmp_path):
    flat = datasets.Dataset.from_list([{"text": "3", "checkpoint": "step1", "prompt": "p"}])
    frame = hf.read_object(flat, fields={}, options={})
    assert frame.rows[["text", "checkpoint", "prompt"]].values.tolist() == [["3", "step1", "p"]]
    with pytest.raises(SchemaError, match="no 'text' or 'token'"):
        hf.read_object(datasets.Dataset.from_list([{"answer": "3"}]), fields={}, options={})
    with pytest.raises(SchemaError, match="no column 'nope'"):
        hf.read_object(flat, fields={"model": "nope.x"}, options={})
    f = tmp_path / "t.arrow"
    with pa.OSFile(str(f), "wb") as sink, pa.ipc.new_file(sink, pa.Table.from_pylist(RECORDS).schema) as w:
        w.write_table(pa.Table.from_pylist(RECORDS))
    f.write_bytes(f.read_bytes()[:300])
    with pytest.raises(SchemaError) as err:
        hf.read(f, fields={"text": "outputs.*.text"}, options={})
    assert "t.arrow" in str(err.value)


def test_open_samples_reads_a_dataset_object_end_to_end():
    import numpy as np

    import phasekit as pk

    recs = [{"checkpoint": f"step{1000 * (1 + i % 3)}", "prompt": f"q{i}",
             "outputs": [{"text": f"I pick {(i * 7 + j) % 10}."} for j in range(3)]} for i in range(24)]
    ds = pk.open_samples(datasets.Dataset.from_list(recs), text="outputs.*.text", encoder="integer",
                         states=list(range(10)))
    assert ds.attrs["format"] == "hf" and ds.attrs["n_unparsed"] == 0
    labels = np.asarray(ds["state"].values).astype(str)
    for c in ds["checkpoint"].values:
        got = Counter(labels[t] for t in ds["token"].sel(checkpoint=c).values.ravel() if t >= 0)
        want = Counter(str((i * 7 + j) % 10) for i in range(24) if f"step{1000 * (1 + i % 3)}" == c for j in range(3))
        assert got == want
