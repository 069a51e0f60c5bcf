"""Open a phasekit report in a real headless browser, check every figure rendered, and
save a full-page screenshot.

    python examples/screenshot_report.py REPORT_DIR [--out screenshot.png]

Needs Debian's Chromium (`apt-get install chromium`) and the Python package
`playwright` (which drives the system Chromium; it never downloads a browser).
Exits 1 if any image is broken or missing.
"""

import argparse
import shutil
import sys
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no Chromium found: apt-get install chromium")


def check_report(html: Path, screenshot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(html.resolve().as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "() => Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,"
            " w: i.naturalWidth, h: i.naturalHeight}))")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    broken = [i["alt"] for i in images if not i["ok"]]
    return {"images": len(images), "broken": broken, "screenshot": str(screenshot)}


def main(report_dir: str, out: str | None = None) -> dict:
    html = Path(report_dir) / "report.html"
    if not html.exists():
        raise SystemExit(f"{html} not found: run `phasekit demo -o {report_dir}` first")
    result = check_report(html, Path(out or Path(report_dir) / "screenshot.png"))
    print(f"{result['images']} figures rendered, {len(result['broken'])} broken; screenshot: {result['screenshot']}")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report_dir")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    r = main(a.report_dir, a.out)
    sys.exit(1 if r["broken"] or r["images"] < 3 else 0)
