"""The built book, as a reader sees it: the landing page's bottom line and verdicts, every figure a
<figure> with caption and alt text, tables that fit the column with readable headers, every ±
defined, and neither project management, the machinery's words nor stale wording on reader pages;
nothing loaded from another host, formulas typeset offline by the bundled MathJax, and the α_test
explorer's values equal to ``wmrlib.a_sa`` on the stored records (headless Chromium).

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
MACHINERY = re.compile(r"\b(campaigns?|profiles?|jobs?|units?|store|pilots?|aims?|load averages?)\b",
                       re.I)
MACHINERY_PAGES = {"book/how_we_reproduce.html", "book/performance.html",
                   "book/reproducibility_notes.html", "book/analysis_plan.html"}
# Sentences that once outlived what they described.
STALE = ("until every seed is checked", "(when available)", "shown above once stored",
         "hollow marker", "epoch(s)", "rendered without outputs", "shown without outputs",
         "object at 0x", "not executed in the book", "the models that have three")
# A path of the machine that built the book (an interpreter, a checkout, a home folder).
ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])(?:/work/|/root/|/home/|/Users/)|(?<![\w-])\.venv/")
# A metric keyed at an α_test as the code names it (``a_sa@1``), not as a reader reads it.
RAW_METRIC_KEY = re.compile(r"\b(?:a_nat|a_rob|a_sa|a_tr)@")
# Counts written as words in a heading ("The three profiles", "Five headline models"); a
# section number ("1.2 From ...") is not a count.
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split()) if i >= 2}
COUNTED = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\s+(?:[\w-]+\s+)?([a-z]+s)\b", re.I)
# The only chapter whose code a reader is meant to read: the Quickstart's tour.
CODE_PAGES = {"notebooks/quickstart.html"}
# The analog pages, each of which opens with what it finds.
ANALOG_PAGES = ("notebooks/sensitivity.html", "notebooks/attacks.html",
                "notebooks/histograms.html", "notebooks/dro.html")
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
        # the analysis plan's ±d is a tolerance band (C3's equivalence), defined in its text
        if name in BENCHMARK_PAGES | {"book/analysis_plan.html"} \
                or not any("±" in _text(t) for t in _tables(main)):
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
    """No page but the methodology ones speaks of profiles, campaigns, jobs or units in its
    prose (a command or identifier in code, `--profile cpu`, is code, not prose)."""
    for name, main in pages.items():
        if name in MACHINERY_PAGES:
            continue
        found = MACHINERY.findall(_prose(re.sub(r"<code\b.*?</code>", " ", main, flags=re.S)))
        assert not found, f"{name}: {sorted(set(found))}"


@pytest.mark.slow
def test_no_page_shows_a_path_of_the_build_machine(pages):
    for name, main in pages.items():
        found = ABSOLUTE_PATH.findall(_text(main))
        assert not found, f"{name}: {sorted(set(found))}"


@pytest.mark.slow
def test_no_page_shows_a_metric_by_its_code_key(pages):
    for name, main in pages.items():
        text = _text(main)
        found = [text[max(0, m.start() - 20):m.end() + 10] for m in RAW_METRIC_KEY.finditer(text)]
        assert not found, f"{name}: {found[:5]}"


def counted_lists(main: str) -> list[tuple[str, int, int]]:
    """Return (heading, the count it states, the items of the list that follows it) for every
    heading that states a count of things ("The three profiles") and is followed by a list (a
    definition list counts its terms) before the next heading."""
    out = []
    heads = list(re.finditer(r"<h([1-6])\b[^>]*>(.*?)</h\1>", main, re.S))
    for i, head in enumerate(heads):
        title = re.sub(r"\s+", " ", _text(head.group(2))).strip().removesuffix("#").strip()
        said = COUNTED.search(title)
        if not said:
            continue
        stop = heads[i + 1].start() if i + 1 < len(heads) else len(main)
        body = main[head.end():stop]
        found = re.search(r"<(dl|ul|ol)\b", body)
        if not found:
            continue
        tag = found.group(1)
        items = len(re.findall(r"<dt\b", body)) if tag == "dl" else \
            len(re.findall(r"<li\b", body[found.start():body.find(f"</{tag}>", found.start())]))
        out.append((title, NUMBER_WORDS[said.group(1).lower()], items))
    return out


def test_a_heading_count_is_checked_against_its_list():
    page = ("<h2>The three profiles</h2><dl><dt>smoke</dt><dd>a</dd><dt>cpu</dt><dd>b</dd>"
            "<dt>paper</dt><dd>c</dd><dt>cpu-5epoch</dt><dd>d</dd></dl><h2>Two datasets</h2>"
            "<ul><li>MNIST</li><li>Fashion-MNIST</li></ul><h2>1.2 From comparisons</h2>"
            "<ul><li>x</li></ul>")
    assert counted_lists(page) == [("The three profiles", 3, 4), ("Two datasets", 2, 2)]


@pytest.mark.slow
def test_no_heading_states_a_count_its_list_contradicts(pages):
    for name, main in pages.items():
        wrong = [(t, n, k) for t, n, k in counted_lists(main) if n != k]
        assert not wrong, f"{name}: {wrong}"


@pytest.mark.slow
def test_no_chapter_shows_the_code_that_only_sets_it_up(pages):
    """A chapter shows what its code computed, not the calls: only the Quickstart, a tour of the
    library, shows its code cells."""
    for name, main in pages.items():
        if name in CODE_PAGES or not name.startswith("notebooks/"):
            continue
        inputs = [_text(c).strip()[:60] for c in
                  re.findall(r'<div class="cell_input[^"]*".*?</pre>', main, re.S)]
        assert not inputs, f"{name}: {inputs}"


@pytest.mark.slow
def test_each_analog_page_opens_with_what_it_finds(pages):
    """Before its first table or figure, each analog page says in a sentence what it finds,
    with a number and how sure (an interval, or that it rests on a single seed)."""
    for name in ANALOG_PAGES:
        main = pages[name]
        first = min(i for i in (main.find("<table"), main.find("<figure"), len(main)) if i >= 0)
        opening = re.sub(r"\s+", " ", _prose(main[:first]))
        assert "What this page finds." in opening, name
        sentence = opening[opening.find("What this page finds."):]
        assert re.search(r"[+-]?\d+\.\d", sentence), (name, sentence[:200])
        assert "95 % interval" in sentence or "single seed" in sentence.lower(), (name, sentence[:300])


@pytest.mark.slow
def test_no_page_speaks_of_project_management(pages):
    for name, main in pages.items():
        found = MANAGEMENT.findall(_text(main))
        assert not found, f"{name}: {sorted(set(found))}"


# A built page may load only from the book itself: a script, stylesheet, preload, font or icon
# from another host (http://, https:// or //), or a CSS @import or url() to one, fails offline.
EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.I)
LOADING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut",
                "apple-touch-icon", "manifest", "font"}
CSS_URL = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)|url\(\s*["']?([^"')\s]+)""", re.I)


