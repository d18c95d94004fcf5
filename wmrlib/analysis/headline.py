"""The landing page's headline, as one typed result: what the stored results say about one dataset.

:func:`summarise` turns the results a page shows for a dataset (its *source*: a profile, its plan,
store and results object) into a frozen :class:`Headline`: the scale of the models, Table 1's
headline gains beside the paper's, the claims' verdicts, the robustness check's sentence and
PGD's overstatement of robustness, the collapsed runs, and the gains of a newer set of models
still being trained. :func:`findings` reads from it, per defense family, the gain the landing page
opens with (A_sa and A_tr at the largest α_test, with its 95 % interval, the paper's gain and
the verdict of claim C2); :func:`finding_frame` lays those of several datasets side by side for
the headline figure. Nothing here writes words for a reader: :mod:`wmrlib.book.landing` does.

Example::

    >>> h = summarise(source, headline_gains(source), requested="cpu")  # a page's source
    >>> h.gains                       # Table 1's A_sa and A_tr gains at α_test 2
    >>> [f.gain for f in findings(h)]
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from ..experiment.profiles import LONGER_BUDGET, DatasetPlan, profile as get_profile
from ..workflow.store import MissingResult, Store
from . import paper
from .budget import long_complete, verdicts_by_budget
from .claims import C1_GAP, C3_TOL, CLAIMS, comparisons, summary
from .collapse import collapse_epochs, collapsed_by_family
from .gains import gain_table, seed_error_unknown
from .results import ProfileResults, results_for
from .robustness import headline_sentence, pgd_overstatement, plan_for
from .stats import NOT_EVALUATED

TABLE = 1  # the paper's headline table (MNIST, Table 1): its gains are the headline
SO_FAR_MIN_SEEDS = 2  # a family's interim gain needs a seed error: at least two paired seeds
HEADLINE_METRICS = ("A_sa", "A_tr")


class SourceLike(Protocol):
    """What :func:`summarise` reads of a page's source (``wmrlib.book.sources.Source``)."""

    dataset: str
    profile: str
    plan: DatasetPlan
    store: Store
    partial: bool
    results: ProfileResults | None

    @property
    def stale(self) -> int: ...

    @property
    def collapsed(self) -> dict[str, int]: ...

    @property
    def synthetic(self) -> bool: ...


@dataclass(frozen=True, eq=False)
class Headline:
    """What the landing page states about one dataset. ``profile`` is None when nothing of the
    dataset is stored yet (then only ``dataset``, ``requested`` and ``progress`` are set)."""

    dataset: str
    requested: str = "cpu"                  # the profile the page asked for
    progress: tuple[int, int] = (0, 0)      # (models complete, planned) of the requested profile
    profile: str | None = None              # the profile whose results are shown
    plan: DatasetPlan | None = None         # the plan shown (a campaign's complete part if partial)
    partial: bool = False                   # the plan is cut to the models complete so far
    epochs: int | None = None
    eval_size: int | None = None            # test images of the main attack (None: all)
    test_size: int | None = None            # the dataset's test set
    eps: float | None = None                # the main attack's radius
    seeds: int = 0                          # seeds of the headline pairs
    models: int = 0                         # models of the plan shown
    jobs_done: int = 0                      # models complete, of ``jobs`` planned (MNIST: the profile)
    jobs: int = 0
    stale: int = 0                          # models computed by code changed since
    alpha_test: float | None = None         # the largest α_test of the plan: the headline's
    gains: pd.DataFrame | None = None       # Table 1's A_sa and A_tr gains at ``alpha_test``
    rob: pd.DataFrame | None = None         # Table 1's A_rob gains
    seed_error_unknown: bool = False        # every gain is 'not judged' (one seed, nothing pooled)
    comparisons: pd.DataFrame | None = None  # every claim comparison (claims.comparisons)
    claims: pd.DataFrame | None = None      # the claims' verdicts (claims.summary)
    robustness: str | None = None           # the robustness check's sentence, once stored
    overstatement: pd.DataFrame | None = None  # per family: main attack A_rob − AutoAttack's, pp
    checked: tuple[int, int] = (0, 0)       # (models checked by AutoAttack, models to check)
    checked_size: int | None = None         # test images of the AutoAttack check
    collapsed: Mapping[str, int] = field(default_factory=dict)   # run label → collapse epoch
    collapsed_families: Mapping[str, list[str]] = field(default_factory=dict)  # family → labels
    gains_kept: pd.DataFrame | None = None  # the gains without collapsed seeds (MNIST)
    so_far: pd.DataFrame | None = None      # the requested profile's gains so far, if not shown
    shorter: str | None = None              # the shorter budget's profile this one replaced
    budget_verdicts: pd.DataFrame | None = None  # each claim's verdict at both budgets

    @property
    def stored(self) -> bool:
        """Whether any result of the dataset is shown."""
        return self.profile is not None

    @property
    def test_images(self) -> int | None:
        """Return how many test images the main attack ran on (the whole test set when
        ``eval_size`` is None)."""
        return self.eval_size if self.eval_size is not None else self.test_size

    @property
    def shorter_epochs(self) -> int | None:
        """Return the training epochs of the shorter budget this headline replaced, if any."""
        return get_profile(self.shorter).plan(self.dataset).base.epochs if self.shorter else None

    @property
    def shows_predecessor(self) -> bool:
        """Whether the results shown are an earlier profile's, not the requested one's."""
        return self.stored and self.profile != self.requested


