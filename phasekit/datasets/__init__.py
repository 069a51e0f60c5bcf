"""Reference generators that return their ground truth.

Every generator returns :class:`Generated` ``(data, truth)``: the samples in phasekit's
data model and a dict of the exact values an estimator should recover.

* :func:`potts_samples`, :func:`potts_by_size` — 2D q-state Potts model sampled by
  Swendsen–Wang cluster updates (exact T_c = 1/ln(1+√q) and known exponents);
* :func:`biased_spins` — independent spins with a smoothly varying bias (a crossover);
* :func:`markov_chain` — symmetric q-state chain, C(r) ∝ λ^r, ξ = −1/ln λ exactly;
* :func:`repeat_avoiding_sequences`, :func:`power_law_sequences` — anti-correlated and
  critically (power-law) correlated sequences;
* :func:`crystallisation_run` — a three-phase training run (liquid → nucleation →
  settling) with known boundary steps and seed prompt;
* :func:`demo_dataset` — the embedded demo, a fixed-seed crystallisation run;
* :func:`potts_models` — Potts lattices of several sizes laid out as a model family
  (``model`` dim, ``size = L²``, temperature in ``step``);
* :func:`temperature_collapse_run` — a run whose collapse step moves with the sampling
  temperature by a known law (for phase diagrams);
* :func:`load_tiny_lm` — samples from a real (tiny) language model trained from scratch
  through pretraining, SFT and RL (see ``docs/case_study.md``).
"""

from ._common import Generated
from .crystallisation import crystallisation_run, demo_dataset, drifting_jump_run
from .families import potts_models, temperature_collapse_run
from .potts import (
    POTTS_EXACT,
    biased_spins,
    critical_energy,
    critical_temperature,
    exact_properties,
    potts_by_size,
    potts_samples,
)
from .sequences import markov_chain, power_law_sequences, repeat_avoiding_sequences
from .tiny_lm import load_tiny_lm

__all__ = [
    "drifting_jump_run",
    "POTTS_EXACT",
    "Generated",
    "critical_energy",
    "exact_properties",
    "biased_spins",
    "critical_temperature",
    "crystallisation_run",
    "demo_dataset",
    "load_tiny_lm",
    "markov_chain",
    "potts_by_size",
    "potts_models",
    "potts_samples",
    "temperature_collapse_run",
    "power_law_sequences",
    "repeat_avoiding_sequences",
]
