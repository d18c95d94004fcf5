"""Evaluation units beyond PGD: standard AutoAttack, its weighted counterpart, logit scaling.

Each unit is an :class:`~wmrlib.compute.outcome.AttackRecord` like a PGD unit: per example, whether it
is still classified correctly at the adversarial point finally used, and the margin and loss
there, so A_rob and A_sa at every alpha_test come from one attack. A few per-example arrays the
masking probes read (:mod:`wmrlib.analysis.robustness`) ride along in ``AttackRecord.extra``.

* ``kind="autoattack"``, alpha 0: the standard AutoAttack of the reference package
  (``pyautoattack``: APGD-CE, APGD-T, FAB-T, Square; ``steps`` iterations, Square ``queries``
  queries), run stage by stage on the survivors exactly as its ``run_standard_evaluation`` does,
  so each example records which attack fooled it first. AutoAttack keeps the clean image of an
  example it could not fool; for A_sa we need a point at the ball's worst, so a survivor's point
  is the highest-loss point of our APGD-CE (:func:`wmrlib.method.apgd.apgd`) with the same budget.
* ``kind="autoattack"``, alpha > 0: the weighted counterpart for A_tr, APGD on
  s_i(alpha)·CE_i with ``restarts`` restarts.
* ``kind="logit-scale"``: PGD on the cross-entropy of c·logits for each c of ``scales``; an
  example counts as fooled if any scale fools it.

Every batch is seeded on its own and kept in a partial file once done, so a unit interrupted
after hours resumes at its first unfinished batch with the same result.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.std import tqdm

from ..core.checks import check_number
from ..method.apgd import apgd, logit_scaled
from ..method.attacks import channels_last_model, eval_mode, pgd
from .checkpoint import atomic_path
from ..experiment.config import AttackConfig
from ..experiment.registry import is_autoattack, is_logit_scale
from .data import ImageData, iterate_batches, num_batches
from .device import default_device
from .outcome import FIELDS, AttackRecord, outcome

# Who fooled each example first: index into STAGES, stored as ``extra["stage"]``.
STAGES = ("clean", "apgd-ce", "apgd-t", "fab-t", "square", "survivor apgd-ce", "robust")
AUTOATTACK_STANDARD = ("apgd-ce", "apgd-t", "fab-t", "square")

BatchAttack = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, int],
                       tuple[torch.Tensor, dict[str, torch.Tensor]]]


def unit_provenance(attack: AttackConfig | None) -> dict:
    """Return what a unit's provenance adds for its attack: the AutoAttack package's version."""
    if not is_autoattack(attack):
        return {}
    from importlib.metadata import version

    return {"pyautoattack": version("pyautoattack")}


def step_equivalents(attack: AttackConfig, alpha: float = 0.0, survival: float = 1.0) -> float:
    """Return a unit's cost per test image in PGD image-steps (one forward and backward pass).

    For AutoAttack, from our timing of the reference package on a PGD-trained SmallCNN at one
    thread: per iteration, APGD-CE 1.2 steps on every image, then on the images it leaves
    correct APGD-T 8.1 (9 targets), FAB-T 16 (9 targets) and our survivor APGD-CE 1.2, and
    Square 0.46 steps per query (a forward pass of one image). ``survival`` is the fraction left
    after APGD-CE; 1 (no image fooled) gives an upper bound, and a PGD unit's robust accuracy at
    the same ε is a fair guess (``wmrlib.workflow.cost`` uses the stored one).
    """
    if is_autoattack(attack):
        if check_unit(attack, alpha) > 0:
            return 1.1 * attack.steps * attack.restarts  # checkpoint restarts need a gradient
        survival = check_number("survival", survival, low=0.0, high=1.0)
        return 1.2 * attack.steps + survival * (25.3 * attack.steps + 0.46 * attack.queries)
    if is_logit_scale(attack):
        return float(attack.steps * attack.restarts * len(attack.scales))
    return float(attack.steps * attack.restarts)


def check_unit(attack: AttackConfig, alpha: float) -> float:
    """Return ``alpha`` checked for ``attack``'s kind; logit scaling is an unweighted probe."""
    alpha = check_number("alpha_test", alpha)
    if is_logit_scale(attack) and alpha > 0:
        raise ValueError("the logit-scale attack is unweighted: use alpha_test 0 (A_tr has the "
                         "autoattack kind's weighted APGD)")
    return alpha


def model_checks(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return AutoAttack's model checks per example: the L1 norm of the input gradient of the
    cross-entropy at the clean point, and how far two forward passes' normalised logits differ."""
    with eval_mode(model):
        x = x.detach().requires_grad_(True)
        logits = model(x).float()
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x,
                                      allow_unused=True)  # None: the logits ignore the input's grad
        grad = torch.zeros_like(x) if grad is None else grad
        with torch.no_grad():
            again = model(x).float()
    first, second = (z / (z.norm(dim=1, keepdim=True) + 1e-10) for z in (logits.detach(), again))
    return {"grad_l1": grad.abs().flatten(1).sum(1), "logit_jitter": (first - second).norm(dim=1)}


