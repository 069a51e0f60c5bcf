"""The command line: summaries, one-line errors with exit code 2, the demo and analyze."""

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from phasekit.cli import main


def _rows_from_run(ds):
    """Text answers (the state labels) as JSONL rows, one per sample."""
    labels = ds["state"].values
    tok = ds["token"].values
    rows = []
    for c, ck in enumerate(ds["checkpoint"].values):
        for p, pr in enumerate(ds["prompt"].values):
            for s in range(tok.shape[2]):
                t = tok[c, p, s]
                rows.append({"checkpoint": str(ck), "step": int(ds["step"].values[c]), "prompt": str(pr),
                             "sample": s, "stage": str(ds["stage"].values[c]),
                             "answer": f"{labels[t]}." if t >= 0 else "no idea"})
    return rows


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert "phasekit" in capsys.readouterr().out


def test_validate_prints_summary(tmp_path, capsys):
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join(json.dumps({"checkpoint": f"ckpt-{s}", "sample": i, "text": t})
                           for s in (10, 20) for i, t in enumerate(["7", "3", "3.5"])) + "\n")
    assert main(["validate", str(p), "--text", "text", "--encoder", "integer", "--n-states", "10"]) == 0
    out = capsys.readouterr().out
    assert "checkpoint=2" in out and "sample=3" in out and "unparsed answers: 2" in out and "n_states: 10" in out


@pytest.mark.parametrize("content, ext, words", [
    ('{"checkpoint": "ckpt-1", "sample": 0, "token": 1}\n{oops}\n', ".jsonl", "line 2"),
    ("anything", ".pkl", "'.pkl'"),
    ("checkpoint,sample,token\nckpt-1,0,-5\n", ".csv", "-5"),
])
def test_errors_are_one_line_exit_2(tmp_path, content, ext, words):
    p = tmp_path / f"bad{ext}"
    p.write_text(content)
    r = subprocess.run([sys.executable, "-m", "phasekit.cli", "validate", str(p)], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert words in r.stderr and r.stderr.startswith("phasekit: error:")


def test_missing_file_exit_2(capsys):
    assert main(["validate", "/nonexistent/file.jsonl"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_analyze_jsonl_of_text_answers(tmp_path):
    """Issue 7: analyze a three-phase run given as text answers, end to end."""
    from phasekit.datasets import crystallisation_run

    ds, truth = crystallisation_run(n_checkpoints=24, n_prompts=8, n_samples=24, seed=3, settling=False)
    p = tmp_path / "answers.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in _rows_from_run(ds)) + "\n")
    out = tmp_path / "out"
    code = main(["analyze", str(p), "-o", str(out), "--text", "answer", "--encoder", "integer",
                 "--n-states", "10", "--stage", "stage", "--quiet", "--seed", "1"])
    assert code == 0
    for name in ("report.html", "results.nc", "summary.json"):
        assert (out / name).stat().st_size > 0
    assert len(list((out / "figures").glob("*.png"))) >= 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema_version"] == 2
    steps = ds["step"].values
    found = [b["step"] for b in summary["boundaries"]]
    for true_step in truth["boundaries"]:
        i_true = int(np.searchsorted(steps, true_step))
        assert any(abs(int(np.searchsorted(steps, f)) - i_true) <= 2 for f in found), (found, truth["boundaries"])
    for b in summary["boundaries"]:
        lo, hi = b["interval"]
        assert lo <= hi and isinstance(b["channels"], list)
    assert {"label", "first_step", "last_step", "levels"} <= set(summary["phases"][0])
    assert "provenance" in summary and summary["provenance"]["versions"]["phasekit"]
    res = xr.open_dataset(out / "results.nc")
    assert "magnetization" in res and "phase" in res
    res.close()


def _lab_file(tmp_path):
    p = tmp_path / "lab.jsonl"
    rows = []
    for ck in ("stage1-step1000-tokens4B", "sft-step100"):
        for q in ("Pick 1-10", "Any number"):
            rows.append({"meta": {"ckpt": ck}, "prompt": q,
                         "outputs": [{"text": t} for t in ("I pick 3.", "7", "11", "3.5")]})
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return p


def test_validate_reads_every_mapping_flag_and_prints_the_audit(tmp_path, capsys):
    p = _lab_file(tmp_path)
    rc = main(["validate", str(p), "--text", "outputs.*.text", "--checkpoint", "meta.ckpt",
               "--encoder", "integer", "--states", "1..10", "--stage-order", "pretrain,sft"])
    captured = capsys.readouterr()
    assert rc == 0
    out = captured.out
    assert "generations: 16 read, 8 parsed, 8 unparsed, 0 failed" in out
    assert "out of space" in out and "decimal" in out                 # unparsed by reason
    assert "'I pick 3.'" in out and "-> 3" in out                       # a (text -> state) example
    assert "sft-step100" in out.split("per checkpoint:")[1]
    assert "phasekit: warning:" in captured.err                          # the unparsed warning, one line


def test_max_unparsed_turns_the_warning_into_an_error_naming_the_flag(tmp_path, capsys):
    p = _lab_file(tmp_path)
    rc = main(["validate", str(p), "--text", "outputs.*.text", "--checkpoint", "meta.ckpt",
               "--encoder", "integer", "--states", "1..10", "--max-unparsed", "0.1"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "--max-unparsed" in err and "max_unparsed=" not in err


@pytest.mark.parametrize("argv, flag, python_arg", [
    (["--stage-order", "sft"], "--stage-order", "stage_order="),
    (["--text", "outputs.text"], "--text", "text="),
])
def test_cli_errors_name_the_cli_flag_not_the_python_argument(tmp_path, capsys, argv, flag, python_arg):
    p = _lab_file(tmp_path)
    base = ["validate", str(p), "--checkpoint", "meta.ckpt", "--encoder", "integer"]
    if "--text" not in argv:
        base += ["--text", "outputs.*.text"]
    rc = main(base + argv)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert flag in err and python_arg not in err


def test_name_without_step_names_the_step_flag(tmp_path, capsys):
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join(json.dumps({"checkpoint": c, "sample": 0, "token": 1}) for c in ("main", "ep2")) + "\n")
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert "--step" in err and "'main'" in err
    p2 = tmp_path / "ok.jsonl"
    p2.write_text(p.read_text())
    assert main(["validate", str(p2), "--step", '{"main": 5, "ep2": 1}']) == 0


def test_analyze_an_open_answer_jsonl_without_n_states(tmp_path, capsys):
    """Open answer space ("name a random city"): no q, every q-free quantity runs (issue 15.5)."""
    import random

    rng = random.Random(0)
    cities = ["Paris", "paris", "Tokyo", "Lima", "Oslo", "Cairo", "Quito", "Rome"]
    rows = []
    for s in range(100, 1700, 100):
        for p in ("Name a random city.", "Pick any city:", "A city, at random:"):
            for i in range(24):
                city = "Paris." if s >= 900 and rng.random() < 0.85 else rng.choice(cities)
                rows.append({"checkpoint": f"step{s}", "prompt": p, "sample": i, "text": city})
    path = tmp_path / "cities.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out"
    rc = main(["analyze", str(path), "-o", str(out), "--text", "text", "--encoder", "exact", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["n_states"] is None
    assert any("magnetization" in x for x in summary["settings"]["left_out"])
    steps = [b["step"] for b in summary["boundaries"]]
    assert steps and min(abs(s - 900) for s in steps) <= 100          # the collapse onto "Paris"
    assert "is not known" in (out / "report.html").read_text()
