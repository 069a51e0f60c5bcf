"""Hostile files for the Inspect and OpenAI-batch readers: each a SchemaError naming the file
(and the archive member), with memory bounded.

The archives are built here byte by byte (a minimal zip writer, independent of the
reader), so that sizes, methods, CRCs and offsets can lie the way a crafted file lies.
"""

from __future__ import annotations

import json
import struct
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from phasekit import SchemaError
from phasekit.ingest.formats import inspect as insp
from phasekit.ingest.formats import openai_batch as ob

zstandard = pytest.importorskip("zstandard")

FIX = Path(__file__).parent / "fixtures"
MiB = 1024**2


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _deflate_zeros(n: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(MiB)
    return b"".join(c.compress(block) for _ in range(n // MiB)) + c.flush()


def member(name: str, data: bytes, method: int = 8, **lie) -> dict:
    """A member: ``data`` compressed with ``method``; ``lie`` overrides size/crc/csize/offset/flags."""
    raw = {0: lambda d: d, 8: _deflate, 93: lambda d: zstandard.ZstdCompressor().compress(d)}[method](data)
    m = {"name": name, "raw": raw, "method": method, "crc": zlib.crc32(data), "size": len(data), "flags": 0}
    m.update(lie)
    return m


def write_zip(path: Path, members: list[dict]) -> Path:
    """A zip archive written by hand (local headers, central directory, end record)."""
    out, central = bytearray(), bytearray()
    for m in members:
        name = m["name"].encode()
        offset = len(out)
        csize = m.get("csize", len(m["raw"]))
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, m["flags"], m["method"], 0, 0x21, m["crc"] & 0xFFFFFFFF,
                           csize, m["size"], len(name), 0) + name + m["raw"]
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, m["flags"], m["method"], 0, 0x21,
                               m["crc"] & 0xFFFFFFFF, csize, m["size"], len(name), 0, 0, 0, 0, 0,
                               m.get("offset", offset)) + name
    out += central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                                 len(out), 0)
    path.write_bytes(bytes(out))
    return path


def _header() -> bytes:
    with zipfile.ZipFile(FIX / "inspect/deflate/stage1-step1000-tokens4B.eval") as zf:
        return zf.read("header.json")


def _sample() -> bytes:
    with zipfile.ZipFile(FIX / "inspect/deflate/stage1-step1000-tokens4B.eval") as zf:
        return zf.read("samples/1_epoch_1.json")


def _read(path: Path, **options):
    return insp.read(path, fields={}, options=options)


def _refused(path: Path, match: str, member_name: str | None = None, **options) -> SchemaError:
    with pytest.raises(SchemaError, match=match) as err:
        _read(path, **options)
    assert str(path) in str(err.value)
    if member_name is not None:
        assert repr(member_name) in str(err.value)
    return err.value


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except SchemaError:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_hand_built_archive_reads_like_inspects(tmp_path):
    """The writer above is faithful: a zstd and a stored archive of real members read."""
    for method in (0, 8, 93):
        p = write_zip(tmp_path / f"ok{method}.eval", [member("header.json", _header(), method),
                                                      member("samples/1_epoch_1.json", _sample(), method)])
        rows = _read(p).rows
        ok = rows[rows["failure"].isna()]
        assert list(zip(ok["prompt"], ok["epoch"], strict=True)) == [("1", 1)]
        assert ok["text"].iloc[0] == json.loads(_sample())["output"]["choices"][0]["message"]["content"]


@pytest.mark.parametrize("name", ["../evil.json", "/etc/evil.json", "samples/../../x.json", "C:/x.json",
                                  "samples\\..\\..\\x.json"])
def test_member_path_outside_the_archive(tmp_path, name):
    p = write_zip(tmp_path / "escape.eval", [member("header.json", _header()), member(name, b"{}")])
    _refused(p, "leaves the archive", name)


