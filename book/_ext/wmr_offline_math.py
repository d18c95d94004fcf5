"""Sphinx extension for this book: formulas render offline, from MathJax files inside the build.

Sphinx loads MathJax from a CDN by default, so a reader offline (or an archived copy) sees raw
LaTeX. ``_config.yml`` points ``mathjax_path`` at ``mathjax/tex-chtml.js`` under ``_static``; this
extension copies that component, the TeX extensions it loads on demand and the CHTML fonts it
needs from the PyPI package ``sphinx-mathjax-offline`` (MathJax 3, Apache-2.0; installed with the
``book`` extra) into the build. A missing package or file fails the build instead of leaving
pages whose formulas do not render.
"""
from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

PACKAGE = "sphinx-mathjax-offline"
COMPONENT = "tex-chtml.js"  # TeX input, CommonHTML output, the menu, assistive MathML
# Loaded by the component at run time: TeX packages through \require and autoload, and the fonts.
PARTS = (COMPONENT, "input/tex/extensions", "output/chtml/fonts/woff-v2")
NOTICE = ("MathJax 3 (https://www.mathjax.org), Apache License 2.0, copied by "
          "book/_ext/wmr_offline_math.py from the PyPI package sphinx-mathjax-offline: only {parts}.\n")


def mathjax_source() -> Path:
    """Return the folder of the installed MathJax files, or raise with how to install them."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ExtensionError(f"formulas need MathJax from the package {PACKAGE!r}: "
                             "pip install -e '.[book]'") from None
    folder = Path(dist.locate_file(f"{PACKAGE}/static/mathjax"))
    missing = [p for p in PARTS if not (folder / p).exists()]
    if missing:
        raise ExtensionError(f"{PACKAGE} {dist.version} lacks the MathJax files {missing} in {folder}")
    return folder


def copy_mathjax(source: Path, static: Path) -> int:
    """Copy the MathJax parts the pages load from ``source`` into ``static``/mathjax; return bytes."""
    target = static / "mathjax"
    for part in PARTS:
        origin, dest = source / part, target / part
        dest.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, dest)
    (target / "NOTICE.txt").write_text(NOTICE.format(parts=", ".join(PARTS)))
    return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


def _check_path(app, config) -> None:
    if config.mathjax_path != f"mathjax/{COMPONENT}":
        raise ExtensionError(f"mathjax_path is {config.mathjax_path!r}: set it to "
                             f"'mathjax/{COMPONENT}' in _config.yml (sphinx: config:) so that "
                             "the pages load the bundled MathJax")
    mathjax_source()  # fail before the notebooks execute, not after


def _copy(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_mathjax(mathjax_source(), Path(app.outdir) / "_static")


def setup(app):
    app.connect("config-inited", _check_path)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
