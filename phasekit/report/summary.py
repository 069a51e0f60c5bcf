"""The summary of findings: what was found, in a paragraph and a table of key numbers.

:func:`summary_block` builds the ``summary`` block of ``summary.json`` from a
:class:`~phasekit.report.Report`; the HTML page's "Summary" section and the CLI's lines
(:func:`summary_lines`) are rendered from that same block, so they never disagree.
Every number comes from the report's result objects (the boundary steps are the
``BoundaryResult``'s), printed with :mod:`phasekit.report.numbers`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from .._meta import control_values
from .numbers import (
    finite_or_none,
    format_estimate,
    format_interval,
    format_p_value,
    format_percent,
    format_step,
)

if TYPE_CHECKING:
    from .core import Report

__all__ = [
    "boundary_rows",
    "caveats",
    "parse_rates",
    "phase_rows",
    "seed_block",
    "stage_spans",
    "summary_block",
    "summary_lines",
    "summary_paragraph",
]

#: Order parameters shown in the phase-levels table: (what it is, unit).
LEVEL_UNITS = {
    "entropy": ("entropy H", "nats"), "order_entropy": ("1 − H/ln q", "dimensionless"),
    "magnetization": ("Potts magnetisation m", "dimensionless"), "mode_fraction": ("mode fraction max_k p_k", "fraction"),
    "collision": ("collision probability Σ p_k²", "probability"), "effective_states": ("effective states e^H", "states"),
    "js_divergence": ("between-prompt JS divergence", "nats"), "overlap": ("prompt overlap q_ab", "dimensionless"),
    "susceptibility": ("susceptibility χ", "dimensionless"), "binder": ("Binder cumulant U", "dimensionless"),
}


def _control(rep: Report) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Control values, stage per checkpoint (or None), and the unit word."""
    control = rep.settings["control"]
    x = np.asarray(control_values(rep.order, control), dtype=float)
    stages = None
    if "stage" in rep.order.coords and rep.order["stage"].dims == (control,):
        stages = np.asarray(rep.order["stage"].values).astype(str)
    from ..plot import control_unit

    unit, _ = control_unit(rep.order, control)
    return x, stages, unit


def stage_spans(steps: np.ndarray, stages: np.ndarray | None) -> list[dict[str, Any]]:
    """Contiguous runs of one stage: name, first/last step and index, checkpoints."""
    if stages is None or len(stages) == 0:
        return []
    out, start = [], 0
    for i in range(1, len(stages) + 1):
        if i == len(stages) or stages[i] != stages[start]:
            out.append({"stage": str(stages[start]), "first_step": float(steps[start]),
                        "last_step": float(steps[i - 1]), "first_index": start, "last_index": i - 1,
                        "n_checkpoints": i - start})
            start = i
    return out


def _stages_in(stages: np.ndarray | None, a: int, b: int) -> list[str]:
    if stages is None:
        return []
    return list(dict.fromkeys(str(s) for s in stages[a:b + 1]))


