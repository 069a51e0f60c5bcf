"""One small analysed run shared by the report tests (computed once per test session)."""

import functools
import warnings

import numpy as np

import phasekit as pk


@functools.cache
def staged_run():
    """A crystallisation run laid out as pretraining to 100k steps, then short sft and rl
    stages (steps 100,500-104,000: the case a log step axis squashes). Returns
    ``(ds, truth, report)``."""
    ds, truth = pk.datasets.crystallisation_run(n_checkpoints=16, n_prompts=6, n_samples=16, seed=4)
    stages = np.array(["pretrain"] * 8 + ["sft"] * 4 + ["rl"] * 4)
    steps = np.concatenate([np.geomspace(1000, 100_000, 8).round(), 100_000 + 500 * np.arange(1, 9)])
    ds = ds.assign_coords(step=("checkpoint", steps.astype(int)), stage=("checkpoint", stages))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = pk.analyze(ds, seed=2, progress=False, n_bootstrap=50)
    return ds, truth, rep
