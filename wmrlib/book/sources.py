"""Where a page's numbers come from: the profiles it tries, the complete part of one still training, what is missing, and the readers' names of their models."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..analysis.results import MissingResult, ProfileResults, Store, results_for
from ..core import paths
from ..core.datasets import REGISTRY
from ..experiment.profiles import PREDECESSORS, DatasetPlan, profile as get_profile
from .words import count


DATASET_NAMES = {name: s.display_name for name, s in REGISTRY.items()}  # from the registry


@dataclass
class Source:
    """Where a page's results for one dataset come from."""

    dataset: str
    profile: str
    plan: DatasetPlan
    store: Store
    partial: bool = False   # the plan is cut down to the models whose jobs are complete
    results: ProfileResults | None = None  # the profile's results object (flags, progress)

    def __post_init__(self) -> None:
        if self.results is None:  # a source built by hand: its own results object on its store
            self.results = ProfileResults(self.profile, store=self.store)

    @property
    def stale(self) -> int:
        """Return how many stored runs of the plan were computed by compute code changed since."""
        return self.results.stale_runs(self.plan)

    @property
    def runs(self) -> int:
        """Return how many runs of the plan are stored (those :attr:`stale` counts among)."""
        return len(self.results.run_staleness(self.plan))

    @property
    def collapsed(self) -> dict[str, int]:
        """Return the plan's runs that collapsed in training (label with seed → epoch)."""
        return self.results.collapsed(self.plan)

    @property
    def flagged(self) -> dict[str, list[str]]:
        """Return the plan's models that a stored masking probe flags (label → probes)."""
        return self.results.flagged(self.plan)

    @property
    def synthetic(self) -> bool:
        """Whether the results come from synthetic tensors rather than the real dataset."""
        return self.plan.base.synthetic

    @property
    def superseded(self) -> bool:
        """Whether a newer profile replaces this one once its results exist (e.g. ``cpu-1epoch``)."""
        return self.profile in PREDECESSORS.values()

    @property
    def models(self) -> str:
        """Return the reader's name of the models behind the results, e.g. ``our 5-epoch
        models`` (no profile name: :func:`models_name`)."""
        return models_name(self.profile, self.plan)

    @property
    def label(self) -> str:
        """Return a caption fragment such as ``MNIST, our 5-epoch models`` or ``CIFAR-10,
        code-test models on SYNTHETIC random tensors ...``."""
        text = f"{DATASET_NAMES[self.dataset]}, {self.models}"
        if self.partial:
            text += (f" — PARTIAL: the {len(self.plan.models())} models complete so far "
                     f"({seeds_text(self.plan)})")
        return text


def models_name(profile: str, plan: DatasetPlan) -> str:
    """Return the reader's name of a profile's models on one dataset, in words a result page can
    show (How we reproduce maps them to the profiles): ``our 5-epoch models``, ``the earlier
    5-epoch models (...)`` for a profile a newer one replaces, ``code-test models on SYNTHETIC
    random tensors ...`` for synthetic data."""
    if plan.base.synthetic:
        return ("code-test models on SYNTHETIC random tensors, not the real dataset: the numbers "
                "test the code only")
    epochs = plan.base.epochs
    if profile in PREDECESSORS.values():
        return (f"the earlier {epochs}-epoch models ({plan.base.attack_steps}-step training "
                f"attack, {'a' if plan.base.val_size else 'no'} validation split, "
                f"{seeds_text(plan)}), which our current models replace")
    return f"our {epochs}-epoch models"


def seeds_text(plan: DatasetPlan) -> str:
    """Return how many seeds the plan's headline pairs have, e.g. ``3 seeds`` or, when one family
    has more, ``3 seeds (the TRADES pair 5)``."""
    n = len(plan.seeds)
    text = count(n, "seed")
    more = [f"the {f.upper()} pair {len(plan.seeds_of(f))}" for f, _ in plan.headline_pairs()
            if len(plan.seeds_of(f)) > n]
    return text + (f" ({', '.join(more)})" if more else "")


def candidate_sources(dataset: str, profiles, *, results: str | Path, readonly: bool,
                      device: str | None = None, progress: bool = True) -> list[Source]:
    """Return a Source for each of ``profiles`` (in order) that covers ``dataset``.

    A profile after the first is a fallback: it is used for ``dataset`` only when no earlier
    profile covers it, or when it is the predecessor of one that does (``cpu`` → ``cpu-5epoch``).
    So a page on MNIST never falls back from ``cpu`` to ``smoke``. A campaign's complete part is
    offered before its predecessor only once it :func:`covers` the predecessor's plan, so that no
    page shows fewer models than it did. Each profile's results are read through its one
    :class:`~wmrlib.analysis.results.ProfileResults`.
    """
    out: list[Source] = []
    for name in profiles:
        prof = get_profile(name)
        covered = [s.profile for s in out]
        if covered and name not in {PREDECESSORS.get(c) for c in covered}:
            continue
        if dataset in prof.plans:
            stored = results_for(name, results, readonly=readonly, device=device,
                                 progress=progress)
            out.append(Source(dataset, name, prof.plan(dataset), stored.store, results=stored))
            if name in PREDECESSORS and readonly:  # a campaign: what is complete, before the old
                cut = stored.stored_plan(dataset)
                earlier = get_profile(PREDECESSORS[name]).plans.get(dataset)
                if cut is not None and (earlier is None or covers(cut, earlier)):
                    out.append(Source(dataset, name, cut, stored.store, partial=True,
                                      results=stored))
    return out


def covers(plan: DatasetPlan, earlier: DatasetPlan) -> bool:
    """Whether ``plan`` has at least as many seeds and extra models as ``earlier`` and every
    α_train value of its two sweeps: only then can its tables replace the earlier ones row for row."""
    return (len(plan.seeds) >= len(earlier.seeds) and len(plan.extras) >= len(earlier.extras)
            and set(earlier.pgd_alphas) <= set(plan.pgd_alphas)
            and set(earlier.trades_alphas) <= set(plan.trades_alphas))


def first_available(dataset: str, profiles, compute: Callable[[Source], object], **kwargs):
    """Return ``(source, compute(source))`` for the first profile with results, or ``(None, reason)``."""
    reasons, sources = [], candidate_sources(dataset, profiles, **kwargs)
    for source in sources:
        try:
            return source, compute(source)
        except MissingResult as e:
            reason = f"{source.models}: {e}".replace(f"{paths.REPO_ROOT}/", "")
            if reason not in reasons:  # a campaign's partial plan misses what its full plan does
                reasons.append(reason)
    if len(sources) == 1 and sources[0].results is not None and not sources[0].synthetic:
        done, total = sources[0].results.progress(dataset)
        if total and not done:
            reasons = [f"none of the {total} {DATASET_NAMES[dataset]} models ("
                       f"{sources[0].models}) is trained and evaluated yet"]
    if not reasons:
        reasons.append(f"none of our training runs covers {DATASET_NAMES.get(dataset, dataset)}")
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