def _segment_level(rep: Report, var: str, a: int, b: int) -> dict[str, Any]:
    """Mean of a per-checkpoint quantity over a segment, with the standard error of that
    mean from the per-checkpoint errors, sqrt(Σ se_i²)/n (independent checkpoints), and,
    where every checkpoint has a stored interval (``<var>_lower``/``_upper``, e.g. the
    entropy's without replicas), the interval of the mean by the same rule on each side:
    mean − sqrt(Σ (v_i − lower_i)²)/n, mean + sqrt(Σ (upper_i − v_i)²)/n (with attr
    ``confidence``).  That is the checkpoint's own interval for one checkpoint and
    mean ± z·stderr for symmetric ones; for asymmetric ones it treats each side as the
    stderr is treated (an approximation), and it never leaves [mean lower, mean upper]."""
    control = rep.settings["control"]
    seg = rep.order[var].isel({control: slice(a, b + 1)})
    vals = np.asarray(seg.values, dtype=float)
    ok = np.isfinite(vals)
    if not ok.any():
        return {"value": None, "stderr": None}
    part = {k: np.asarray(rep.order[f"{var}_{k}"].isel({control: slice(a, b + 1)}).values, dtype=float)[ok]
            for k in ("stderr", "lower", "upper") if f"{var}_{k}" in rep.order}
    se = None
    if "stderr" in part and np.isfinite(part["stderr"]).all():
        se = float(np.sqrt(np.sum(part["stderr"] ** 2)) / ok.sum())
    out: dict[str, Any] = {"value": float(vals[ok].mean()), "stderr": se}
    if "lower" in part and "upper" in part and np.isfinite(part["lower"]).all() and np.isfinite(part["upper"]).all():
        v = vals[ok]
        out["lower"] = float(out["value"] - np.sqrt(np.sum((v - part["lower"]) ** 2)) / ok.sum())
        out["upper"] = float(out["value"] + np.sqrt(np.sum((part["upper"] - v) ** 2)) / ok.sum())
        out["confidence"] = float(rep.order[f"{var}_lower"].attrs.get("confidence", 0.95))
    return out


def phase_rows(rep: Report) -> list[dict[str, Any]]:
    """The segments between boundaries (the phases): label, step range, checkpoints,
    stages, levels with errors. Segments are cut at the ``BoundaryResult``'s indices, so
    two neighbouring segments with the same label stay two rows, as the boundary between
    them says; without boundaries, contiguous runs of one label."""
    x, stages, _ = _control(rep)
    labels = np.asarray(rep.phases.values).astype(str)
    cuts = sorted(int(i) for i in rep.boundaries.indices if 0 < int(i) < labels.size)
    if not cuts:
        cuts = [i for i in range(1, labels.size) if labels[i] != labels[i - 1]]
    edges = [0, *cuts, labels.size]
    rows = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        levels = {v: _segment_level(rep, v, a, b - 1) for v in LEVEL_UNITS if v in rep.order}
        rows.append({"label": str(labels[a]), "first_step": float(x[a]), "last_step": float(x[b - 1]),
                     "first_index": a, "last_index": b - 1, "n_checkpoints": b - a,
                     "stages": _stages_in(stages, a, b - 1), "levels": levels})
    return rows


def _n_resamples(evidence: dict[str, Any], fallback: Any) -> int | None:
    floor = finite_or_none(evidence.get("p_value_floor"))
    if floor:
        return int(round(1.0 / floor)) - 1
    n = evidence.get("n_bootstrap", fallback)
    return int(n) if n is not None else None


def boundary_rows(rep: Report) -> list[dict[str, Any]]:
    """One entry per boundary, from the ``BoundaryResult``: step, interval and its width,
    the test and its p-value (as a bound at the resampling floor), phases and stages."""
    b = rep.boundaries
    x, stages, unit = _control(rep)
    ev = b.evidence
    per = ev.get("boundaries", [])
    n_res = _n_resamples(ev, b.attrs.get("n_bootstrap"))
    out = []
    for i, (loc, idx, (lo, hi)) in enumerate(zip(b.locations, b.indices, b.intervals, strict=True)):
        e = per[i] if i < len(per) else {}
        span = e.get("interval_index")
        n_in = int(span[1] - span[0] + 1) if span is not None and len(span) == 2 else None
        p = finite_or_none(e.get("p_value"))
        at_floor = e.get("p_value_at_floor")
        out.append({
            "step": float(loc), "index": int(idx), "interval": [finite_or_none(lo), finite_or_none(hi)],
            "interval_width": (finite_or_none(hi) - finite_or_none(lo)) if finite_or_none(hi) is not None and finite_or_none(lo) is not None else None,  # type: ignore[operator]
            "interval_checkpoints": n_in,
            "interval_text": format_interval(lo, hi, n_checkpoints=n_in, unit="steps" if unit == "step" else ""),
            "test": str(ev.get("test", b.method)),
            "p_value": p, "p_value_at_floor": bool(at_floor) if at_floor is not None else None,
            "n_resamples": n_res,
            "p_value_text": format_p_value(p, n_resamples=n_res, at_floor=at_floor),
            "channels": [str(c) for c in e.get("channels", [])],
            "phase_before": e.get("phase_before", str(rep.phases.values[idx - 1]) if idx > 0 else None),
            "phase_after": e.get("phase_after", str(rep.phases.values[idx])),
            "stage_before": str(stages[idx - 1]) if stages is not None and idx > 0 else None,
            "stage_after": str(stages[idx]) if stages is not None else None,
        })
    return out


