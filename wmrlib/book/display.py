"""How a page shows a result: section headers with their source, styled tables, captions, figures."""
from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

import pandas as pd

from ..analysis.collapse import describe_rule
from ..analysis.stats import NOT_EVALUATED
from .sources import Source


VERDICT_COLOURS = {"holds": "#d4edda", "does not hold": "#f8d7da", "inconclusive": "#fff3cd"}
WIDE_TEXT = 60  # characters: a text column this long on average gets room instead of wrapping
# A reader's name for each column identifier a result frame may carry (one registry: every table
# of the book is shown through :func:`show`, which renames by it). Tokens name the parts of a
# compound identifier ("gain_a_sa_std" -> "A_sa gain SD").
COLUMN_LABELS = {
    "alpha_train": "α_train", "alpha_test": "α_test", "eps_train": "ε_train", "eps_test": "ε_test",
    "paper_label": "paper's label", "paper_row": "paper's row", "paper gain": "paper's gain",
    "worst_case_loss": "worst-case loss", "inv_lambda": "1/λ", "train_wall_s": "training (s)",
    "wall_min": "wall (min)", "se_seed": "SE (seeds)", "se_test": "SE (test sample)",
    "se_from": "SE from", "se": "SE", "df": "df", "n_seeds": "seeds",
}
_TOKENS = {"a_nat": "A_nat", "a_rob": "A_rob", "a_sa": "A_sa", "a_tr": "A_tr", "std": "SD",
           "se": "SE", "cifar10": "CIFAR-10", "mnist": "MNIST", "fashionmnist": "Fashion-MNIST",
           "tinyimagenet": "Tiny ImageNet", "ours": "our", "paper": "paper's", "gain": "gain",
           "eps": "ε", "alpha": "α", "pgd40": "40-PGD", "pp": "pp", "s": "(s)", "min": "(min)"}
RAW_IDENTIFIER = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")  # snake_case: a header nobody reads
# Radii and weights print at the paper's precision (0.0078, not 0.01).
_EXACT = ("α_train", "α_test", "ε_train", "ε_test", "ε", "α", "1/λ")


# A metric keyed at an α_test, as an EvalRecord's summary names it ("a_sa@1.5").
METRIC_AT = re.compile(r"^(a_nat|a_rob|a_sa|a_tr)@(.+)$")


def column_label(name) -> str:
    """Return the reader's name for column ``name`` (``alpha_train`` -> ``α_train``,
    ``a_sa@1.5`` -> ``A_sa at α_test 1.5``)."""
    if not isinstance(name, str):
        return name
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    at = METRIC_AT.match(name)
    if at:
        return f"{_TOKENS[at.group(1)]} at α_test {at.group(2)}"
    if not RAW_IDENTIFIER.match(name):
        return name
    parts, words = name.split("_"), []
    i = 0
    while i < len(parts):  # metric names span two parts (a_nat)
        pair = "_".join(parts[i:i + 2])
        if pair in _TOKENS:
            words.append(_TOKENS[pair])
            i += 2
            continue
        words.append(_TOKENS.get(parts[i], parts[i]))
        i += 1
    if words[0] == "gain" and len(words) > 1:  # "gain A_sa SD" reads "A_sa gain SD"
        words[0], words[1] = words[1], "gain"
    return " ".join(words)


def csv_link(frame: pd.DataFrame, name: str = "table") -> str:
    """Return the HTML link that downloads ``frame`` as ``<name>.csv`` (its data inline)."""
    data = base64.b64encode(frame.to_csv(index=False).encode()).decode()
    return (f"<p class='wmr-csv'><a download='{name}.csv' "
            f"href='data:text/csv;base64,{data}'>Download this table as CSV</a></p>")


def details(summary: str, body: str, open_: bool = False) -> str:
    """Return ``body`` (HTML) in a collapsed section whose one visible line is ``summary``
    (markdown-style ``*italic*``, ``**bold**`` and backticks allowed): long detail a reader opens
    on demand, so that a page stays a few screens long."""
    return (f"<details class='wmr-details'{' open' if open_ else ''}><summary>"
            f"{_inline_html(summary)}</summary>{body}</details>")


