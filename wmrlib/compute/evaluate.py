"""Evaluation: one unweighted attack plus one weighted attack per alpha_test, kept per example.

A_nat, A_rob and A_sa(alpha) for every alpha_test come from the record of the single
unweighted attack; only A_tr(alpha) needs its own (weighted) attack. Nothing is attacked twice.
"""
from __future__ import annotations

from pathlib import Path

import torch
from tqdm.std import tqdm

from ..experiment.config import AttackConfig
from ..experiment.registry import is_adaptive
from ..method import metrics
from ..method.attacks import eval_mode, pgd
from .adaptive import adaptive_record
from .data import ImageData, iterate_batches, num_batches
from .device import default_device
from .outcome import AttackRecord, EvalRecord, outcome


def attack_record(model: torch.nn.Module, data: ImageData, attack: AttackConfig | None,
                  alpha: float = 0.0, *, batch_size: int = 256,
                  device: str | torch.device | None = None, seed: int = 0,
                  progress: bool = True, partial: Path | None = None) -> AttackRecord:
    """Return the per-example outcome on clean data (``attack=None``) or under PGD at ``alpha``.

    Other attack kinds (AutoAttack, logit scaling) go to :func:`wmrlib.compute.adaptive.adaptive_record`,
    which keeps finished batches in ``partial`` so that an interrupted unit resumes.
    """
    if is_adaptive(attack):
        return adaptive_record(model, data, attack, alpha, batch_size=batch_size, device=device,
                               seed=seed, progress=progress, partial=partial)
    device = default_device(device)
    model = model.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    chunks = []
    desc = "clean" if attack is None else f"{attack.name} ε={attack.eps:g} α={alpha:g}"
    with eval_mode(model):
        batches = iterate_batches(data, batch_size, shuffle=False, device=device)
        total = num_batches(len(data), batch_size, drop_last=False)
        for x, y in tqdm(batches, total=total, disable=not progress, leave=False, desc=desc):
            if attack is not None:
                x = pgd(model, x, y, eps=attack.eps, step_size=attack.step_size, steps=attack.steps,
                        loss=attack.loss, alpha=alpha, random_start=attack.random_start,
                        restarts=attack.restarts, generator=generator)
            chunks.append(outcome(model, x, y))
    return AttackRecord(*(torch.cat(c).cpu().numpy() for c in zip(*chunks)))


def evaluate_model(model: torch.nn.Module, data: ImageData, attack: AttackConfig,
                   alpha_tests=(), *, batch_size: int = 256,
                   device: str | torch.device | None = None, seed: int = 0,
                   progress: bool = True) -> EvalRecord:
    """Attack every example of ``data`` once unweighted and once per alpha_test; keep per example."""
    kwargs = dict(batch_size=batch_size, device=device, seed=seed, progress=progress)
    return EvalRecord(attack, data.labels.numpy().copy(), attack_record(model, data, None, **kwargs),
                      attack_record(model, data, attack, 0.0, **kwargs),
                      {float(a): attack_record(model, data, attack, float(a), **kwargs)
                       for a in alpha_tests})


def learning_curve_probe(data: ImageData, attack: AttackConfig, alpha_test: float, *,
                         batch_size: int = 250, device: str | torch.device | None = None,
                         seed: int = 0):
    """Return a ``train_model`` probe: A_nat, A_rob, A_sa(alpha_test), A_tr(alpha_test) on ``data``, in percent.

    The probe attacks ``data`` (a small fixed test subset) with the unweighted attack and the
    weighted one at ``alpha_test`` after every epoch; its keys are ``curve_a_nat`` and so on.
    """
    alpha_test = float(alpha_test)

    def probe(model: torch.nn.Module, epoch: int) -> dict:
        kw = dict(batch_size=batch_size, device=device, seed=seed, progress=False)
        clean = attack_record(model, data, None, **kw)
        uniform = attack_record(model, data, attack, 0.0, **kw)
        weighted = attack_record(model, data, attack, alpha_test, **kw)
        return {"curve_n": len(data), "curve_alpha_test": alpha_test,
                "curve_a_nat": 100 * metrics.a_nat(clean.correct),
                "curve_a_rob": 100 * metrics.a_rob(uniform.correct),
                "curve_a_sa": 100 * metrics.a_sa(uniform.correct, uniform.margin, alpha_test),
                "curve_a_tr": 100 * metrics.a_tr(weighted.correct, weighted.margin, alpha_test)}

    return probe
