"""docs/ingest.md runs as written: every recipe's output is what the page says."""

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_getting_your_generations_in_page_runs(monkeypatch):
    if not (ROOT / "tests" / "fixtures" / "lmeval" / "out").exists():
        pytest.skip("lm-eval fixtures not present")
    monkeypatch.chdir(ROOT)
    text = (ROOT / "docs" / "ingest.md").read_text()
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, "ingest.md", str(ROOT / "docs" / "ingest.md"), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted > 20