def headline_profile(requested: str, dataset: str, results: str | Path | None = None) -> str:
    """Return the profile whose models are ``dataset``'s headline when a page asks for
    ``requested``: its longer-trained counterpart (``LONGER_BUDGET``) once every one of that
    profile's models of the dataset is complete (analysis plan 1.5), ``requested`` until then."""
    longer = LONGER_BUDGET.get(requested)
    return longer if longer and long_complete(longer, results, dataset) else requested


def headline_gains(source: SourceLike) -> pd.DataFrame:
    """Return the gain table (paper Table 1's comparisons) of a source: what a headline needs
    first, and what decides whether a source has results (MissingResult otherwise)."""
    return gain_table(source.store, source.plan, TABLE)


def summarise(source: SourceLike, gains: pd.DataFrame, requested: str = "cpu",
              results: str | Path | None = None, shorter: str | None = None) -> Headline:
    """Return the :class:`Headline` of ``source`` (the results a page shows for one dataset),
    given its :func:`headline_gains`; ``requested`` is the profile the page asked for (a source
    of another profile is its predecessor: the requested profile's gains so far come with it);
    ``shorter`` is the shorter budget whose models the source replaced as the headline
    (:func:`headline_profile`): each claim's verdict at both budgets comes with it."""
    dataset, plan = source.dataset, source.plan
    stored = results_for(requested, results)
    covered = dataset in stored.profile.plans
    progress = stored.progress(dataset) if covered else (0, 0)
    done, total = stored.progress() if dataset == "mnist" else progress
    alpha = plan.alpha_tests[-1]
    rows = headline_rows(gains, alpha)
    try:
        frame = comparisons(source.store, plan)
        verdicts = summary(frame)
    except MissingResult:
        frame = verdicts = None
    collapsed = dict(source.collapsed)
    return Headline(
        dataset=dataset, requested=requested, progress=progress, profile=source.profile,
        plan=plan, partial=bool(source.partial), epochs=plan.base.epochs,
        eval_size=plan.eval_size, test_size=source.store.test_size(plan.base), eps=plan.attack.eps,
        seeds=len(plan.seeds), models=len(plan.models()), jobs_done=done, jobs=total,
        stale=source.stale, alpha_test=alpha, gains=rows,
        rob=gains[gains["metric"] == "A_rob"], seed_error_unknown=seed_error_unknown(rows),
        comparisons=frame, claims=verdicts,
        robustness=None if source.synthetic else headline_sentence(source.store, plan),
        overstatement=None if source.synthetic else pgd_overstatement(source.store, plan),
        checked=source.results.robustness_progress(dataset) if source.results else (0, 0),
        checked_size=plan_for(plan).eval_size,
        collapsed=collapsed, collapsed_families=collapsed_by_family(source.store, plan),
        gains_kept=(gains_without_collapsed(results, source.profile)
                    if collapsed and dataset == "mnist" else None),
        so_far=(campaign_so_far(results, requested, dataset)
                if source.profile != requested and covered else None),
        shorter=shorter,
        budget_verdicts=verdicts_by_budget(shorter, results, dataset) if shorter else None)


def nothing_stored(dataset: str, requested: str = "cpu",
                   results: str | Path | None = None) -> Headline:
    """Return the :class:`Headline` of a dataset with no stored (real-data) results: its
    progress in the requested profile only."""
    stored = results_for(requested, results)
    covered = dataset in stored.profile.plans
    return Headline(dataset=dataset, requested=requested,
                    progress=stored.progress(dataset) if covered else (0, 0))