def autoattack_batch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                     steps: int = 100, queries: int = 5000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the standard AutoAttack's adversarial examples and the stage that fooled each first.

    Stages index :data:`STAGES` (0 misclassified clean, 1-4 the attack, 6 not fooled; an
    example not fooled keeps its clean image, as in the reference). The attacks run one at a
    time on the survivors of the previous one, as ``run_standard_evaluation`` runs them.

    Shape:
        - x: :math:`(N, C, H, W)` images in [0, 1].
        - y: :math:`(N)` class indices.
        - output: :math:`(N, C, H, W)` points and :math:`(N)` int8 stages.

    Example::

        >>> model = wmrlib.method.models.SmallCNN().eval()
        >>> x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
        >>> x_adv, stage = autoattack_batch(model, x, y, eps=0.3, steps=5, queries=10)
        >>> tuple(x_adv.shape), stage.dtype
        ((4, 1, 28, 28), torch.int8)
    """
    from pyautoattack import AutoAttack

    eps = check_number("eps", eps, high=1.0)
    adversary = AutoAttack(model, eps=eps, norm="Linf", version="standard", seed=seed,
                           device=x.device)
    adversary.apgd.n_iter = adversary.apgd_targeted.n_iter = adversary.fab.n_iter = steps
    adversary.square.n_queries = queries
    if tuple(adversary.attacks_to_run) != AUTOATTACK_STANDARD:  # the stage codes name these
        raise RuntimeError(f"pyautoattack's standard version runs {adversary.attacks_to_run}, "
                           f"not {list(AUTOATTACK_STANDARD)}; update wmrlib.compute.adaptive.STAGES")
    x_final = x.detach().clone()
    devices = [x.device] if x.device.type == "cuda" else []
    # channels_last weights speed the convolutions up (the images stay NCHW for the package);
    # fork_rng because the package reseeds the global generator
    with eval_mode(model), channels_last_model(model), torch.random.fork_rng(devices=devices):
        with torch.no_grad():
            alive = model(x).argmax(1) == y
        stage = torch.where(alive, len(STAGES) - 1, 0).to(torch.int8)
        for code, name in enumerate(AUTOATTACK_STANDARD, start=1):
            idx = alive.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            adversary.attacks_to_run = [name]
            x_adv, y_adv = adversary.run_standard_evaluation(x[idx], y[idx], batch_size=len(idx))
            fooled = y_adv.to(y.device) != y[idx]
            x_final[idx[fooled]] = x_adv[fooled].to(x_final.dtype)
            stage[idx[fooled]] = code
            alive[idx[fooled]] = False
    return x_final, stage


def _autoattack(attack: AttackConfig) -> BatchAttack:
    def run(model, x, y, batch_seed):
        x_final, stage = autoattack_batch(model, x, y, eps=attack.eps, steps=attack.steps,
                                          queries=attack.queries, seed=batch_seed)
        robust = stage == STAGES.index("robust")
        if bool(robust.any()):
            generator = torch.Generator(device=x.device).manual_seed(batch_seed)
            x_final[robust] = apgd(model, x[robust], y[robust], eps=attack.eps, steps=attack.steps,
                                   generator=generator)
            with eval_mode(model), torch.no_grad():
                fooled = model(x_final[robust]).argmax(1) != y[robust]
            stage[robust.nonzero().squeeze(1)[fooled]] = STAGES.index("survivor apgd-ce")
        return x_final, {"stage": stage, **model_checks(model, x, y)}
    return run


def _weighted_apgd(attack: AttackConfig, alpha: float) -> BatchAttack:
    def run(model, x, y, batch_seed):
        generator = torch.Generator(device=x.device).manual_seed(batch_seed)
        return apgd(model, x, y, eps=attack.eps, steps=attack.steps, alpha=alpha,
                    restarts=attack.restarts, generator=generator), {}
    return run


def logit_scale_batch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, attack: AttackConfig,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the logit-scaling attack's points and whether each example survives each scale.

    For each c of ``attack.scales``, PGD (``attack``'s steps, step size, start and restarts) on
    the cross-entropy of c·logits; an example's point is that of the first scale that fools the
    model, else the one with the smallest margin. Saturated softmax outputs give PGD zero
    gradients that a small c revives (and vanishing logits, a large c).

    Shape:
        - x: :math:`(N, C, H, W)` images in [0, 1].
        - y: :math:`(N)` class indices.
        - output: :math:`(N, C, H, W)` points and :math:`(N, S)` booleans, S = ``len(attack.scales)``.

    Example::

        >>> model = wmrlib.method.models.SmallCNN().eval()
        >>> x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
        >>> attack = AttackConfig(kind="logit-scale", steps=2, scales=(0.1, 10.0))
        >>> tuple(logit_scale_batch(model, x, y, attack)[1].shape)
        (4, 2)
    """
    points, correct, margins = [], [], []
    for scale in attack.scales:
        point = pgd(logit_scaled(model, scale), x, y, eps=attack.eps, step_size=attack.step_size,
                    steps=attack.steps, random_start=attack.random_start,
                    restarts=attack.restarts, generator=generator)
        ok, margin, _ = outcome(model, point, y)
        points.append(point), correct.append(ok), margins.append(margin)
    correct, margins = torch.stack(correct, 1), torch.stack(margins, 1)
    fooled = ~correct
    choice = torch.where(fooled.any(1), fooled.to(torch.int8).argmax(1), margins.argmin(1))
    chosen = torch.stack(points, 1)[torch.arange(x.shape[0], device=x.device), choice]
    return chosen, correct


