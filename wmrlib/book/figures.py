"""Figures drawn from what the analysis computed: weight histograms (Figs. 5-7), sensitivity
curves (Fig. 3), DRO (Fig. 4), gains, claims and the pilot's curves. Nothing here reads the
store or computes a number (:mod:`wmrlib.analysis.figure_data` reads the histograms' weights and
the DRO curves)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..analysis.figure_data import WeightHistograms
from ..analysis.stats import NOT_EVALUATED
from ..experiment.registry import DEFENSE_NAMES, Defense


def histogram_figure(data: WeightHistograms, bins: int = 40):
    """Draw Figures 5-7 from :func:`wmrlib.analysis.figure_data.weight_histograms`: N·s̃ of each
    model (rows, by α_train) at each α_test (columns), log counts."""
    rows, cols = len(data.alpha_trains), len(data.alpha_tests)
    fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(3.0 * cols, 1.9 * rows),
                             sharex="col")
    for r, alpha_train in enumerate(data.alpha_trains):
        for c, alpha in enumerate(data.alpha_tests):
            ax = axes[r, c]
            ax.hist(data.scaled[(r, c)], bins=bins, color="C0" if alpha_train == 0 else "C1")
            ax.set_yscale("log")
            if r == 0:
                ax.set_title(f"α_test = {alpha:g}")
            if c == 0:
                name = "baseline" if alpha_train == 0 else f"α_train = {alpha_train:g}"
                ax.set_ylabel(f"{name}\ncount (log)", fontsize=8)
            if r == rows - 1:
                ax.set_xlabel("N · s̃ (1 = uniform)")
    fig.suptitle(f"{data.dataset}: normalised importance weights over {data.n} test points, "
                 f"ε_test = {data.eps_test:g}")
    fig.tight_layout()
    return fig


def sensitivity_figure(frame: pd.DataFrame, metric: str = "ours_a_tr"):
    """Draw Figure 3: a metric against alpha_test, one panel per eps_test, one line per model."""
    eps_values = sorted(frame["eps_test"].unique())
    fig, axes = plt.subplots(1, len(eps_values), figsize=(4 * len(eps_values), 3.2), squeeze=False)
    for ax, eps in zip(axes[0], eps_values):
        part = frame[frame["eps_test"] == eps]
        for (defense, alpha), rows in part.groupby(["defense", "alpha_train"], sort=False):
            style = "--" if defense.startswith(DEFENSE_NAMES[Defense.PGD]) else "-"
            ax.plot(rows["alpha_test"], rows[metric], style, marker="o",
                    label=f"{defense} α={alpha:g}" if alpha else defense)
        ax.set_title(f"ε_test = {eps:g}")
        ax.set_xlabel("α_test")
        ax.set_ylabel(metric.replace("ours_", "").replace("a_", "A_") + " (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 0.82, 1))  # the legend goes to the right, off the curves
    fig.legend(handles, labels, fontsize=7, loc="center right")
    return fig


def dro_figure(curves: pd.DataFrame):
    """Draw Figure 4 from :func:`wmrlib.analysis.figure_data.dro_curves`: one row per family,
    mean over seeds with ±1 std."""
    families = list(dict.fromkeys(curves["family"]))
    fig, axes = plt.subplots(len(families), 2, figsize=(9, 3.2 * len(families)), squeeze=False)
    for row, family in zip(axes, families):
        part_f = curves[curves["family"] == family]
        for (defense, alpha), part in part_f.groupby(["defense", "alpha_train"], sort=False):
            columns = ["worst_case_loss", "worst_case_accuracy"]
            stats = part.groupby("rho")[columns].agg(["mean", "std"])
            label = f"{defense} α={alpha:g}" if alpha else defense
            for ax, column in zip(row, columns):
                mean, std = stats[column]["mean"], stats[column]["std"].fillna(0)
                ax.plot(stats.index, mean, marker="o", label=label)
                # A band never leaves what the quantity can be: a loss is >= 0, an accuracy in [0, 100].
                low, high = (0.0, 100.0) if column == "worst_case_accuracy" else (0.0, np.inf)
                ax.fill_between(stats.index, (mean - std).clip(low, high),
                                (mean + std).clip(low, high), alpha=0.2)
        for ax, name in zip(row, ("worst-case weighted adversarial loss",
                                  "worst-case weighted accuracy (%)")):
            ax.set_xscale("symlog", linthresh=0.01)
            ax.set_xlabel("ρ (χ² budget)")
            ax.set_ylabel(name)
            ax.set_title(f"{family} family")
        row[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def curve_gain_figure(gains: pd.DataFrame, paper_gains: dict[str, dict[str, float]] | None = None):
    """Draw the convergence study: each family's gain in A_rob, A_sa and A_tr against the epoch,
    mean over seed pairs with a ±1 std band; dotted lines mark the paper's gains when given."""
    families = list(dict.fromkeys(gains["family"]))
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 3.4), squeeze=False,
                             sharey=True)
    for ax, family in zip(axes[0], families):
        part = gains[gains["family"] == family].sort_values("epoch")
        for i, m in enumerate(("a_rob", "a_sa", "a_tr")):
            mean, std = part[f"gain_{m}"], part[f"gain_{m}_std"].fillna(0)
            label = m.replace("a_", "A_")
            ax.plot(part["epoch"], mean, marker="o", color=f"C{i}", label=f"ours − baseline, {label}")
            ax.fill_between(part["epoch"], mean - std, mean + std, color=f"C{i}", alpha=0.15)
            if paper_gains and m in paper_gains.get(family, {}):
                ax.axhline(paper_gains[family][m], color=f"C{i}", ls=":", lw=1,
                           label=f"paper (100 epochs), {label}")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(f"{family}+ours α_train {part['alpha_train'].iloc[0]:g} vs {family}")
        ax.set_xlabel("training epoch")
        ax.set_xticks(sorted(part["epoch"].unique()))
    axes[0, 0].set_ylabel("gain (pp)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=7, bbox_to_anchor=(0.5, 1.12))
    fig.tight_layout()
    return fig


def gain_figure(gains: pd.DataFrame):
    """Draw each family's gain (ours − baseline) beside the paper's, one bar pair per metric and
    alpha_test; our bars carry whiskers spanning :func:`wmrlib.analysis.gains.gain_table`'s
    interval."""
    families = list(dict.fromkeys(gains["family"]))
    fig, axes = plt.subplots(1, len(families), figsize=(5.5 * len(families), 3.4), squeeze=False,
                             sharey=True)
    for ax, family in zip(axes[0], families):
        part = gains[gains["family"] == family].reset_index(drop=True)
        labels = [m if a is None or (isinstance(a, float) and np.isnan(a)) else f"{m}\nα_test {a:g}"
                  for m, a in zip(part["metric"], part["alpha_test"])]
        x = np.arange(len(part))
        low = np.array([float(i.strip("[]").split(",")[0]) for i in part["interval"]])
        high = np.array([float(i.strip("[]").split(",")[1]) for i in part["interval"]])
        ours = part["our gain"].to_numpy(dtype=float)
        ax.bar(x - 0.2, part["paper gain"].to_numpy(dtype=float), 0.4, color="0.7",
               label="paper (100 epochs)")
        ax.bar(x + 0.2, ours, 0.4, color="C0" if family == DEFENSE_NAMES[Defense.PGD] else "C1",
               label="ours",
               yerr=[ours - low, high - ours], capsize=3)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(x, labels, fontsize=7)
        alpha_train = part["alpha_train"].iloc[0]
        ax.set_title(f"{family}+ours (α_train {alpha_train:g}) − {family}")
        ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylabel("gain, ours − baseline (pp)")
    fig.tight_layout()
    return fig


VERDICT_COLOURS = {"holds": "#2e7d32", "does not hold": "#c62828", "inconclusive": "#f9a825",
                   NOT_EVALUATED: "0.6"}


def claims_forest(comparisons: pd.DataFrame,
                  claims: tuple[str, ...] = ("C1", "C2", "C3", "C5", "C6")):
    """Draw every claim comparison (:func:`wmrlib.analysis.claims.comparisons`) as its estimate with
    its interval against the claim's threshold (dotted), one panel per claim, coloured by verdict.

    ``claims`` picks the panels (by default the claims that compare models or fit a slope; C4's
    54 inequalities and C7's spreads read better as tables).
    """
    comparisons = comparisons[comparisons["claim"].isin(claims)]
    claims = list(dict.fromkeys(comparisons["claim"]))
    sizes = [int((comparisons["claim"] == c).sum()) for c in claims]
    fig, axes = plt.subplots(len(claims), 1, figsize=(9, 0.9 + 0.2 * sum(sizes) + 0.6 * len(claims)),
                             gridspec_kw={"height_ratios": [max(n, 3) for n in sizes]}, squeeze=False)
    for ax, claim in zip(axes[:, 0], claims):
        part = comparisons[comparisons["claim"] == claim].reset_index(drop=True)
        y = np.arange(len(part))[::-1]
        estimates = part["estimate"].astype(float).to_numpy()
        low = part["interval_low"].astype(float).to_numpy()
        high = part["interval_high"].astype(float).to_numpy()
        for yi, est, lo, hi, verdict in zip(y, estimates, low, high, part["verdict"]):
            colour = VERDICT_COLOURS.get(verdict, "0.6")
            whisker = [[est - lo], [hi - est]] if np.isfinite(lo) and np.isfinite(hi) else None
            ax.errorbar(est, yi, xerr=whisker, fmt="o", ms=3.5, color=colour, lw=1, capsize=2)
        for test in dict.fromkeys(part["test"]):
            for threshold in _thresholds(str(test)):
                ax.axvline(threshold, color="0.3", ls=":", lw=1)
        ax.set_yticks(y, part["comparison"], fontsize=8)
        unit = ", ".join(dict.fromkeys(part["unit"].astype(str)))
        ax.set_title(f"{claim} ({unit}; threshold dotted)", fontsize=10, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=v)
               for v, c in VERDICT_COLOURS.items() if v in set(comparisons["verdict"])]
    fig.legend(handles=handles, loc="upper right", fontsize=8, ncol=len(handles))
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    return fig