def campaign_so_far(results: str | Path | None, profile: str = "cpu", dataset: str = "mnist"
                    ) -> pd.DataFrame | None:
    """Return the interim headline gains of a campaign whose pages still show its predecessor:
    per defense family whose baseline and headline model are both complete at
    ``SO_FAR_MIN_SEEDS`` or more seeds, Table 1's A_rob gain and A_sa / A_tr gains at the last
    alpha_test, paired over those seeds (column ``seeds paired``); None when no family has them.
    No verdict is drawn from it: the claims are judged once the campaign's plan is complete."""
    stored = results_for(profile, results)
    plan = stored.profile.plan(dataset)
    parts = [headline_rows(table, plan.alpha_tests[-1], with_rob=True)
             .assign(**{"seeds paired": f"{len(seeds)} of {len(plan.seeds)}"})
             for seeds, table in family_gains(stored, plan, lambda key: key in stored.complete,
                                              min_seeds=SO_FAR_MIN_SEEDS)]
    return pd.concat(parts, ignore_index=True) if parts else None


def family_gains(stored: ProfileResults, plan: DatasetPlan, usable: Callable[[str], bool],
                 min_seeds: int = 1) -> Iterator[tuple[tuple[int, ...], pd.DataFrame]]:
    """Yield (seeds, gain table) per defense family of ``plan``'s headline pairs: Table 1's gains
    of that family alone, paired over the seeds at which ``usable(run key)`` is true of both its
    baseline and its headline model; a family with fewer than ``min_seeds`` such seeds is left out."""
    for family, headline_alpha in plan.headline_pairs():
        seeds = tuple(s for s in plan.seeds_of(family)
                      if usable(plan.run(family, 0.0, seed=s).key())
                      and usable(plan.run(family, headline_alpha, seed=s).key()))
        if len(seeds) >= min_seeds:
            alone = dataclasses.replace(plan, seeds=seeds, family_only_seeds=())
            yield seeds, gain_table(stored.store, alone, TABLE, defenses=(family,))


def headline_rows(table: pd.DataFrame, alpha: float, with_rob: bool = False) -> pd.DataFrame:
    """Return a gain table's headline rows: A_sa and A_tr at ``alpha`` (and every A_rob row)."""
    keep = (table["alpha_test"] == alpha) & table["metric"].isin(list(HEADLINE_METRICS))
    return table[keep | ((table["metric"] == "A_rob") & with_rob)]


def gains_without_collapsed(results: str | Path | None, profile: str = "cpu"
                            ) -> pd.DataFrame | None:
    """Return the landing page's headline gains (Table 1 at its last alpha_test) recomputed
    without the seeds at which either model of a pair collapsed in training (a rule applied
    after the fact, :mod:`wmrlib.analysis.collapse`), or None when no headline run collapsed.

    A family keeps the seeds at which both its baseline and its headline model are complete and
    neither collapsed; its column ``seeds kept`` lists them.
    """
    stored = results_for(profile, results)
    plan = stored.profile.plan("mnist")
    broken = {plan.run(defense, alpha, seed=seed).key()
              for defense, alpha, seed in collapse_epochs(stored.store, plan)}
    if not broken:
        return None
    parts = [headline_rows(table, plan.alpha_tests[-1])
             .assign(**{"seeds kept": ", ".join(map(str, seeds))})
             for seeds, table in family_gains(
                 stored, plan, lambda key: key in stored.complete and key not in broken)]
    return pd.concat(parts, ignore_index=True) if parts else None


# --- the finding the landing page opens with --------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One family's headline gain on one dataset: ours − baseline in ``metric`` at
    ``alpha_test`` (pp) with its 95 % interval, the paper's gain (its MNIST value where the paper
    did not run the dataset: ``paper_context``), whether they agree in direction and size
    (:func:`wmrlib.analysis.stats.agreement`, :func:`~wmrlib.analysis.stats.size_agreement`), the
    verdict of this comparison and that of claim C2 for the family (every α_test, A_sa and A_tr)."""

    dataset: str
    family: str
    alpha_train: float
    alpha_test: float
    metric: str
    gain: float
    low: float                 # the 95 % interval (NaN when no comparison gives it)
    high: float
    interval: str              # the gain table's interval, as every table prints it
    paper_gain: float
    paper_context: bool        # the paper did not run this dataset: its gain is MNIST's
    agrees: str
    size: str
    verdict: str               # this comparison's (claims.comparisons)
    c2: str                    # claim C2 for the family ("not evaluated" without verdicts)
    seeds: str

    @property
    def ratio(self) -> float:
        """Return our gain as a fraction of the paper's (NaN when the paper's is 0)."""
        return self.gain / self.paper_gain if self.paper_gain else float("nan")


def paper_datasets() -> frozenset[str]:
    """Return the datasets of the paper's headline table (its gains are targets only there)."""
    return frozenset(paper.table(TABLE)["dataset"])


