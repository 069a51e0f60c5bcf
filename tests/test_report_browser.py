"""The report in a real headless browser (issue 17 item 7): the checker of
examples/screenshot_report.py passes a written report and catches a broken image, a
console error and a page without its summary first. Needs playwright and Chromium."""

import importlib.util
import shutil
from pathlib import Path

import pytest
from _report_data import staged_run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _checker():
    pytest.importorskip("playwright")
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no Chromium")
    spec = importlib.util.spec_from_file_location("screenshot_report", ROOT / "examples" / "screenshot_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_written_report_renders_without_problems(tmp_path):
    mod = _checker()
    _, _, rep = staged_run()
    rep.write(tmp_path / "rep")
    res = mod.check_report(tmp_path / "rep" / "report.html", tmp_path / "shots", "rep")
    assert res["problems"] == []
    assert res["images"] == len(list((tmp_path / "rep" / "figures").glob("*.png")))
    for p in res["screenshots"]:
        assert Path(p).stat().st_size > 10_000


def test_checker_catches_what_a_reader_would_see(tmp_path):
    mod = _checker()
    page = tmp_path / "bad" / "report.html"
    page.parent.mkdir()
    page.write_text("<html><body><img alt='order parameters' src='data:image/png;base64,AAAA'>"
                    "<h2 id='summary'>Summary</h2><p>short</p>"
                    "<script>console.error('boom')</script></body></html>")
    res = mod.check_report(page, tmp_path / "shots", "bad")
    text = " | ".join(res["problems"])
    assert "broken image: order parameters" in text
    assert "console error: boom" in text
    assert "a figure comes before the summary" in text and "too short" in text
