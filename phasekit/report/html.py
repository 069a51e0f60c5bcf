"""The HTML page of a report: summary first, then the evidence, the methods, provenance.

Self-contained (figures embedded as PNG data URIs, no scripts, no external resources),
so it opens from a file, an e-mail or a CI artefact alike.
"""

from __future__ import annotations

import base64
import html
import json
from typing import TYPE_CHECKING, Any

from .._version import __version__
from .figures import FIGURE_ORDER, captions
from .numbers import format_estimate, format_level, format_percent, format_step
from .summary import LEVEL_UNITS, parse_rates

if TYPE_CHECKING:
    from .core import Report

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1150px;margin:2em auto;color:#222;padding:0 1em}
h1{font-size:1.6em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} .note{color:#555;font-size:.9em}
figcaption{font-size:.85em;color:#444;max-width:60em;margin-bottom:1em}
.summary{background:#f7f9fc;border:1px solid #dbe3ef;padding:.6em 1em;border-radius:4px}
code{background:#f5f5f5;padding:0 3px} .methods p{max-width:60em}
"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_e(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{_e(c)}</td>" if j in numeric else f"<td>{_e(c)}</td>"
                                    for j, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(rep: Report, name: str, caps: dict[str, tuple[str, str]]) -> str:
    data = rep._figures.get(name)
    if not data:
        return ""
    alt, cap = caps.get(name, (name, ""))
    b64 = base64.b64encode(data).decode()
    return (f"<figure id='fig-{name}'><img alt='{_e(alt)}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{_e(cap)}</figcaption></figure>")


def _summary_section(block: dict[str, Any]) -> str:
    rows = [[r["quantity"], r["value"], r["detail"]] for r in block["key_numbers"]]
    return ("<h2 id='summary'>Summary</h2>"
            f"<div class='summary'><p>{_e(block['text'])}</p></div>"
            "<h3>Key numbers</h3>" + _table(["finding", "value", "detail"], rows))


def _nav(rep: Report) -> str:
    """Links to the sections, for a reader who wants one thing."""
    links = [("boundaries", "boundaries"), ("phases", "phases"), ("fig-order_parameters", "figures")]
    if parse_rates(rep):
        links.append(("data-quality", "data quality"))
    if rep.members or rep.size_scaling is not None:
        links.append(("members", "members"))
    links += [("transition", "transition order"), ("methods", "methods"), ("provenance", "provenance")]
    return "<p class='note'>Jump to: " + " · ".join(f"<a href='#{a}'>{_e(t)}</a>" for a, t in links) + "</p>"


def _boundaries_section(block: dict[str, Any]) -> str:
    unit = block["control"]["unit"]
    out = ["<h2 id='boundaries'>Phase boundaries</h2>"]
    if block["boundaries"]:
        rows = [[str(i), format_step(b["step"]), b["interval_text"], f"{b['phase_before']} → {b['phase_after']}",
                 f"{b['stage_before'] or '–'} → {b['stage_after'] or '–'}", b["p_value_text"],
                 ", ".join(b["channels"]) or "–"]
                for i, b in enumerate(block["boundaries"], 1)]
        out.append(_table(["#", unit, "interval (lower, upper]", "phases", "stages", "p (per-boundary test)",
                           "prompts that moved"], rows, numeric={1}))
        out.append(f"<p class='note'>Test: {_e(block['boundaries'][0]['test'])}. "
                   "A p-value at the resampling floor is a bound, printed “&lt; 1/(B+1)”.</p>")
    nct = block["no_change_test"]
    out.append(f"<p>No-change test over the whole run: p {_e(nct['p_value_text'] if nct['p_value_text'].startswith('<') else '= ' + nct['p_value_text'])}"
               f" ({_e(nct['test'])}; {_e(nct['n_resamples'])} resamples).</p>")
    return "".join(out)


def _phases_section(block: dict[str, Any]) -> str:
    unit = block["control"]["unit"]
    phases = block["phases"]
    out = ["<h2 id='phases'>Phases</h2>"]
    rows = [[p["label"], format_step(p["first_step"]), format_step(p["last_step"]), str(p["n_checkpoints"]),
             ", ".join(p["stages"]) or "–"] for p in phases]
    out.append(_table(["phase", f"first {unit}", f"last {unit}", "checkpoints", "stages"], rows, numeric={1, 2, 3}))
    names = [v for v in LEVEL_UNITS if any(v in p["levels"] for p in phases)]
    if names:
        rows = [[LEVEL_UNITS[v][0], LEVEL_UNITS[v][1]]
                + [format_level(p["levels"].get(v)) for p in phases] for v in names]
        heads = [f"{p['label']} ({format_step(p['first_step'])}–{format_step(p['last_step'])})" for p in phases]
        out.append("<h3>Phase levels</h3>")
        out.append(_table(["quantity", "unit"] + heads, rows, numeric=set(range(2, 2 + len(phases)))))
        out.append("<p class='note'>Levels are means over the phase's checkpoints ± the standard error of that mean "
                   "(√Σ se²/n from the per-checkpoint standard errors); where a checkpoint's estimate has its own "
                   "interval (the entropy's, without replicas) the level's interval follows the same rule on each "
                   "side. Phase rule: liquid = high entropy and "
                   "distinct prompt distributions; nucleation = collapse of entropy and of between-prompt divergence; "
                   "settling = low entropy with mass redistributed inside a fixed support.</p>")
    return "".join(out)


def _parse_section(rep: Report) -> str:
    rates = parse_rates(rep)
    if not rates:
        return ""
    rows = [[r["checkpoint"], str(r["generations"]), str(r["parsed"]), str(r["unparsed"]), str(r["failed"]),
             format_percent(r["parse_rate"]),
             "; ".join(f"{k}: {v}" for k, v in r["unparsed_reasons"].items()) or "–"] for r in rates]
    return ("<h2 id='data-quality'>Data quality: answers parsed per checkpoint</h2>"
            + _table(["checkpoint", "generations", "parsed", "unparsed", "failed", "parse rate", "unparsed reasons"],
                     rows, numeric={1, 2, 3, 4, 5}))


def _members_section(rep: Report) -> str:
    if not rep.members and rep.size_scaling is None:
        return ""
    out = [f"<h2 id='members'>Across {_e(rep.across or 'members')}</h2>"]
    if rep.members:
        rows = []
        for key, m in rep.members.items():
            s = m.summary()
            rows.append([key, "; ".join(format_step(b["step"]) for b in s["boundaries"]) or "none",
                         " → ".join(p["label"] for p in s["phases"]), s["headline"]])
        out.append(_table(["member", "boundaries", "phases", "summary"], rows))
    sc = rep.summary()["size_scaling"]
    if sc is not None:
        rows = []
        for name, c in (("critical point (Binder crossings)", sc["critical_point"]),
                        ("critical point (χ peaks)", sc["critical_point_susceptibility"])):
            rows.append([name, format_estimate(c["value"], c["stderr"]) if c else "not estimated"])
        rows += [[f"exponent {k}", format_estimate(v["value"], v["stderr"]) + f" ({v['method']})"
                  + ("" if v["trusted"] else f" — not trustworthy: {v['message']}")]
                 for k, v in sc["exponents"].items()]
        rows.append(["transition class", (sc["transition"] or "not classified").replace("_", "-")])
        rows += [["assumption", a] for a in sc["assumptions"]] + [["note", n] for n in sc["notes"]]
        out.append(f"<h3>Size scaling (sizes {_e('; '.join(format_step(v) for v in sc['sizes']))})</h3>"
                   + _table(["quantity", "value ± s.e."], rows))
    return "".join(out)


def _methods_section(rep: Report) -> str:
    from .methods import methods_entries, references

    refs = references()
    cited: list[str] = []
    paras = []
    for e in methods_entries(rep):
        nums = []
        for k in e["references"]:
            if k not in cited:
                cited.append(k)
            nums.append(str(cited.index(k) + 1))
        cite = f" [{', '.join(nums)}]" if nums else ""
        paras.append(f"<p><b>{_e(e['name'].capitalize())}.</b> {_e(e['text'])}{cite}</p>")
    items = "".join(f"<li id='ref-{_e(k)}'>{_e(_bib_line(refs.get(k, k)))}</li>" for k in cited)
    return (f"<h2 id='methods'>Methods</h2><div class='methods'>{''.join(paras)}"
            f"<p class='note'>Seeds, settings and versions: see Provenance; <code>methods.md</code> and "
            f"<code>references.bib</code> beside this page hold the same text for a paper.</p>"
            f"<h3>References</h3><ol>{items}</ol></div>")


def _bib_line(entry: str) -> str:
    """A BibTeX entry as one readable line: authors (year). title. venue."""
    import re

    def field(name: str) -> str:
        m = re.search(rf"\b{name}\s*=\s*\{{(.*?)\}}\s*,?\s*\n", entry, flags=re.S)
        raw = m.group(1) if m else ""
        for tex, char in (('{\\"a}', "ä"), ('{\\"o}', "ö"), ('{\\"u}', "ü"), ("{\\`e}", "è"), ("\\&", "&")):
            raw = raw.replace(tex, char)
        text = re.sub(r"[{}\\\"]", "", raw).strip()
        return text.replace("--", "–").replace(" and ", "; " if name == "author" else " and ")

    venue = field("journal") or field("booktitle") or field("publisher")
    extra = ", ".join(x for x in (field("volume"), field("pages")) if x) if field("journal") or field("booktitle") else ""
    ident = f"doi:{field('doi')}" if field("doi") else (f"arXiv:{field('eprint')}" if field("eprint") else "")
    return ". ".join(x for x in (f"{field('author')} ({field('year')})", field("title"),
                                 ", ".join(x for x in (venue, extra) if x), ident) if x)


def render_html(rep: Report) -> str:
    """The whole page as a string (figures must have been drawn: ``rep.plot(...)``)."""
    d = rep.to_dict()
    block = d["summary"]
    caps = captions(rep)
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>phasekit report</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>phasekit report</h1><p class='note'>{_e(d['provenance']['input'])} · phasekit {__version__} · "
             f"{_e(d['provenance']['created'])}</p>",
             _summary_section(block), _nav(rep)]
    if d["settings"].get("left_out"):
        items = "".join(f"<li>{_e(x)}</li>" for x in d["settings"]["left_out"])
        parts.append("<p class='note'><b>q (the size of the answer space) is not known</b>, so these were "
                     f"left out (pass <code>--n-states</code> / <code>n_states=</code>):</p><ul>{items}</ul>")
    parts.append(_boundaries_section(block))
    parts.append(_phases_section(block))
    section = None
    for name, title in FIGURE_ORDER:
        fig = _figure(rep, name, caps)
        if name == "correlation" and not fig and "position" not in d["provenance"].get("dims", {}):
            fig = "<p class='note'>No position dim: sequence correlations do not apply to single-answer tasks.</p>"
        if not fig:
            continue
        if title != section:
            parts.append(f"<h2>{_e(title)}</h2>")
            section = title
        parts.append(fig)
        if name == "parse_rates":
            parts.append(_parse_section(rep))
    if "parse_rates" not in rep._figures:
        parts.append(_parse_section(rep))
    parts.append(_members_section(rep))
    parts.append("<h2 id='transition'>Transition order</h2>" + f"<p>{_e(block['transition']['text'])}</p>")
    parts.append(_methods_section(rep))
    parts.append("<h2 id='provenance'>Provenance</h2><pre>" + _e(json.dumps(
        {"settings": d["settings"], "provenance": {k: v for k, v in d["provenance"].items() if k != "mapping"},
         "mapping": {k: v for k, v in d["provenance"].get("mapping", {}).items() if k != "audit"}},
        indent=2, default=str)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
