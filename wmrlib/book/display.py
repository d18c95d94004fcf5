"""How a page shows a result: section headers with their source, styled tables, captions, figures."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis.collapse import describe_rule
from .sources import Source


VERDICT_COLOURS = {"holds": "#d4edda", "does not hold": "#f8d7da", "inconclusive": "#fff3cd"}
WIDE_TEXT = 60  # characters: a text column this long on average gets room instead of wrapping


def show(frame: pd.DataFrame, digits: int = 2):
    """Return a Styler that prints floats with ``digits`` decimals and NaN as an en dash, colours
    verdicts (holds, does not hold, inconclusive) and gives long text columns room."""
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    styler = frame.style.format({c: f"{{:.{digits}f}}" for c in floats}, na_rep="–").hide(axis="index")
    text = [c for c in frame.columns if len(frame) and (frame[c].dtype == object
                                                        or pd.api.types.is_string_dtype(frame[c]))]
    verdicts = [c for c in text if frame[c].isin(list(VERDICT_COLOURS) + ["not evaluated",
                                                                         "not stored"]).all()]
    if verdicts:
        styler = styler.map(lambda v: f"background-color: {VERDICT_COLOURS[v]}"
                            if v in VERDICT_COLOURS else "", subset=verdicts)
    wide = [c for c in text if c not in verdicts and frame[c].astype(str).str.len().mean() > WIDE_TEXT]
    if wide:
        styler = styler.set_properties(subset=wide, **{"min-width": "16em"})
    return styler


def section(title: str, source: Source | None, value, note: str = "",
            stale_note: bool = False, examples: int | None = None) -> None:
    """Display a section header, the source of its numbers (or why there are none), and a table.

    ``examples``: the test examples of the section's numbers when not the plan's ``eval_size``.
    """
    from IPython.display import Markdown, display

    display(Markdown(f"### {title}"))
    if source is None:
        display(Markdown(f"```{{note}}\n{value}\n```"))
        return
    n = examples or source.plan.eval_size or "all"
    stale = source.stale
    flag = "; some runs were computed by code changed since (see Provenance)" if stale else ""
    collapsed = source.collapsed
    if collapsed:
        flag += (f"; ⚠ collapsed in training ({describe_rule(source.plan)}): " + ", ".join(
            f"{m} (epoch {e})" for m, e in collapsed.items()) + ", counted in every seed mean "
                 "that includes its seed")
    flagged = source.flagged
    if flagged:
        flag += ("; ⚠ gradient-masking probes flag " + ", ".join(
            f"{m} ({', '.join(p)})" for m, p in flagged.items()) + " (see *Is the robustness real?*)")
    display(Markdown(f"*Results: {source.label}; {n} test examples"
                     + (f"; {note}" if note else "") + f"{flag}.*"))
    if stale and stale_note:
        display(Markdown(f"```{{note}}\n{stale} stored run(s) of this source were computed by "
                         "code that has changed since (training, attacks, evaluation or data "
                         "modules): see the provenance table's `code since` column. The numbers "
                         "are those of the stored results.\n```"))
    done, total = source.results.progress()
    if done < total:
        display(Markdown(f"```{{warning}}\nPartial results: {done} of {total} jobs of profile "
                         f"`{source.profile}` are complete; the rows shown are those stored.\n```"))
    if isinstance(value, pd.DataFrame):
        display(show(value))


def show_report(path: str | Path) -> None:
    """Display a markdown report file inside the page, its headings turned into bold lines."""
    import re

    from IPython.display import Markdown, display

    text = Path(path).read_text()
    text = re.sub(r"^#{1,6}\s+(.*)$", r"**\1**", text, flags=re.M)
    display(Markdown(text))


def caption(text: str) -> None:
    """Display a figure or table caption (markdown, rendered; never literal asterisks)."""
    from IPython.display import Markdown, display

    display(Markdown(f"<p class='caption'><b>{text.split(':', 1)[0]}:</b>"
                     f"{text.split(':', 1)[1] if ':' in text else ''}</p>"))


def _plain(text: str) -> str:
    return text.replace("`", "")


def display_frame(frame: pd.DataFrame, digits: int = 2) -> None:
    """Display a table with floats at ``digits`` decimals."""
    from IPython.display import display

    display(show(frame, digits))


def _show(fig) -> None:
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def figure(fig, text: str) -> None:
    """Display a matplotlib figure with its caption (``text`` starts with ``Figure:``)."""
    _show(fig)
    caption(text)
