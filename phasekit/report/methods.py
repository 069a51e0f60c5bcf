"""The Methods section: every estimator, test and resampling scheme the analysis used,
with its reference, settings, seeds and versions — written to be pasted into a paper.

:func:`methods_entries` lists what was used, read from the report's results (their
``attrs``/``evidence`` say which estimator and error method ran), so the text cannot
name a method that did not run. :func:`methods_markdown` renders them (``methods.md``;
the HTML page's Methods section); :func:`bibtex_for` writes the cited entries of
``references.bib`` (shipped beside this module).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING, Any

from .numbers import format_step

if TYPE_CHECKING:
    from .core import Report

__all__ = ["ENTROPY_METHODS", "bibtex_for", "cited_keys", "methods_entries", "methods_markdown", "references"]

#: Entropy estimators: description and references (phasekit.entropy_estimators).
ENTROPY_METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bma": ("a Bayesian model average of the Nemenman–Shafee–Bialek (NSB) estimator (a mixture of symmetric "
            "Dirichlet priors over q states with a hyperprior flat in the prior mean entropy) and the "
            "Pitman–Yor mixture (PYM) estimator, each weighted by its marginal likelihood; the standard error "
            "combines the posterior standard deviation with the gap to the q-free Chao–Wang–Jost estimate "
            "(the farther of it and its jackknife bias-corrected value); 95% interval H ± 1.96 standard errors "
            "with the upper end at most ln q",
            ("nemenman2002", "wolpert1995", "archer2014", "chao2013")),
    "nsb": ("the Nemenman–Shafee–Bialek estimator (posterior mean under a mixture of symmetric Dirichlet priors "
            "over q states, hyperprior flat in the prior mean entropy); standard error the posterior standard "
            "deviation", ("nemenman2002", "wolpert1995")),
    "pym": ("the Pitman–Yor mixture estimator; standard error the posterior standard deviation", ("archer2014",)),
    "chao_wang_jost": ("the Chao–Wang–Jost estimator (discovery-rate expansion with the unseen tail estimated "
                       "from singletons and doubletons; needs no q); standard error from the delete-one jackknife (its "
                       "spread and, where it shows the estimate low, its bias) and the unseen-tail term weighted "
                       "by the heterogeneity of the rare states; its 95% interval is asymmetric: upper end "
                       "H + 1.96 standard errors, lower end the smaller of H − 1.96 times the estimate's sampling "
                       "standard deviation under the source distribution the counts suggest and the estimate with "
                       "the doubleton count at its exact Poisson 97.5% upper limit",
                       ("chao2013", "efron1993")),
    "chao_shen": ("the Chao–Shen coverage-adjusted estimator; standard error by the jackknife",
                  ("chao2003", "efron1993")),
    "grassberger": ("Grassberger's estimator; standard error by the jackknife", ("grassberger2003", "efron1993")),
    "miller_madow": ("the plug-in estimator with the Miller–Madow correction; delta-method standard error",
                     ("miller1955", "basharin1959")),
    "plugin": ("the plug-in (maximum-likelihood) estimator; delta-method standard error", ("basharin1959",)),
}


def _settings(rep: Report) -> dict[str, Any]:
    s = rep.settings
    return {"system": ", ".join(map(str, s.get("system", ()))), "replica": ", ".join(map(str, s.get("replica", ())))
            or "none", "control": str(s.get("control")), "q": s.get("n_states"), "seed": s.get("seed"),
            "B": s.get("n_bootstrap")}


def _entry(name: str, text: str, refs: tuple[str, ...] | list[str], **settings: Any) -> dict[str, Any]:
    return {"name": name, "text": text, "references": list(refs),
            "settings": {k: v for k, v in settings.items() if v is not None}}


def _data_entries(rep: Report) -> list[dict[str, Any]]:
    st = _settings(rep)
    m = rep.provenance.get("mapping", {})
    dims = rep.provenance.get("dims", {})
    out = []
    if m.get("encoder"):
        out.append(_entry("answer encoding", f"Answer texts were mapped to states with phasekit's "
                          f"'{m['encoder']}' encoder; answers it could not map were counted per checkpoint and "
                          "reason and left out of every estimate.", (), encoder=m["encoder"]))
    out.append(_entry("configurations and replicas",
                      f"One configuration is the set of answers over [{st['system']}] at one value of the control "
                      f"dim '{st['control']}'; the replicas over which means and fluctuations are taken are "
                      f"[{st['replica']}]. Data dims: " + ", ".join(f"{k} = {v}" for k, v in dims.items()) + ". "
                      + (f"The answer space has q = {st['q']} states." if st["q"] is not None else
                         "The size of the answer space q is unknown; every q-dependent quantity was left out."),
                      (), **{k: st[k] for k in ("system", "replica", "control", "q")}))
    return out


def _observable_entries(rep: Report) -> list[dict[str, Any]]:
    out = []
    if "entropy" in rep.order:
        est = str(rep.order["entropy"].attrs.get("estimator", rep.provenance.get("estimators", {}).get("entropy")))
        text, refs = ENTROPY_METHODS.get(est, (f"the '{est}' estimator", ()))
        out.append(_entry("entropy", f"The Shannon entropy (nats) of each configuration's answers was estimated "
                          f"with {text}.", refs, estimator=est))
    if "magnetization" in rep.order:
        out.append(_entry("order parameters", "Order parameters per configuration: the Potts magnetisation "
                          "m = (q max_k p_k − 1)/(q − 1), the normalised entropy 1 − H/ln q and the mode fraction "
                          "max_k p_k. " + (
                              "Per-checkpoint values are means over replicas with standard error s/√n over replicas."
                              if rep.settings.get("replica") else
                              "With one configuration per checkpoint (no replicas) each value keeps its own error: "
                              "the binomial or delta-method standard error, and for the entropy, 1 − H/ln q and e^H "
                              "the entropy's 95% interval mapped through them."), ("wu1982",)))
    if "susceptibility" in rep.order:
        out.append(_entry("fluctuations", "Over the replicas at each checkpoint: susceptibility "
                          "χ = N(⟨m²⟩ − ⟨m⟩²), N the number of answers per configuration, and the Binder cumulant "
                          "U = 1 − ⟨m⁴⟩/(3⟨m²⟩²), both bias-corrected and with standard errors by the delete-one "
                          "jackknife over replicas.", ("binder1981", "efron1993"),
                          N=rep.order["susceptibility"].attrs.get("N")))
    if "js_divergence" in rep.order:
        em = str(rep.order["js_divergence"].attrs.get("error_method", "")).replace("_", " ")
        out.append(_entry("between-prompt structure", "Mean pairwise Jensen–Shannon divergence (nats) between "
                          "the prompts' answer distributions and the mean overlap between prompts, with a "
                          f"finite-sample null from multinomial redraws of one shared distribution; errors by {em}.",
                          ("lin1991", "efron1993"), B=_settings(rep)["B"]))
    return out


def _boundary_entry(rep: Report) -> dict[str, Any]:
    b = rep.boundaries
    ev = b.evidence
    alpha = b.attrs.get("alpha", ev.get("alpha"))
    n_boot = b.attrs.get("n_bootstrap", ev.get("n_bootstrap"))
    if b.kind == "samples":
        text = ("Phase boundaries were located on the multinomial answer counts of every checkpoint and prompt: "
                "candidates from an exact penalised search (optimal partitioning with PELT pruning) of the "
                "multinomial deviance with a BIC penalty, divided by an over-dispersion factor measured away from "
                "the significant changes; a global no-change test and per-boundary tests by a parametric bootstrap "
                f"of the scan of likelihood-ratio (G) statistics ({n_boot} null draws; p-values at the floor "
                f"1/(B+1) are reported as bounds); boundaries kept at level α = {alpha}. Each location's interval "
                "is a likelihood-ratio confidence set calibrated by the same parametric bootstrap, reported as "
                "(lower, upper]: the change happened after the checkpoint at lower and by the one at upper. "
                "A prompt moved at a boundary if its own G statistic was significant against χ² at α/P.")
        refs = ["killick2012", "schwarz1978", "wilks1938", "efron1993", "siegmund1988"]
    else:
        test = (f"an AR(1) sieve bootstrap of the best split's gain over its AR(1) long-run variance, the "
                f"autocorrelation re-estimated on every path, the paths filtered with at least its no-change "
                f"estimate and their innovations drawn on a smooth time-varying scale ({n_boot} draws, "
                f"α = {alpha})")
        sequential = str(ev.get("selection", "")).startswith("sequential")
        if sequential:
            choice = ("the number of boundaries chosen by testing the exact best segmentations with 1, 2, ... "
                      "boundaries (at most the penalised search's number) and keeping the last whose boundaries "
                      f"all pass, each boundary tested between its neighbours by {test}")
        else:
            choice = f"candidates tested between their neighbours by {test}, the weakest dropped until all pass"
        text = ("Phase boundaries were located on the per-checkpoint series: robustly scaled channels, an exact "
                "penalised search of the Gaussian mean-shift cost with a modified-BIC penalty, "
                f"{choice}; likelihood-ratio confidence sets for the locations from a moving-block residual "
                "bootstrap.")
        refs = ["killick2012", "zhang2007", "buhlmann1997", "davidson1999", "harvey1976", "efron1993",
                "siegmund1988", *(["auger1989"] if sequential else [])]
    if b.method != "pelt":
        refs.append("truong2020")
    return _entry("phase boundaries", text + f" Search: {b.method}.", refs, method=b.method, alpha=alpha,
                  B=n_boot, seed=b.attrs.get("seed"), window=ev.get("window"))


def _later_entries(rep: Report) -> list[dict[str, Any]]:
    out = []
    out.append(_entry("phase labels", "Segments between boundaries were labelled liquid (high entropy, distinct "
                      "prompt distributions), nucleation (collapse of entropy and of between-prompt divergence) or "
                      "settling (low entropy with mass redistributed inside a fixed support) by "
                      "phasekit.changepoints.label_phases, following the three-phase picture of the motivating study.",
                      ("samanta2026",)))
    if rep.seed is not None:
        a = rep.seed.attrs
        ref = str(a.get("reference", ""))
        ref_text = "the base-stage checkpoints (pooled)" if "," in ref else f"checkpoint {ref or 'the first'}"
        out.append(_entry("seed attribution", "Each prompt's distribution at each checkpoint was attributed to the "
                          f"closest (Jensen–Shannon) base-model prompt distribution, the reference being {ref_text}; "
                          f"support retention is the share of probability on the seed's support "
                          f"({a.get('support_rule', 'top set')}). Errors: {a.get('error_method', 'bootstrap')}.",
                          ("samanta2026", "lin1991", "efron1993"), B=a.get("n_bootstrap"), seed=a.get("seed")))
    if rep.divergence is not None:
        a = rep.divergence.attrs
        out.append(_entry("divergence scan", f"A before/after divergence scan ({str(a.get('divergence', 'js')).upper()}"
                          f", window {a.get('window')} checkpoints each side); null: {a.get('null_method', '')}; "
                          f"errors: {a.get('error_method', '')}.", ("arnold2024", "lin1991"),
                          window=a.get("window"), B=a.get("n_null"), seed=a.get("seed")))
    if rep.correlation is not None:
        cf = rep.correlation.get("correlation_function")
        xi = rep.correlation.get("correlation_length")
        c_err = cf.attrs.get("error_method", "a jackknife over sequences") if cf is not None else ""
        xa = xi.attrs if xi is not None else {}
        out.append(_entry("correlations", "The connected same-state correlation C(r) = P(s_t = s_{t+r}) − Σ_k p_k² "
                          f"along positions, normalised by C(0), with standard errors by {c_err}; the correlation "
                          f"length ξ from a fit of its decay (form chosen by AIC with margin {xa.get('aic_margin')}: "
                          f"{xa.get('decay', xa.get('method'))}), errors {xa.get('error_method', '')}.",
                          ("efron1993", "akaike1974"), method=xa.get("method"), max_lag=cf.attrs.get("max_lag")
                          if cf is not None else None))
    out.extend(_member_entries(rep))
    if rep.transition is not None:
        out.append(_entry("transition order", "The order of the transition was classified across system sizes from "
                          "the scaling of the susceptibility maximum with N, the Binder cumulant's minimum and the "
                          "bimodality of the order-parameter distribution (kernel density, Silverman's bandwidth), with "
                          "transition and crossover models compared by AIC and the claim calibrated by simulation.",
                          ("binder1981", "akaike1974", "silverman1986")))
    return out


def _member_entries(rep: Report) -> list[dict[str, Any]]:
    """Across members (issue 16): the comparison, the phase diagram, the size scaling."""
    out = []
    if rep.members:
        comp = rep.comparison
        gate = comp.attrs.get("gate") if comp is not None else None
        out.append(_entry("members", f"Every member of '{rep.across}' ({len(rep.members)} members) was analysed on "
                          "its own with the same settings; boundaries were aligned across members by a one-to-one "
                          "(Hungarian) assignment of neighbouring members' boundaries within a gate"
                          + (f" of {format_step(gate)} control units" if gate is not None else "") + ".",
                          ("kuhn1955",), gate=gate))
    ss = rep.size_scaling
    if ss is not None:
        cp = getattr(ss, "critical_point", None)
        out.append(_entry("size scaling", "Across model sizes: the critical point from the crossings of the Binder "
                          "cumulant between sizes (and from the drift of the susceptibility peaks), and the exponents "
                          "from finite-size-scaling collapses obs(t, L) = L^a f((t − t_c) L^{1/ν}) (U with its own t_c, "
                          "χ with t_c fixed at the critical point, its error propagated), fitted by the Houdayer–Hartmann quality S; "
                          "a collapse is trusted only when it passes its checks (S well below that of a flat curve); "
                          "β/ν from the ratio of ⟨m⟩ between two sizes where their Binder cumulants cross "
                          "(the quotient method of phenomenological renormalisation, no critical point needed), "
                          "averaged over the pairs of sizes without the smallest one; bootstrap over replicas plus "
                          "the shifts when the smallest or the largest size is included or dropped. ν is quoted from "
                          "the U collapse only (the χ collapse's ν is not validated to 5 %).",
                          ("binder1981", "houdayer2004", "nightingale1976", "ballesteros1996", "efron1993"),
                          sizes="; ".join(format_step(v) for v in getattr(ss, "sizes", ())),
                          method=getattr(cp, "method", None), seed=getattr(ss, "seed", None)))
    return out


def methods_entries(rep: Report) -> list[dict[str, Any]]:
    """What the analysis used, in pipeline order: ``{"name", "text", "references", "settings"}``."""
    return [*_data_entries(rep), *_observable_entries(rep), _boundary_entry(rep), *_later_entries(rep)]


def cited_keys(rep: Report) -> list[str]:
    """BibTeX keys cited by the Methods, in order of first citation."""
    return list(dict.fromkeys(k for e in methods_entries(rep) for k in e["references"]))


def references() -> dict[str, str]:
    """Every entry of the shipped ``references.bib``: ``{key: bibtex text}``."""
    text = resources.files("phasekit.report").joinpath("references.bib").read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r"@\w+\{([^,]+),.*?\n\}", text, flags=re.S):
        out[m.group(1).strip()] = m.group(0)
    return out


def bibtex_for(rep: Report) -> str:
    """The ``references.bib`` written beside a report: the cited entries only."""
    refs = references()
    return "\n\n".join(refs[k] for k in cited_keys(rep) if k in refs) + "\n"


def _cite(keys: list[str]) -> str:
    return f" [{'; '.join('@' + k for k in keys)}]" if keys else ""


def methods_markdown(rep: Report) -> str:
    """``methods.md``: one paragraph per method with its citations (``[@key]``, Pandoc
    style, resolved by ``references.bib``), then seeds, settings and versions."""
    lines = ["# Methods", "", f"Analysis with phasekit {rep.provenance.get('versions', {}).get('phasekit', '')} "
             f"of {rep.provenance.get('input', 'the samples')}.", ""]
    for e in methods_entries(rep):
        lines.append(f"**{e['name'].capitalize()}.** {e['text']}{_cite(e['references'])}")
        lines.append("")
    st = _settings(rep)
    lines.append(f"**Resampling and seeds.** Every bootstrap, jackknife and permutation draw is seeded: analysis "
                 f"seed {st['seed']}, {st['B']} resamples per bootstrap (`n_bootstrap`); the same seed and data give "
                 "a bit-identical report.")
    lines.append("")
    v = rep.provenance.get("versions", {})
    lines.append("**Software.** " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    lines.append("")
    x = rep.summary()["control"]
    lines.append(f"**Control axis.** {x['n_checkpoints']} checkpoints along '{x['dim']}', {x['unit']}s "
                 f"{format_step(x['first'])}–{format_step(x['last'])}"
                 + (" (stages: " + "; ".join(f"{s['stage']} {format_step(s['first_step'])}–"
                                             f"{format_step(s['last_step'])}" for s in x["stages"]) + ")"
                    if x["stages"] else "") + ".")
    lines.append("")
    lines.append("References: `references.bib` (written beside this file).")
    return "\n".join(lines) + "\n"
