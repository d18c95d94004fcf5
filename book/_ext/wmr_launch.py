"""Sphinx extension for this book: launch buttons only on pages that are .ipynb files.

sphinx-book-theme adds a Colab button to every page that has a kernel, including the MyST text
notebooks in book/ (how_we_reproduce.md, reproducibility_notes.md). Colab opens .ipynb files only,
so on those pages the button would lead to an error; this removes it there.
"""


def _keep_launch_for_ipynb_only(app, pagename, templatename, context, doctree):
    if context.get("page_source_suffix") == ".ipynb":
        return
    buttons = context.get("header_buttons")
    if buttons:
        buttons[:] = [b for b in buttons if b.get("label") != "launch-buttons"]


def setup(app):
    # After sphinx-book-theme's add_launch_buttons (priority 501), before the header is rendered.
    app.connect("html-page-context", _keep_launch_for_ipynb_only, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