def _attributes(tag: str) -> dict[str, str]:
    return {k.lower(): html.unescape(v) for k, _, v in re.findall(r'([\w:-]+)=(["\'])(.*?)\2', tag, re.S)}


def _loaded_urls(document: str) -> list[str]:
    """Return what an HTML document loads: script sources, loading links, CSS in <style> and style=."""
    urls = [_attributes(t).get("src", "") for t in re.findall(r"<script\b[^>]*>", document, re.I)]
    for tag in re.findall(r"<link\b[^>]*>", document, re.I):
        attrs = _attributes(tag)
        if set(attrs.get("rel", "").lower().split()) & LOADING_RELS:
            urls.append(attrs.get("href", ""))
    css = re.findall(r"<style\b[^>]*>(.*?)</style>", document, re.S | re.I)
    css += [html.unescape(s) for s in re.findall(r'style="([^"]*)"', document)]
    return [u for u in urls if u] + [a or b for c in css for a, b in CSS_URL.findall(c)]


@pytest.mark.slow
def test_no_built_page_loads_anything_from_another_host():
    _pages()
    found = [f"{p.relative_to(BUILT)}: {u}" for p in sorted(BUILT.rglob("*.html"))
             for u in _loaded_urls(p.read_text(errors="replace")) if EXTERNAL.match(u)]
    found += [f"{p.relative_to(BUILT)}: {a or b}" for p in sorted((BUILT / "_static").rglob("*.css"))
              for a, b in CSS_URL.findall(p.read_text(errors="replace")) if EXTERNAL.match(a or b)]
    assert not found, "\n".join(found[:40])
    # sphinx-thebe names a script on a CDN in an inline constant; it loads it only when a reader
    # presses a Live Code button, which this book never shows.
    assert not [p for p in BUILT.rglob("*.html") if "thebe-launch-button" in p.read_text(errors="replace")]


