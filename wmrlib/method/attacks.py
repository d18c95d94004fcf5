"""L-infinity PGD, weighted or not (Algorithm 1, eq. 23), the TRADES KL attack, and PGD with a
radius per example (IAAT).

The attacks run the model in eval mode, differentiate with respect to the input only, and
keep the step loop free of host synchronisation. With ``alpha = 0`` the weighted objective is
the plain one and no weight is computed, so the weighted and unweighted attack are one function.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch
import torch.nn.functional as F

from ..core.checks import check_choice, check_images, check_int, check_labels, check_number
from .risk import importance_weights

LOSSES = ("ce", "margin")
RANDOM_STARTS = ("uniform", "normal", "none")

# Whether the attacks switch the model and images to channels_last themselves (see fast_layout).
_AUTO_LAYOUT: ContextVar[bool] = ContextVar("wmrlib_auto_layout", default=True)


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``model`` in eval mode for the block and restore each submodule's own mode afterwards.

    Each submodule gets back its own mode, not the top module's: a wrapper made on the spot (the
    logit-scaling attack's) starts in training mode, and restoring its mode over the whole tree
    left the wrapped model's dropout on, drawing from the process's global random stream.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


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


def random_start(x: torch.Tensor, eps: float, kind: str = "uniform",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Return the attack's starting point for ``x``: uniform in the ε-ball, 0.001·N(0, I) or x.

    Data-parallel training draws the start of the whole batch here and passes each process its
    slice as ``x_start``, so the attacks themselves know nothing of the process group.
    """
    check_choice("random_start", kind, RANDOM_STARTS)
    if kind == "none":
        return x.detach().clone()
    device = generator.device if generator is not None else x.device
    if kind == "uniform":
        noise = torch.rand(x.shape, generator=generator, device=device, dtype=x.dtype) * 2 - 1
        noise = noise.to(x.device) * eps  # eps may be a per-example tensor on x's device
    else:  # "normal": Algorithm 1, line 6
        noise = 0.001 * torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
    return project(x.detach() + noise.to(x.device), x.detach(), eps)


def _start(x: torch.Tensor, eps: float, kind: str, generator, x_start) -> torch.Tensor:
    if x_start is None:
        return random_start(x, eps, kind, generator)
    if x_start.shape != x.shape:
        raise ValueError(f"x_start must have the shape of x {tuple(x.shape)}, got "
                         f"{tuple(x_start.shape)}")
    return project(x_start.detach().to(x.dtype), x, eps)


