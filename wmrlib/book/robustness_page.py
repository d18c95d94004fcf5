"""The chapter "Is the robustness real?" as a page object: one method per section.

The numbers come from :mod:`wmrlib.analysis.robustness`; this module only shows them.
"""
from __future__ import annotations

from IPython.display import Markdown, display

from ..analysis import robustness
from ..analysis.results import MissingResult
from ..analysis.stats import INTERVAL
from ..experiment.registry import FAMILIES, family_name
from .display import caption, display_frame, section
from .views import mean_sd
from .words import count
from .sources import DATASET_NAMES, Source

class RobustnessPage:
    """The chapter "Is the robustness real?": one method per section, on a :class:`book.Page`."""

    def __init__(self, page, dataset: str = "mnist") -> None:
        self.page, self.dataset = page, dataset
        self.name = DATASET_NAMES[dataset]

    def _first(self, compute):
        """Return (source cut to the check's models and subset, value, note) or (None, why, "")."""
        checks = {}

        def guarded(s):
            rp, cut = robustness.stored_check(s.store, s.plan, robustness.plan_for(s.plan))
            checks[s.profile] = rp, cut
            try:
                return compute(s.store, s.plan, rp)
            except MissingResult as e:
                raise MissingResult(f"the robustness check ({rp.attack.name} and the probes on "
                                    f"{rp.eval_size or 'all'} test images) is not complete for "
                                    "these models yet") from e

        source, value = self.page.first(self.dataset, guarded)
        if source is None:
            return None, value, ""
        rp, cut = checks[source.profile]
        later = ", ".join(str(s) for s in source.plan.every_seed()[1:])
        note = f"first seed only: seeds {later} are not evaluated yet" if cut else ""
        missing = [family_name(f) for f in FAMILIES if f not in rp.families]
        if missing:
            note += f"; the {' and '.join(missing)} family is not checked yet"
        plan = robustness.subset_plan(source.plan, rp, source.plan.attack)
        return (Source(source.dataset, source.profile, plan, source.store, source.partial,
                       results=source.results), value, note)

    def _section(self, title: str, compute, note: str = "", digits: int = 2, view=None,
                 summaries=()):
        """Show one section: its header and the frames ``view`` makes of the value, the i-th
        collapsed under ``summaries[i]`` when that is given (a callable of the value or text)."""
        source, value, cut = self._first(compute)
        note = "; ".join(n for n in (note, cut) if n)
        section(title, source, value if source is None else None, note=note)
        if source is not None:
            shown = view(value) if view is not None else value
            for i, frame in enumerate(shown if isinstance(shown, tuple) else (shown,)):
                summary = summaries[i] if i < len(summaries) else None
                summary = summary(value) if callable(summary) else summary
                if frame is not None:
                    display_frame(frame, digits, summary=summary)
        return source, value

    @staticmethod
    def _per_model(by=("model",)):
        """Return a view of a per-seed table: the seed means per model (mean ± SD cells), then
        the per-seed rows (collapsed); the per-seed rows alone when every model has one seed."""
        def view(frame):
            means = robustness.seed_means(frame, by)
            if (means["seeds"] == 1).all():
                return frame, None
            return mean_sd(means, list(by)), frame
        return view

    def accuracy(self):
        """Show A_nat and A_rob of each headline model under PGD variants, logit scaling and AutoAttack."""
        out = self._section(f"A_rob per model and attack ({self.name})", robustness.accuracy_table,
                            note="A_nat and A_rob in %, mean ± SD over seeds; every column on "
                                 "the same test images", view=self._per_model(),
                            summaries=(None, lambda v: f"Every seed apart ({count(len(v), 'row')})"))
        self._caption("Table: A_rob of the headline models under the book's PGD attacks, the "
                      "logit-scaling attack (PGD on c·logits, worst over c) and standard "
                      "AutoAttack. A large drop from PGD to AutoAttack means PGD overstated the "
                      "robustness.", out[0])
        return out

    def published(self):
        """Show our unweighted baselines under AutoAttack beside published models of the same
        defense and ε (context: the published ones train far longer)."""
        source, value, cut = self._first(robustness.published_comparison)
        if source is not None and value.empty:
            display(Markdown(f"```{{note}}\nNo published {self.name} model at ε "
                             f"{source.plan.attack.eps:g} with an AutoAttack evaluation is "
                             "recorded (`wmrlib.analysis.paper.PUBLISHED`), so ours stand alone.\n```"))
            return source, value
        section(f"Our baselines beside published models ({self.name})", source,
                value if source is None else None,
                note="; ".join(n for n in ("in %; ours: mean over seeds on this page's subset; "
                                           "published: as its source measured it", cut) if n))
        if source is not None:
            display_frame(value.drop(columns="source"), data=value,
                          summary=f"Our baselines beside {count(len(value), 'published model')}")
            caption("Table: our unweighted baselines (PGD-AT, TRADES) beside published models "
                    "of the same defense and ε, under standard AutoAttack where it was published "
                    "for them, else under the attack their source reports. Sources: "
                    + "; ".join(f"{r['family']}: {r['source']}" for _, r in value.iterrows())
                    + ". The published models train for about 100 epochs, ours for "
                    f"{source.plan.base.epochs}: the last column is how far that leaves ours behind.")
        return source, value

    def nonuniform(self):
        """Show A_sa under PGD and AutoAttack, A_tr under weighted PGD and weighted APGD."""
        out = self._section(f"A_sa and A_tr per model and α_test, PGD beside the adaptive attacks ({self.name})",
                            robustness.nonuniform_table, note="in %, mean ± SD over seeds; A_sa "
                            "reweights each attack's examples, A_tr attacks the weighted objective "
                            "itself", view=self._per_model(("model", "α_test")),
                            summaries=(None, lambda v: f"Every seed apart ({count(len(v), 'row')})"))
        self._caption("Table: the non-uniform accuracies of Table 1 recomputed from AutoAttack's "
                      "examples (A_sa) and from APGD on the weighted objective Σ s_i·CE_i "
                      "(A_tr), beside the PGD ones.", out[0])
        return out

    def flags(self):
        """Show the masking probes of each headline model, with a flag per probe."""
        out = self._section(f"Masking probes per model ({self.name})", robustness.probe_table,
                            note="a flag marks a probe past its threshold", digits=4,
                            view=lambda v: (robustness.probe_summary(v), v),
                            summaries=(None, lambda v: f"Every model and probe ({count(len(v), 'row')}, "
                                                       "with what each probe tests)"))
        self._caption("Table: the masking probes, one row per probe: how many of the checked "
                      "models (each seed apart) it flags, and the smallest and largest value it "
                      "took; the rows per model open below it. Logit scaling and the ε sweep are "
                      "attacks of their own; Square, zero gradients and randomness are "
                      "AutoAttack's own checks, computed from its own run.", out[0])
        return out

    def claims(self):
        """Show claims C2 and C3 per family under PGD beside AutoAttack, and what changed."""
        source, value = self._section(f"C2 and C3 per defense family, PGD beside AutoAttack ({self.name})", robustness.claims_table,
                                      note=f"C2 and C3 per defense family; intervals {INTERVAL}",
                                      view=lambda v: (v[0], robustness.compact_detail(v[1])),
                                      summaries=(None, lambda v: "The comparisons behind these "
                                                 f"verdicts ({count(len(v[1]), 'row')})"))
        if source is not None:
            display(Markdown(robustness.what_changed(*value)))
        return source, value

    @staticmethod
    def _caption(text: str, source) -> None:
        if source is not None:
            caption(text)