def _math_pages() -> list[Path]:
    return [p for p in sorted(BUILT.rglob("*.html")) if 'class="math' in p.read_text(errors="replace")]


@pytest.mark.slow
def test_formulas_load_the_bundled_mathjax():
    _pages()
    pages = _math_pages()
    assert pages, "no page of the book shows a formula"
    for page in pages:
        scripts = [_attributes(t).get("src", "") for t in re.findall(r"<script\b[^>]*>", page.read_text())]
        mathjax = [s for s in scripts if "mathjax" in s.lower()]
        assert mathjax and all(not EXTERNAL.match(s) for s in mathjax), (page.name, mathjax)
        for src in mathjax:
            assert (page.parent / src.split("?")[0]).resolve().is_file(), (page.name, src)
    fonts = BUILT / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert len(list(fonts.glob("*.woff"))) >= 10


def _chromium_dom(url: str, measure) -> str:
    """Return the DOM of ``url`` after its scripts ran, in headless Chromium with every host name
    unresolvable (so that nothing from outside the book can load)."""
    return subprocess.run(
        [measure.chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1400,3000", "--virtual-time-budget=10000",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", url],
        capture_output=True, text=True, timeout=180).stdout


def _measure_module():
    spec = importlib.util.spec_from_file_location("measure_tables", REPO / "scripts" / "measure_tables.py")
    measure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(measure)
    if measure.chromium() is None:
        pytest.skip("no Chromium here (apt-get install chromium)")
    return measure


@pytest.mark.slow
def test_formulas_render_offline_in_chromium():
    measure = _measure_module()
    _pages()
    page = next(p for p in _math_pages() if p.name == "intro.html")
    formulas = page.read_text().count('class="math')
    dom = _chromium_dom(page.as_uri(), measure)
    assert dom.count("<mjx-container") >= formulas >= 1, "MathJax did not typeset the formulas"


# The explorer on Non-uniform attacks: its slider, as a reader moves it (a probe copy of the page
# sets it after load), and ?alpha_test= in the address.
SLIDER_PROBE = """<script>
document.addEventListener('DOMContentLoaded', () => {
  const slider = document.querySelector('#wmr-explorer input[type=range]');
  slider.value = '%s';
  slider.dispatchEvent(new Event('input'));
});
</script>"""


def _explorer_cells(dom: str) -> list[dict[str, str]]:
    return [_attributes(t) for t in re.findall(r"<td\b[^>]*\bwmr-asa\b[^>]*>", dom)]


