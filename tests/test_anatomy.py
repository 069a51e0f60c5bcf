"""phasekit.anatomy is a re-export shim of an old import path (issue 15: anatomy dissolved).

The computations live with their stage and are tested there: seed attribution in
tests/test_observables_seeds.py, the divergence scan in tests/test_changepoints_scan.py,
transition order in tests/test_validation_transition_order.py. Here: the old names are
the very same objects, so code written against ``phasekit.anatomy`` gets today's numbers.
"""

from __future__ import annotations

import phasekit as pk
import phasekit.anatomy as anatomy
from phasekit.changepoints import scan
from phasekit.observables import seeds
from phasekit.scaling import order


def test_old_import_path_gives_the_moved_objects():
    assert anatomy.seed_attribution is seeds.seed_attribution is pk.seed_attribution
    assert anatomy.divergence_scan is scan.divergence_scan is pk.divergence_scan
    assert anatomy.scan_peaks is scan.scan_peaks is pk.scan_peaks
    assert anatomy.classify_transition is order.classify_transition is pk.classify_transition
    assert anatomy.TransitionClass is order.TransitionClass
    assert set(anatomy.__all__) == {"TransitionClass", "classify_transition", "divergence_scan",
                                    "scan_peaks", "seed_attribution"}


def test_the_shim_defines_nothing_of_its_own():
    """Every public callable of the shim is defined in another module."""
    for name in anatomy.__all__:
        assert getattr(anatomy, name).__module__ != "phasekit.anatomy", name