@contextmanager
def channels_last_model(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run the block with ``model``'s convolution weights in channels_last; restore them after.

    A weight with one input channel (MNIST's first convolution) reads as contiguous in both
    layouts, so the check looks at the weights whose layout is not ambiguous.
    """
    weights = [m.weight for m in model.modules()
               if isinstance(m, torch.nn.Conv2d) and m.weight.shape[1] > 1]
    convert = any(not w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    if convert:
        model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        if convert:
            model.to(memory_format=torch.contiguous_format)


@contextmanager
def automatic_layout(enabled: bool) -> Iterator[None]:
    """Turn the attacks' own switch to channels_last on or off inside the block (it is on by default).

    Off, ``pgd``, ``trades_attack``, ``adaptive_pgd`` and APGD run in whatever layout the
    caller's model and images already have. ``benchmarks/bench.py`` turns it off to time the
    NCHW baseline; nothing else needs to.

    Example:
        >>> with automatic_layout(False):
        ...     x_adv = pgd(model, x, y, eps=0.3, step_size=0.01, steps=40)  # runs NCHW
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"automatic_layout takes True or False, got {enabled!r}")
    token = _AUTO_LAYOUT.set(enabled)
    try:
        yield
    finally:
        _AUTO_LAYOUT.reset(token)


@contextmanager
def fast_layout(model: torch.nn.Module, x: torch.Tensor) -> Iterator[torch.Tensor]:
    """Run the block with ``model`` and image batch ``x`` in channels_last; restore the model after.

    channels_last made fp32 SmallCNN PGD and training faster on every CPU we measured
    (benchmarks/bench.py). Only the memory layout changes, so results agree up to the order of
    floating-point sums. The attacks return contiguous (NCHW) tensors. Inside
    ``automatic_layout(False)`` nothing is converted.
    """
    if x.dim() != 4 or not _AUTO_LAYOUT.get():
        yield x
        return
    with channels_last_model(model):
        yield x.contiguous(memory_format=torch.channels_last)


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
        x_start: torch.Tensor | None = None) -> torch.Tensor:
    r"""Return L-inf PGD adversarial examples maximising :math:`\sum_i s_i(\alpha)\,\ell_i` (eq. 23).

    ``alpha`` is the paper's **weighting strength** in :math:`s_i = \exp(-\alpha\cdot
    \text{margin}_i)`, *not* a step size (torchattacks calls its step size ``alpha``; here that
    is ``step_size``). ``alpha = 0`` is plain PGD: one function is both the weighted attack of
    Algorithm 1 and the unweighted one. ``loss`` is ``"ce"`` or ``"margin"`` (the logit margin
    :math:`\max_{t\ne y} z_t - z_y`, Table 9); the margin loss can be negative, so weighting it
    is refused (``alpha`` must be 0 with ``loss="margin"``). With ``restarts > 1`` each example
    keeps the restart whose final point has the highest objective. ``x_start`` replaces the
    random start of the first restart (data-parallel training passes each process its slice of
    the whole batch's start). The model runs in eval mode and is left in the mode it came in;
    the attack runs in channels_last internally and returns a contiguous tensor.

    Shape:
        - x: :math:`(N, C, H, W)` images in [0, 1].
        - y: :math:`(N)` class indices.
        - output: :math:`(N, C, H, W)`, within ``eps`` of ``x`` in L-inf and in [0, 1].

    Example::

        >>> model = wmrlib.method.models.SmallCNN().eval()
        >>> x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
        >>> x_adv = pgd(model, x, y, eps=0.3, step_size=0.01, steps=40, alpha=2.0)
        >>> bool(((x_adv - x).abs() <= 0.3 + 1e-6).all())
        True
    """
    eps, step_size, steps = _check_attack_args(eps, step_size, steps)
    alpha = check_number("alpha", alpha)
    check_choice("loss", loss, LOSSES)
    if loss == "margin" and alpha > 0:
        raise ValueError("pgd with loss='margin' and alpha > 0 would weight a loss that can be "
                         "negative, which rewards moving away from the boundary; use loss='ce' "
                         "for the weighted attack, or alpha=0 for the margin attack")
    check_choice("random_start", random_start, RANDOM_STARTS)
    restarts = check_int("restarts", restarts, low=1)
    check_images(x)
    with eval_mode(model), fast_layout(model, x.detach()) as x:
        y = y.detach()
        best, best_value = None, None
        for restart in range(restarts):
            x_adv = _start(x, eps, random_start, generator, x_start if restart == 0 else None)
            for step in range(steps):
                x_adv.requires_grad_(True)
                logits = model(x_adv)
                if step == 0:
                    check_labels(y, logits.shape[1], x.shape[0])
                objective = attack_objective(logits, y, loss=loss, alpha=alpha)
                (grad,) = torch.autograd.grad(objective.sum(), x_adv)
                x_adv = project(x_adv.detach() + step_size * grad.sign(), x, eps)
            if restarts == 1:
                best = x_adv.detach()
                break
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
    return best.contiguous()


def kl_per_example(logits_nat: torch.Tensor, logits_adv: torch.Tensor) -> torch.Tensor:
    """Return KL(softmax(logits_nat) || softmax(logits_adv)) per example."""
    log_p_nat = F.log_softmax(logits_nat.float(), dim=1)
    log_p_adv = F.log_softmax(logits_adv.float(), dim=1)
    return (log_p_nat.exp() * (log_p_nat - log_p_adv)).sum(dim=1)


