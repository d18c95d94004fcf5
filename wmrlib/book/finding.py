"""The finding's figures and the TRADES baseline's story: the headline figure of the landing page
(each family's gain with its interval beside the paper's, per dataset) and, where the TRADES
verdict stands (Claims), the margins and weight spreads of the PGD-AT and TRADES baselines.
The numbers come from :mod:`wmrlib.analysis.headline` and :mod:`wmrlib.analysis.margins`; this
module draws them and writes them in words."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..analysis.headline import Headline, finding_frame, findings
from ..analysis.stats import INTERVAL
from ..experiment.registry import FAMILY_NAMES, Defense, family_name
from ..analysis.margins import BaselineConfidence, baseline_confidence
from .display import display_frame, figure
from .sources import DATASET_NAMES
from .words import count

FAMILY_COLOURS = {family_name(Defense.PGD): "C0", family_name(Defense.TRADES): "C1"}
BUDGET_STYLES = ("-", "--", ":")  # one line style per training budget (profile), in order
TRADES_NOTE = "#trades-ours-never-attacks"  # the reproducibility note on the authors' TRADES+ours


# --- the landing page's headline figure ------------------------------------------------------

def headline_figure(frame: pd.DataFrame):
    """Draw :func:`wmrlib.analysis.headline.finding_frame`: one panel per dataset; per family
    and metric our gain (dot) with its 95 % interval (bar) and the paper's gain (diamond; open
    where the paper did not run the dataset and its MNIST gain is context)."""
    datasets = list(dict.fromkeys(frame["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.6 * len(datasets), 3.6), squeeze=False,
                             sharey=True)
    for ax, dataset in zip(axes[0], datasets):
        part = frame[frame["dataset"] == dataset].reset_index(drop=True)
        x = np.arange(len(part))
        for i, r in part.iterrows():
            colour = FAMILY_COLOURS.get(r["family"], "C2")
            low, high = r["gain"] - r["low"], r["high"] - r["gain"]
            ax.errorbar(x[i] - 0.12, r["gain"], yerr=[[low], [high]] if np.isfinite(r["low"]) else None,
                        fmt="o", color=colour, capsize=4, lw=2, ms=7)
            ax.plot(x[i] + 0.15, r["paper_gain"], marker="D", ms=7, ls="none",
                    color="0.25" if not r["paper_context"] else "0.55",
                    markerfacecolor="0.25" if not r["paper_context"] else "white")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xticks(x, [f"{r['family']}\n{r['metric']}" for _, r in part.iterrows()])
        context = bool(part["paper_context"].any())
        ax.set_title(DATASET_NAMES.get(dataset, dataset)
                     + (" (paper: MNIST gain as context)" if context else ""), fontsize=10)
        ax.set_xlim(-0.6, len(part) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel(f"gain at α_test {frame['alpha_test'].iloc[0]:g}, ours − baseline (pp)")
    handles = [plt.Line2D([], [], marker="o", color="0.3", ls="-", label="ours, 95 % interval"),
               plt.Line2D([], [], marker="D", color="0.25", ls="none", label="paper's gain"),
               plt.Line2D([], [], marker="D", color="0.55", markerfacecolor="white", ls="none",
                          label="paper's MNIST gain (context)")]
    if not frame["paper_context"].any():
        handles = handles[:2]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8,
               bbox_to_anchor=(0.5, 1.07))
    fig.tight_layout()
    return fig


def figure_caption(h: Headline, *others: Headline) -> str:
    """Return the headline figure's caption (its data: :func:`wmrlib.analysis.headline.finding_frame`)."""
    names = " and ".join(DATASET_NAMES[x.dataset] for x in (h, *others) if x.stored)
    context = [DATASET_NAMES[x.dataset] for x in others if x.stored and findings(x)
               and findings(x)[0].paper_context]
    return (f"Figure: the gain of the weighting (ours − baseline, pp) in A_sa and A_tr at α_test "
            f"{h.alpha_test:g}, per defense family, on {names}. Dots: our mean over seeds; bars: "
            f"our {INTERVAL}; diamonds: the paper's gain"
            + (f". The paper did not run {' or '.join(context)}: there its MNIST gain is "
               "context (open diamonds), not a target" if context else "") + ".")


