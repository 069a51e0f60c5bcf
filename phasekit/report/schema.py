"""The JSON Schema of ``summary.json`` (shipped as ``phasekit/schemas/summary.schema.json``).

:func:`summary_schema` loads it, :func:`validate_summary` checks a summary against it
(needs the ``jsonschema`` package), and :func:`schema_markdown` renders its keys as the
table in ``docs/report.md`` (a test fails when the page and the schema diverge).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["schema_markdown", "summary_schema", "validate_summary"]


def summary_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``summary.json``."""
    text = resources.files("phasekit").joinpath("schemas/summary.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def validate_summary(summary: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``summary`` does not follow the schema."""
    import jsonschema

    jsonschema.Draft202012Validator(summary_schema()).validate(summary)


def _type_of(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return "number or null" if name == "number_or_null" else name
    if "const" in node:
        return f"const {json.dumps(node['const'])}"
    if "enum" in node:
        return " | ".join(json.dumps(v) for v in node["enum"])
    t = node.get("type", "any")
    t = " or ".join(t) if isinstance(t, list) else t
    if "items" in node and isinstance(node["items"], dict):
        t += f" of {_type_of(node['items'], defs)}"
    return t


def _rows(node: dict[str, Any], prefix: str, defs: dict[str, Any], required: set[str]) -> list[tuple[str, str, str]]:
    out = []
    for key, sub in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        desc = sub.get("description", "")
        out.append((path + (" *" if key in required else ""), _type_of(sub, defs), desc))
    return out


def schema_markdown(schema: dict[str, Any] | None = None) -> str:
    """The keys of ``summary.json`` as Markdown tables: the top level, then each ``$defs``
    entry (``*`` = required)."""
    schema = schema or summary_schema()
    defs = schema.get("$defs", {})
    lines = [f"Schema version {schema['properties']['schema_version']['const']} "
             "(`phasekit/schemas/summary.schema.json`; `*` = required).", "",
             "| key | type | meaning |", "| --- | --- | --- |"]
    for path, t, d in _rows(schema, "", defs, set(schema.get("required", []))):
        lines.append(f"| `{path}` | {t} | {d} |")
    for name in ("summary", "boundary", "phase", "estimate"):
        node = defs[name]
        lines += ["", f"`{name}`:", "", "| key | type | meaning |", "| --- | --- | --- |"]
        for path, t, d in _rows(node, "", defs, set(node.get("required", []))):
            lines.append(f"| `{path}` | {t} | {d} |")
    return "\n".join(lines) + "\n"
