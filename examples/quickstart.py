"""Quick start in Python: analyse the embedded demo run and write the report.

    python examples/quickstart.py [--out DIR]

Same as `phasekit demo`, through the API.
"""

import argparse

import phasekit as pk


def main(out: str = "quickstart-out") -> dict:
    ds, truth = pk.datasets.demo_dataset()          # a synthetic liquid -> nucleation -> settling run
    report = pk.analyze(ds, seed=0, progress=False)
    report.write(out)
    print(report.text_summary(truth=truth))
    return report.to_dict()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="quickstart-out")
    main(ap.parse_args().out)