@pytest.mark.slow
def test_the_explorer_matches_wmrlib_a_sa_in_chromium():
    import numpy as np

    import wmrlib
    from wmrlib.analysis.explorer import explorer_data, model_label
    from wmrlib.book import first_available, profiles_of

    measure = _measure_module()
    _pages()
    page = BUILT / "notebooks" / "nonuniform.html"
    text = page.read_text()
    start, end = text.find("<div id='wmr-explorer'"), text.find("<!-- /wmr-explorer -->")
    if start < 0:
        start = text.find('<div id="wmr-explorer"')
    assert 0 <= start < end, "the explorer is not on the Non-uniform attacks page"
    assert len(text[start:end].encode()) < 1_000_000, "the explorer weighs 1 MB or more"
    probe = page.with_name("explorer-probe.html")
    probe.write_text(text.replace("</body>", SLIDER_PROBE % "6" + "</body>"))
    try:
        doms = {"0": _chromium_dom(page.as_uri() + "?alpha_test=0", measure),
                "3": _chromium_dom(page.as_uri() + "?alpha_test=3", measure),
                "6": _chromium_dom(probe.as_uri(), measure)}
    finally:
        probe.unlink()
    sources = {}
    for alpha, dom in doms.items():
        cells = _explorer_cells(dom)
        assert cells, f"α_test {alpha}: no displayed value"
        for dataset in {c["data-dataset"] for c in cells}:
            if dataset not in sources:  # the page's own choice of stored results
                source, _ = first_available(dataset, profiles_of("cpu", "smoke"),
                                            lambda s: explorer_data(s.store, s.plan),
                                            results=REPO / "results", readonly=True)
                sources[dataset] = source
            plan = sources[dataset].plan
            models = {model_label(c) for c in plan.headline_seed_models()}
            assert {c["data-model"] for c in cells if c["data-dataset"] == dataset} == models
        for cell in cells:
            assert cell["data-alpha-test"] == alpha
            source = sources[cell["data-dataset"]]
            records = [source.store.get_or_attack(c, source.plan.attack, 0.0,
                                                  eval_size=source.plan.eval_size,
                                                  eval_seed=source.plan.eval_seed)
                       for c in source.plan.headline_seed_models()
                       if model_label(c) == cell["data-model"]]
            exact = 100 * np.mean([wmrlib.a_sa(r.correct, r.margin, float(alpha)) for r in records])
            assert abs(float(cell["data-value"]) - exact) <= 0.1, (alpha, cell, exact)


# A result chapter fits in about eight screens of a 1,400 × 900 window; longer detail (per-seed
# rows, every comparison, the paper's tables we could not reproduce) opens on demand.
SCREEN_PX = 900
MAX_SCREENS = 8.5
# Longer for now, each for a stated reason (the limit still catches their growth): Non-uniform
# attacks keeps its headline gain table and the α_test explorer open; Claims judges two datasets
# and sets its verdicts under both rules and every schedule side by side; Robustness checks two
# datasets, each with its flagged probes' summary shown (the per-model and per-seed detail is
# collapsed).
LONGER = {"nonuniform.html": 11, "claims.html": 11, "robustness.html": 10}
HEIGHT_PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const out = document.createElement('div');
  out.id = 'wmr-height';
  out.setAttribute('data-height', document.body.scrollHeight);
  document.body.appendChild(out);
}, 2000));
</script>"""


@pytest.mark.slow
def test_result_chapters_are_about_eight_screens_long_at_most():
    measure = _measure_module()
    _pages()
    too_long = []
    for page in sorted((BUILT / "notebooks").glob("*.html")):
        probe = page.with_name("height-probe.html")
        probe.write_text(page.read_text().replace("</body>", HEIGHT_PROBE + "</body>"))
        try:
            dom = _chromium_dom(probe.as_uri(), measure)
        finally:
            probe.unlink()
        found = re.search(r'data-height="(\d+)"', dom)
        assert found, f"{page.name}: no height measured"
        height = int(found.group(1))
        if height > LONGER.get(page.name, MAX_SCREENS) * SCREEN_PX:
            too_long.append(f"{page.name}: {height} px, {height / SCREEN_PX:.1f} screens")
    assert not too_long, "\n".join(too_long)
