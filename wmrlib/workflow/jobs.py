"""A profile's work as independent jobs: one job per trained model (train it, then every
evaluation unit the notebooks read from it). :mod:`wmrlib.workflow.campaign` runs them."""
from __future__ import annotations

from dataclasses import dataclass

from ..compute.adaptive import step_equivalents
from ..core.datasets import spec
from ..experiment.config import AttackConfig, RunConfig
from ..experiment.overrides import override_profile
from ..experiment.profiles import profile as get_profile
from ..experiment.registry import Defense


@dataclass(frozen=True)
class Job:
    """One run of a profile and every evaluation unit the notebooks read from it."""

    config: RunConfig
    units: tuple[tuple[AttackConfig | None, float, int | None], ...]  # (attack, alpha_test, examples)
    eval_seed: int
    curve: tuple[AttackConfig, float, int] | None = None  # learning curves: attack, alpha_test, examples
    priority: int = 0                     # the order a budget-limited campaign takes (0 first)

    @property
    def cost(self) -> float:
        """Return a rough relative cost (attack image-steps), used to start long jobs first."""
        train = (self.config.train_size or spec(self.config.dataset).train_size) * self.config.epochs
        train *= self.config.attack_steps + 1 + (self.config.defense == Defense.TRADES)
        train *= 2 if self.config.precision == "fp32" else 1  # bf16 trains about 2x faster
        return train + sum((n or spec(self.config.dataset).test_size) * step_equivalents(a, alpha)
                           for a, alpha, n in self.units if a is not None)

    def describe(self) -> str:
        """Return a short label for progress bars and logs."""
        c = self.config
        return (f"{c.dataset} {c.label} α={c.alpha_train:g} seed {c.seed} {c.precision} "
                f"({len(self.units)} units)")


def plan_jobs(profile_name: str, datasets=None, overrides: tuple[dict, dict] | None = None) -> list[Job]:
    """Return the jobs of a profile (all its datasets, or ``datasets``): by priority, then seed by
    seed (a seed's arms together give their paired comparison a seed error sooner), longest first.

    ``overrides`` = (RunConfig changes, AttackConfig changes) from :mod:`wmrlib.experiment.overrides`.
    """
    prof = override_profile(get_profile(profile_name), *(overrides or ({}, {})))
    names = list(datasets) if datasets else list(prof.plans)
    jobs = []
    for name in names:
        plan = prof.plan(name)
        for config in plan.models() + plan.precision_models():
            curve = ((plan.attack, plan.alpha_tests[-1], plan.curve_size)
                     if plan.has_curve(config) else None)
            jobs.append(Job(config, tuple(plan.units(config)), plan.eval_seed, curve,
                            plan.priority(config)))
    return sorted(jobs, key=lambda j: (j.priority, j.config.seed, -j.cost))


def unit_image_steps(job: Job) -> int:
    """Return the attack image-steps of a job's evaluation units (examples × PGD-step
    equivalents, :func:`wmrlib.compute.adaptive.step_equivalents`)."""
    return round(sum((n or spec(job.config.dataset).test_size) * step_equivalents(a, alpha)
                     for a, alpha, n in job.units if a is not None))


def estimate_needed(job: Job, store) -> bool:
    """Return whether ``job`` still has anything to train or evaluate in ``store``."""
    if not store.has_run(job.config):
        return True
    return any(not store.has_unit(job.config, a, alpha, eval_size=n, eval_seed=job.eval_seed)
               for a, alpha, n in job.units)
