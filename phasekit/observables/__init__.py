"""The observables stage: what one configuration, one prompt set, one reference says.

* :mod:`.order` — order parameters of every configuration (:func:`magnetization`,
  :func:`order_parameters`: entropy, 1 − H/ln q, exp(H), mode fraction, collision
  probability, divergences from a reference);
* :mod:`.structure` — between prompts (:func:`prompt_structure`: mean pairwise
  Jensen–Shannon divergence against its finite-sample null, spin-glass overlaps);
* :mod:`.seeds` — :func:`seed_attribution`: which reference-checkpoint prompt distribution
  each checkpoint's behaviour collapsed onto, and how much mass stays on its support.

Everything works from the sparse counts of :func:`phasekit.count.count_states` and the
distribution maths of :mod:`phasekit.distributions`. Result Datasets hold
``<name>_stderr`` variables; :func:`phasekit.with_stderr` (defined in ``phasekit._meta``)
turns one into a DataArray with a ``stderr`` coordinate.
"""

from __future__ import annotations

from .._meta import with_stderr
from .order import Q_DEPENDENT_NOTE, magnetization, order_parameters
from .seeds import seed_attribution
from .structure import prompt_structure

__all__ = [
    "Q_DEPENDENT_NOTE",
    "magnetization",
    "order_parameters",
    "prompt_structure",
    "seed_attribution",
    "with_stderr",
]