def findings(h: Headline, metrics: tuple[str, ...] = HEADLINE_METRICS) -> list[Finding]:
    """Return ``h``'s headline gains as :class:`Finding` s, one per family and metric (in the
    gain table's order: PGD, then TRADES); empty when nothing is stored."""
    if not h.stored or h.gains is None:
        return []
    frame = h.comparisons
    context = h.dataset not in paper_datasets()
    out = []
    for _, r in h.gains[h.gains["metric"].isin(list(metrics))].iterrows():
        low = high = float("nan")
        if frame is not None and not frame.empty:
            match = frame[(frame["claim"] == "C2") & (frame["family"] == r["family"])
                          & (frame["metric"] == r["metric"])
                          & np.isclose(frame["alpha_train"].astype(float), float(r["alpha_train"]))
                          & np.isclose(frame["alpha_test"].astype(float), float(r["alpha_test"]))]
            if len(match) == 1:
                low, high = float(match["interval_low"].iloc[0]), float(match["interval_high"].iloc[0])
        c2 = NOT_EVALUATED
        if h.claims is not None:
            row = h.claims[h.claims["claim"] == "C2"]
            column = f"{r['family']} family"
            if len(row) and column in row:
                c2 = str(row[column].iloc[0])
        out.append(Finding(dataset=h.dataset, family=r["family"],
                           alpha_train=float(r["alpha_train"]), alpha_test=float(r["alpha_test"]),
                           metric=r["metric"], gain=float(r["our gain"]), low=low, high=high,
                           interval=str(r["interval"]),
                           paper_gain=float(r["paper gain"]), paper_context=context,
                           agrees=r["agrees"], size=r["size"], verdict=r["verdict"], c2=c2,
                           seeds=str(r["seeds"])))
    return out


def finding_frame(*headlines: Headline) -> pd.DataFrame:
    """Return the headline figure's data: every :class:`Finding` of ``headlines`` (one row per
    dataset, family and metric), with the dataset's display order kept."""
    rows = [dataclasses.asdict(f) for h in headlines for f in findings(h)]
    columns = [f.name for f in dataclasses.fields(Finding)]
    return pd.DataFrame(rows, columns=columns)


def claim_statements() -> dict[str, str]:
    """Return each claim's statement (C1 to C7), its thresholds filled in."""
    return {c: text.format(c1_gap=C1_GAP, c3_tol=C3_TOL) for c, text in CLAIMS.items()}


# --- the longer training budget ---------------------------------------------------------------

@dataclass(frozen=True)
class LongerTraining:
    """Where the longer-budget models stand: their epochs beside ours and the paper's, their
    seeds and test images, and how many of their models are trained and evaluated."""

    profile: str
    dataset: str
    epochs: int
    paper_epochs: int
    seeds: int
    eval_size: int | None      # None: the whole test set
    test_size: int
    done: int
    total: int

    @property
    def started(self) -> bool:
        """Whether any of its models is trained and evaluated."""
        return self.done > 0

    @property
    def complete(self) -> bool:
        """Whether all of its models are trained and evaluated."""
        return self.total > 0 and self.done == self.total


def longer_training(results: str | Path | None = None, profile: str = LONGER_BUDGET["cpu"],
                    dataset: str = "mnist") -> LongerTraining:
    """Return the :class:`LongerTraining` of ``profile`` on ``dataset``, from what is stored."""
    stored = results_for(profile, results)
    plan = stored.profile.plan(dataset)
    done, total = stored.progress(dataset)
    return LongerTraining(profile=profile, dataset=dataset, epochs=plan.base.epochs,
                          paper_epochs=get_profile("paper").plan(dataset).base.epochs,
                          seeds=len(plan.seeds), eval_size=plan.eval_size,
                          test_size=stored.store.test_size(plan.base), done=done, total=total)
