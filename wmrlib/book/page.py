"""The page object behind every chapter: checked parameters, the profile fallback, one method per result."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Markdown, display

from ..analysis import claims, findings, paper, tables
from ..analysis.curves import band_range
from ..analysis.figure_data import dro_summary
from ..analysis.gains import gain_table
from ..analysis.results import MissingResult
from ..analysis.stats import INTERVAL
from ..experiment.profiles import profile as get_profile
from ..experiment.registry import FAMILIES
from .display import (_inline_html, _plain, caption, column_label, details, display_frame, figure,
                      section, show)
from .figures import claims_forest, gain_figure
from .params import check_notebook_parameters
from .sources import DATASET_NAMES, first_available, profiles_of, Source
from .words import count
from .views import (absolute_view, analog_view, attacks_words, claim_comparisons, compact, convergence,
                    convergence_view, dro, dro_plot, dro_words, histogram_words, sensitivity_words,
                    detail_view, gain_view, histogram, require_runs, sensitivity_plot, verdict_table,
                    verdicts_by_dataset, verdicts_by_profile, published_view)


# What each analog page's opening sentence is computed by, and the words that say it.
FINDINGS = {"sensitivity": (findings.sensitivity_finding, sensitivity_words),
            "attacks": (findings.attacks_finding, attacks_words),
            "histograms": (findings.histogram_finding, histogram_words),
            "dro": (findings.dro_finding, dro_words)}


class Page:
    """One chapter's view of the store: its checked parameters, the profiles it tries, and one
    method per kind of result (each displays its section and returns what it showed)."""

    def __init__(self, profile: str = "cpu", fallback_profile: str | None = "smoke",
                 results: str | Path = "../results", readonly: bool = True, device: str = "auto",
                 progress: bool = True) -> None:
        check_notebook_parameters(profile=profile, fallback_profile=fallback_profile,
                                  results=results, readonly=readonly, device=device,
                                  progress=progress)
        self.profiles = profiles_of(profile, fallback_profile)
        self.results = results
        self.kw = dict(results=results, readonly=readonly,
                       device=None if device == "auto" else device, progress=progress)

    def first(self, dataset: str, compute: Callable[[Source], object]):
        """Return ``(source, compute(source))`` for the first profile with results, else (None, why)."""
        return first_available(dataset, self.profiles, compute, **self.kw)

    def table(self, number: int, title: str | None = None, collapsed: bool = False):
        """Show paper Table ``number`` beside ours (absolute accuracies); return (source, frame).
        The title defaults to the table's own (:func:`wmrlib.analysis.tables.title`);
        ``collapsed``: the table opens under one line (a page whose gain table comes first)."""
        spec = tables.SPECS[number]
        title = title or tables.title(number)
        source, value = self.first(spec.dataset, lambda s: tables.paper_table(s.store, s.plan, number))
        if source is not None and source.synthetic:
            return self._not_reproduced(number, title, source)
        note = (f"attack {source.plan.attack.name} at ε {source.plan.attack.eps:g}; each cell is "
                "paper / ours ± the std of ours over its seeds, in %") if source else ""
        section(f"Table {number}: {title}", source,
                value if source is None else None, note=note)
        if source is not None:
            display_frame(compact(value), lift=True, summary=(
                f"Table {number}, paper beside ours, per model"
                + (" and α_test" if "alpha_test" in value and value["alpha_test"].nunique() > 1
                   else "") + f" ({count(len(value), 'row')})"
                if collapsed else None))
        elif spec.dataset != "mnist":
            display_frame(paper.table(number), lift=True,
                          summary=f"The paper's Table {number} "
                                  f"({count(len(paper.table(number)), 'row')})")
        return source, value

    def gains(self, number: int, title: str | None = None, dataset: str | None = None,
              collapsed: bool = False):
        """Show Table ``number`` as gains, ours beside the paper's, with a figure; return (source,
        frame). ``dataset``: the same comparisons on another dataset, where the paper's gain on
        the table's own dataset is shown as context only; ``collapsed``: the table opens under
        one line, the figure stays."""
        spec = tables.SPECS[number]
        dataset = dataset or spec.dataset
        analog = dataset != spec.dataset
        title = title or (f"{DATASET_NAMES[dataset]}, the comparisons of Table {number}" if analog
                          else tables.title(number))
        if analog and not any(dataset in get_profile(p).plans for p in self.profiles):
            display(Markdown(f"```{{note}}\nNone of the models this page reads is trained on "
                             f"{DATASET_NAMES[dataset]}.\n```"))
            return None, None
        source, value = self.first(dataset, lambda s: gain_table(s.store, s.plan, number))
        if source is not None and source.synthetic:
            return None, None  # the absolute table says what was not reproduced
        context = (f"; the paper has no {DATASET_NAMES[dataset]} numbers: its column is the "
                   f"paper's {DATASET_NAMES[spec.dataset]} gain, context only" if analog else "")
        section(f"{title}, as gains" if analog else f"Table {number} as gains: {title}", source,
                value if source is None else None,
                note=f"gain = ours − baseline in pp, seed means; interval {INTERVAL} (seeds and "
                     "a paired bootstrap over the test examples)" + context)
        if source is None:
            return source, value
        view = gain_view(value)
        if analog:
            view = view.rename(columns={"paper gain": f"paper's {DATASET_NAMES[spec.dataset]} gain "
                                                      "(context)"})
        display_frame(view, summary=f"The {count(len(view), 'gain')}, each with its interval, "
                                    "verdict and the paper's gain" if collapsed else None)
        fig = gain_figure(value)
        figure(fig,
               f"Figure: the gain of the weighting over its baseline in Table {number}, the "
                f"paper's (grey, 100-epoch models) beside ours ({_plain(source.label)}; "
                f"whiskers: our {INTERVAL}). A bar below 0 means the weighting lowered the "
                "metric.")
        return source, value

    def absolute(self, dataset: str, collapsed: bool = False):
        """Show the headline models' absolute accuracies on a dataset the paper did not run,
        beside published models of the same defenses (context); return (source, frame).
        ``collapsed``: both tables open under one line each."""
        source, value = self.first(dataset, lambda s: tables.ours(s.store, s.plan, "nonuniform"))
        if source is not None and source.synthetic:
            return None, None
        section(f"{DATASET_NAMES[dataset]}: the headline models' accuracies", source,
                value if source is None else None,
                note=f"attack {source.plan.attack.name} at ε {source.plan.attack.eps:g}; mean ± "
                     "std over seeds, in %; the paper has no numbers on this dataset"
                if source is not None else "")
        if source is None:
            return source, value
        shown = absolute_view(value)
        display_frame(shown, data=value, summary=f"Our {count(len(shown), 'model')}: A_nat, A_rob, "
                                                 "A_sa and A_tr" if collapsed else None)
        known = paper.published(dataset)
        known = known[known["eps"] == source.plan.attack.eps]
        if not known.empty:
            display(Markdown(f"**Published {DATASET_NAMES[dataset]} models at ε "
                             f"{source.plan.attack.eps:g}, for context** (other papers' models "
                             "and attacks, trained far longer than ours; not the paper's):"))
            display_frame(published_view(known), data=known,
                          summary=f"{count(len(known), 'published model')}" if collapsed else None)
            caption("Table: sources. " + " ".join(
                f"{m}: {src}." for m, src in zip(known["model"], known["source"])))
        return source, value

    def gain_sentence(self, source: Source | None, gains, alpha_test: float | None = None) -> None:
        """Say in one paragraph what a gain table shows at ``alpha_test`` (the plan's largest by
        default): the paper's A_sa and A_tr gains per family beside ours with their intervals."""
        if source is None or gains is None or gains.empty:
            return
        alpha = source.plan.alpha_tests[-1] if alpha_test is None else alpha_test
        at = gains[(gains["alpha_test"] == alpha) & gains["metric"].isin(["A_sa", "A_tr"])]
        parts = []
        for family, rows in at.groupby("family", sort=False):
            cells = [f"{r['metric']} {r['our gain']:+.2f} pp {r['interval']} (paper "
                     f"{r['paper gain']:+.2f})" for _, r in rows.iterrows()]
            parts.append(f"{family}: " + "; ".join(cells))
        epochs = source.plan.base.epochs
        display(Markdown(f"At α_test = {alpha:g}, the weighting's gain over its baseline, ours "
                         f"({epochs}-epoch models, {INTERVAL}) beside the paper's: "
                         + ". ".join(parts) + "."))

    def analog(self, kind: str, title: str, defenses=FAMILIES, dataset: str = "mnist"):
        """Show our results for a table the paper ran on another dataset (no paper columns)."""
        source, value = self.first(dataset, lambda s: tables.analog_table(s.store, s.plan, kind,
                                                                           defenses))
        section(title, source, value if source is None else None,
                note="an analog: the paper has no such table on this dataset; in %, mean ± "
                     "std over seeds where a model has several",
                examples=source.plan.side_eval_size if source is not None else None)
        if source is not None:
            for heading, view in analog_view(value, source.plan):
                display(Markdown(f"**{heading}**"))
                display_frame(view)
            if kind == "sensitivity":
                fig = sensitivity_plot(value, source)
                figure(fig,
                       "Figure (analog of the paper's Figure 3): A_tr against α_test at each "
                        f"ε_test, one line per model (dashed: PGD family); {_plain(source.label)}.")
        return source, value

    def finding(self, kind: str, dataset: str = "mnist") -> str | None:
        """Show the one sentence that opens an analog page (``kind``: ``sensitivity``,
        ``attacks``, ``histograms`` or ``dro``), computed by :mod:`wmrlib.analysis.findings`
        from the first stored results of ``dataset``; nothing when none are stored (the
        sections below say why). Return the sentence."""
        compute, words = FINDINGS[kind]
        source, found = self.first(dataset, lambda s: compute(s.store, s.plan))
        if source is None or source.synthetic:
            return None
        text = words(found, DATASET_NAMES[dataset], _plain(source.models))
        display(Markdown(f"**What this page finds.** {text}"))
        return text

    def histograms(self, dataset: str) -> None:
        """Show the weight histograms (Figures 5-7) of the dataset's TRADES models at each eps_test."""
        def draw(s):
            figs = []
            try:
                for eps in s.plan.eps_tests or (s.plan.attack.eps,):
                    figs.append((eps, histogram(s, eps)))
            except MissingResult:
                for _eps, fig in figs:  # a source that cannot draw them all shows none of them
                    plt.close(fig)
                raise
            return figs

        source, figs = self.first(dataset, draw)
        if source is not None and source.synthetic:
            for _eps, fig in figs:  # drawn from synthetic tensors: never shown
                plt.close(fig)
            self._not_reproduced_figure(dataset, "Figures 5-7")
            return
        section(DATASET_NAMES[dataset], source, figs if source is None else None)
        for eps, fig in figs if source is not None else ():
            figure(fig,
                   f"Figure (analog of the paper's Figures 5–7): N·s̃ of the TRADES models "
                    f"(rows: α_train) at ε_test {eps:g} for each α_test (columns), log counts; "
                    f"{_plain(source.label)}.")

    def dro(self, dataset: str) -> None:
        """Show the chi-square DRO curves (Figure 4) of the dataset's headline pairs."""
        source, curves = self.first(dataset, dro)
        if source is not None and source.synthetic:
            self._not_reproduced_figure(dataset, "Figure 4")
            return
        section(DATASET_NAMES[dataset], source, curves if source is None else None)
        if source is None:
            return
        display_frame(dro_summary(curves), 3)
        figure(dro_plot(curves),
               "Figure (analog of the paper's Figure 4, which shows TRADES on CIFAR-10): "
                "worst-case χ² weighted adversarial loss (left) and accuracy (right) against ρ, "
                f"mean over seeds with a ±1 std band; {_plain(source.label)}.")

    @staticmethod
    def _not_reproduced_figure(dataset: str, what: str) -> None:
        display(Markdown(f"### {DATASET_NAMES[dataset]}"))
        display(Markdown(f"```{{note}}\nNot reproduced: {DATASET_NAMES[dataset]} is not "
                         f"available on our machines, so the paper's {what} on it is not "
                         "reproduced (our code runs on synthetic tensors of its shape, which "
                         "test the code only).\n```"))

    def extra_baselines(self, dataset: str = "mnist"):
        """Show Table 4's extra baselines (Free-AT, YOPO, IAAT) trained on ``dataset``, an analog
        beside the paper's CIFAR-10 rows; nothing shows until one is stored."""
        source, value = self.first(dataset, lambda s: tables.extra_baselines_analog(s.store, s.plan))
        if source is not None:
            section("Table 4, extra baselines: our MNIST analog beside the paper's CIFAR-10 rows",
                    source, value, note=f"attack {source.plan.attack.name} at ε "
                    f"{source.plan.attack.eps:g}; an analog on MNIST, not comparable with the "
                    "CIFAR-10 numbers")
        return source, value

    def provenance(self, datasets=("mnist", "cifar10", "tinyimagenet")) -> None:
        """Show the runs behind each dataset's results (commit, device, code changed since)."""
        for dataset in datasets:
            source, frame = self.first(dataset, require_runs)
            section(f"Runs behind the {DATASET_NAMES[dataset]} results", source, frame,
                    stale_note=True, summary=None if source is None else
                    f"The {count(len(frame), 'run')}: commit, date, training time")

    @staticmethod
    def _not_reproduced(number: int, title: str, source: Source):
        display(Markdown(f"### Table {number}: {title}"))
        display(Markdown(f"```{{note}}\nNot reproduced: {DATASET_NAMES[source.dataset]} is not "
                         "available on our machines. Our code runs on synthetic tensors of its "
                         "shape (a test of the code only); those numbers are not shown beside the "
                         "paper's. The paper's values:\n```"))
        display_frame(paper.table(number), lift=True,
                      summary=f"The paper's Table {number} ({count(len(paper.table(number)), 'row')})")
        return None, None

    # --- the Claims chapter --------------------------------------------------------------------

    def claim_verdicts(self, dataset: str = "mnist"):
        """Show each claim's verdict, overall and per defense family, and the forest of every
        comparison behind them; return (source, comparisons)."""
        source, frame = self.first(dataset, claim_comparisons)
        section(f"Verdicts ({DATASET_NAMES[dataset]})", source, frame if source is None else None,
                note="verdict per claim, overall and per defense family; the comparisons "
                     "behind each verdict follow")
        if source is not None:
            display_frame(verdict_table(claims.summary(frame)))
            figure(claims_forest(frame),
                   f"Figure: every comparison behind C1, C2, C3, C5 and C6 (C4 and C7 are in the "
                    f"tables below), its estimate and {INTERVAL} against its claim's "
                    "threshold (dotted), coloured by verdict.",
                   summary=f"Every comparison behind C1, C2, C3, C5 and C6 as a figure "
                           f"({count(int(frame['claim'].isin(['C1', 'C2', 'C3', 'C5', 'C6']).sum()), 'comparison')}"
                           ", each with its interval)")
        return source, frame

    def verdicts_by_dataset(self, datasets=("mnist", "fashionmnist"), known: dict | None = None):
        """Show each claim's verdict per dataset and defense family side by side; return it.
        ``known``: dataset → (source, comparisons) already computed (by :meth:`claim_verdicts`)."""
        summaries, labels = {}, []
        for dataset in datasets:
            source, frame = (known or {}).get(dataset) or self.first(dataset, claim_comparisons)
            real = source is not None and not source.synthetic
            summaries[DATASET_NAMES[dataset]] = claims.summary(frame) if real else None
            if real:
                labels.append(_plain(source.label))
        table = verdicts_by_dataset(summaries, statements=False)
        if table.empty:
            display(Markdown("```{note}\nNo dataset's claims can be judged yet.\n```"))
            return table
        display_frame(table)
        caption("Table: the verdict of each claim per dataset and defense family (" +
                "; ".join(labels) + "). The paper makes its claims on MNIST, CIFAR-10 and Tiny "
                "ImageNet; Fashion-MNIST tests whether they carry over to a harder dataset it did "
                "not run, with α_train fixed in advance at MNIST's headline values.")
        return table

    def rule_change(self, known: dict) -> pd.DataFrame:
        """Show each claim's verdict per dataset and defense family under the rule used until
        2026-12-07 beside the analysis plan's; ``known``: dataset → (source, comparisons)."""
        parts = []
        for dataset, (source, frame) in known.items():
            if source is None or source.synthetic or frame is None or frame.empty:
                continue
            parts.append(claims.verdict_change(frame).assign(dataset=DATASET_NAMES[dataset]))
        if not parts:
            return pd.DataFrame()
        table = pd.concat(parts, ignore_index=True)
        table = table[["dataset"] + [c for c in table.columns if c != "dataset"]]
        changed = int((table["until 2026-12-07"] != table["analysis plan"]).sum())
        display_frame(table, summary=f"{changed} of the {len(table)} verdicts (per dataset, "
                                     "claim and family) differ between the two rules: the table")
        caption(f"Table: each claim's verdict per dataset and defense family under the rule used "
                f"until 2026-12-07 (Holm's correction on \"holds\" as well, over both families; C6 "
                f"at ρ = 0 too) and under the analysis plan; {changed} of {len(table)} verdicts "
                "differ. The last column counts the comparisons that hold under each rule.")
        return table

    def verdict_history(self, dataset: str = "mnist"):
        """Show the claims' verdicts on every profile of this page whose results are complete."""
        history = verdicts_by_profile(dataset, self.profiles, results=self.results)
        if history.empty:
            display(Markdown(f"```{{note}}\nNo complete set of {DATASET_NAMES[dataset]} models "
                             "is stored yet.\n```"))
        else:
            display_frame(history)
        return history

    def convergence(self, dataset: str = "mnist"):
        """Show the headline gains against the training epoch, from the stored learning curves:
        which models they come from, which of their runs collapsed, how wide the seeds' band is,
        and where the training budgets are compared on the longer-trained models."""
        source, result = self.first(dataset, convergence)
        if source is None:
            display(Markdown(f"```{{note}}\n{result}\n```"))
            return source, result
        gains, fig, examples = result
        section(f"Gain against training epoch ({DATASET_NAMES[dataset]})", source, None,
                note="the learning-curve probe of each headline model, 40-PGD on a fixed subset "
                     "of the test set", examples=examples)
        display_frame(convergence_view(gains), data=gains,
                      summary=f"The gains per family and epoch ({count(len(gains), 'row')}: "
                              "mean over seed pairs, seed SD in brackets)")
        low, high = band_range(gains)
        collapsed = source.collapsed
        runs = (f"{count(len(collapsed), 'of their runs', 'of their runs')} collapsed in "
                f"training ({'; '.join(f'{m} at epoch {e}' for m, e in collapsed.items())}) and "
                "every mean over its seed includes it; "
                if collapsed else "")
        earlier = ", not those of the other pages" if source.superseded else ""
        figure(fig,
               "Figure: the headline gains (ours − baseline, pp) of A_rob, A_sa and A_tr "
                f"against the training epoch, PGD-AT family left, TRADES family right, mean over "
                f"seed pairs with a ±1 seed SD band; dotted: the paper's 100-epoch gains (Table "
                f"1). Models: {_plain(source.models)}{earlier}. The bands run from {low:+.0f} to "
                f"{high:+.0f} pp: {runs}the band says how far apart the seeds lie, not how sure "
                "a mean is. No figure of the paper corresponds: this is our convergence study.")
        display(Markdown("The training budgets are compared on the 20-epoch models, on a page "
                         "of their own: [Does the verdict depend on the training budget?]"
                         "(budget.ipynb)."))
        return source, result

    def claim_details(self, source: Source | None, frame) -> None:
        """Show, claim by claim, one line with its verdict per family; the paper's words and the
        comparisons behind it open under that line (a collapsed section per claim)."""
        if source is None:
            return
        verdicts = claims.summary(frame).set_index("claim")
        name = "" if source.dataset == "mnist" else f"{DATASET_NAMES[source.dataset]} "
        blocks = []
        for claim in claims.CLAIMS:
            part = frame[frame["claim"] == claim].drop(columns="claim")
            row = verdicts.loc[claim]
            where, quote = paper.CLAIM_QUOTES[claim]
            line = (f"**{name}{claim}: {row['verdict']}** (PGD family: {row['PGD family']}; "
                    f"TRADES family: {row['TRADES family']}), "
                    + (count(len(part), "comparison") if len(part) else "not evaluated"))
            body = (f"<p>{_inline_html(row['statement'])}</p><blockquote><p>"
                    f"{_inline_html(quote)} (paper, {_inline_html(where)})</p></blockquote>")
            if part.empty:
                body += "<p>Not evaluated: too few α_train values are trained.</p>"
            else:
                table = show(detail_view(part), name=f"{name}{claim}".strip().replace(" ", "-"))
                table.frame = part.rename(columns=column_label)
                body += table._repr_html_()
            blocks.append(details(line, body))
        display(HTML("".join(blocks)))
