"""Where a page's numbers come from: the profiles it tries, the campaign's complete part, and what is missing."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..datasets import REGISTRY
from ..profiles import DatasetPlan, PREDECESSORS, profile as get_profile
from ..store import MissingResult, Store


DATASET_NAMES = {name: s.display_name for name, s in REGISTRY.items()}  # from the registry


@dataclass
class Source:
    """Where a page's results for one dataset come from."""

    dataset: str
    profile: str
    plan: DatasetPlan
    store: Store
    partial: bool = False   # the plan is cut down to the models whose jobs are complete

    @property
    def synthetic(self) -> bool:
        """Whether the results come from synthetic tensors rather than the real dataset."""
        return self.plan.base.synthetic

    @property
    def superseded(self) -> bool:
        """Whether a newer profile replaces this one once its results exist (e.g. ``cpu-1epoch``)."""
        return self.profile in PREDECESSORS.values()

    @property
    def label(self) -> str:
        """Return a caption fragment such as ``MNIST, profile cpu`` or ``CIFAR-10 (SYNTHETIC data)``."""
        text = f"{DATASET_NAMES[self.dataset]}, profile `{self.profile}`"
        if self.synthetic:
            text += " — SYNTHETIC random tensors, not the real dataset: the numbers test the code only"
        if self.partial:
            text += (f" — PARTIAL: the {len(self.plan.models())} models complete so far "
                     f"({len(self.plan.seeds)} seed{'s' * (len(self.plan.seeds) != 1)})")
        if self.superseded:
            newer = next(k for k, v in PREDECESSORS.items() if v == self.profile)
            text += (f" — the earlier {self.plan.base.epochs}-epoch models, shown until the "
                     f"`{newer}` campaign's models replace them")
        return text


def candidate_sources(dataset: str, profiles, *, results: str | Path, readonly: bool,
                      device: str | None = None, progress: bool = True) -> list[Source]:
    """Return a Source for each of ``profiles`` (in order) that covers ``dataset``.

    A profile after the first is a fallback: it is used for ``dataset`` only when no earlier
    profile covers it, or when it is the predecessor of one that does (``cpu`` → ``cpu-1epoch``).
    So a page on MNIST never falls back from ``cpu`` to ``smoke``.
    """
    out: list[Source] = []
    for name in profiles:
        prof = get_profile(name)
        covered = [s.profile for s in out]
        if covered and name not in {PREDECESSORS.get(c) for c in covered}:
            continue
        if dataset in prof.plans:
            store = Store(Path(results) / name, device=device, readonly=readonly, progress=progress)
            out.append(Source(dataset, name, prof.plan(dataset), store))
            if name in PREDECESSORS and readonly:  # a campaign: what is complete, before the old
                cut = stored_plan(prof.plan(dataset), store, name)
                if cut is not None:
                    out.append(Source(dataset, name, cut, store, partial=True))
    return out


def stored_plan(plan: DatasetPlan, store: Store, name: str) -> DatasetPlan | None:
    """Return ``plan`` cut down to the models whose jobs are complete in ``store`` (seeds whose
    headline models are all complete; alphas whose first-seed model is), or None when nothing
    is complete, or everything is (then the plan itself serves)."""
    from dataclasses import replace

    from ..jobs import estimate_needed

    jobs = {j.config.key(): j for j in page_jobs(name, [plan.dataset])}
    complete = {k for k, j in jobs.items() if not estimate_needed(j, store)}
    if len(complete) == len(jobs) or not complete:
        return None
    first = plan.seeds[0]
    headline = [plan.run(d, a, first) for d, a in (("pgd", 0.0), ("pgd", plan.headline[0]),
                                                     ("trades", 0.0), ("trades", plan.headline[1]))]
    if not all(c.key() in complete for c in headline):
        return None
    seeds = tuple(s for s in plan.seeds if all(
        plan.run(d, a, s).key() in complete
        for d, a in (("pgd", 0.0), ("pgd", plan.headline[0]), ("trades", 0.0),
                     ("trades", plan.headline[1]))))
    seeds = seeds if first in seeds else (first,)
    return replace(plan, seeds=seeds,
                   pgd_alphas=tuple(a for a in plan.pgd_alphas if plan.run("pgd", a).key() in complete),
                   trades_alphas=tuple(a for a in plan.trades_alphas
                                       if plan.run("trades", a).key() in complete),
                   extras=tuple(e for e in plan.extras if e.key() in complete))


def first_available(dataset: str, profiles, compute: Callable[[Source], object], **kwargs):
    """Return ``(source, compute(source))`` for the first profile with results, or ``(None, reason)``."""
    reasons = []
    for source in candidate_sources(dataset, profiles, **kwargs):
        try:
            return source, compute(source)
        except MissingResult as e:
            reason = f"profile `{source.profile}`: {e}"
            if reason not in reasons:  # a campaign's partial plan misses what its full plan does
                reasons.append(reason)
    if not reasons:
        reasons.append(f"no profile among {list(profiles)} covers {dataset}")
    return None, "No stored results for this page yet (" + "; ".join(reasons) + "). Run " \
        f"`python -m wmrlib reproduce --profile {list(profiles)[0]}` to compute them."


def profiles_of(profile: str, fallback_profile: str | None) -> list[str]:
    """Return the profiles a page tries, in order: the requested one, its predecessors, the fallback."""
    chain = [profile]
    while chain[-1] in PREDECESSORS:
        chain.append(PREDECESSORS[chain[-1]])
    if fallback_profile and fallback_profile not in chain:
        chain.append(fallback_profile)
    return chain


def page_jobs(name: str, datasets=None) -> list:
    """Return a profile's jobs without their robustness-check units: the check has a page of its
    own (:mod:`wmrlib.robustness`) that reads what is stored, so a model is complete for the
    other pages without it."""
    from ..jobs import plan_jobs

    out = []
    for job in plan_jobs(name, datasets):
        plan = get_profile(name).plan(job.config.dataset)
        units = dataclasses.replace(plan, robustness=None).units(job.config)
        out.append(dataclasses.replace(job, units=tuple(units)))
    return out


def campaign_progress(results: str | Path, name: str) -> tuple[int, int]:
    """Return (jobs complete, jobs planned) of a profile: a job is complete when its run and every
    evaluation unit the result pages read are stored (the robustness check is counted apart, by
    :func:`robustness_progress`)."""
    from ..jobs import estimate_needed

    store = Store(Path(results) / name, readonly=True, progress=False)
    jobs = page_jobs(name)
    return sum(not estimate_needed(j, store) for j in jobs), len(jobs)


def robustness_progress(results: str | Path, name: str, dataset: str = "mnist") -> tuple[int, int]:
    """Return (models checked, models the check covers) of a profile's robustness check."""
    from ..robust_units import robust_models
    from ..robustness import is_checked

    plan = get_profile(name).plan(dataset)
    if plan.robustness is None:
        return 0, 0
    store = Store(Path(results) / name, readonly=True, progress=False)
    models = robust_models(plan, plan.robustness)
    done = sum(is_checked(store, plan, c, plan.robustness) for c in models)
    return done, len(models)