def test_zip_bomb_refused_by_its_ratio_before_decompressing(tmp_path):
    raw = _deflate_zeros(64 * MiB)                        # ~1000:1, deflate's limit
    p = write_zip(tmp_path / "bomb.eval", [member("header.json", _header()),
                                           {"name": "samples/1_epoch_1.json", "raw": raw, "method": 8,
                                            "crc": 0, "size": 64 * MiB, "flags": 0}])
    assert _peak(lambda: _refused(p, "ratio", "samples/1_epoch_1.json")) < 4 * MiB


def test_zip_bomb_that_understates_its_size_stops_at_the_declared_size(tmp_path):
    raw = _deflate_zeros(256 * MiB)
    p = write_zip(tmp_path / "liar.eval", [member("header.json", _header()),
                                           {"name": "samples/1_epoch_1.json", "raw": raw, "method": 8,
                                            "crc": 0, "size": 5000, "flags": 0}])
    peak = _peak(lambda: _refused(p, "decompresses past", "samples/1_epoch_1.json"))
    assert peak < 8 * MiB                                 # one chunk, never the 256 MiB


def test_zstd_bomb_that_understates_its_size_is_bounded(tmp_path):
    raw = zstandard.ZstdCompressor(level=3).compress(bytes(256 * MiB))
    p = write_zip(tmp_path / "zliar.eval", [member("header.json", _header()),
                                            {"name": "samples/1_epoch_1.json", "raw": raw, "method": 93,
                                             "crc": 0, "size": 5000, "flags": 0}])
    assert _peak(lambda: _refused(p, "decompresses past", "samples/1_epoch_1.json")) < 8 * MiB
    honest = write_zip(tmp_path / "zbomb.eval", [member("header.json", _header()),
                                                 {"name": "samples/1_epoch_1.json", "raw": raw, "method": 93,
                                                  "crc": 0, "size": 256 * MiB, "flags": 0}])
    _refused(honest, "ratio", "samples/1_epoch_1.json")


def test_member_and_total_limits(tmp_path):
    blob = json.dumps({"id": 1, "epoch": 1, "pad": [f"{i:08d}" for i in range(300_000)]}).encode()
    p = write_zip(tmp_path / "big.eval", [member("header.json", _header()), member("samples/1_epoch_1.json", blob)])
    _refused(p, "over the", "samples/1_epoch_1.json", max_member_bytes=MiB)
    _refused(p, "over the .*limit", None, max_total_bytes=2 * MiB)
    assert len(_read(p).rows) >= 1                      # within the defaults it reads


def test_huge_single_line_json_member_refused_before_reading(tmp_path):
    """A member declaring 1.1 GiB (ratio under the limit) is refused from its directory entry."""
    raw = b"\0" * (3 * MiB)
    p = write_zip(tmp_path / "huge.eval", [member("header.json", _header()),
                                           {"name": "samples/1_epoch_1.json", "raw": raw, "method": 0,
                                            "crc": 0, "size": int(1.1 * 1024**3), "flags": 0}])
    assert _peak(lambda: _refused(p, "over the", "samples/1_epoch_1.json")) < 8 * MiB


def test_huge_json_log_refused_before_reading(tmp_path):
    p = tmp_path / "huge.json"
    with open(p, "wb") as fh:                            # sparse: no disk, no reading
        fh.write(b'{\n  "version": 2,\n  "status": "success",\n  "eval": {')
        fh.truncate(int(1.1 * 1024**3))
    assert insp.detect(p)
    assert _peak(lambda: _refused(p, "larger than")) < 4 * MiB