def no_change_test(rep: Report) -> dict[str, Any]:
    """The global no-change test: what it is, its p-value and the resamples behind it."""
    ev = rep.boundaries.evidence
    n_res = _n_resamples(ev, rep.boundaries.attrs.get("n_bootstrap"))
    p = finite_or_none(ev.get("p_value"))
    return {"test": str(ev.get("test", rep.boundaries.method)), "p_value": p, "n_resamples": n_res,
            "p_value_text": format_p_value(p, n_resamples=n_res, at_floor=ev.get("p_value_at_floor")),
            "alpha": finite_or_none(rep.boundaries.attrs.get("alpha", ev.get("alpha")))}


def seed_block(rep: Report) -> dict[str, Any] | None:
    """The seed prompt at the last checkpoint, its share of prompts, and the mass the last
    checkpoint keeps on the seed's support (mean over prompts ± its s.e. over prompts)."""
    if rep.seed is None or "consensus_seed" not in rep.seed:
        return None
    s, control = rep.seed, rep.settings["control"]
    cons = np.asarray(s["consensus_seed"].values).astype(str).ravel()
    last = {control: -1}
    ret = np.asarray(s["support_retention"].isel(last).values, dtype=float).ravel() \
        if "support_retention" in s else np.array([])
    ret = ret[np.isfinite(ret)]
    share = finite_or_none(s["consensus_share"].isel(last).values) if "consensus_share" in s else None
    conf = finite_or_none(s["consensus_confidence"].isel(last).values) if "consensus_confidence" in s else None
    reference = str(s.attrs.get("reference", "first checkpoint"))
    ref_label = "the base-stage checkpoints" if len(reference.split(",")) > 1 else f"checkpoint {reference}"
    return {
        "prompt": cons[-1] if cons.size else None,
        "share_of_prompts": share,
        "bootstrap_agreement": conf,
        "support_retention": float(ret.mean()) if ret.size else None,
        "support_retention_stderr": float(ret.std(ddof=1) / np.sqrt(ret.size)) if ret.size > 1 else None,
        "reference": reference,
        "reference_text": ref_label,
    }


def transition_block(rep: Report) -> dict[str, Any]:
    """The order of the transition, or why there is none."""
    t = rep.transition
    if t is None:
        return {"kind": None, "conclusive": False, "text": f"not classified: {rep.transition_note}"}
    kind = str(t.kind).replace("_", "-")
    verdict = "conclusive" if t.conclusive else "not conclusive"
    return {"kind": t.kind, "conclusive": bool(t.conclusive), "text": f"{kind} ({verdict}): {t.reason}"}


