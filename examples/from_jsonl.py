"""From a JSONL of text answers to a report (the tutorial in docs/tutorial.md).

    python examples/from_jsonl.py [--out DIR] [--small]

Writes a JSONL of "pick a random number between 1 and 10" answers from a synthetic
three-phase run (as a lab's sampling job would), reads it back with
`pk.open_samples`, and analyses it.
"""

import argparse
import json
from pathlib import Path

import phasekit as pk


def write_generations(path: Path, *, small: bool = False) -> dict:
    """Write one JSON object per answer; return the generator's ground truth."""
    ds, truth = pk.datasets.crystallisation_run(
        n_checkpoints=20 if small else 40, n_prompts=8 if small else 12,
        n_samples=16 if small else 32, seed=7, settling=True)
    labels = ds["state"].values
    with open(path, "w") as fh:
        for c, ckpt in enumerate(ds["checkpoint"].values):
            for p, prompt in enumerate(ds["prompt"].values):
                for s, t in enumerate(ds["token"].values[c, p]):
                    answer = f"My number is {labels[t]}." if t >= 0 else "I can't pick one."
                    fh.write(json.dumps({"checkpoint": str(ckpt), "step": int(ds["step"].values[c]),
                                         "stage": str(ds["stage"].values[c]), "prompt": str(prompt),
                                         "sample": s, "text": answer}) + "\n")
    return truth


def main(out: str = "from-jsonl-out", small: bool = False) -> dict:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "generations.jsonl"
    truth = write_generations(path, small=small)

    ds = pk.open_samples(path, text="text", encoder="integer", states=[str(k) for k in range(1, 11)],
                         stage="stage")
    print(pk.schema.summary(ds))
    H = pk.entropy(ds, system="sample")
    print("entropy at the first checkpoint (nats):", H.isel(checkpoint=0).round(2).values,
          "+-", H.stderr.isel(checkpoint=0).round(2).values)
    report = pk.analyze(ds, seed=0, progress=False, input_description=str(path))
    report.write(out_dir / "report")
    print(report.text_summary(truth=truth))
    return report.to_dict()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="from-jsonl-out")
    ap.add_argument("--small", action="store_true")
    a = ap.parse_args()
    main(a.out, a.small)