class Table:
    """A result table as a page shows it: the styled frame and a link to its data as CSV;
    with a ``summary``, collapsed under that line (:func:`details`)."""

    def __init__(self, styler, frame: pd.DataFrame, name: str = "table",
                 summary: str | None = None):
        self.styler, self.frame, self.name, self.summary = styler, frame, name, summary

    def _repr_html_(self) -> str:
        body = self.styler.to_html() + csv_link(self.frame, self.name)
        return body if self.summary is None else details(self.summary, body)


def show(frame: pd.DataFrame, digits: int = 2, name: str = "table") -> Table:
    """Return the table a page displays: floats at ``digits`` decimals (radii and weights at the
    paper's precision), NaN as an en dash, reader's column names, verdicts coloured, long text
    columns given room, and a CSV download of the same numbers."""
    frame = frame.rename(columns=column_label)
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    formats = {c: ("{:g}" if c in _EXACT else f"{{:.{digits}f}}") for c in floats}
    styler = frame.style.format(formats, na_rep="–").hide(axis="index")
    text = [c for c in frame.columns if len(frame) and (frame[c].dtype == object
                                                        or pd.api.types.is_string_dtype(frame[c]))]
    verdicts = [c for c in text if frame[c].isin(list(VERDICT_COLOURS) + [NOT_EVALUATED,
                                                                         "not stored"]).all()]
    if verdicts:
        styler = styler.map(lambda v: f"background-color: {VERDICT_COLOURS[v]}"
                            if v in VERDICT_COLOURS else "", subset=verdicts)
    wide = [c for c in text if c not in verdicts and frame[c].astype(str).str.len().mean() > WIDE_TEXT]
    if wide:
        styler = styler.set_properties(subset=wide, **{"min-width": "14em"})
    return Table(styler, frame, name)


def section(title: str, source: Source | None, value, note: str = "",
            stale_note: bool = False, examples: int | None = None,
            summary: str | None = None) -> None:
    """Display a section header, the source of its numbers (or why there are none), and a table.

    ``examples``: the test examples of the section's numbers when not the plan's ``eval_size``;
    ``summary``: collapse the table under that line (:func:`details`).
    """
    from IPython.display import Markdown, display

    display(Markdown(f"### {title}"))
    if source is None:
        display(Markdown(f"```{{note}}\n{value}\n```"))
        return
    n = examples or source.plan.eval_size
    stale = source.stale
    flag = f"; {stale_words(stale, source.runs)}" if stale else ""
    collapsed = source.collapsed
    if collapsed:
        flag += (f"; ⚠ collapsed in training ({describe_rule(source.plan)}): " + ", ".join(
            f"{m} (epoch {e})" for m, e in collapsed.items()) + ", counted in every seed mean "
                 "that includes its seed")
    flagged = source.flagged
    if flagged:
        flag += ("; ⚠ gradient-masking probes flag " + ", ".join(
            f"{m} ({', '.join(p)})" for m, p in flagged.items()) + " (see *Is the robustness real?*)")
    display(Markdown(f"*Results: {source.label}; {images_text(n)}"
                     + (f"; {note}" if note else "") + f"{flag}.*"))
    if stale and stale_note:
        display(Markdown(f"```{{note}}\n{stale_words(stale, source.runs)} (training, attacks, "
                         "evaluation or data modules): see the provenance table's `code since` "
                         "column. The numbers are those of the stored results.\n```"))
    done, total = source.results.progress()
    if done < total:
        display(Markdown(f"```{{warning}}\nPartial results: {done} of the {total} models "
                         f"({source.models}) are trained and evaluated; the rows shown are those "
                         "stored.\n```"))
    if isinstance(value, pd.DataFrame):
        display_frame(value, lift=True, summary=summary)


def images_text(n: int | None) -> str:
    """Return how many test images a result rests on, e.g. ``2,000 test images`` (None: the
    whole test set)."""
    return "the whole test set" if n is None else f"{n:,} test images"