def _loads(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    return v


def parse_rates(rep: Report) -> list[dict[str, Any]] | None:
    """Per-checkpoint parse rates from the ingestion audit (issue 13), or None when the
    data were not read from answer texts. ``parse_rate`` = parsed / generations."""
    audit = _loads(rep.provenance.get("mapping", {}).get("audit"))
    if not isinstance(audit, list) or not audit:
        return None
    rows = []
    for r in audit:
        n = int(r.get("generations", r.get("rows", 0)) or 0)
        parsed = int(r.get("parsed", 0) or 0)
        reasons = {k.split(":", 1)[1].strip(): int(v) for k, v in r.items()
                   if k.startswith("unparsed:") and v}
        rows.append({"checkpoint": str(r.get("checkpoint")), "generations": n, "parsed": parsed,
                     "unparsed": int(r.get("unparsed", 0) or 0), "failed": int(r.get("failed", 0) or 0),
                     "parse_rate": parsed / n if n else None, "unparsed_reasons": reasons})
    return rows


def _unparsed_rate(rep: Report) -> float | None:
    m = rep.provenance.get("mapping", {})
    rates = parse_rates(rep)
    if rates:
        n = sum(r["generations"] for r in rates)
        return sum(r["unparsed"] for r in rates) / n if n else None
    if m.get("n_unparsed") is not None and m.get("n_rows"):
        return float(m["n_unparsed"]) / float(m["n_rows"])
    return None


def assumptions(rep: Report) -> list[str]:
    """Assumptions the analysis made, as recorded by its stages."""
    out: list[str] = []
    cps = [getattr(rep.size_scaling, "critical_point", None), getattr(rep.size_scaling, "critical_point_susceptibility", None)]
    for obj in (rep.boundaries, rep.transition, rep.size_scaling, rep.diagram, *cps):
        for a in getattr(obj, "assumptions", ()) or ():
            out.append(str(a))
    ev = rep.boundaries.evidence
    for key in ("null_note", "note", "over_dispersion_note"):
        if isinstance(ev.get(key), str) and "assum" in ev[key]:
            out.append(ev[key])
    chi = rep.order.get("susceptibility")
    if chi is not None and chi.attrs.get("N_note"):
        out.append(f"susceptibility: {chi.attrs['N_note']}")
    if rep.seed is not None and str(rep.seed.attrs.get("reference", "")).count(",") == 0:
        out.append("seed attribution: the first checkpoint stands for the base model (no 'stage' coordinate "
                   "names a base stage before the others)")
    return list(dict.fromkeys(out))


def caveats(rep: Report) -> list[str]:
    """What the reader must know before quoting the numbers."""
    out = []
    rate = _unparsed_rate(rep)
    if rate is not None:
        rates = [r["parse_rate"] for r in parse_rates(rep) or [] if r["parse_rate"] is not None]
        worst = f"; lowest per-checkpoint parse rate {format_percent(min(rates))}" if rates else ""
        out.append(f"{format_percent(rate)} of the answers could not be parsed and are not counted{worst}")
    if rep.settings.get("n_states") is None:
        out.append("q (the size of the answer space) is unknown: " + "; ".join(rep.settings.get("left_out", []))
                   + " — left out")
    n_dropped = rep.boundaries.evidence.get("n_dropped")
    if n_dropped:
        out.append(f"{n_dropped} checkpoint(s) without counted samples were left out of the change-point search")
    out.extend(f"assumption: {a}" for a in assumptions(rep))
    return out


def _phase_phrase(p: dict[str, Any], unit: str) -> str:
    rng = f"{unit}s {format_step(p['first_step'])}–{format_step(p['last_step'])}" \
        if p["first_step"] != p["last_step"] else f"{unit} {format_step(p['first_step'])}"
    st = f"; {', '.join(p['stages'])}" if p["stages"] else ""
    return f"{p['label']} ({rng}, {p['n_checkpoints']} checkpoints{st})"


def _join(parts: list[str]) -> str:
    """``a, b and c``; ``a; b and c`` when the items hold commas (``1,000; 2,000 and 3,000``)."""
    if len(parts) == 1:
        return parts[0]
    sep = "; " if any("," in p for p in parts) else ", "
    return sep.join(parts[:-1]) + " and " + parts[-1]


def summary_paragraph(block: dict[str, Any]) -> str:
    """The generated paragraph at the top of the report."""
    c, unit = block["control"], block["control"]["unit"]
    st = f"; stages {', '.join(s['stage'] for s in c['stages'])}" if c["stages"] else ""
    out = [f"Across {c['n_checkpoints']} checkpoints ({unit}s {format_step(c['first'])}–"
           f"{format_step(c['last'])}{st}) the samples fall into {len(block['phases'])} "
           f"phase{'s' if len(block['phases']) != 1 else ''}: "
           f"{_join([_phase_phrase(p, unit) for p in block['phases']])}."]
    if block["boundaries"]:
        bs = [f"{unit} {format_step(b['step'])} ({b['phase_before']} → {b['phase_after']}; "
              f"{_short_interval(b['interval'])}; p {_p_words(b)})" for b in block["boundaries"]]
        out.append(f"Boundar{'ies' if len(bs) > 1 else 'y'} at {_join(bs)}; the no-change test "
                   f"({block['no_change_test']['test']}) gives p {_p_words(block['no_change_test'])}.")
    else:
        out.append(f"No phase boundary: the no-change test ({block['no_change_test']['test']}) gives "
                   f"p {_p_words(block['no_change_test'])}.")
    s = block["seed"]
    if s and s.get("prompt"):
        ret = format_estimate(s["support_retention"], s["support_retention_stderr"])
        share = f", the seed of {format_percent(s['share_of_prompts'], 0)} of the prompts" \
            if s.get("share_of_prompts") is not None else ""
        out.append(f"At the last checkpoint the behaviour is closest to the base distribution of prompt "
                   f"{s['prompt']}{share} (reference: {s['reference_text']}); the share of probability on "
                   f"that seed's support is {ret}.")
    if block.get("members"):
        out.append(_members_sentence(block, block.get("across") or "members"))
    if block.get("size_scaling"):
        out.append(_scaling_sentence(block["size_scaling"], unit))
    t = block["transition"]["text"].split(";")[0]      # the table and section below have the rest
    out.append(f"Transition order: {t}" + ("" if t.endswith(".") else "."))
    if block["caveats"]:
        out.append("Caveats: " + "; ".join(block["caveats"]) + ".")
    return " ".join(out)


def _short_interval(iv: list[float | None]) -> str:
    lo, hi = iv
    if lo is None or hi is None:
        return "no interval"
    return f"at {format_step(hi)} exactly" if lo == hi else f"after {format_step(lo)}, by {format_step(hi)}"


def _p_words(test: dict[str, Any]) -> str:
    t = test["p_value_text"]
    return t if t.startswith("<") else f"= {t}"


def headline(block: dict[str, Any]) -> str:
    """One line: boundaries and phases, the seed."""
    unit = block["control"]["unit"]
    phases = " → ".join(p["label"] for p in block["phases"])
    if block["boundaries"]:
        where = _join([format_step(b["step"]) for b in block["boundaries"]])
        many = len(block["boundaries"]) > 1
        line = f"{len(block['boundaries'])} boundar{'ies' if many else 'y'} ({unit}{'s' if many else ''} {where}): {phases}"
    else:
        line = f"no phase boundary (p {_p_words(block['no_change_test'])}): {phases}"
    if block.get("members"):
        line += f"; {len(block['members'])} members across {block.get('across') or 'members'}"
    s = block["seed"]
    if s and s.get("prompt"):
        line += f"; seed prompt {s['prompt']} (support retention " \
                f"{format_estimate(s['support_retention'], s['support_retention_stderr'])})"
    return line


def summary_block(rep: Report) -> dict[str, Any]:
    """The ``summary`` block of ``summary.json`` (and of the HTML page's first section)."""
    x, stages, unit = _control(rep)
    block: dict[str, Any] = {
        "control": {"dim": str(rep.settings["control"]), "unit": unit, "n_checkpoints": int(x.size),
                    "first": float(x[0]) if x.size else None, "last": float(x[-1]) if x.size else None,
                    "stages": stage_spans(x, stages)},
        "phases": phase_rows(rep),
        "boundaries": boundary_rows(rep),
        "no_change_test": no_change_test(rep),
        "seed": seed_block(rep),
        "transition": transition_block(rep),
        "across": rep.across,
        "q_known": rep.settings.get("n_states") is not None,
        "unparsed_rate": _unparsed_rate(rep),
        "assumptions": assumptions(rep),
        "caveats": caveats(rep),
    }
    block["members"] = member_rows(rep)
    block["size_scaling"] = size_scaling_block(rep)
    block["headline"] = headline(block)
    block["text"] = summary_paragraph(block)
    block["key_numbers"] = key_numbers(block)
    return block


def member_rows(rep: Report) -> list[dict[str, Any]]:
    """One row per member of a ``model``/``run``/``task``/``across`` dim: its boundaries
    (steps) and phases, from its own report."""
    out = []
    for key, m in rep.members.items():
        b = m.boundaries
        out.append({"member": str(key), "boundaries": [float(v) for v in b.locations],
                    "intervals": [[finite_or_none(lo), finite_or_none(hi)] for lo, hi in b.intervals],
                    "phases": [p["label"] for p in phase_rows(m)],
                    "representative": key == rep.settings.get("representative")})
    return out


def size_scaling_block(rep: Report) -> dict[str, Any] | None:
    """Across model sizes (issue 16): critical points and exponents with their errors, the
    transition class, assumptions and notes; None without a size scaling."""
    ss = rep.size_scaling
    if ss is None:
        return None

    def cp(x: Any) -> dict[str, Any] | None:
        return None if x is None else {"value": finite_or_none(getattr(x, "value", None)), "stderr": finite_or_none(getattr(x, "stderr", None)),
                                       "method": str(getattr(x, "method", ""))}

    ex = ss.exponent_estimates() if hasattr(ss, "exponent_estimates") else {}
    t = getattr(ss, "transition", None)
    return {"sizes": [float(v) for v in getattr(ss, "sizes", ())],
            "critical_point": cp(getattr(ss, "critical_point", None)),
            "critical_point_susceptibility": cp(getattr(ss, "critical_point_susceptibility", None)),
            "exponents": {k: {"value": finite_or_none(e["value"]), "stderr": finite_or_none(e["stderr"]),
                              "method": str(e["method"]), "trusted": bool(e["trusted"]),
                              "message": str(e["message"])}
                          for k, e in ex.items()},
            "transition": None if t is None else str(t.kind),
            "assumptions": [str(a) for a in getattr(ss, "assumptions", ())],
            "notes": [str(n) for n in getattr(ss, "notes", ())]}


def _scaling_sentence(sc: dict[str, Any], unit: str) -> str:
    parts = []
    c = sc["critical_point"]
    if c and c["value"] is not None:
        parts.append(f"critical point {unit} {format_estimate(c['value'], c['stderr'])} ({c['method']})")
    parts += [f"{k} = {format_estimate(v['value'], v['stderr'])}" for k, v in sc["exponents"].items()
              if v["trusted"]]
    failed = [k for k, v in sc["exponents"].items() if not v["trusted"]]
    if failed:
        parts.append(f"no trustworthy estimate of {', '.join(failed)} (see the size-scaling table)")
    what = "; ".join(parts) if parts else "no critical point or exponent could be estimated (" + \
        "; ".join(sc["notes"]) + ")"
    return f"Across sizes {_join([format_step(v) for v in sc['sizes']])}: {what}."


def _members_sentence(block: dict[str, Any], across: str) -> str:
    unit = block["control"]["unit"]
    parts = [f"{m['member']}: " + (f"{unit}{'s' if len(m['boundaries']) > 1 else ''} "
                                   + _join([format_step(v) for v in m["boundaries"]]) if m["boundaries"] else "none")
             for m in block["members"]]
    rep = next((m["member"] for m in block["members"] if m["representative"]), None)
    tail = f" The numbers above are for the representative member {rep}." if rep else ""
    return f"Across {across} ({len(block['members'])} members) the boundaries are at {'; '.join(parts)}.{tail}"


def key_numbers(block: dict[str, Any]) -> list[dict[str, str]]:
    """The key-numbers table: one row per finding, ``{"quantity", "value", "detail"}``."""
    unit = block["control"]["unit"]
    rows = []
    for p in block["phases"]:
        rows.append({"quantity": f"phase: {p['label']}",
                     "value": f"{unit}s {format_step(p['first_step'])}–{format_step(p['last_step'])}",
                     "detail": f"{p['n_checkpoints']} checkpoints" + (f"; stages {', '.join(p['stages'])}"
                                                                      if p["stages"] else "")})
    for i, b in enumerate(block["boundaries"], 1):
        rows.append({"quantity": f"boundary {i}: {b['phase_before']} → {b['phase_after']}",
                     "value": f"{unit} {format_step(b['step'])}",
                     "detail": f"{b['interval_text']}; {b['test']}: p {b['p_value_text'] if b['p_value_text'].startswith('<') else '= ' + b['p_value_text']}"})
    nct = block["no_change_test"]
    rows.append({"quantity": "no-change test", "value": f"p {_p_words(nct)}",
                 "detail": f"{nct['test']}; {nct['n_resamples']} resamples" if nct["n_resamples"] else nct["test"]})
    s = block["seed"]
    if s and s.get("prompt"):
        rows.append({"quantity": "seed prompt (last checkpoint)", "value": str(s["prompt"]),
                     "detail": f"reference: {s['reference_text']}"
                     + (f"; seed of {format_percent(s['share_of_prompts'], 0)} of prompts"
                        if s.get("share_of_prompts") is not None else "")})
        rows.append({"quantity": "support retention (last checkpoint)",
                     "value": format_estimate(s["support_retention"], s["support_retention_stderr"]),
                     "detail": "share of probability on the seed's support; ± s.e. over prompts"})
    for m in block.get("members", []):
        rows.append({"quantity": f"member {m['member']}" + (" (representative)" if m["representative"] else ""),
                     "value": (f"{unit}{'s' if len(m['boundaries']) > 1 else ''} "
                               + _join([format_step(v) for v in m["boundaries"]])) if m["boundaries"]
                     else "no boundary", "detail": " → ".join(m["phases"])})
    sc = block.get("size_scaling")
    if sc:
        for name, c in (("critical point (Binder crossings)", sc["critical_point"]),
                        ("critical point (χ peaks)", sc["critical_point_susceptibility"])):
            if c and c["value"] is not None:
                rows.append({"quantity": name, "value": f"{unit} {format_estimate(c['value'], c['stderr'])}",
                             "detail": f"across sizes {_join([format_step(v) for v in sc['sizes']])}"})
        for k, v in sc["exponents"].items():
            ok = v["trusted"]
            rows.append({"quantity": f"exponent {k}", "value": format_estimate(v["value"], v["stderr"])
                         + ("" if ok else " (not trustworthy)"),
                         "detail": v["method"] + (f"; {v['message']}" if v["message"] else "")})
    t = block["transition"]
    verdict = "" if t["kind"] is None else (" (conclusive)" if t["conclusive"] else " (not conclusive)")
    rows.append({"quantity": "transition order", "value": (t["kind"] or "not classified").replace("_", "-") + verdict,
                 "detail": t["text"]})
    rows.append({"quantity": "unparsed answers", "value": format_percent(block["unparsed_rate"])
                 if block["unparsed_rate"] is not None else "not applicable (token data)",
                 "detail": "not counted in any estimate"})
    rows.append({"quantity": "q (answer space size)", "value": "known" if block["q_known"] else "unknown",
                 "detail": "" if block["q_known"] else "q-dependent quantities left out"})
    return rows


def summary_lines(block: dict[str, Any]) -> list[str]:
    """The CLI's lines, from the same block as the HTML summary."""
    unit = block["control"]["unit"]
    lines = [block["headline"]]
    for i, b in enumerate(block["boundaries"], 1):
        lines.append(f"  boundary {i}: {unit} {format_step(b['step'])} ({b['phase_before']} -> {b['phase_after']}; "
                     f"{b['interval_text']}; p {b['p_value_text'] if b['p_value_text'].startswith('<') else '= ' + b['p_value_text']})")
    lines.append("  phases: " + " | ".join(_phase_phrase(p, unit) for p in block["phases"]))
    lines.append(f"  transition order: {block['transition']['text']}")
    for c in block["caveats"]:
        lines.append(f"  caveat: {c}")
    return lines
