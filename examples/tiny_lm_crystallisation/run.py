"""Crystallisation in a small language model trained from scratch — the whole case study.

    python examples/tiny_lm_crystallisation/run.py --seed 0 --out DIR

1. pretrains a ~240k-parameter causal transformer on a synthetic corpus where every
   prompt wording of four "random" tasks (number 1–10, coin, letter, list of ten
   numbers) has its own answer distribution (the base model's many promptable
   distributions);
2. supervised finetuning: every prompt answered from ONE narrow distribution (the
   base distribution of "think of a number between 1 and 10", favouring 7);
3. REINFORCE: reward 1 for a number answer in {3, 7}; for lists, the fraction of
   distinct numbers (no repeats);
4. at log-spaced steps through all three stages, samples every prompt (temperature 1,
   fixed seed) and writes JSONL that phasekit reads (``DIR/samples*.jsonl``);
5. runs ``phasekit analyze`` on each task and collects the case-study numbers in
   ``DIR/case_study.json``.

Needs torch (``pip install 'phasekit[case-study]'``). phasekit itself never imports torch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import (  # noqa: E402
    COINS,
    FAVOURED,
    LETTERS,
    LIST_LENGTH,
    NUMBERS,
    SEED_P,
    SEED_WORDING,
    Tokenizer,
    base_world,
    make_batch,
)
from model import TinyLM, lm_loss, sample  # noqa: E402

MAX_LEN = 24


def log_steps(total: int, first: int) -> list[int]:
    """Log-spaced offsets 1..total inside one stage: first, 2·first, … doubling, then total."""
    out, s = [], first
    while s < total:
        out.append(s)
        s *= 2
    out.append(total)
    return out


def answer_text(tok: Tokenizer, gen: np.ndarray) -> str:
    """Words generated before ``<eos>`` (all of them when no ``<eos>`` came)."""
    words = []
    for t in gen:
        if t < 0 or t == tok.eos:
            break
        words.append(tok.vocab[int(t)])
    return " ".join(words)


def list_states(text: str) -> list[int]:
    """A list answer as states 0..9 (number − 1); a word that is not 1..10 is −1."""
    return [NUMBERS.index(w) if w in NUMBERS else -1 for w in text.split()]


@torch.no_grad()
def sample_checkpoint(model, tok, world, *, n: int, seed: int, step: int, stage: str) -> dict[str, list]:
    """``n`` samples per prompt at temperature 1 with a generator seeded by (seed, step)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
    rows: dict[str, list] = {"number": [], "coin": [], "letter": [], "list": []}
    for pr in world:
        ids = torch.tensor([tok.prompt_ids(pr.wording)] * n)
        max_new = LIST_LENGTH + 1 if pr.task == "list" else 2
        out = sample(model, ids, max_new, tok.eos, gen).numpy()
        for s in range(n):
            text = answer_text(tok, out[s])
            row = {"checkpoint": f"step-{step}", "step": step, "stage": stage, "prompt": pr.wording,
                   "sample": s, "text": text}
            if pr.task == "list":
                row["token"] = list_states(text)
            rows[pr.task].append(row)
    model.train()
    return rows


def reinforce_step(model, opt, tok, world, rng, gen, *, n_number: int, n_list: int) -> dict[str, float]:
    """One REINFORCE update (Williams 1992) with a per-task mean-reward baseline.

    loss = −mean_i (r_i − r̄_task) · log π(answer_i | prompt_i)
    """
    number = [p for p in world if p.task == "number"]
    lists = [p for p in world if p.task == "list"]
    terms, stats = [], {}
    for task, pool, n in (("number", number, n_number), ("list", lists, n_list)):
        picks = rng.integers(0, len(pool), size=n)
        logps, rewards = [], []
        for j in np.unique(picks):
            k = int((picks == j).sum())
            ids = torch.tensor([tok.prompt_ids(pool[j].wording)] * k)
            max_new = LIST_LENGTH + 1 if task == "list" else 2
            out, lp = sample(model, ids, max_new, tok.eos, gen, with_logprob=True)
            for s in range(k):
                text = answer_text(tok, out[s].numpy())
                if task == "number":
                    r = 1.0 if text in FAVOURED else 0.0
                else:
                    st = list_states(text)
                    r = len(set(st)) / LIST_LENGTH if len(st) == LIST_LENGTH and min(st) >= 0 else 0.0
                rewards.append(r)
            logps.append(lp)
        r = torch.tensor(rewards)
        terms.append(-((r - r.mean()) * torch.cat(logps)).mean())
        stats[f"reward_{task}"] = float(r.mean())
    loss = sum(terms)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return stats