def stale_words(stale: int, runs: int) -> str:
    """Return the one sentence every page uses for results computed by older code: how many of
    the source's stored runs were trained or evaluated by code that has changed since in a way
    that can move numbers (:attr:`~wmrlib.book.sources.Source.stale`; changes declared
    number-preserving are not counted)."""
    return (f"{stale} of these {runs} runs were trained or evaluated by code that has changed "
            "since in a way that can move numbers")


def show_report(path: str | Path) -> None:
    """Display a markdown report file inside the page, its headings turned into bold lines."""
    from IPython.display import Markdown, display

    text = Path(path).read_text()
    text = re.sub(r"^#{1,6}\s+(.*)$", r"**\1**", text, flags=re.M)
    # A reader wants to know whether a speed target is met, not a test runner's words.
    text = re.sub(r"\bPASS\b", "met", re.sub(r"\bFAIL\b", "not met", text))
    display(Markdown(text))


def caption(text: str) -> None:
    """Display a figure or table caption (markdown, rendered; never literal asterisks)."""
    from IPython.display import Markdown, display

    display(Markdown(f"<p class='caption'><b>{text.split(':', 1)[0]}:</b>"
                     f"{text.split(':', 1)[1] if ':' in text else ''}</p>"))


def _plain(text: str) -> str:
    return text.replace("`", "")


def lift_constants(frame: pd.DataFrame, keep=()) -> tuple[pd.DataFrame, str]:
    """Return ``frame`` without its columns that hold one value in every row (except ``keep``),
    and a sentence that gives those values, so that a table keeps only what varies."""
    if len(frame) < 2:
        return frame, ""
    constant = [c for c in frame.columns if c not in keep
                and frame[c].astype(str).nunique(dropna=False) == 1]
    if not constant or len(constant) == len(frame.columns):
        return frame, ""

    def value(v):
        if isinstance(v, float):
            return "–" if pd.isna(v) else f"{v:g}"
        return str(v)

    said = "; ".join(f"{column_label(c)} {value(frame[c].iloc[0])}" for c in constant)
    return frame.drop(columns=constant), f"Every row: {said}."


def display_frame(frame: pd.DataFrame, digits: int = 2, data: pd.DataFrame | None = None,
                  lift: bool = False, name: str = "table", summary: str | None = None) -> None:
    """Display a table with floats at ``digits`` decimals and a CSV download of ``data`` (the
    table's own numbers by default); ``lift``: say the columns that never change in a line above
    it instead of repeating them in every row; ``summary``: collapse the table under that line."""
    from IPython.display import Markdown, display

    if lift:
        frame, said = lift_constants(frame)
        if said:
            display(Markdown(f"*{said}*"))
    table = show(frame, digits, name)
    table.summary = summary
    if data is not None:
        table.frame = data.rename(columns=column_label)
    display(table)


def _inline_html(text: str) -> str:
    """Return caption markdown (``**bold**``, ``*italic*``, ``code``) as escaped HTML."""
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"\*(.+?)\*", r"<em>\1</em>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def figure_html(fig, text: str, alt: str | None = None) -> str:
    """Return a matplotlib figure as an HTML ``<figure>``: the image (PNG, inline) with an alt
    text and its caption as ``<figcaption>``; ``text`` starts with its label (``Figure: ...``).
    The alt text defaults to the caption's words without markup."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    head, _, rest = text.partition(":")
    alt = alt or re.sub(r"[*`]", "", rest or head).strip()
    return (f"<figure class='wmr-figure'><img src='data:image/png;base64,{data}' "
            f"alt='{html.escape(alt)}'><figcaption><p class='caption'><b>{_inline_html(head)}:</b>"
            f"{_inline_html(rest)}</p></figcaption></figure>")


def figure(fig, text: str, alt: str | None = None, summary: str | None = None) -> None:
    """Display a matplotlib figure with its caption (``text`` starts with ``Figure:``) as one
    ``<figure>`` with an alt text (:func:`figure_html`); ``summary``: collapsed under that line."""
    from IPython.display import HTML, display

    shown = figure_html(fig, text, alt)
    display(HTML(shown if summary is None else details(summary, shown)))
