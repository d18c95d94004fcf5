"""The page "Does the verdict depend on the training budget?": what :mod:`wmrlib.analysis.budget`
computed, as tables, figures and sentences (one method per section; nothing is computed here)."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ..analysis import budget as analysis
from ..analysis.stats import INTERVAL
from ..experiment.profiles import LONGER_BUDGET
from .display import caption, display_frame, figure
from .params import check_notebook_parameters
from .words import count

FAMILY_COLOURS = {"PGD": "#1f77b4", "TRADES": "#d62728"}
SD = ("each cell is the mean over seeds ± SD, the standard deviation over the seeds (one model "
      "per seed)")


def _note(text: str, kind: str = "note") -> None:
    display(Markdown(f"```{{{kind}}}\n{text}\n```"))


def _cell(mean: float, sd: float = float("nan"), digits: int = 2) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" + ("" if pd.isna(sd) else f" ± {sd:.{digits}f}")


def _signed(value: float, half: float = float("nan")) -> str:
    if pd.isna(value):
        return "–"
    text = f"{value:+.2f}"
    return text if pd.isna(half) else f"{text} [{value - half:+.2f}, {value + half:+.2f}]"


def _df(value: float) -> str:
    if pd.isna(value) or value == 0:
        return "none (one seed)"
    return "normal" if np.isinf(value) else f"{value:.1f}"


def _seeds(seeds) -> str:
    seeds = list(seeds)
    if not seeds:
        return "none"
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


class BudgetPage:
    """The budget page: both budgets' results read once (:func:`wmrlib.analysis.budget.budget_view`),
    one method per section, each displaying it and returning what it showed."""

    def __init__(self, profile: str = "cpu", results: str | Path = "../results",
                 readonly: bool = True, device: str = "auto", progress: bool = True) -> None:
        check_notebook_parameters(profile=profile, results=results, readonly=readonly,
                                  device=device, progress=progress)
        # The page reads stored results only, whatever ``readonly`` says: nothing here trains.
        self.view = analysis.budget_view(profile, results)
        v = self.view
        self.short_name = count(v.epochs[0], "epoch")
        self.long_name = count(v.epochs[1], "epoch") if v.long else None
        self.short_adj = f"{v.epochs[0]}-epoch"  # "the 5-epoch models"
        self.long_adj = f"{v.epochs[1]}-epoch" if v.long else None

    # --- the sources ---------------------------------------------------------------------------

    def sources(self) -> str:
        """Say which models each budget shows: profiles, seeds, test images."""
        v = self.view
        short = v.short_plan
        text = (f"*Results: MNIST. {self.short_name} (`{v.short}` results): seeds {_seeds(v.seeds)}, "
                f"{analysis.main_images(short):,} test images (AutoAttack on "
                f"{analysis.checked_images(short):,})")
        if v.long:
            long = v.long_plan
            text += (f". {self.long_name} (`{v.long}` results): seeds {_seeds(long.seeds)}, "
                     f"{analysis.main_images(long):,} test images (AutoAttack on "
                     f"{analysis.checked_images(long):,})")
        display(Markdown(text + ".*"))
        if not v.long:
            _note(f"The `{v.short}` results have no longer-trained counterpart: the budget "
                  f"comparison pairs {', '.join(f'`{s}` with `{l}`' for s, l in LONGER_BUDGET.items())}. "
                  "This page shows the shorter budget only.")
        for budget, runs in v.collapsed.items():
            if runs:
                display(Markdown(f"⚠ Collapsed in training ({budget}; validation A_rob fell "
                                 f"{analysis.COLLAPSE_RULE.words()} below its best so "
                                 "far): " + ", ".join(f"{m} (epoch {e})" for m, e in runs.items())
                                 + ". Each stays in every mean that includes its seed."))
        return text

    # --- which longer-trained models exist ----------------------------------------------------

    def status(self) -> pd.DataFrame | None:
        """Show the longer budget's models: which are complete, how far training has come."""
        v = self.view
        if not v.long:
            return None
        state = v.progress
        complete = int((state["state"] == "complete").sum())
        training = state[state["state"] == "training"]
        words = (f"{complete} of the {len(state)} {self.long_adj} models are trained and "
                 "evaluated")
        if len(training):
            words += "; " + count(len(training), "model") + " training now (" + ", ".join(
                f"{r['arm']} seed {r['seed']}: {r['epochs']:.2f} of {r['of epochs']} epochs"
                for _, r in training.iterrows()) + ")"
        evaluating = int((state["state"] == "trained, being evaluated").sum())
        if evaluating:
            words += f"; {count(evaluating, 'model')} trained and being evaluated"
        display(Markdown(words + ". Every section below fills in as the models are completed; "
                         "until then it shows what exists."))
        table = pd.DataFrame({
            "model": [f"{a} seed {s}" for a, s in zip(state["arm"], state["seed"])],
            "state": state["state"],
            "epochs trained": [f"{e:.2f} of {n}" for e, n in zip(state["epochs"], state["of epochs"])],
            "validation A_nat / A_rob (latest)": [
                "–" if pd.isna(r) else f"{n:.1f} / {r:.1f}"
                for n, r in zip(state["val_a_nat"], state["val_a_rob"])],
            "selected epoch so far": ["–" if pd.isna(e) else str(int(e))
                                      for e in state["selected_epoch"]],
            "evaluations": [f"{d} of {t}" for d, t in zip(state["evaluations"],
                                                           state["of evaluations"])]})
        display_frame(table, data=state)
        caption(f"Table: the {self.long_adj} models, in the order they are trained, with how "
                "far each has come: the epochs trained (from the training checkpoint while it "
                "trains), its latest validation A_nat and A_rob (PGD-20 on the 1,000 held-out "
                "training images, %), the epoch its selection rule holds (the best end-of-epoch "
                "validation A_rob so far) and its evaluations on the test images "
                "(AutoAttack and the masking probes included).")
        return state

    # --- per arm ---------------------------------------------------------------------------------

    def arms(self) -> pd.DataFrame:
        """Show every arm at each budget beside the paper and the published models."""
        arms = self.view.arms
        table = pd.DataFrame({
            "model": arms["arm"], "trained for": arms["budget"],
            "models": ["–" if pd.isna(n) else str(int(n)) if n >= len(self.view.seeds)
                       else f"{int(n)} of {len(self.view.seeds)}" for n in arms["models"]],
            "A_nat": [_cell(m, s) for m, s in zip(arms["a_nat"], arms["a_nat_sd"])],
            "A_rob 40-PGD": [_cell(m, s) + (" ‡" if b == "published model" else "")
                             for m, s, b in zip(arms["pgd"], arms["pgd_sd"], arms["budget"])],
            "A_rob AutoAttack": [_cell(m, s) for m, s in zip(arms["autoattack"], arms["autoattack_sd"])],
            "40-PGD − AutoAttack (pp)": [_cell(m, s) for m, s in zip(arms["gap"], arms["gap_sd"])],
            f"A_sa({analysis.ALPHA_TEST:g})": [_cell(m, s) for m, s in zip(arms["a_sa"], arms["a_sa_sd"])],
            f"A_tr({analysis.ALPHA_TEST:g})": [_cell(m, s) for m, s in zip(arms["a_tr"], arms["a_tr_sd"])]})
        display_frame(table, data=arms)
        sources = arms["source"].dropna() if "source" in arms else pd.Series(dtype=str)
        v = self.view
        caption(f"Table: each arm after {self.short_name}"
                + (f" and {self.long_name}" if v.long else "")
                + f" of training (seeds {_seeds(v.seeds)} at {self.short_name}), beside the "
                f"paper's {analysis.PAPER_EPOCHS}-epoch models (Table 1 at α_test "
                f"{analysis.ALPHA_TEST:g}; A_nat from Table 6) and the published models of the "
                f"same defenses; in %. Ours: {SD}; the 40-PGD, A_sa and A_tr columns are "
                "measured on each budget's test images, AutoAttack and the gap on the robustness "
                "check's images (the gap is 40-PGD minus AutoAttack on those same images). "
                "‡ A published model's A_rob as its authors reported it, under their own attack. "
                + " ".join(f"Published: {s}." for s in sources)
                + ("" if not v.long else f" A {self.long_adj} row fills in as its models are "
                   "complete; the models column counts them."))
        return arms

    # --- per family: the gains and the budget comparison --------------------------------------

    def gains(self) -> pd.DataFrame:
        """Show each family's headline gain at both budgets and the budget comparison."""
        v = self.view
        rows = []
        paper = analysis.paper_gains().set_index(["family", "metric"])["paper gain"]
        for family in dict.fromkeys(v.short_gains["family"]):
            for name, *_ in analysis.GAIN_METRICS:
                row = {"family": family, "gain in": name,
                       "paper's gain": _signed(paper.get((family, name), np.nan))}
                for label, frame in ((self.short_name, v.short_gains),
                                     (self.long_name, v.long_gains)):
                    if label is None:
                        continue
                    hit = frame[(frame["family"] == family) & (frame["metric"] == name)] \
                        if len(frame) else frame
                    row[f"{label} [interval]"] = ("–" if hit.empty else
                                                  _signed(hit["gain"].iloc[0], hit["half"].iloc[0]))
                    row[f"{label} seeds"] = "–" if hit.empty else str(int(hit["pairs"].iloc[0]))
                rows.append(row)
        table = pd.DataFrame(rows)
        display_frame(table, data=pd.concat([v.short_gains.assign(budget=self.short_name),
                                             v.long_gains.assign(budget=self.long_name)]
                                            if len(v.long_gains) else [v.short_gains]))
        caption(f"Table: the headline gain ours − baseline (pp) per family, seed means of per-seed "
                f"paired differences, with the {INTERVAL}, computed as on every other page; "
                "seeds: the seed pairs behind it. A_rob (AutoAttack) is measured on the robustness "
                "check's images. The paper's gain is its Table 1 at α_test "
                f"{analysis.ALPHA_TEST:g} ({analysis.PAPER_EPOCHS} epochs; it has no AutoAttack).")
        if len(v.short_gains):
            figure(self._gain_figure(paper),
                   f"Figure: the headline gain per family and metric after {self.short_name}"
                   + (f" and {self.long_name}" if v.long else "") + f" (whiskers: the {INTERVAL}); "
                   f"grey bars: the paper's gain after {analysis.PAPER_EPOCHS} epochs. A budget "
                   "without a marker has no complete pair yet.")
        if not v.long:
            return table
        display(Markdown("**The budget comparison.** The analysis plan (section 1.5) declared "
                         "one comparison per family before any 20-epoch result existed: the "
                         f"A_sa({analysis.ALPHA_TEST:g}) gain at {self.long_name} minus the same "
                         f"gain at {self.short_name}. The two budgets' models are different runs, so "
                         "the difference is unpaired: its standard error is the root of the sum of "
                         "the two gains' squared standard errors, its degrees of freedom those of "
                         "Welch and Satterthwaite, (se₁² + se₂²)² / (se₁⁴/df₁ + se₂⁴/df₂), and it "
                         f"is *larger at {self.long_name}* when its 95 % interval lies above 0. "
                         "The same difference of the other gains is description only."))
        diff = v.differences
        if diff.empty:
            _note(f"No {self.long_adj} pair is complete yet, so no difference can be computed. "
                  f"The table fills in per family as soon as one seed pair of it is trained and "
                  f"evaluated, marked preliminary until all {len(v.long_plan.seeds)} are.")
            return table
        view = pd.DataFrame({
            "family": diff["family"], "gain in": diff["metric"],
            f"{self.short_name}": [f"{g:+.2f}" for g in diff["short gain"]],
            f"{self.long_name}": [f"{g:+.2f}" for g in diff["long gain"]],
            "difference [interval]": [_signed(d, h) for d, h in zip(diff["difference"], diff["half"])],
            "df (Welch–Satterthwaite)": [_df(d) for d in diff["df"]],
            "reading": diff["reading"]})
        display_frame(view, data=diff)
        caption(f"Table: the {self.long_adj} gain minus the {self.short_adj} gain (pp) per family, "
                f"with its 95 % interval (Student's t at the Welch–Satterthwaite degrees of "
                f"freedom); the A_sa({analysis.ALPHA_TEST:g}) row is the pre-declared comparison, "
                "the others are description.")
        return view

    def _gain_figure(self, paper: pd.Series):
        v = self.view
        families = list(dict.fromkeys(v.short_gains["family"]))
        names = [n for n, *_ in analysis.GAIN_METRICS]
        budgets = [(self.short_name, v.short_gains, "o", "#7f7f7f")]
        if v.long:
            budgets.append((self.long_name, v.long_gains, "s", "#000000"))
        fig, axes = plt.subplots(1, len(families), figsize=(5.2 * len(families), 3.2), sharey=True,
                                 squeeze=False)
        for ax, family in zip(axes[0], families):
            x = np.arange(len(names))
            ax.bar(x, [paper.get((family, n), np.nan) for n in names], 0.7, color="#dddddd",
                   label=f"paper ({analysis.PAPER_EPOCHS} epochs)")
            for k, (label, frame, marker, colour) in enumerate(budgets):
                for i, name in enumerate(names):
                    hit = frame[(frame["family"] == family) & (frame["metric"] == name)] \
                        if len(frame) else frame
                    if hit.empty:
                        continue
                    g, h = hit["gain"].iloc[0], hit["half"].iloc[0]
                    ax.errorbar(i + (k - 0.5) * 0.25, g, yerr=None if pd.isna(h) else h,
                                fmt=marker, color=colour, capsize=3, label=label)
            ax.axhline(0, color="black", lw=0.6)
            ax.set_xticks(x, names, fontsize=8)
            ax.set_title(f"{family} family")
            ax.set_ylabel("gain ours − baseline (pp)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        fig.legend(unique.values(), unique.keys(), fontsize=8, loc="lower center",
                   ncol=len(unique), frameon=False)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        return fig

    # --- the claims at both budgets ------------------------------------------------------------

    def verdicts(self) -> pd.DataFrame | None:
        """Show every claim's verdict per family at both budgets, or why not yet."""
        v = self.view
        if not v.long:
            return None
        if v.verdicts is None:
            done = int((v.progress["state"] == "complete").sum())
            _note(f"The claims are judged at {self.long_name} once all {len(v.progress)} "
                  f"{self.long_adj} models are trained and evaluated ({done} so far), by the "
                  "analysis plan's rules (sections 1.1–1.3; C5 is not judged there, since only "
                  f"the baseline and the headline α_train are trained). The {self.short_adj} "
                  "verdicts are on the Claims page.")
            return None
        frame = v.verdicts
        table = pd.DataFrame({"claim": frame["claim"], "family": frame["family"],
                              self.short_name: frame["short"], self.long_name: frame["long"],
                              "changed": ["yes" if c else "no" for c in frame["changed"]]})
        display_frame(table, data=frame)
        changed = int(frame["changed"].sum())
        caption(f"Table: each claim's verdict per defense family after {self.short_name} "
                f"(`{v.short}` results, every seed, as on the Claims page) and after "
                f"{self.long_name} (`{v.long}` results, {count(len(v.long_plan.seeds), 'seed')}), "
                f"by the analysis plan's rules; {changed} of {len(frame)} verdicts changed with the "
                "budget.")
        return table

    # --- the validation curves -----------------------------------------------------------------

    def curves(self) -> pd.DataFrame | None:
        """Show the paired validation gain per epoch, per family, and each run's selected epoch."""
        v = self.view
        if not v.long:
            return None
        gains = v.curve_gains
        if gains.empty:
            _note(f"No {self.long_adj} pair has an end-of-epoch validation point yet: the curves "
                  "start once both models of a seed pair have finished their first epoch (the "
                  "first models are still inside it).")
            return None
        figure(self._curve_figure(gains),
               f"Figure: the validation gain ours − baseline (pp) after every epoch of the "
               f"{self.long_adj} models, per family (line: mean over the seed pairs that have "
               "reached that epoch; band: the lowest to the highest seed's gain), for A_rob, "
               f"A_sa({analysis.ALPHA_TEST:g}) and A_tr({analysis.ALPHA_TEST:g}) under PGD-20 on "
               "the 1,000 held-out training images; dotted: the paper's test-set gains after "
               f"{analysis.PAPER_EPOCHS} epochs; grey verticals: the learning-rate drops. Runs "
               "still training contribute the epochs they have finished.")
        self._selected()
        return gains

    def _curve_figure(self, gains: pd.DataFrame):
        v = self.view
        paper = analysis.paper_gains().set_index(["family", "metric"])["paper gain"]
        names = list(analysis.CURVE_METRICS.values())
        fig, axes = plt.subplots(1, len(names), figsize=(13, 3.4), sharex=True)
        base = v.long_plan.base
        drops = [m * base.epochs for m in base.milestones]
        for ax, name in zip(axes, names):
            for family, part in gains[gains["metric"] == name].groupby("family", sort=False):
                colour = FAMILY_COLOURS.get(family, None)
                ax.plot(part["epoch"], part["gain"], marker="o", ms=3, color=colour,
                        label=f"{family} family")
                ax.fill_between(part["epoch"], part["low"], part["high"], color=colour, alpha=0.2)
                key = (family, "A_rob (40-PGD)" if name == "A_rob" else name)
                if key in paper.index:
                    ax.axhline(paper[key], color=colour, ls=":", lw=1)
            for d in drops:
                ax.axvline(d, color="#bbbbbb", lw=0.8)
            ax.axhline(0, color="black", lw=0.6)
            ax.set_title(f"validation {name}")
            ax.set_xlabel("epoch")
            ax.set_xlim(0, base.epochs + 0.5)
        axes[0].set_ylabel("gain ours − baseline (pp)")
        axes[-1].legend(fontsize=8)
        fig.tight_layout()
        return fig

    def _selected(self) -> pd.DataFrame:
        chosen = self.view.selected
        if chosen.empty:
            return chosen
        table = pd.DataFrame({
            "model": [f"{a} seed {s}" for a, s in zip(chosen["arm"], chosen["seed"])],
            "selected epoch": chosen["selected_epoch"].astype(str),
            "validation A_rob there": [f"{x:.1f}" for x in chosen["selected_val_a_rob"]],
            "last epoch": [f"{e}" + ("" if f else " (still training)")
                           for e, f in zip(chosen["last_epoch"], chosen["finished"])],
            "validation A_rob at the last epoch": [f"{x:.1f}" for x in chosen["last_val_a_rob"]]})
        display_frame(table, data=chosen)
        caption("Table: the model each run keeps, the one with the best end-of-epoch validation "
                "A_rob (a tie keeps the earlier epoch), beside its last epoch (the final model "
                "once the run is finished; robust overfitting shows as a lower A_rob there), in %.")
        return table

    # --- the targets ---------------------------------------------------------------------------

    def targets(self) -> pd.DataFrame:
        """Show how close each arm came to what we hoped the longer budget would reach."""
        rows = self.view.target_rows
        order = list(dict.fromkeys(rows["budget"]))
        out = []
        for (arm, target), part in rows.groupby(["arm", "target"], sort=False):
            row = {"model": arm, "target": target}
            for budget in order:
                hit = part[part["budget"] == budget]
                if hit.empty:
                    row[budget] = "–"
                    continue
                r = hit.iloc[0]
                if pd.isna(r["value"]):
                    row[budget] = "–"
                    continue
                spread = "" if pd.isna(r["low"]) or r["low"] == r["high"] else \
                    f" ({r['low']:.2f}–{r['high']:.2f})"
                verdict = "reached" if r["short_by"] <= 0 else f"{r['short_by']:.2f} pp short"
                row[budget] = f"{r['value']:.2f}{spread}: {verdict}"
            out.append(row)
        table = pd.DataFrame(out)
        display_frame(table, data=rows)
        caption("Table: what we hoped the 20-epoch models would reach, written down before they "
                f"were trained: 40-PGD A_rob of at least {analysis.TARGET_A_ROB['TRADES']:g} % for "
                f"TRADES and {analysis.TARGET_A_ROB['PGD']:g} % for PGD-AT (within 2 pp of the "
                "paper's Table 1), and 40-PGD overstating A_rob by at most "
                f"{analysis.TARGET_GAP_PP:g} pp against AutoAttack on the same images. Each cell is "
                "the mean over seeds (lowest–highest model in brackets) and how far it lies from "
                "the target. No verdict depends on these targets. A published model's A_rob is its "
                "authors' own number; the paper reports no AutoAttack.")
        return table
