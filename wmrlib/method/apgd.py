"""APGD (Croce & Hein 2020, Algorithm 1) on the paper's weighted objective s_i(alpha) * loss_i.

Auto-PGD replaces PGD's fixed step by a step size per example that starts at 2ε and halves at
checkpoints where the attack stopped making progress, adds momentum, and restarts a halved step
from the best point found. With ``alpha = 0`` it is plain APGD (APGD-CE with ``loss="ce"``);
with ``alpha > 0`` it ascends the weighted objective of eq. 23, which is what A_tr's attacker
maximises. This is our own implementation from the paper's description, not the reference code.
"""
from __future__ import annotations

import math

import torch

from ..core.checks import check_choice, check_images, check_int, check_labels, check_number
from .attacks import LOSSES, attack_objective, eval_mode, fast_layout, project, random_start

MOMENTUM = 0.75  # the paper's alpha (momentum weight of the new gradient step)
RHO = 0.75       # condition 1: fewer than RHO of the steps since the last checkpoint improved


def checkpoints(steps: int) -> list[int]:
    """Return APGD's checkpoint iterations ⌈p_j·steps⌉: p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), for p_j ≤ 1.

    Example::

        >>> checkpoints(100)
        [0, 22, 41, 57, 70, 80, 87, 93, 99]
    """
    steps = check_int("steps", steps)
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    # Rounded before the ceiling so that 0.41·100 is 41, not 42.
    return sorted({math.ceil(round(q * steps, 9)) for q in p})


def _value_and_grad(model, x_adv, y, loss, alpha):
    x_adv = x_adv.detach().requires_grad_(True)
    value = attack_objective(model(x_adv), y, loss=loss, alpha=alpha)
    (grad,) = torch.autograd.grad(value.sum(), x_adv)
    return value.detach(), grad


def _shape(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *([1] * (x.dim() - 1)))


def _single_run(model, x, y, x0, eps, steps, loss, alpha) -> tuple[torch.Tensor, torch.Tensor]:
    """One APGD run from ``x0``: return the best point per example and its objective."""
    marks = set(checkpoints(steps)[1:])
    eta = torch.full((x.shape[0],), 2.0 * eps, device=x.device, dtype=x.dtype)
    value, grad = _value_and_grad(model, x0, y, loss, alpha)
    best, best_value = x0.detach().clone(), value.clone()
    previous_value = value.clone()
    # What the checkpoint conditions compare against: the state at the previous checkpoint.
    mark_value, mark_reduced = best_value.clone(), torch.zeros_like(value, dtype=torch.bool)
    improved, last_mark = torch.zeros_like(value), 0
    x_prev, x_cur = x0.detach(), x0.detach()
    for k in range(1, steps + 1):
        z = project(x_cur + _shape(eta, x) * grad.sign(), x, eps)
        weight = MOMENTUM if k > 1 else 1.0  # the first step has no momentum (Algorithm 1, line 3)
        x_next = project(x_cur + weight * (z - x_cur) + (1 - weight) * (x_cur - x_prev), x, eps)
        x_prev, x_cur = x_cur, x_next
        if k < steps:
            value, grad = _value_and_grad(model, x_cur, y, loss, alpha)
        else:  # the last point needs its objective, not a gradient
            with torch.no_grad():
                value = attack_objective(model(x_cur), y, loss=loss, alpha=alpha)
        improved += (value > previous_value).to(improved.dtype)
        previous_value = value
        better = value > best_value
        best = torch.where(_shape(better, x), x_cur, best)
        best_value = torch.where(better, value, best_value)
        if k in marks and k < steps:
            too_few = improved < RHO * (k - last_mark)                      # condition 1
            stalled = ~mark_reduced & (best_value <= mark_value)           # condition 2
            reduce = too_few | stalled
            eta = torch.where(reduce, eta / 2, eta)
            # A halved step restarts from the best point, with its gradient and no stale momentum.
            x_cur = torch.where(_shape(reduce, x), best, x_cur)
            x_prev = torch.where(_shape(reduce, x), best, x_prev)
            previous_value = torch.where(reduce, best_value, previous_value)
            if bool(reduce.any()):
                _, best_grad = _value_and_grad(model, best, y, loss, alpha)
                grad = torch.where(_shape(reduce, x), best_grad, grad)
            mark_value, mark_reduced = best_value.clone(), reduce
            improved, last_mark = torch.zeros_like(improved), k
    return best, best_value


def apgd(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int,
         loss: str = "ce", alpha: float = 0.0, restarts: int = 1,
         generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Return L-inf APGD adversarial examples maximising :math:`s_i(\alpha)\,\ell_i` per example.

    ``alpha`` is the paper's weighting strength in :math:`s_i = \exp(-\alpha\cdot\text{margin}_i)`
    (not a step size: APGD has none to set). ``steps`` is the number of iterations (gradient
    evaluations, as for :func:`wmrlib.method.attacks.pgd`); each restart starts uniformly in the
    ε-ball and each example keeps the point with the highest objective over all iterations and
    restarts. ``loss="margin"`` is refused with ``alpha > 0``, as in :func:`pgd`. The model runs
    in eval mode and is left in the mode it came in; one extra gradient is computed at a
    checkpoint where some example restarts from its best point.

    Shape:
        as :func:`wmrlib.method.attacks.pgd`: images ``(N, C, H, W)`` in [0, 1] and labels ``(N)`` in,
        adversarial images of the input's shape out, within ``eps`` in L-inf and in [0, 1].

    Example::

        >>> x_adv = apgd(wmrlib.method.models.SmallCNN().eval(), torch.rand(8, 1, 28, 28),
        ...              torch.randint(0, 10, (8,)), eps=0.3, steps=20, alpha=2.0)
        True
    """
    eps = check_number("eps", eps, high=1.0)
    steps = check_int("steps", steps, low=1)
    alpha = check_number("alpha", alpha)
    check_choice("loss", loss, LOSSES)
    if loss == "margin" and alpha > 0:
        raise ValueError("apgd with loss='margin' and alpha > 0 would weight a loss that can be "
                         "negative; use loss='ce' for the weighted attack, or alpha=0")
    restarts = check_int("restarts", restarts, low=1)
    check_images(x)
    with eval_mode(model), fast_layout(model, x.detach()) as x:
        y = y.detach()
        with torch.no_grad():
            check_labels(y, model(x[:1]).shape[1], x.shape[0])
        best, best_value = None, None
        for _ in range(restarts):
            start = random_start(x, eps, "uniform", generator)
            point, value = _single_run(model, x, y, start, eps, steps, loss, alpha)
            if best is None:
                best, best_value = point, value
            else:
                better = value > best_value
                best = torch.where(_shape(better, x), point, best)
                best_value = torch.maximum(value, best_value)
    return best.detach().contiguous()


def logit_scaled(model: torch.nn.Module, scale: float) -> torch.nn.Module:
    """Return ``model`` with its logits multiplied by ``scale`` (the logit-scaling attack's model)."""
    return _ScaledLogits(model, check_number("logit scale", scale, low=0.0, low_inclusive=False))


class _ScaledLogits(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, scale: float) -> None:
        super().__init__()
        self.model, self.scale = model, scale
        self.training = model.training  # the wrapper is in the mode of the model it wraps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) * self.scale