def _logit_scale(attack: AttackConfig) -> BatchAttack:
    def run(model, x, y, batch_seed):
        generator = torch.Generator(device=x.device).manual_seed(batch_seed)
        point, correct = logit_scale_batch(model, x, y, attack, generator)
        return point, {"correct_by_scale": correct}
    return run


def batch_attack(attack: AttackConfig, alpha: float) -> BatchAttack:
    """Return the per-batch attack of a unit: ``(model, x, y, batch_seed) -> (points, extras)``."""
    alpha = check_unit(attack, alpha)
    if is_autoattack(attack):
        return _weighted_apgd(attack, alpha) if alpha > 0 else _autoattack(attack)
    if is_logit_scale(attack):
        return _logit_scale(attack)
    raise ValueError(f"attack kind {attack.kind!r} has no adaptive unit; use "
                     "wmrlib.compute.evaluate.attack_record for 'pgd'")


def _load_partial(path: Path | None, n: int, batch_size: int, labels: np.ndarray) -> dict | None:
    """Return the finished batches kept at ``path`` if they belong to this subset and batching."""
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            kept = {k: z[k] for k in z.files}
    except (OSError, ValueError):  # a torn or foreign file: start over
        return None
    done = len(kept.get("labels", ()))
    if (int(kept.get("n", -1)) != n or int(kept.get("batch_size", -1)) != batch_size
            or not np.array_equal(kept["labels"], labels[:done])):
        return None
    return kept


def _save_partial(path: Path, arrays: dict[str, np.ndarray], n: int, batch_size: int) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, n=n, batch_size=batch_size, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def _append(arrays: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([arrays[k], v]) if k in arrays else v for k, v in batch.items()}


def adaptive_record(model: torch.nn.Module, data: ImageData, attack: AttackConfig,
                    alpha: float = 0.0, *, batch_size: int = 256,
                    device: str | torch.device | None = None, seed: int = 0,
                    progress: bool = True, partial: Path | None = None) -> AttackRecord:
    """Return the per-example outcome of an AutoAttack or logit-scaling unit on ``data``.

    With ``partial`` set, finished batches are kept there and a later call with the same data,
    batch size and unit (the store names the file after the unit's key) skips them. Batch b is
    seeded with ``seed * 1_000_003 + b``, so a resumed unit equals an uninterrupted one.
    """
    run = batch_attack(attack, alpha)
    if len(data) == 0:
        raise ValueError("adaptive_record needs at least one example; got an empty data set")
    device = default_device(device)
    model = model.to(device)
    labels = data.labels.numpy()
    arrays = _load_partial(partial, len(data), batch_size, labels) or {}
    arrays = {k: v for k, v in arrays.items() if k not in ("n", "batch_size")}
    start = len(arrays.get("labels", ())) // batch_size
    total = num_batches(len(data), batch_size, drop_last=False)
    desc = f"{attack.name} ε={attack.eps:g} α={alpha:g}"
    batches = iterate_batches(data, batch_size, shuffle=False, device=device, start_batch=start)
    bar = tqdm(batches, total=total - start, disable=not progress, leave=False, desc=desc)
    with eval_mode(model):
        for b, (x, y) in enumerate(bar, start=start):
            points, extra = run(model, x, y, seed * 1_000_003 + b)
            result = dict(zip(FIELDS, outcome(model, points, y)))
            batch = {**result, **{f"extra/{k}": v for k, v in extra.items()}, "labels": y}
            arrays = _append(arrays, {k: v.detach().cpu().numpy() for k, v in batch.items()})
            if partial is not None and b + 1 < total:
                _save_partial(partial, arrays, len(data), batch_size)
    return AttackRecord(*(arrays[f] for f in FIELDS), extra={
        k[len("extra/"):]: v for k, v in arrays.items() if k.startswith("extra/")})
