"""The models page: one row per shipped model, RobustBench style, with the line that loads it
(the table and its accuracies from :func:`wmrlib.analysis.zoo.shipped_models`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from IPython.display import Markdown, display

from ..analysis.robustness import PGD_GAP_PP, published_gaps
# The table is computed in wmrlib.analysis.zoo (named here too: wmrlib.book.models.shipped_models).
from ..analysis.zoo import SHIPPED_PROFILES, shipped_models
from ..core.datasets import spec
from ..experiment.profiles import profile as get_profile
from .display import display_frame
from .sources import models_name

__all__ = ["SHARED", "SHIPPED_PROFILES", "gap_note", "group_gap_line", "shipped_models", "show"]


SHARED = ["profile", "dataset", "epochs", "architecture", "ε"]  # one value per table


def show(results: str | Path, profiles=SHIPPED_PROFILES) -> None:
    """Display the shipped models, one table per profile and dataset (the settings they share in
    its heading, the arguments of ``zoo.load`` in its last column)."""
    frame = shipped_models(results, profiles)
    display(Markdown(gap_note()))
    for (profile, dataset, epochs, architecture, eps), group in frame.groupby(SHARED, sort=False):
        name = models_name(profile, get_profile(profile).plan(dataset))
        display(Markdown(f"### {spec(dataset).display_name}, {name}\n\n{architecture}, "
                         f"{epochs} epochs, ε = {eps}. Each model loads with `zoo.load(\"{profile}\", "
                         f"\"{dataset}\", …)` and the arguments of the last column."
                         + group_gap_line(group)))
        prefix = f'zoo.load("{profile}", "{dataset}", '
        shown = group.drop(columns=SHARED).assign(
            load=[line.removeprefix(prefix).removesuffix(")") for line in group["load"]])
        display_frame(shown.rename(columns={"load": "zoo.load(…) arguments"}), 2)


def gap_note() -> str:
    """Return the sentences above the tables on how much 40-PGD overstates a model: what the
    gap is, the threshold of the flag, and the published MNIST models' gaps."""
    text = (f"**How much 40-PGD overstates each model.** The column *→ AutoAttack* is a model's "
            f"40-PGD A_rob minus its AutoAttack A_rob, both on the robustness check's test images; "
            f"*overstated* flags a gap above {PGD_GAP_PP:g} pp.")
    published = published_gaps("mnist")
    if not published.empty:
        text += (" Published MNIST models lose " + " and ".join(
            f"{g:.2f} pp ({f}, ε {e:g})" for f, g, e in
            zip(published["family"], published["gap"], published["eps"]))
                 + " from their authors' reported A_rob to AutoAttack.")
    return text


def group_gap_line(group: pd.DataFrame) -> str:
    """Return one table's sentence on its checked models' gaps (empty when none is checked)."""
    column = next(c for c in group.columns if c.endswith("→ AutoAttack (pp)"))
    gaps = group[column].dropna()
    if gaps.empty:
        return ""
    return (f" 40-PGD overstates the {len(gaps)} checked models by {gaps.min():.1f}–"
            f"{gaps.max():.1f} pp; {int((gaps > PGD_GAP_PP).sum())} of them by more than "
            f"{PGD_GAP_PP:g} pp.")