def trades_attack(model: torch.nn.Module, x: torch.Tensor, *, eps: float, step_size: float,
                  steps: int, y: torch.Tensor | None = None, alpha: float = 0.0,
                  random_start: str = "normal",
                  generator: torch.Generator | None = None,
                  x_start: torch.Tensor | None = None) -> torch.Tensor:
    r"""Return x' maximising :math:`\sum_i s_i(\alpha)\,\mathrm{KL}(f(x_i)\,\|\,f(x'_i))` by L-inf sign-gradient ascent.

    The TRADES inner maximisation, weighted as in eq. 13. ``alpha`` is the paper's weighting
    strength, not a step size; with ``alpha > 0`` the weights are
    ``importance_weights(f(x'), y, alpha)`` and ``y`` is required, with ``alpha = 0`` it is the
    TRADES reference attack. The clean forward pass runs once per call. ``x_start`` replaces the
    random start (see :func:`pgd`); the layout handling and model mode are as in :func:`pgd`.

    Shape:
        - x: :math:`(N, C, H, W)` images in [0, 1].
        - y: :math:`(N)` class indices, or None when ``alpha = 0``.
        - output: :math:`(N, C, H, W)`, within ``eps`` of ``x`` in L-inf and in [0, 1].

    Example::

        >>> model = wmrlib.method.models.SmallCNN().eval()
        >>> x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
        >>> x_adv = trades_attack(model, x, y=y, eps=0.3, step_size=0.01, steps=40, alpha=2.0)
        >>> tuple(x_adv.shape)
        (8, 1, 28, 28)
    """
    eps, step_size, steps = _check_attack_args(eps, step_size, steps)
    alpha = check_number("alpha", alpha)
    check_choice("random_start", random_start, RANDOM_STARTS)
    if alpha > 0 and y is None:
        raise ValueError("trades_attack with alpha > 0 needs the labels y for the importance weights")
    check_images(x)
    with eval_mode(model), fast_layout(model, x.detach()) as x:
        with torch.no_grad():
            logits_nat = model(x)
        if y is not None:
            check_labels(y, logits_nat.shape[1], x.shape[0])
        x_adv = _start(x, eps, random_start, generator, x_start)
        for _ in range(steps):
            x_adv.requires_grad_(True)
            logits_adv = model(x_adv)
            objective = kl_per_example(logits_nat, logits_adv)
            if alpha > 0:
                objective = importance_weights(logits_adv, y, alpha) * objective
            (grad,) = torch.autograd.grad(objective.sum(), x_adv)
            x_adv = project(x_adv.detach() + step_size * grad.sign(), x, eps)
    return x_adv.detach().contiguous()


def _per_example(value: torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
    """Return a per-example vector [N] as [N, 1, ..., 1] to broadcast against ``x``."""
    if not torch.is_tensor(value) or value.shape != x.shape[:1]:
        raise ValueError(f"{name} must be a tensor of one value per example, shape "
                         f"({x.shape[0]},), got {getattr(value, 'shape', type(value).__name__)}")
    return value.detach().to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def adaptive_pgd(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: torch.Tensor,
                 step_size: torch.Tensor, steps: int, alpha: float = 0.0,
                 random_start: str = "uniform",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Return L-inf PGD adversarial examples with a radius and step size of their own per example.

    :func:`pgd` with ``eps`` and ``step_size`` tensors of shape (N,): example i stays within
    ``eps[i]`` of ``x[i]`` (IAAT's instance-adaptive radius; ``eps[i] = 0`` leaves it clean).
    The start is drawn in each example's own ball; the model runs in eval mode, as in :func:`pgd`.
    """
    steps = check_int("steps", steps)
    alpha = check_number("alpha", alpha)
    check_choice("random_start", random_start, RANDOM_STARTS)
    check_images(x)
    radius = _per_example(eps, x, "eps")
    step = _per_example(step_size, x, "step_size")
    if bool((radius < 0).any() or (radius > 1).any() or (step <= 0).any()):
        raise ValueError("adaptive_pgd needs every eps in [0, 1] and every step_size > 0")
    with eval_mode(model), fast_layout(model, x.detach()) as x:
        y = y.detach()
        x_adv = _start(x, radius, random_start, generator, None)
        for step_index in range(steps):
            x_adv.requires_grad_(True)
            logits = model(x_adv)
            if step_index == 0:
                check_labels(y, logits.shape[1], x.shape[0])
            objective = attack_objective(logits, y, alpha=alpha)
            (grad,) = torch.autograd.grad(objective.sum(), x_adv)
            x_adv = project(x_adv.detach() + step * grad.sign(), x, radius)
    return x_adv.detach().contiguous()
