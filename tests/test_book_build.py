"""The built book, as a reader sees it: the landing page's bottom line and verdicts, every figure a
<figure> with caption and alt text, tables that fit the column with readable headers, every ±
defined, and neither project management, the machinery's words nor stale wording on reader pages.

Slow: it reads a built book, ``_build/html`` (``bash scripts/book.sh``; ``.ci/run`` builds it and
then runs this file with ``-m slow``), and builds one first when there is none.
"""
from __future__ import annotations

import html
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from wmrlib.book.display import RAW_IDENTIFIER

REPO = Path(__file__).resolve().parents[1]
BUILT = REPO / "_build" / "html"
# The benchmark report that the appendix embeds is the script's own output (its speed targets).
BENCHMARK_PAGES = {"book/performance.html"}
MANAGEMENT = re.compile(r"\b(issues?|PASS|FAIL|TODO|deliverables?)\b")
# The machinery's words: they belong on How we reproduce and in the appendix, not on the pages
# that present results (prose only: a code cell may name the results folder).
MACHINERY = re.compile(r"\b(campaigns?|jobs?|units?|store|pilots?|aims?|load averages?)\b", re.I)
MACHINERY_PAGES = {"book/how_we_reproduce.html", "book/performance.html",
                   "book/reproducibility_notes.html"}
# Sentences that once outlived what they described.
STALE = ("until every seed is checked", "(when available)", "shown above once stored",
         "hollow marker", "epoch(s)", "rendered without outputs", "shown without outputs",
         "object at 0x")
# The static bound behind the browser measurement: a table with more columns than this does not
# fit the column at the book's table font, whatever its content (11 fit when their cells are short).
MAX_COLUMNS = 11


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
    # One column per dataset and defense family (Fashion-MNIST's read "not judged yet" until its
    # models are stored).
    assert {"claim"} | {f"{d}: {f} family" for d in ("MNIST", "Fashion-MNIST")
                        for f in ("PGD", "TRADES")} <= set(headers)
    cells = {_text(c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", table, re.S)}
    assert {f"C{i}" for i in range(1, 8)} <= cells
    assert cells & {"holds", "does not hold", "inconclusive"}
    assert "What we did not reproduce" in _text(landing)


def _prose(main: str) -> str:
    """The page's text outside code blocks and tables."""
    main = re.sub(r"<(pre|table|style|script)\b.*?</\1>", " ", main, flags=re.S)
    return _text(main)


def _tables(main: str) -> list[str]:
    return re.findall(r"<table.*?</table>", main, re.S)


def _headers(table: str) -> list[str]:
    return [_text(h).strip() for h in re.findall(r"<th[^>]*>.*?</th>", table, re.S)]


@pytest.mark.slow
def test_the_landing_page_opens_with_a_bottom_line_per_family(pages):
    text = re.sub(r"\s+", " ", _prose(pages["book/intro.html"]))
    start = text.find("Bottom line")
    assert 0 <= start < text.find("What we reproduced")
    line = text[start:text.find("What we reproduced")]
    for family in ("PGD family", "TRADES family"):
        assert family in line
    assert re.search(r"[+-]\d+\.\d\d pp \[[+-]\d", line), "a gain with its interval"
    assert "Built from commit" in text and "@inproceedings" in _text(pages["book/intro.html"])


@pytest.mark.slow
def test_every_figure_is_a_figure_with_its_caption_and_alt_text(pages):
    for name, main in pages.items():
        # Result images (inline or in _images/), not the theme's logos and launch badges.
        images = re.findall(r"<img\b[^>]*src=[\"'](?:data:|[^\"']*_images/)[^>]*>", main)
        figures = re.findall(r"<figure\b.*?</figure>", main, re.S)
        inside = sum(len(re.findall(r"<img\b", f)) for f in figures)
        assert inside == len(images), f"{name}: {len(images) - inside} images outside a <figure>"
        for f in figures:
            assert "<figcaption" in f, f"{name}: a figure without a caption"
            alt = re.search(r'alt=["\']([^"\']*)', f)
            assert alt and len(alt.group(1).split()) >= 4, f"{name}: a figure without alt text"


@pytest.mark.slow
def test_table_headers_are_readers_words(pages):
    for name, main in pages.items():
        for table in _tables(main):
            raw = [h for h in _headers(table) if RAW_IDENTIFIER.match(h)]
            assert not raw, f"{name}: raw column names {raw}"


@pytest.mark.slow
def test_tables_have_few_enough_columns_to_fit(pages):
    for name, main in pages.items():
        for table in _tables(main):
            first = re.search(r"<tr.*?</tr>", table, re.S)
            columns = len(re.findall(r"<t[hd]\b", first.group(0))) if first else 0
            assert columns <= MAX_COLUMNS, f"{name}: a table of {columns} columns ({_headers(table)[:4]})"


@pytest.mark.slow
def test_tables_fit_the_article_column_at_1400_px():
    spec = importlib.util.spec_from_file_location("measure_tables", REPO / "scripts" / "measure_tables.py")
    measure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(measure)
    if measure.chromium() is None:
        pytest.skip("no Chromium here to measure with (apt-get install chromium); "
                    "test_tables_have_few_enough_columns_to_fit is the static check")
    _pages()
    pages = sorted((BUILT / "book").glob("*.html")) + sorted((BUILT / "notebooks").glob("*.html"))
    try:
        measure.measure(pages[0])
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"Chromium is installed but does not render here ({err})")
    too_wide = [f"{page.name} table {t['index']} ({t['head']!r}): {max(t['width'], t['scroll'])} px "
                f"in {t['column']} px" for page in pages for t in measure.overflowing(page)]
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.slow
def test_every_plus_minus_is_defined_on_its_page(pages):
    for name, main in pages.items():
        if name in BENCHMARK_PAGES or not any("±" in _text(t) for t in _tables(main)):
            continue
        prose = _prose(main)
        assert re.search(r"±[^.]{0,60}\b(std|SD|standard deviation)", prose), \
            f"{name}: a table shows ± and the page never says what it is"


@pytest.mark.slow
def test_no_stale_wording(pages):
    for name, main in pages.items():
        text = _text(main)
        found = [s for s in STALE if s in text]
        assert not found, f"{name}: {found}"


@pytest.mark.slow
def test_result_pages_speak_the_readers_words(pages):
    for name, main in pages.items():
        if name in MACHINERY_PAGES:
            continue
        found = MACHINERY.findall(_prose(main))
        assert not found, f"{name}: {sorted(set(found))}"


@pytest.mark.slow
def test_no_page_speaks_of_project_management(pages):
    for name, main in pages.items():
        found = MANAGEMENT.findall(_text(main))
        assert not found, f"{name}: {sorted(set(found))}"
