"""Open a phasekit report in a real headless browser and check it as a person would.

    python examples/screenshot_report.py REPORT_DIR [REPORT_DIR ...] [--out SCREENSHOT_DIR]

For every ``REPORT_DIR/report.html``: every image must decode (``naturalWidth > 0``), the
page must log no console error and raise no page error, no request may fail, and the
summary must come first (the ``#summary`` section above the first figure). Saves a
full-page screenshot and one of the first screen (``<name>-full.png``, ``<name>-top.png``)
into ``--out`` (default: each report's own directory) — CI keeps them as artefacts.
Exits 1 on any failure, listing what failed.

Needs Debian's Chromium (``apt-get install chromium``) and the Python package
``playwright`` (which drives the system Chromium; it never downloads a browser).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

IMAGES_JS = """() => Array.from(document.images).map(i => ({
    alt: i.alt, ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, h: i.naturalHeight,
    top: i.getBoundingClientRect().top + window.scrollY}))"""
SUMMARY_JS = """() => { const s = document.getElementById('summary');
    return s ? {top: s.getBoundingClientRect().top + window.scrollY,
                text: (s.nextElementSibling || {}).innerText || ''} : null; }"""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no Chromium found: apt-get install chromium")


def _problems(images: list[dict[str, Any]], summary: dict[str, Any] | None, console: list[str],
              failed: list[str]) -> list[str]:
    """What a reader would notice: broken images, errors, a missing or late summary."""
    out = [f"broken image: {i['alt'] or '(no alt text)'}" for i in images if not i["ok"]]
    out += [f"console error: {m}" for m in console]
    out += [f"failed request: {u}" for u in failed]
    if summary is None:
        out.append("no #summary section")
    else:
        if len(summary["text"].split()) < 20:
            out.append("the summary paragraph is empty or too short")
        if images and min(i["top"] for i in images) < summary["top"]:
            out.append("a figure comes before the summary")
    return out


def check_report(html: Path, out_dir: Path, name: str) -> dict[str, Any]:
    """Render one report; return images, problems and the screenshots' paths."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    failed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url[:120]))
        page.goto(html.resolve().as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(IMAGES_JS)
        summary = page.evaluate(SUMMARY_JS)
        out_dir.mkdir(parents=True, exist_ok=True)
        full, top = out_dir / f"{name}-full.png", out_dir / f"{name}-top.png"
        page.screenshot(path=str(full), full_page=True)
        page.screenshot(path=str(top), full_page=False)
        browser.close()
    return {"report": str(html), "images": len(images), "problems": _problems(images, summary, console, failed),
            "screenshots": [str(full), str(top)]}


def main(report_dirs: list[str], out: str | None = None, min_images: int = 3) -> list[dict[str, Any]]:
    results = []
    for d in report_dirs:
        html = Path(d) / "report.html"
        if not html.exists():
            raise SystemExit(f"{html} not found: run `phasekit demo -o {d}` first")
        r = check_report(html, Path(out) if out else Path(d), Path(d).name or "report")
        if r["images"] < min_images:
            r["problems"].append(f"only {r['images']} figures (expected at least {min_images})")
        results.append(r)
        status = "ok" if not r["problems"] else "FAILED: " + "; ".join(r["problems"])
        print(f"{html}: {r['images']} figures, {status}; screenshots: {', '.join(r['screenshots'])}")
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report_dir", nargs="+")
    ap.add_argument("--out", default=None, help="directory for the screenshots (default: each report's)")
    ap.add_argument("--min-images", type=int, default=3)
    a = ap.parse_args()
    res = main(a.report_dir, a.out, a.min_images)
    sys.exit(1 if any(r["problems"] for r in res) else 0)
