"""The Methods section, methods.md and references.bib (issue 17 item 5): every method that
ran is named with its references and settings, nothing that did not run is cited, and
every citation resolves to a complete BibTeX entry."""

import copy
import re
import warnings

import pytest
from _report_data import staged_run

import phasekit as pk
from phasekit.report.methods import (
    bibtex_for,
    cited_keys,
    methods_entries,
    methods_markdown,
    references,
)


def _with_estimator(rep, name):
    r = copy.copy(rep)
    r.order = rep.order.copy()
    r.order["entropy"] = rep.order["entropy"].assign_attrs(estimator=name)
    return r


def test_every_cited_key_is_a_complete_bib_entry():
    refs = references()
    for key, entry in refs.items():                      # the shipped file: complete entries
        for f in ("author", "title", "year"):
            assert re.search(rf"\b{f}\s*=", entry), (key, f)
        assert re.search(r"\b(doi|eprint|publisher|journal|booktitle)\s*=", entry), key
    _, _, rep = staged_run()
    for key in cited_keys(rep):
        entry = refs[key]
        for f in ("author", "title", "year"):
            assert re.search(rf"\b{f}\s*=", entry), (key, f)
    bib = bibtex_for(rep)
    assert sorted(re.findall(r"@\w+\{([^,]+),", bib)) == sorted(cited_keys(rep))


def test_default_entropy_estimator_cites_nsb_pym_and_cwj():
    _, _, rep = staged_run()
    assert rep.order["entropy"].attrs["estimator"] == "bma"
    keys = cited_keys(rep)
    for k in ("nemenman2002", "archer2014", "chao2013"):
        assert k in keys
    text = methods_markdown(rep)
    assert "Nemenman–Shafee–Bialek" in text and "Pitman–Yor" in text


def test_methods_follow_the_estimator_that_ran():
    _, _, rep = staged_run()
    plug = _with_estimator(rep, "plugin")
    keys = cited_keys(plug)
    assert "basharin1959" in keys and "nemenman2002" not in keys and "archer2014" not in keys
    cwj = _with_estimator(rep, "chao_wang_jost")
    assert "chao2013" in cited_keys(cwj) and "nemenman2002" not in cited_keys(cwj)


def test_change_point_method_settings_and_references():
    _, _, rep = staged_run()
    e = next(m for m in methods_entries(rep) if m["name"] == "phase boundaries")
    assert e["settings"]["B"] == rep.boundaries.attrs["n_bootstrap"]
    assert e["settings"]["alpha"] == rep.boundaries.attrs["alpha"]
    assert e["settings"]["seed"] == rep.boundaries.attrs["seed"]
    assert {"killick2012", "siegmund1988", "efron1993"} <= set(e["references"])
    assert "truong2020" not in e["references"]           # ruptures' searches did not run
    assert "PELT" in e["text"] and f"{rep.boundaries.attrs['n_bootstrap']} null draws" in e["text"]


def test_methods_md_has_seeds_settings_and_versions():
    _, _, rep = staged_run()
    text = methods_markdown(rep)
    assert f"analysis seed {rep.settings['seed']}" in text
    assert f"{rep.settings['n_bootstrap']} resamples" in text
    for name, version in rep.provenance["versions"].items():
        assert f"{name} {version}" in text
    for m in methods_entries(rep):
        for k in m["references"]:
            assert f"@{k}" in text
    assert "q = 10" in text


def test_no_fluctuation_or_q_methods_without_q():
    rows = [{"checkpoint": f"step{s}", "prompt": p, "sample": i,
             "text": "Paris" if (s >= 600 and i % 5) else ["Oslo", "Lima", "Rome", "Kyiv"][(i + s // 100) % 4]}
            for s in range(100, 1200, 100) for p in ("a", "b", "c") for i in range(16)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pk.open_samples(rows, text="text", encoder="exact")
        rep = pk.analyze(ds, progress=False, n_bootstrap=50)
    names = [m["name"] for m in methods_entries(rep)]
    assert "fluctuations" not in names and "order parameters" not in names
    assert "answer encoding" in names
    assert "binder1981" not in cited_keys(rep)
    assert rep.order["entropy"].attrs["estimator"] == "chao_wang_jost"
    assert "nemenman2002" not in cited_keys(rep)
    assert "q is unknown" in methods_markdown(rep)


@pytest.mark.slow
def test_write_puts_methods_and_references_beside_the_report(tmp_path):
    _, _, rep = staged_run()
    paths = rep.write(tmp_path)
    assert paths["methods"].read_text() == methods_markdown(rep)
    assert paths["references"].read_text() == bibtex_for(rep)
    page = paths["html"].read_text()
    assert "id='methods'" in page and "Killick" in page
