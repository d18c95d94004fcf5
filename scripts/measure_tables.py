"""Measure, in headless Chromium, how wide every table of the built book is against its column.

Usage: python scripts/measure_tables.py [--width 1400] [page.html ...]
Prints one line per table that is wider than the article column (page, table number, widths) and
exits 1 when there is one. The book check (tests/test_book_build.py) calls :func:`measure`.
"""
from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILT = REPO / "_build" / "html"
# Runs after layout, every collapsed section opened: each table's rendered width against the
# width of the article that holds it.
PROBE = """<script>
document.addEventListener('DOMContentLoaded', () => setTimeout(() => {
  // a collapsed table must fit once a reader opens it: measure every one open
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const style = getComputedStyle(article);
  const column = article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const rows = [...article.querySelectorAll('table')].map((t, i) => ({
    index: i, width: Math.round(t.getBoundingClientRect().width),
    scroll: Math.round(t.scrollWidth), column: Math.round(column),
    head: (t.querySelector('th') || t).innerText.slice(0, 40)}));
  const out = document.createElement('pre');
  out.id = 'wmr-table-widths';
  out.textContent = JSON.stringify(rows);
  document.body.appendChild(out);
}, 1500));
</script>"""


def chromium() -> str | None:
    """Return the path of a headless-capable Chromium, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def measure(page: Path, width: int = 1400) -> list[dict]:
    """Return every table of ``page`` with its width and its article column's width in px."""
    browser = chromium()
    if browser is None:
        raise RuntimeError("no Chromium found: install it (apt-get install chromium) to measure")
    text = page.read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".html", dir=page.parent, delete=False) as probe:
        probe.write(text.replace("</body>", PROBE + "</body>"))
    try:
        dom = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={width},2000", "--virtual-time-budget=5000", "--dump-dom",
             Path(probe.name).as_uri()], capture_output=True, text=True, timeout=120).stdout
    finally:
        Path(probe.name).unlink()
    found = re.search(r'<pre id="wmr-table-widths">(.*?)</pre>', dom, re.S)
    if found is None:
        raise RuntimeError(f"{page}: the width probe did not run")
    return json.loads(html.unescape(found.group(1)))


def overflowing(page: Path, width: int = 1400) -> list[dict]:
    """Return the tables of ``page`` wider than their column (1 px of rounding allowed)."""
    return [t for t in measure(page, width) if max(t["width"], t["scroll"]) > t["column"] + 1]


def main() -> int:
    """Measure the given pages (default: every chapter of the built book)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    pages = args.pages or sorted(p for d in ("book", "notebooks") for p in (BUILT / d).glob("*.html"))
    bad = 0
    for page in pages:
        for t in measure(page, args.width):
            wide = max(t["width"], t["scroll"]) > t["column"] + 1
            bad += wide
            print(f"{'TOO WIDE' if wide else 'fits    '} {page.name} table {t['index']}: "
                  f"{max(t['width'], t['scroll'])} px in a {t['column']} px column ({t['head']!r})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