def train(args) -> tuple[dict[str, list], dict]:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tok = Tokenizer()
    world = base_world(args.seed)
    model = TinyLM(len(tok), d=args.width, layers=args.layers, ctx=32)
    info = {"n_params": model.n_params(), "vocab": len(tok), "seed": args.seed}
    print(f"model: {info['n_params']} parameters, vocabulary {len(tok)} words", flush=True)
    rows: dict[str, list] = {"number": [], "coin": [], "letter": [], "list": []}
    history: list[dict] = []

    def checkpoint(step: int, stage: str, extra: dict) -> None:
        got = sample_checkpoint(model, tok, world, n=args.samples, seed=args.seed, step=step, stage=stage)
        for k, v in got.items():
            rows[k].extend(v)
        num = [r["text"] for r in got["number"]]
        share7 = float(np.mean([t == "7" for t in num]))
        history.append({"step": step, "stage": stage, "share_7": share7, **extra})
        print(f"  [{stage:4s}] step {step:5d}  P(7)={share7:.2f}  {extra}", flush=True)

    # ---- pretraining
    P, S, R = args.pretrain_steps, args.sft_steps, args.rl_steps
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100))
    marks = set(log_steps(P, args.first_checkpoint))
    print(f"pretraining {P} steps; checkpoints at {sorted(marks)}", flush=True)
    t0 = time.time()
    for step in range(1, P + 1):
        ids, mask = make_batch(tok, world, rng, args.batch, stage="base", world=world, max_len=MAX_LEN)
        loss = lm_loss(model, torch.from_numpy(ids), torch.from_numpy(mask))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step in marks:
            checkpoint(step, "base", {"loss": round(loss.item(), 4)})
    info["pretrain_seconds"] = round(time.time() - t0, 1)

    # ---- supervised finetuning (answer tokens only, one narrow distribution)
    opt = torch.optim.AdamW(model.parameters(), lr=args.sft_lr, weight_decay=0.0)
    marks = {P + s for s in log_steps(S, 4)}
    print(f"SFT {S} steps; checkpoints at {sorted(marks)}", flush=True)
    t0 = time.time()
    for step in range(P + 1, P + S + 1):
        ids, mask = make_batch(tok, world, rng, args.batch, stage="sft", world=world, max_len=MAX_LEN)
        loss = lm_loss(model, torch.from_numpy(ids), torch.from_numpy(mask))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step in marks:
            checkpoint(step, "sft", {"loss": round(loss.item(), 4)})
    info["sft_seconds"] = round(time.time() - t0, 1)

    # ---- RL (REINFORCE)
    opt = torch.optim.Adam(model.parameters(), lr=args.rl_lr)
    gen = torch.Generator().manual_seed(args.seed + 7)
    marks = {P + S + s for s in log_steps(R, 4)}
    print(f"RL {R} steps; checkpoints at {sorted(marks)}", flush=True)
    t0 = time.time()
    for step in range(P + S + 1, P + S + R + 1):
        stats = reinforce_step(model, opt, tok, world, rng, gen, n_number=args.rl_batch, n_list=args.rl_batch // 2)
        if step in marks:
            checkpoint(step, "rl", {k: round(v, 3) for k, v in stats.items()})
    info["rl_seconds"] = round(time.time() - t0, 1)
    info["history"] = history
    info["stage_onsets"] = {"sft": P, "rl": P + S}
    info["world"] = [{"task": p.task, "prompt": p.wording, "p": [round(float(x), 4) for x in p.p],
                      "stickiness": p.stickiness} for p in world]
    return rows, info


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def run_analyze(inp: Path, out: Path, *flags: str) -> None:
    """``phasekit analyze INPUT -o OUT FLAGS`` — the CLI, exactly as a lab would run it."""
    cmd = [sys.executable, "-m", "phasekit.cli", "analyze", str(inp), "-o", str(out), "--quiet", *flags]
    print("$ phasekit " + " ".join(cmd[3:]), flush=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise SystemExit(f"phasekit analyze failed with exit code {done.returncode}")


def read_samples(inp: Path, **mapping):
    import warnings

    import pandas as pd

    from phasekit.ingest import open_samples

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_samples(pd.read_json(inp, lines=True, dtype={"text": str}), **mapping)


def analyze_dataset(ds, out: Path, seed: int, desc: str) -> None:
    """``phasekit.report.analyze(ds).write(out)``."""
    from phasekit.report import analyze

    analyze(ds, seed=seed, progress=False, input_description=desc).write(out)


def analyze_exact(inp: Path, out: Path, states: list[str], seed: int) -> None:
    """Coin/letter tasks: a fixed label set (``states=``); other answers count as unparsed."""
    print(f"phasekit.analyze({inp.name}, states={len(states)} labels)", flush=True)
    ds = read_samples(inp, text="text", encoder="exact", states=states, stage="stage")
    analyze_dataset(ds, out, seed, str(inp))


def summarise(out: Path, info: dict) -> dict:
    """The numbers the write-up quotes, computed with phasekit's public API."""
    import warnings

    import pandas as pd

    from phasekit.ingest import open_samples
    from phasekit.observables import seed_attribution

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = open_samples(pd.read_json(out / "samples.jsonl", lines=True), text="text", encoder="integer",
                          n_states=10, stage="stage")
    stage = ds["stage"].values.astype(str)
    base_idx = np.flatnonzero(stage == "base")
    ref = [int(i) for i in base_idx[-2:]]  # the trained base model: its last two checkpoints, pooled
    sa = seed_attribution(ds, reference=ref, n_states=10, n_bootstrap=200, seed=0)
    labels = ds["state"].values.astype(str)
    tokv = ds["token"].values

    def dist(idx) -> dict[str, float]:
        t = tokv[idx].ravel()
        t = t[t >= 0]
        c = np.bincount(t, minlength=labels.size) / max(t.size, 1)
        return {labels[k]: round(float(c[k]), 3) for k in range(labels.size) if c[k] > 0}

    seed_support = {NUMBERS[k] for k in np.flatnonzero(SEED_P > 0)}
    per_ck = []
    for i in range(ds.sizes["checkpoint"]):
        t = tokv[i].ravel()
        t = t[t >= 0]
        inside = float(np.isin(labels[t], list(seed_support)).mean()) if t.size else float("nan")
        per_ck.append({
            "step": int(ds["step"].values[i]), "stage": stage[i],
            "consensus_seed": str(sa["consensus_seed"].values[i]),
            "consensus_share": round(float(sa["consensus_share"].values[i]), 3),
            "support_retention": round(float(sa["support_retention"].mean("prompt").values[i]), 3),
            "mass_in_true_seed_support": round(inside, 3),
            "distribution": dist(i),
        })
    summary = {
        "seed_reference_steps": [int(ds["step"].values[i]) for i in ref],
        "true_seed_prompt": SEED_WORDING,
        "true_seed_support": sorted(seed_support, key=int),
        "per_checkpoint": per_ck,
        "n_unparsed": int(ds.attrs.get("n_unparsed", 0)),
    }
    for name in ("report", "report_list", "report_coin", "report_letter"):
        f = out / name / "summary.json"
        if f.exists():
            s = json.loads(f.read_text())
            summary[name] = {"boundaries": s["boundaries"], "no_change_p_value": s["no_change_p_value"],
                             "phases": [{k: r[k] for k in ("label", "first_step", "last_step", "n_checkpoints")}
                                        for r in s["phases"]],
                             "correlation": s.get("correlation")}
    import xarray as xr

    res = xr.open_dataset(out / "report" / "results.nc")
    if "js_divergence" in res:
        summary["between_prompt_js"] = [
            {"step": int(s), "js": round(float(v), 4), "stderr": round(float(e), 4)}
            for s, v, e in zip(res["step"].values, res["js_divergence"].values,
                               res["js_divergence_stderr"].values if "js_divergence_stderr" in res
                               else np.full(res["js_divergence"].size, np.nan), strict=True)]
    res.close()
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--pretrain-steps", type=int, default=1200)
    ap.add_argument("--sft-steps", type=int, default=240)
    ap.add_argument("--rl-steps", type=int, default=60)
    ap.add_argument("--first-checkpoint", type=int, default=25, help="first pretraining checkpoint step")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rl-batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--sft-lr", type=float, default=5e-4)
    ap.add_argument("--rl-lr", type=float, default=2e-4)
    ap.add_argument("--width", type=int, default=80)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--samples", type=int, default=48, help="samples per prompt per checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-analyze", action="store_true", help="only train and write the JSONL")
    ap.add_argument("--analyze-only", action="store_true",
                    help="skip training; analyse the JSONL already in --out")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.time()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.analyze_only:
        info = json.loads((out / "case_study.json").read_text())
    else:
        rows, info = train(args)
        write_jsonl(out / "samples.jsonl", rows["number"])
        write_jsonl(out / "samples_coin.jsonl", rows["coin"])
        write_jsonl(out / "samples_letter.jsonl", rows["letter"])
        write_jsonl(out / "samples_list.jsonl", rows["list"])
        info["train_seconds"] = round(time.time() - t_start, 1)
        (out / "case_study.json").write_text(json.dumps(info, indent=2))
    t_analyze = time.time()
    if not args.no_analyze:
        seed = ["--seed", str(args.seed)]
        run_analyze(out / "samples.jsonl", out / "report", "--text", "text", "--encoder", "integer",
                    "--n-states", "10", "--stage", "stage", *seed)
        run_analyze(out / "samples_list.jsonl", out / "report_list", "--n-states", "10", "--stage", "stage", *seed)
        # coin and letter: the CLI's "exact" encoder would make a state of every stray word
        # an early checkpoint babbles, so fix the label set with the Python API (states=)
        analyze_exact(out / "samples_coin.jsonl", out / "report_coin", COINS, args.seed)
        analyze_exact(out / "samples_letter.jsonl", out / "report_letter", LETTERS, args.seed)
        info["summary"] = summarise(out, info)
        info["analyze_seconds"] = round(time.time() - t_analyze, 1)
    info["wall_seconds"] = round(info.get("train_seconds", 0) + info.get("analyze_seconds", 0), 1)
    (out / "case_study.json").write_text(json.dumps(info, indent=2))
    print(f"done in {info['wall_seconds']:.0f} s; wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
