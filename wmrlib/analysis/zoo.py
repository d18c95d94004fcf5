"""The shipped models: ``load`` returns a trained model of a profile from the results store.

Example::

    >>> from wmrlib import zoo
    >>> model = zoo.load("cpu", "mnist", "trades", alpha_train=2.0, seed=0)  # eval mode, on CPU

A model the collapse detector flags still loads, with a warning naming the flag. While a
campaign has not trained a model yet, its predecessor's model of the same name is returned (the
``cpu`` campaign's predecessor is ``cpu-5epoch``), again with a warning. ``pgd_gap`` says how
many pp 40-PGD overstates a model's robustness (the models page lists it for every model), and
``shipped_models`` is the models page's table: every stored model with its accuracies.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import torch

from ..core.paths import RESULTS_ROOT
from ..experiment.profiles import PREDECESSORS, profile as get_profile
from ..method import metrics
from ..workflow.store import Store
from .collapse import collapse_epochs, describe_rule, uses_validation
from .results import results_for
from .robustness import PGD_GAP_PP, pgd_gap as _stored_gap  # PGD_GAP_PP: zoo.PGD_GAP_PP

DEFAULT_RESULTS = RESULTS_ROOT


class CollapsedModelWarning(UserWarning):
    """The loaded model collapsed in training (see :mod:`wmrlib.analysis.collapse`)."""


def available(profile: str, dataset: str, results: str | Path = DEFAULT_RESULTS) -> list[str]:
    """Return a label (defense, alpha_train, seed) for each of the profile's models with weights here."""
    plan = get_profile(profile).plan(dataset)
    store = Store(Path(results) / profile, device="cpu", readonly=True, progress=False)
    return [f"{c.defense} alpha_train={c.alpha_train:g} seed={c.seed}" for c in plan.models()
            + plan.precision_models() if store.model_path(c).is_file()]


def _stored(profile: str, dataset: str, defense: str, alpha_train: float, seed: int,
            results: str | Path, device) -> tuple[Store, object] | None:
    """Return (store, config) of the model in ``profile`` when its weights are stored, else None."""
    plan = get_profile(profile).plan(dataset)
    config = plan.run(defense, alpha_train, seed)
    store = Store(Path(results) / profile, device=device, readonly=True, progress=False)
    planned = {c.key() for c in plan.models() + plan.precision_models()}
    if config.key() in planned and store.model_path(config).is_file():
        return store, config
    return None


