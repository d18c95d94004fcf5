"""The page object behind every chapter: checked parameters, the profile fallback, one method per result."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .sources import DATASET_NAMES, Source, first_available, profiles_of
from .display import section, caption, _plain, display_frame, _show
from .views import require_runs, sensitivity_plot, histogram, dro, dro_plot, compact, analog_view, gain_view


class Page:
    """One chapter's view of the store: its checked parameters, the profiles it tries, and one
    method per kind of result (each displays its section and returns what it showed)."""

    def __init__(self, profile: str = "cpu", fallback_profile: str | None = "smoke",
                 results: str | Path = "../results", readonly: bool = True, device: str = "auto",
                 progress: bool = True) -> None:
        from ..params import check_notebook_parameters

        check_notebook_parameters(profile=profile, fallback_profile=fallback_profile,
                                  results=results, readonly=readonly, device=device,
                                  progress=progress)
        self.profiles = profiles_of(profile, fallback_profile)
        self.kw = dict(results=results, readonly=readonly,
                       device=None if device == "auto" else device, progress=progress)

    def first(self, dataset: str, compute: Callable[[Source], object]):
        """Return ``(source, compute(source))`` for the first profile with results, else (None, why)."""
        return first_available(dataset, self.profiles, compute, **self.kw)

    def table(self, number: int, title: str):
        """Show paper Table ``number`` beside ours (absolute accuracies); return (source, frame)."""
        from .. import paper, tables

        spec = tables.SPECS[number]
        source, value = self.first(spec.dataset, lambda s: tables.paper_table(s.store, s.plan, number))
        if source is not None and source.synthetic:
            return self._not_reproduced(number, title, source)
        note = f"attack {source.plan.attack.name} at ε {source.plan.attack.eps:g}" if source else ""
        section(f"Table {number}: {title}", source,
                value if source is None else None, note=note)
        if source is not None:
            display_frame(compact(value))
        elif spec.dataset != "mnist":
            display_frame(paper.table(number))
        return source, value

    def gains(self, number: int, title: str):
        """Show Table ``number`` as gains, ours beside the paper's, with a figure; return (source, frame)."""
        from ..figures import gain_figure
        from ..gains import gain_table
        from .. import tables

        spec = tables.SPECS[number]
        source, value = self.first(spec.dataset, lambda s: gain_table(s.store, s.plan, number))
        if source is not None and source.synthetic:
            return None, None  # the absolute table says what was not reproduced
        section(f"Table {number} as gains: {title}", source, value if source is None else None,
                note="gain = ours − baseline in pp, seed means; interval ± 2 SE (seeds and a "
                     "paired bootstrap over the test examples)")
        if source is None:
            return source, value
        display_frame(gain_view(value))
        fig = gain_figure(value)
        _show(fig)
        caption(f"Figure: the gain of the weighting over its baseline in Table {number}, the "
                f"paper's (grey, 100-epoch models) beside ours ({_plain(source.label)}; "
                "whiskers: our ± 2 SE interval). A bar below 0 means the weighting lowered the "
                "metric.")
        return source, value

    def analog(self, kind: str, title: str, defenses=("pgd", "trades"), dataset: str = "mnist"):
        """Show our results for a table the paper ran on another dataset (no paper columns)."""
        from .. import tables

        source, value = self.first(dataset, lambda s: tables.analog_table(s.store, s.plan, kind,
                                                                           defenses))
        section(title, source, value if source is None else None,
                note="an analog: the paper has no such table on this dataset; in %, mean ± "
                     "std over seeds where a model has several",
                examples=source.plan.side_eval_size if source is not None else None)
        if source is not None:
            from IPython.display import Markdown, display

            for heading, view in analog_view(value, source.plan):
                display(Markdown(f"**{heading}**"))
                display_frame(view)
            if kind == "sensitivity":
                fig = sensitivity_plot(value, source)
                _show(fig)
                caption("Figure (analog of the paper's Figure 3): A_tr against α_test at each "
                        f"ε_test, one line per model (dashed: PGD family); {_plain(source.label)}.")
        return source, value

    def histograms(self, dataset: str) -> None:
        """Show the weight histograms (Figures 5-7) of the dataset's TRADES models at each eps_test."""
        def draw(s):
            return [(eps, histogram(s, eps)) for eps in (s.plan.eps_tests or (s.plan.attack.eps,))]

        source, figs = self.first(dataset, draw)
        if source is not None and source.synthetic:
            import matplotlib.pyplot as plt

            for _eps, fig in figs:  # drawn from synthetic tensors: never shown
                plt.close(fig)
            self._not_reproduced_figure(dataset, "Figures 5-7")
            return
        section(DATASET_NAMES[dataset], source, figs if source is None else None)
        for eps, fig in figs if source is not None else ():
            _show(fig)
            caption(f"Figure (analog of the paper's Figures 5–7): N·s̃ of the TRADES models "
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
        summary = curves.groupby(["defense", "alpha_train", "rho"])[
            ["worst_case_loss", "worst_case_accuracy"]].mean().reset_index()
        display_frame(summary, 3)
        _show(dro_plot(curves))
        caption("Figure (analog of the paper's Figure 4, which shows TRADES on CIFAR-10): "
                "worst-case χ² weighted adversarial loss (left) and accuracy (right) against ρ, "
                f"mean over seeds with a ±1 std band; {_plain(source.label)}.")

    @staticmethod
    def _not_reproduced_figure(dataset: str, what: str) -> None:
        from IPython.display import Markdown, display

        display(Markdown(f"### {DATASET_NAMES[dataset]}"))
        display(Markdown(f"```{{note}}\nNot reproduced: {DATASET_NAMES[dataset]} is not "
                         f"available on our machines, so the paper's {what} on it is not "
                         "reproduced (the `smoke` profile's synthetic tensors test the code only).\n```"))

    def extra_baselines(self, dataset: str = "mnist"):
        """Show Table 4's extra baselines (Free-AT, YOPO, IAAT) trained on ``dataset``, an analog
        beside the paper's CIFAR-10 rows; nothing shows until one is stored."""
        from .. import tables

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
                    stale_note=True)

    @staticmethod
    def _not_reproduced(number: int, title: str, source: Source):
        from IPython.display import Markdown, display

        from .. import paper

        display(Markdown(f"### Table {number}: {title}"))
        display(Markdown(f"```{{note}}\nNot reproduced: {DATASET_NAMES[source.dataset]} is not "
                         "available on our machines. The code runs on synthetic tensors in the "
                         "`smoke` profile (tests only); those numbers are not shown beside the "
                         "paper's. The paper's values:\n```"))
        display_frame(paper.table(number))
        return None, None