def headline_figure_block(h: Headline, *others: Headline) -> None:
    """Display the landing page's headline figure with its caption (nothing when no gain is
    stored)."""
    frame = finding_frame(h, *others)
    if frame.empty:
        return
    shown = [x for x in (h, *others) if x.stored]
    figure(headline_figure(frame), figure_caption(*shown),
           alt=f"Dot plot of the weighting's gain in A_sa and A_tr at α_test "
               f"{h.alpha_test:g} per defense family with 95 % intervals, beside the paper's "
               f"gains, on {' and '.join(DATASET_NAMES[x.dataset] for x in shown)}")


# --- the TRADES baseline: margins and weights -------------------------------------------------

def budget_label(data: BaselineConfidence, profile: str) -> str:
    """Return how a page names one training budget of ``data``: its epochs (e.g. "20 epochs"),
    or its profile's name where two budgets shown have the same epochs."""
    epochs = data.summary.drop_duplicates("profile").set_index("profile")["epochs"]
    if epochs.duplicated(keep=False)[profile]:
        return profile
    return count(int(epochs[profile]), "epoch")


def margin_figure(data: BaselineConfidence, bins: int = 40):
    """Draw :func:`wmrlib.analysis.margins.baseline_confidence`: left, the distribution of the
    adversarial margins of correctly classified examples per baseline (pooled over seeds; one
    line style per training budget, dashed verticals at the medians of the seed medians);
    right, the weight spread at α_test per seed (dots) and its mean (bar)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6),
                                      gridspec_kw={"width_ratios": [1.6, 1]})
    edges = np.linspace(0.0, 1.0, bins + 1)
    ticks, labels = [], []
    for p, profile in enumerate(data.profiles):
        style = BUDGET_STYLES[p % len(BUDGET_STYLES)]
        for f, family in enumerate(FAMILY_NAMES):
            row = data.row(family, profile)
            if row is None:
                continue
            colour = FAMILY_COLOURS[family]
            budget = f", {budget_label(data, profile)}" if len(data.profiles) > 1 else ""
            kept = data.margins[(data.margins["profile"] == profile)
                                & (data.margins["family"] == family)]["margin"]
            left.hist(kept, bins=edges, density=True, histtype="step", lw=1.8, ls=style,
                      color=colour, label=f"{family} baseline{budget} (median {row['median_margin']:.2f})")
            left.axvline(row["median_margin"], color=colour, ls=":", lw=1.2)
            seeds = data.per_seed[(data.per_seed["profile"] == profile)
                                  & (data.per_seed["family"] == family)]["weight_spread"]
            x = p * 2.6 + f
            jitter = np.linspace(-0.12, 0.12, len(seeds)) if len(seeds) > 1 else np.zeros(1)
            right.plot(x + jitter, seeds, "o", color=colour, alpha=0.7, ms=5)
            right.plot([x - 0.3, x + 0.3], [row["weight_spread"]] * 2, color=colour, lw=2.5)
            ticks.append(x)
            labels.append(f"{family}{budget.replace(', ', chr(10))}")
    left.set_xlabel("adversarial margin of a correctly classified test image")
    left.set_ylabel("density")
    left.set_title("Margins under the main attack", fontsize=10)
    left.legend(fontsize=8, loc="upper left")
    right.set_xticks(ticks, labels)
    right.set_ylabel(f"spread of N·s̃ at α_test {data.alpha_test:g}")
    right.set_title("Weight spread (0 = uniform)", fontsize=10)
    right.set_ylim(bottom=0)
    right.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def confidence_table(data: BaselineConfidence) -> pd.DataFrame:
    """Return the baselines' A_rob and A_sa beside the paper's, their median margin and weight
    spread (seed means, with the range over seeds), one row per budget and family."""
    a = f"{data.alpha_test:g}"
    rows = []
    for _, r in data.summary.iterrows():
        rows.append({"baseline": f"{r['family']}" + (f" ({budget_label(data, r['profile'])})"
                                                      if len(data.profiles) > 1 else ""),
                     "seeds": int(r["seeds"]),
                     "A_rob (%)": r["a_rob"], "paper's A_rob": r["paper_a_rob"],
                     f"A_sa at α_test {a} (%)": r["a_sa"], f"paper's A_sa at α_test {a}": r["paper_a_sa"],
                     "median margin (seed range)": f"{r['median_margin']:.2f} "
                                                   f"({r['median_margin_low']:.2f}–{r['median_margin_high']:.2f})",
                     "weight spread (seed range)": f"{r['weight_spread']:.2f} "
                                                   f"({r['weight_spread_low']:.2f}–{r['weight_spread_high']:.2f})"})
    return pd.DataFrame(rows)


def trades_words(data: BaselineConfidence | None, link: str | None = None,
                 profile: str | None = None) -> str | None:
    """Return the sentences on the TRADES baseline behind its small gain (``profile``: which
    budget; default the first stored): its A_rob and A_sa beside the paper's, the median
    adversarial margin of its correctly classified examples and its weight spread beside
    PGD-AT's, and the note that the authors' TRADES+ours code never attacks; ``link``: where the
    figure is (a MyST target), or None. None without both baselines."""
    if data is None:
        return None
    trades = data.row(family_name(Defense.TRADES), profile)
    pgd = data.row(family_name(Defense.PGD), profile)
    if trades is None or pgd is None:
        return None
    a = data.alpha_test
    rob = ("weaker than the paper's" if trades["a_rob"] < trades["paper_a_rob"]
           else "as strong as the paper's")
    sa = "above" if trades["a_sa"] > trades["paper_a_sa"] else "below"
    closer = trades["weight_spread"] < pgd["weight_spread"]
    text = (f"Our TRADES baseline is {rob} (A_rob {trades['a_rob']:.2f} % against "
            f"{trades['paper_a_rob']:.2f}), yet its A_sa at α_test {a:g} is {trades['a_sa']:.1f} %, "
            f"{sa} the paper's {trades['paper_a_sa']:.2f}: its correctly classified examples keep "
            f"small adversarial margins (median {trades['median_margin']:.2f}, against "
            f"{pgd['median_margin']:.2f} for PGD-AT), so its weights at α_test {a:g} are "
            + ("closer to uniform" if closer else "no closer to uniform")
            + f" (spread of N·s̃ {trades['weight_spread']:.2f}, against {pgd['weight_spread']:.2f})"
            + (": the sampling attacker singles out its misclassified examples less, and the "
               "weighting has less to gain" if closer else "")
            + (f" ([margins and weights]({link}))" if link else "") + ". ")
    return text + (f"The authors' TRADES+ours code never attacks as published "
                   f"([note]({TRADES_NOTE})), so the paper's TRADES gain cannot be traced to it.")


def trades_baseline(results: str | Path, profiles=("cpu", "cpu-20epoch"), dataset: str = "mnist",
                    alpha_test: float | None = None) -> BaselineConfidence:
    """Display, where the TRADES verdict stands (Claims), why the TRADES family has less to gain
    at our scale: the baselines' A_rob and A_sa beside the paper's, their margins and weight
    spreads (a table and a figure; every training budget of ``profiles`` that is stored), and
    the note on the authors' TRADES+ours code; return the data."""
    from IPython.display import Markdown, display

    data = baseline_confidence(results, profiles=profiles, dataset=dataset, alpha_test=alpha_test)
    if data.summary.empty:
        display(Markdown(f"```{{note}}\nNo {DATASET_NAMES[dataset]} baseline is stored yet.\n```"))
        return data
    text = trades_words(data)
    if text:
        display(Markdown(text))
    for profile in data.profiles[1:]:
        other = trades_words(data, profile=profile)
        row = data.row(family_name(Defense.TRADES), profile)
        if other and row is not None:
            display(Markdown(f"**After {budget_label(data, profile)}:** "
                             + other.split(" The authors'")[0]))
    waiting = [p for p in data.missing if p in profiles]
    first = data.summary.iloc[0]
    budgets = " and ".join(count(int(e), "epoch") for e in dict.fromkeys(data.summary["epochs"]))
    display_frame(confidence_table(data), name="baseline-margins")
    figure(margin_figure(data),
           f"Figure: the PGD-AT and TRADES baselines on {DATASET_NAMES[dataset]} ({budgets} of "
           f"training; {count(int(first['seeds']), 'seed')}, {int(first['examples']):,} test "
           f"images). Left: the adversarial margins, under the main 40-step PGD attack, of the "
           f"test images each baseline still classifies correctly, pooled over seeds (dotted "
           f"lines: the mean of the seeds' medians). Right: the spread of the weights at α_test "
           f"{data.alpha_test:g}, the standard deviation of N·s̃ over the test images (0 when every "
           f"image weighs the same; dots: seeds, bar: their mean)."
           + (" The longer-trained models are shown here once their baselines are stored."
              if waiting else ""),
           alt="Histograms of the adversarial margins of correctly classified test images for "
               "the PGD-AT and TRADES baselines, and their weight spreads per seed")
    return data
