"""One results object per profile: the store, the job list, what is complete, and the flags.

A book page asks many questions of one profile's stored results: which jobs are complete, which
runs were computed by code changed since, which collapsed in training, which a masking probe
flags. :func:`results_for` answers each once per process (a page's kernel) and keeps the
answers; pages and sections only display them.

Example::

    >>> results = results_for("cpu")
    >>> results.progress()                                  # (jobs complete, jobs planned)
    >>> results.collapsed(results.profile.plan("mnist"))    # label with seed -> epoch
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

from ..compute.device import default_device
from ..core.paths import results_root
from ..experiment.profiles import DatasetPlan, Profile, profile as get_profile
from ..experiment.registry import Defense
from ..experiment.robustness_plan import robust_models
from ..workflow import jobs as job_list
from ..workflow.staleness import staleness
# MissingResult (what a read of an absent result raises) and Store: named here for the book,
# which reads stored results only through this layer and imports no workflow module.
from ..workflow.store import MissingResult, Store
from . import collapse
from .robustness import flagged_models, is_checked


def _plan_key(plan: DatasetPlan) -> str:
    """Return a hashable identity of a (possibly cut-down) plan: its models' keys."""
    return ",".join(sorted(c.key() for c in plan.models()))


class ProfileResults:
    """What is stored for one profile, read once: the store, the page jobs, which of them are
    complete, and per plan the stale, collapsed and masking-flagged runs."""

    def __init__(self, name: str, results: str | Path | None = None, *, readonly: bool = True,
                 device: str | None = None, progress: bool = False,
                 store: Store | None = None) -> None:
        self.name = name
        self.profile: Profile = get_profile(name)
        self.store = store if store is not None else Store(
            results_root(results) / name, device=device, readonly=readonly, progress=progress)
        self._per_plan: dict[tuple[str, str], object] = {}

    @functools.cached_property
    def jobs(self) -> list[job_list.Job]:
        """Return the profile's jobs without their robustness-check units (the check has a page
        of its own that reads what is stored, so a model is complete for the other pages
        without it)."""
        out = []
        for job in job_list.plan_jobs(self.name):
            plan = self.profile.plan(job.config.dataset)
            units = dataclasses.replace(plan, robustness=None).units(job.config)
            out.append(dataclasses.replace(job, units=tuple(units)))
        return out

    @functools.cached_property
    def complete(self) -> frozenset[str]:
        """Return the run keys whose job is complete: the run and every unit the pages read."""
        return frozenset(j.config.key() for j in self.jobs
                         if not job_list.estimate_needed(j, self.store))

    def progress(self, dataset: str | None = None) -> tuple[int, int]:
        """Return (jobs complete, jobs planned), of one dataset or of the whole profile."""
        jobs = [j for j in self.jobs if dataset is None or j.config.dataset == dataset]
        return sum(j.config.key() in self.complete for j in jobs), len(jobs)

    def robustness_progress(self, dataset: str = "mnist") -> tuple[int, int]:
        """Return (models checked, models the robustness check covers) of one dataset."""
        plan = self.profile.plan(dataset)
        if plan.robustness is None:
            return 0, 0
        models = robust_models(plan, plan.robustness)
        return sum(is_checked(self.store, plan, c, plan.robustness) for c in models), len(models)

    def _once(self, what: str, plan: DatasetPlan, compute):
        key = (what, _plan_key(plan))
        if key not in self._per_plan:
            self._per_plan[key] = compute()
        return self._per_plan[key]

    def run_staleness(self, plan: DatasetPlan) -> dict[str, str]:
        """Return each stored run of ``plan`` (run key) → its staleness ("current", "stale: ...",
        "unknown"), from the commit in its provenance."""
        def compute() -> dict[str, str]:
            out = {}
            for config in plan.models() + plan.precision_models():
                path = self.store.provenance_path(config)
                if path.exists():
                    out[config.key()] = staleness(json.loads(path.read_text())["git_commit"])
            return out
        return self._once("stale", plan, compute)

    def stale_runs(self, plan: DatasetPlan) -> int:
        """Return how many stored runs of ``plan`` were computed by compute code changed since."""
        return sum(s.startswith("stale") for s in self.run_staleness(plan).values())

    def collapsed(self, plan: DatasetPlan) -> dict[str, int]:
        """Return the runs of ``plan`` that collapsed in training (label with seed → epoch)."""
        if plan.base.synthetic:
            return {}
        return self._once("collapsed", plan, lambda: collapse.collapsed_models(self.store, plan))

    def flagged(self, plan: DatasetPlan) -> dict[str, list[str]]:
        """Return the checked models of ``plan`` that a stored masking probe flags (label → probes)."""
        if plan.base.synthetic:
            return {}
        return self._once("flagged", plan, lambda: flagged_models(self.store, plan))

    def stored_plan(self, dataset: str) -> DatasetPlan | None:
        """Return the dataset's plan cut down to the models whose jobs are complete (seeds whose
        headline models are all complete, and as ``family_only_seeds`` the seeds at which only one
        family's pair is; alphas whose first-seed model is), or None when the first seed's
        headline models are not all complete, or everything is (then the plan itself serves)."""
        plan = self.profile.plan(dataset)
        keys = {j.config.key() for j in self.jobs if j.config.dataset == dataset}
        complete = keys & self.complete
        if complete == keys or not complete:
            return None
        first = plan.seeds[0]
        if not all(c.key() in complete for c in plan.headline_models(first)):
            return None
        by_family = {f: [s for s in plan.seeds if all(c.key() in complete
                                                     for c in plan.headline_models(s, (f,)))]
                     for f, _ in plan.headline_pairs()}
        seeds = tuple(s for s in plan.seeds if all(s in got for got in by_family.values()))
        return dataclasses.replace(
            plan, seeds=seeds,
            family_only_seeds=tuple((f, s) for f, got in by_family.items() for s in got
                                    if s not in seeds),
            pgd_alphas=tuple(a for a in plan.pgd_alphas
                             if plan.run(Defense.PGD, a).key() in complete),
            trades_alphas=tuple(a for a in plan.trades_alphas
                                if plan.run(Defense.TRADES, a).key() in complete),
            extras=tuple(e for e in plan.extras if e.key() in complete))


@functools.lru_cache(maxsize=None)
def _cached(name: str, root: str, readonly: bool, device: str | None,
            progress: bool) -> ProfileResults:
    return ProfileResults(name, root, readonly=readonly, device=device, progress=progress)


def results_for(name: str, results: str | Path | None = None, *, readonly: bool = True,
                device: str | None = None, progress: bool = False) -> ProfileResults:
    """Return the one :class:`ProfileResults` of profile ``name`` under ``results`` in this
    process (built on first use; :func:`forget` drops them after the store changed)."""
    root = str(results_root(results).resolve())
    return _cached(name, root, readonly, device, progress)


def check_device(device: str) -> None:
    """Raise ValueError when stored models cannot be loaded on ``device`` here: an unknown name,
    or CUDA / MPS where there is none ("auto" always passes)."""
    default_device(device)


def forget() -> None:
    """Drop every cached :class:`ProfileResults` (the store changed underneath them)."""
    _cached.cache_clear()
