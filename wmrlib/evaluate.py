"""Evaluation: one unweighted attack plus one weighted attack per alpha_test, kept per example.

A_nat, A_rob and A_sa(alpha) for every alpha_test come from the record of the single
unweighted attack; only A_tr(alpha) needs its own (weighted) attack. Nothing is attacked twice.
"""
from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.std import tqdm

from . import metrics
from .attacks import eval_mode, pgd
from .checkpoint import atomic_path
from .config import AttackConfig
from .data import ImageData, iterate_batches, num_batches
from .device import default_device
from .risk import margin

FIELDS = ("correct", "margin", "loss")


@dataclass
class AttackRecord:
    """Per-example outcome of one attack: correct (bool), margin and cross-entropy loss."""

    correct: np.ndarray
    margin: np.ndarray
    loss: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # per-example arrays of some units (wmrlib.adaptive)


@dataclass
class EvalRecord:
    """Per-example evaluation of one model under one attack configuration."""

    attack: AttackConfig
    labels: np.ndarray
    clean: AttackRecord
    uniform: AttackRecord
    weighted: dict[float, AttackRecord] = field(default_factory=dict)

    def a_nat(self) -> float:
        """Natural accuracy."""
        return metrics.a_nat(self.clean.correct)

    def a_rob(self) -> float:
        """Robust accuracy under the unweighted attack."""
        return metrics.a_rob(self.uniform.correct)

    def a_sa(self, alpha_test: float) -> float:
        """A_sa(alpha_test), from the unweighted attack's record."""
        return metrics.a_sa(self.uniform.correct, self.uniform.margin, alpha_test)

    def a_tr(self, alpha_test: float) -> float:
        """A_tr(alpha_test), from the weighted attack at alpha_test."""
        if float(alpha_test) not in self.weighted:
            raise KeyError(f"no weighted attack at alpha_test={alpha_test} in this record; "
                           f"available: {sorted(self.weighted)}")
        rec = self.weighted[float(alpha_test)]
        return metrics.a_tr(rec.correct, rec.margin, alpha_test)

    def restrict(self, positions: np.ndarray) -> "EvalRecord":
        """Return this record on the examples at ``positions`` (e.g. a smaller nested subset)."""
        def take(rec: AttackRecord) -> AttackRecord:
            return AttackRecord(rec.correct[positions], rec.margin[positions], rec.loss[positions],
                                {k: v[positions] for k, v in rec.extra.items()})

        return EvalRecord(self.attack, self.labels[positions], take(self.clean),
                          take(self.uniform), {a: take(r) for a, r in self.weighted.items()})

    def summary(self) -> dict[str, float]:
        """Return every metric the record supports, in percent, keyed like ``a_sa@1.5``."""
        out = {"a_nat": 100 * self.a_nat(), "a_rob": 100 * self.a_rob()}
        for alpha in sorted(self.weighted):
            out[f"a_sa@{alpha:g}"] = 100 * self.a_sa(alpha)
            out[f"a_tr@{alpha:g}"] = 100 * self.a_tr(alpha)
        return out

    def save(self, path: str | Path) -> None:
        """Write the record as a compressed .npz, atomically."""
        arrays = {"labels": self.labels,
                  "attack": np.array(json.dumps(dataclasses.asdict(self.attack), sort_keys=True))}
        for name, rec in [("clean", self.clean), ("uniform", self.uniform),
                          *((f"weighted@{a!r}", r) for a, r in self.weighted.items())]:
            for f in FIELDS:
                arrays[f"{name}/{f}"] = getattr(rec, f)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "EvalRecord":
        """Read a record written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            def rec(name):
                return AttackRecord(*(z[f"{name}/{f}"] for f in FIELDS))
            alphas = sorted({k.split("/")[0][len("weighted@"):] for k in z.files
                             if k.startswith("weighted@")}, key=float)
            return cls(AttackConfig(**json.loads(str(z["attack"]))), z["labels"], rec("clean"),
                       rec("uniform"), {float(a): rec(f"weighted@{a}") for a in alphas})


def _outcome(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        logits = model(x).float()
    return (logits.argmax(1) == y, margin(logits, y), F.cross_entropy(logits, y, reduction="none"))


def attack_record(model: torch.nn.Module, data: ImageData, attack: AttackConfig | None,
                  alpha: float = 0.0, *, batch_size: int = 256,
                  device: str | torch.device | None = None, seed: int = 0,
                  progress: bool = True, partial: Path | None = None) -> AttackRecord:
    """Return the per-example outcome on clean data (``attack=None``) or under PGD at ``alpha``.

    Other attack kinds (AutoAttack, logit scaling) go to :func:`wmrlib.adaptive.adaptive_record`,
    which keeps finished batches in ``partial`` so that an interrupted unit resumes.
    """
    if attack is not None and attack.kind != "pgd":
        from .adaptive import adaptive_record

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
            chunks.append(_outcome(model, x, y))
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
