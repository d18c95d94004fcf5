"""The shipped models: ``load`` returns a trained model of a profile from the results store.

Example::

    >>> from wmrlib.workflow import zoo
    >>> model = zoo.load("cpu", "mnist", "trades", alpha_train=2.0, seed=0)  # eval mode, on CPU
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..core.paths import RESULTS_ROOT
from ..experiment.profiles import profile as get_profile
from .store import Store

DEFAULT_RESULTS = RESULTS_ROOT


def available(profile: str, dataset: str, results: str | Path = DEFAULT_RESULTS) -> list[str]:
    """Return a label (defense, alpha_train, seed) for each of the profile's models with weights here."""
    plan = get_profile(profile).plan(dataset)
    store = Store(Path(results) / profile, device="cpu", readonly=True, progress=False)
    return [f"{c.defense} alpha_train={c.alpha_train:g} seed={c.seed}" for c in plan.models()
            + plan.precision_models() if store.model_path(c).is_file()]


def load(profile: str, dataset: str, defense: str, alpha_train: float = 0.0, seed: int = 0,
         results: str | Path = DEFAULT_RESULTS, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Return one trained model of ``profile`` in eval mode, loaded with ``weights_only=True``.

    The weights are checked against the run's config key; a model the profile does not train, or
    whose weights are not stored, raises ``LookupError`` naming the models that exist.
    """
    plan = get_profile(profile).plan(dataset)
    config = plan.run(defense, alpha_train, seed)
    store = Store(Path(results) / profile, device=device, readonly=True, progress=False)
    planned = {c.key() for c in plan.models() + plan.precision_models()}
    if config.key() not in planned or not store.model_path(config).is_file():
        have = available(profile, dataset, results)
        why = ("the profile does not train it" if config.key() not in planned
               else f"its weights are not in {store.root}")
        raise LookupError(f"no {profile} {dataset} model {defense} alpha_train={alpha_train:g} "
                          f"seed={seed} ({why}); available: {', '.join(have) or 'none'}")
    return store.load_model(config)