def test_truncated_zstd_member(tmp_path):
    data = _sample()
    raw = zstandard.ZstdCompressor().compress(data)
    p = write_zip(tmp_path / "cut.eval", [member("header.json", _header(), 93),
                                          {"name": "samples/1_epoch_1.json", "raw": raw[: len(raw) // 2],
                                           "method": 93, "crc": zlib.crc32(data), "size": len(data), "flags": 0}])
    _refused(p, "truncated|corrupt", "samples/1_epoch_1.json")


def test_truncated_deflate_member_and_bad_crc(tmp_path):
    data = _sample()
    raw = _deflate(data)
    cut = write_zip(tmp_path / "cut.eval", [member("header.json", _header()),
                                            {"name": "samples/1_epoch_1.json", "raw": raw[:-40], "method": 8,
                                             "crc": zlib.crc32(data), "size": len(data), "flags": 0}])
    _refused(cut, "truncated|corrupt", "samples/1_epoch_1.json")
    bad = write_zip(tmp_path / "crc.eval", [member("header.json", _header()),
                                            member("samples/1_epoch_1.json", data, crc=zlib.crc32(data) ^ 1)])
    _refused(bad, "CRC-32 differs", "samples/1_epoch_1.json")


def test_corrupt_and_truncated_archives(tmp_path):
    junk = tmp_path / "junk.eval"
    junk.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    _refused(junk, "not a readable zip")
    real = (FIX / "inspect/zstd/sft-step100.eval").read_bytes()
    half = tmp_path / "half.eval"
    half.write_bytes(real[: len(real) // 2])
    _refused(half, "not a readable zip")


def test_overlapping_members(tmp_path):
    """Two directory entries pointing at one local header (the overlapping-file zip bomb)."""
    s = member("samples/1_epoch_1.json", _sample())
    twin = member("samples/1_epoch_2.json", _sample())
    p = tmp_path / "overlap.eval"
    write_zip(p, [member("header.json", _header()), s, twin])
    data = bytearray(p.read_bytes())                     # point the twin's entry at the first sample
    first = data.index(b"PK\x03\x04", 1)
    cd = data.rindex(b"PK\x01\x02")
    struct.pack_into("<L", data, cd + 42, first)
    p.write_bytes(bytes(data))
    _refused(p, "names another file|overlaps", "samples/1_epoch_2.json")


def test_encrypted_and_unsupported_methods(tmp_path):
    enc = write_zip(tmp_path / "enc.eval", [member("header.json", _header(), flags=1)])
    _refused(enc, "encrypted", "header.json")
    bz = write_zip(tmp_path / "bz.eval", [dict(member("header.json", _header(), 0), method=12)])
    _refused(bz, "method 12", "header.json")


def test_deep_nesting_in_a_member(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    p = write_zip(tmp_path / "deep.eval", [member("header.json", _header()), member("samples/1_epoch_1.json", deep)])
    _refused(p, "nested too deeply", "samples/1_epoch_1.json")


def test_missing_zstandard_is_a_clear_error(tmp_path, monkeypatch):
    p = write_zip(tmp_path / "z.eval", [member("header.json", _header(), 93)])
    monkeypatch.setitem(sys.modules, "zstandard", None)
    err = _refused(p, "zstandard", "header.json")
    assert "pip install zstandard" in str(err)


def test_openai_batch_huge_line_and_deep_nesting(tmp_path):
    huge = tmp_path / "huge.jsonl"
    with open(huge, "wb") as fh:
        fh.write(b'{"custom_id": "a", "response": {"body": "' + b"x" * (65 * MiB) + b'"}}\n')
    with pytest.raises(SchemaError, match="line 1 is longer") as err:
        ob.read(huge, fields={}, options={})
    assert str(huge) in str(err.value)
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    with pytest.raises(SchemaError, match="nested too deeply") as err:
        ob.read(deep, fields={}, options={})
    assert str(deep) in str(err.value)


def test_multi_frame_zstd_member_reads_whole(tmp_path):
    """Inspect splits large members into several zstd frames: all frames are read."""
    data = _sample()
    cut = len(data) // 3
    raw = b"".join(zstandard.ZstdCompressor().compress(part) for part in (data[:cut], data[cut:]))
    p = write_zip(tmp_path / "frames.eval", [member("header.json", _header(), 93),
                                             {"name": "samples/1_epoch_1.json", "raw": raw, "method": 93,
                                              "crc": zlib.crc32(data), "size": len(data), "flags": 0}])
    rows = _read(p).rows
    ok = rows[rows["failure"].isna()]
    assert list(zip(ok["prompt"], ok["epoch"], strict=True)) == [("1", 1)]
    assert ok["text"].iloc[0] == json.loads(data)["output"]["choices"][0]["message"]["content"]
    # the header lists 5 ids x 3 epochs: the other 14 are "missing from the log" rows
    assert rows["failure"].fillna("").str.startswith("missing from the log").sum() == 14
