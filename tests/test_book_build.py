"""The built book, as a reader sees it: the landing page's verdicts, a caption under every figure,
and no words of project management on the pages.

Slow: it reads a built book, ``_build/html`` (``bash scripts/book.sh``; ``.ci/run`` builds it and
then runs this file with ``-m slow``), and builds one first when there is none.
"""
from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILT = REPO / "_build" / "html"
# The benchmark report that the appendix embeds is the script's own output (its speed targets).
BENCHMARK_PAGES = {"book/performance.html"}
MANAGEMENT = re.compile(r"\b(issues?|PASS|FAIL|TODO|deliverables?)\b")


def _pages() -> dict[str, str]:
    if not (BUILT / "index.html").exists():
        subprocess.run(["bash", "scripts/book.sh"], cwd=REPO, check=True)
    out = {}
    for path in sorted(BUILT.glob("*/*.html")):
        name = str(path.relative_to(BUILT))
        if name.split("/")[0] in ("book", "notebooks"):
            text = path.read_text()
            out[name] = text[text.find("<main"):text.find("</main>")]
    return out


@pytest.fixture(scope="module")
def pages():
    return _pages()


def _text(main: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


@pytest.mark.slow
def test_the_landing_page_shows_the_verdicts_per_family(pages):
    landing = pages["book/intro.html"]
    table = next(t for t in re.findall(r"<table.*?</table>", landing, re.S) if "PGD family" in t)
    headers = [_text(h).strip() for h in re.findall(r"<th[^>]*>.*?</th>", table, re.S)]
    assert {"claim", "verdict", "PGD family", "TRADES family"} <= set(headers)
    cells = {_text(c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", table, re.S)}
    assert {f"C{i}" for i in range(1, 8)} <= cells
    assert cells & {"holds", "does not hold", "inconclusive"}
    assert "What we did not reproduce" in _text(landing)


@pytest.mark.slow
def test_every_figure_has_a_caption(pages):
    for name, main in pages.items():
        figures = len(re.findall(r'<img[^>]+src="[^"]*_images/', main))
        captions = len(re.findall(r"class=.caption", main))
        assert captions >= figures, f"{name}: {figures} figures, {captions} captions"


@pytest.mark.slow
def test_no_page_speaks_of_project_management(pages):
    for name, main in pages.items():
        if name in BENCHMARK_PAGES:
            continue
        found = MANAGEMENT.findall(_text(main))
        assert not found, f"{name}: {sorted(set(found))}"