def load(profile: str, dataset: str, defense: str, alpha_train: float = 0.0, seed: int = 0,
         results: str | Path = DEFAULT_RESULTS, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Return one trained model of ``profile`` in eval mode, loaded with ``weights_only=True``.

    The weights are checked against the run's config key. A model not stored yet falls back to
    the profile's predecessor (with a warning); a model neither stores raises ``LookupError``
    naming the models that exist; a collapsed model warns (:class:`CollapsedModelWarning`).

    How much 40-PGD overstates the model: :func:`pgd_gap` with the same arguments returns its
    40-PGD A_rob minus its AutoAttack A_rob (pp, both on the robustness check's test images), or
    None for a model the check does not cover. The models page of the book lists it for every
    model and flags a gap above ``PGD_GAP_PP`` (3 pp), beside the published MNIST models' gaps
    (:func:`wmrlib.analysis.robustness.published_gaps`)::

        >>> gap = zoo.pgd_gap("cpu", "mnist", "trades", alpha_train=2.0)  # flagged if > PGD_GAP_PP
    """
    name = profile
    found = _stored(name, dataset, defense, alpha_train, seed, results, device)
    while found is None and name in PREDECESSORS and dataset in get_profile(PREDECESSORS[name]).plans:
        name = PREDECESSORS[name]
        found = _stored(name, dataset, defense, alpha_train, seed, results, device)
        if found is not None:
            warnings.warn(f"profile {profile!r} has no {dataset} {defense} alpha_train="
                          f"{alpha_train:g} seed={seed} model yet; returning {name!r}'s",
                          stacklevel=2)
    if found is None:
        plan = get_profile(profile).plan(dataset)
        planned = plan.run(defense, alpha_train, seed).key() in {
            c.key() for c in plan.models() + plan.precision_models()}
        why = (f"its weights are not in {Path(results) / profile}" if planned
               else "the profile does not train it")
        have = available(profile, dataset, results)
        raise LookupError(f"no {profile} {dataset} model {defense} alpha_train={alpha_train:g} "
                          f"seed={seed} ({why}); available: {', '.join(have) or 'none'}")
    store, config = found
    plan = get_profile(name).plan(dataset)
    epoch = collapse_epochs(store, plan).get((config.defense, config.alpha_train, config.seed))
    if epoch is not None:
        warnings.warn(f"{name} {dataset} {config.label} α_train {config.alpha_train:g} seed "
                      f"{config.seed} collapsed in training in epoch {epoch} ("
                      f"{describe_rule(plan)}); it loads as trained, but its robustness is far "
                      "below its siblings'", CollapsedModelWarning, stacklevel=2)
    return store.load_model(config)


def pgd_gap(profile: str, dataset: str, defense: str, alpha_train: float = 0.0, seed: int = 0,
            results: str | Path = DEFAULT_RESULTS) -> float | None:
    """Return how many pp 40-PGD overstates a stored model of ``profile``: its main-attack A_rob
    minus its AutoAttack A_rob on the robustness check's images (above ``PGD_GAP_PP``: flagged);
    None when the check did not cover it. A model the profile lacks raises ``LookupError``."""
    found = _stored(profile, dataset, defense, alpha_train, seed, results, "cpu")
    if found is None:
        raise LookupError(f"no {profile} {dataset} model {defense} alpha_train={alpha_train:g} "
                          f"seed={seed}; available: {', '.join(available(profile, dataset, results)) or 'none'}")
    store, config = found
    plan = get_profile(profile).plan(dataset)
    return None if plan.robustness is None else _stored_gap(store, plan, config, plan.robustness)


# The profiles whose trained weights are committed, newest first (the models page lists them).
SHIPPED_PROFILES = ("cpu", "cpu-5epoch")


def _accuracy(store, config, attack, eval_size, eval_seed, robust: bool) -> float:
    """Return the stored A_rob (or A_nat with ``attack`` None) in %, NaN when not stored."""
    if not store.has_unit(config, attack, 0.0, eval_size=eval_size, eval_seed=eval_seed):
        return float("nan")
    record = store.get_or_attack(config, attack, 0.0, eval_size=eval_size, eval_seed=eval_seed)
    return 100 * (metrics.a_rob(record.correct) if robust else metrics.a_nat(record.correct))


def shipped_models(results: str | Path, profiles=SHIPPED_PROFILES) -> pd.DataFrame:
    """Return one row per model whose weights are stored: profile, dataset, defense, α_train,
    seed, epochs, architecture, ε, clean accuracy and 40-PGD A_rob on the main test subset,
    AutoAttack A_rob on the robustness check's subset where measured, how many pp 40-PGD
    overstates it (its A_rob minus AutoAttack's on that subset,
    :func:`wmrlib.analysis.robustness.pgd_gap`) and whether that exceeds PGD_GAP_PP, the collapse
    flag, and the ``wmrlib.zoo.load`` call that returns it (the models page shows this table)."""
    rows = []
    for name in profiles:
        stored = results_for(name, results)
        for dataset, plan in stored.profile.plans.items():
            collapsed = stored.collapsed(plan)
            rp = plan.robustness
            for config in plan.models():
                if not stored.store.model_path(config).is_file():
                    continue
                kw = dict(eval_size=plan.eval_size, eval_seed=plan.eval_seed)
                label = config.label + (f" α {config.alpha_train:g}" if config.alpha_train else "")
                flag = collapsed.get(f"{label} seed {config.seed}")
                gap = None if rp is None else _stored_gap(stored.store, plan, config, rp)
                rows.append({
                    "profile": name, "dataset": dataset, "model": label,
                    "seed": config.seed, "epochs": config.epochs, "architecture": config.model,
                    "ε": f"{plan.attack.eps:g}",
                    "clean (%)": _accuracy(stored.store, config, None, robust=False, **kw),
                    f"{plan.attack.name} A_rob (%)": _accuracy(stored.store, config, plan.attack,
                                                               robust=True, **kw),
                    "AutoAttack A_rob (%)": (float("nan") if rp is None else _accuracy(
                        stored.store, config, rp.attack, rp.eval_size, plan.eval_seed, True)),
                    f"{plan.attack.name} → AutoAttack (pp)": float("nan") if gap is None else gap,
                    f"overstated (> {PGD_GAP_PP:g} pp)": ("not checked" if gap is None else
                                                         "yes" if gap > PGD_GAP_PP else "no"),
                    "collapsed in training": (
                        f"yes (epoch {flag})" if flag is not None else
                        "no" if uses_validation(plan) or plan.has_curve(config) else
                        "unknown (no learning curve)"),
                    "load": (f'zoo.load("{name}", "{dataset}", "{config.defense}", '
                             f"alpha_train={config.alpha_train:g}, seed={config.seed})"),
                })
    return pd.DataFrame(rows)