def _thresholds(test: str) -> list[float]:
    """Return the thresholds of a claim test such as ``> 5``, ``>= 0`` or ``within ±1``."""
    value = float(test.replace("within", "").replace("±", "").lstrip("<>= "))
    return [-value, value] if test.startswith("within") else [value]


def pilot_curve_figure(runs: list[dict]):
    """Draw the schedule pilot's validation A_rob against the epoch (:func:`wmrlib.analysis.pilot.
    stage1_runs`): one panel per configuration, one line per candidate."""
    models = list(dict.fromkeys((r["config"]["defense"], r["config"]["alpha_train"],
                                 r["config"]["seed"]) for r in runs))
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(4.2 * max(len(models), 1), 3.2),
                             squeeze=False, sharey=True)
    for ax, (defense, alpha, seed) in zip(axes[0], models):
        for run in runs:
            c = run["config"]
            if (c["defense"], c["alpha_train"], c["seed"]) != (defense, alpha, seed):
                continue
            ax.plot([p["epoch"] for p in run["curve"]], [p["val_a_rob"] for p in run["curve"]],
                    marker=".", label=run["candidate"])
        name = "PGD-AT" if defense == Defense.PGD else "TRADES" + (f"+ours α {alpha:g}" if alpha else "")
        ax.set_title(f"{name}, seed {seed}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("validation A_rob (%), PGD-20")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
