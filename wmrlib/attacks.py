"""L-infinity PGD, weighted or not (Algorithm 1, eq. 23), and the TRADES KL attack.

Both attacks run the model in eval mode, differentiate with respect to the input only, and
keep the step loop free of host synchronisation. With ``alpha = 0`` the weighted objective is
the plain one and no weight is computed, so the weighted and unweighted attack are one function.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F

from ._checks import check_choice, check_images, check_int, check_labels, check_number
from .risk import importance_weights

LOSSES = ("ce", "margin")
RANDOM_STARTS = ("uniform", "normal", "none")


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``model`` in eval mode for the block and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def per_example_loss(logits: torch.Tensor, y: torch.Tensor, loss: str = "ce") -> torch.Tensor:
    """Return the attack loss per example: cross-entropy, or the logit margin max_{t!=y} z_t - z_y."""
    logits = logits.float()
    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    true_logit = logits.gather(1, y[:, None]).squeeze(1)
    return logits.scatter(1, y[:, None], float("-inf")).amax(dim=1) - true_logit


def attack_objective(logits: torch.Tensor, y: torch.Tensor, *, loss: str = "ce",
                     alpha: float = 0.0) -> torch.Tensor:
    """Return the per-example objective PGD ascends: s_i(alpha) * loss_i (s = 1 when alpha = 0)."""
    value = per_example_loss(logits, y, loss)
    if alpha > 0:
        value = importance_weights(logits, y, alpha) * value
    return value


def _random_start(x: torch.Tensor, eps: float, kind: str, generator: torch.Generator | None,
                  shard: tuple[int, int] | None = None):
    if kind == "none":
        return x.clone()
    device = generator.device if generator is not None else x.device
    index, count = shard or (0, 1)
    shape = (len(x) * count, *x.shape[1:])  # the noise of the whole batch when x is a shard
    if kind == "uniform":
        noise = torch.rand(shape, generator=generator, device=device, dtype=x.dtype) * 2 - 1
        noise = noise * eps
    else:  # "normal": Algorithm 1, line 6
        noise = 0.001 * torch.randn(shape, generator=generator, device=device, dtype=x.dtype)
    if shard is not None:
        noise = noise[index * len(x):(index + 1) * len(x)]
    return project(x + noise.to(x.device), x, eps)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Project ``x_adv`` onto the L-infinity ball of radius ``eps`` around ``x`` and onto [0, 1]."""
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)


def _check_attack_args(eps: float, step_size: float, steps: int) -> tuple[float, float, int]:
    eps = check_number("eps", eps, high=1.0)
    steps = check_int("steps", steps)
    step_size = check_number("step_size", step_size, low=0.0, low_inclusive=False)
    return eps, step_size, steps


def pgd(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
        step_size: float, steps: int, loss: str = "ce", alpha: float = 0.0,
        random_start: str = "uniform", restarts: int = 1,
        generator: torch.Generator | None = None,
        shard: tuple[int, int] | None = None) -> torch.Tensor:
    """Return L-inf PGD adversarial examples maximising sum_i s_i(alpha) * loss_i (eq. 23).

    ``alpha = 0`` is plain PGD. With ``restarts > 1`` each example keeps the restart whose final
    point has the highest attack objective. The model is left in the mode it came in.
    ``shard = (i, n)`` says that ``x`` is the i-th of n equal contiguous slices of a batch: the
    random start is drawn for the whole batch and sliced, so n sharded attacks (one per process
    of data-parallel training) start where one attack on the whole batch would.
    """
    eps, step_size, steps = _check_attack_args(eps, step_size, steps)
    alpha = check_number("alpha", alpha)
    check_choice("loss", loss, LOSSES)
    check_choice("random_start", random_start, RANDOM_STARTS)
    restarts = check_int("restarts", restarts, low=1)
    check_images(x)
    x = x.detach()
    y = y.detach()
    with eval_mode(model):
        best, best_value = None, None
        for _ in range(restarts):
            x_adv = _random_start(x, eps, random_start, generator, shard)
            for step in range(steps):
                x_adv.requires_grad_(True)
                logits = model(x_adv)
                if step == 0:
                    check_labels(y, logits.shape[1], x.shape[0])
                objective = attack_objective(logits, y, loss=loss, alpha=alpha)
                (grad,) = torch.autograd.grad(objective.sum(), x_adv)
                x_adv = project(x_adv.detach() + step_size * grad.sign(), x, eps)
            if restarts == 1:
                return x_adv.detach()
            with torch.no_grad():
                logits = model(x_adv)
                if steps == 0:
                    check_labels(y, logits.shape[1], x.shape[0])
                value = attack_objective(logits, y, loss=loss, alpha=alpha)
            if best is None:
                best, best_value = x_adv.detach(), value
            else:
                better = value > best_value
                best = torch.where(better.view(-1, *([1] * (x.dim() - 1))), x_adv.detach(), best)
                best_value = torch.maximum(value, best_value)
        return best


def kl_per_example(logits_nat: torch.Tensor, logits_adv: torch.Tensor) -> torch.Tensor:
    """Return KL(softmax(logits_nat) || softmax(logits_adv)) per example."""
    log_p_nat = F.log_softmax(logits_nat.float(), dim=1)
    log_p_adv = F.log_softmax(logits_adv.float(), dim=1)
    return (log_p_nat.exp() * (log_p_nat - log_p_adv)).sum(dim=1)


def trades_attack(model: torch.nn.Module, x: torch.Tensor, *, eps: float, step_size: float,
                  steps: int, y: torch.Tensor | None = None, alpha: float = 0.0,
                  random_start: str = "normal",
                  generator: torch.Generator | None = None,
                  shard: tuple[int, int] | None = None) -> torch.Tensor:
    """Return x' maximising sum_i s_i(alpha) * KL(f(x_i) || f(x'_i)) by L-inf sign-gradient ascent.

    The clean forward pass runs once per call. With ``alpha > 0`` the weights are
    importance_weights(f(x'), y, alpha) and ``y`` is required. ``shard`` is as in ``pgd``.
    """
    eps, step_size, steps = _check_attack_args(eps, step_size, steps)
    alpha = check_number("alpha", alpha)
    check_choice("random_start", random_start, RANDOM_STARTS)
    if alpha > 0 and y is None:
        raise ValueError("trades_attack with alpha > 0 needs the labels y for the importance weights")
    check_images(x)
    x = x.detach()
    with eval_mode(model):
        with torch.no_grad():
            logits_nat = model(x)
        if y is not None:
            check_labels(y, logits_nat.shape[1], x.shape[0])
        x_adv = _random_start(x, eps, random_start, generator, shard)
        for _ in range(steps):
            x_adv.requires_grad_(True)
            logits_adv = model(x_adv)
            objective = kl_per_example(logits_nat, logits_adv)
            if alpha > 0:
                objective = importance_weights(logits_adv, y, alpha) * objective
            (grad,) = torch.autograd.grad(objective.sum(), x_adv)
            x_adv = project(x_adv.detach() + step_size * grad.sign(), x, eps)
    return x_adv.detach()
