"""The extra baselines of Table 4, each as one minibatch's update in the shared training loop.

* **Free-AT** -- Shafahi et al., "Adversarial Training for Free!", NeurIPS 2019, Algorithm 1.
  Each minibatch is replayed ``replays`` (m) times; every replay takes one optimizer step, and
  the input gradient of the same backward pass moves a perturbation δ by ε·sign(g), clipped to
  the ε-ball. δ starts at 0 and is carried from replay to replay and from minibatch to
  minibatch. The run makes ceil(epochs / m) passes over the data (``wmrlib.compute.train.passes``).
* **YOPO-m-n** -- Zhang et al., "You Only Propagate Once", NeurIPS 2019, Algorithm 1. m
  (``attack_steps``) full forward-backward passes per minibatch; each gives the adjoint
  p = ∂ℓ/∂f_0 at the first layer's output and the weights' gradient, then n (``inner_steps``)
  sign steps of the perturbation ascend the first layer's Hamiltonian <p, f_0(x + η)> with p
  fixed, which needs the first layer only. One optimizer step per minibatch on the gradient
  accumulated over the m passes. When the first layer is affine (a convolution, as in every
  model here and in YOPO's own ResNets), ∇_η <p, f_0(x + η)> = W^T p does not depend on η: the
  n inner steps share one direction, the input gradient at the start of the outer step, so
  YOPO-m-n takes the steps of YOPO-m-1 with step n·σ (up to rounding).
* **IAAT** -- Balaji, Goldstein, Hoffman, "Instance adaptive adversarial training: Improved
  accuracy tradeoffs in neural nets", arXiv:1910.08051, Algorithm 1. Each training example
  keeps its own radius ε_i across epochs. After a warm-up at the full ε, the radius of an
  example that still resists the attack at ε_i + γ moves towards ε_i + γ, one that resists at
  ε_i stays, and one that does not moves towards ε_i − γ (an example misclassified clean
  towards 0), as a running average with weight β; ε_i stays within [0, ε].

The paper's weighting applies to all three: with ``alpha_train > 0`` the training loss is the
weighted cross-entropy mean_i s_i·CE_i of eq. 13, and Free-AT's and YOPO's perturbations and
IAAT's training attack ascend the same weighted objective (as in PGD+ours). The choices the
three papers leave open are listed in ``wmrlib.experiment.profiles.CHOICES``. These updates train in one
process (no data parallelism).

An update takes the loop (``wmrlib.compute.train._Loop``: config, model, net, optimizer, generator,
device, data, and ``state``, the tensors a defense carries across minibatches, which the
checkpoint saves) and a :class:`Batch`, and returns an :data:`Outcome`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..method.attacks import adaptive_pgd, eval_mode, project, random_start
from ..experiment.config import RunConfig
from .device import autocast
from ..method.losses import pgd_at_loss
from ..method.models import split_first_layer

if TYPE_CHECKING:
    from .train import _Loop

# (summed loss over the batch's examples, correct count, examples): what the history adds up.
Outcome = tuple[torch.Tensor, torch.Tensor, int]


@dataclass
class Batch:
    """One minibatch as a defense's update sees it."""

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor  # the examples' positions in the training data (IAAT's memory)
    eps: float           # the training radius now (after the ε ramp)
    epoch: int           # the pass over the data, from 0
    number: int          # the batch within the pass, from 0


def _tally(loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return loss.detach() * len(y), (logits.detach().argmax(1) == y).sum()


# --- Free-AT -------------------------------------------------------------------------------------

def _carried_perturbation(loop: _Loop, x: torch.Tensor) -> torch.Tensor:
    """Return Free-AT's δ, created as zeros of one full batch on first use."""
    if "delta" not in loop.state:
        loop.state["delta"] = torch.zeros((loop.config.batch_size, *x.shape[1:]),
                                          device=x.device, dtype=x.dtype)
    return loop.state["delta"]


def free_update(loop: _Loop, batch: Batch) -> Outcome:
    """Free-AT: ``replays`` optimizer steps on the minibatch, δ moved by each step's input gradient."""
    config, x, y, eps = loop.config, batch.x, batch.y, batch.eps
    carried = _carried_perturbation(loop, x)
    n = len(y)
    # A smaller last batch uses the first n rows of δ and leaves the others for the next pass.
    delta = carried[:n]
    loss_sum = torch.zeros((), device=loop.device)
    correct = torch.zeros((), device=loop.device)
    for _ in range(config.replays):
        x_in = (x + delta).clamp_(0.0, 1.0).requires_grad_(True)
        with autocast(loop.device, config.precision):
            logits = loop.net(x_in)
            loss = pgd_at_loss(logits, y, config.alpha_train, config.detach_weights)
        loop.descend(loss, batch)
        delta = (delta + eps * x_in.grad.sign()).clamp_(-eps, eps)
        part_loss, part_correct = _tally(loss, logits, y)
        loss_sum += part_loss
        correct += part_correct
    carried[:n] = delta
    return loss_sum / config.replays, correct / config.replays, n


# --- YOPO ----------------------------------------------------------------------------------------

AFFINE_LAYERS = (torch.nn.Conv2d, torch.nn.Linear)


def _hamiltonian_gradient(first: torch.nn.Module, x_adv: torch.Tensor,
                          adjoint: torch.Tensor) -> torch.Tensor:
    """Return ∇ <adjoint, first(x_adv)> with respect to x_adv (through the first layer only)."""
    x_adv = x_adv.detach().requires_grad_(True)
    hamiltonian = (first(x_adv).float() * adjoint.float()).sum()
    (grad,) = torch.autograd.grad(hamiltonian, x_adv)
    return grad


def yopo_inner_steps(first: torch.nn.Module, x: torch.Tensor, x_adv: torch.Tensor,
                     adjoint: torch.Tensor, *, eps: float, step_size: float,
                     steps: int) -> torch.Tensor:
    """Return ``x_adv`` after ``steps`` projected sign steps ascending <adjoint, first(x_adv)>.

    YOPO's inner loop: the adjoint p (the loss gradient at the first layer's output) is held
    fixed, so each step propagates through the first layer only. For an affine first layer
    (a convolution or linear layer, as in SmallCNN and the ResNets) the gradient W^T p does not
    depend on x_adv, so it is computed once and serves every step: the same steps, exactly.
    """
    adjoint = adjoint.detach()
    affine = isinstance(first, AFFINE_LAYERS)
    sign = None
    for _ in range(steps):
        if sign is None or not affine:
            sign = _hamiltonian_gradient(first, x_adv, adjoint).sign()
        x_adv = project(x_adv.detach() + step_size * sign, x, eps)
    return x_adv.detach()


def yopo_update(loop: _Loop, batch: Batch) -> Outcome:
    """YOPO-m-n: m full propagations, each followed by n first-layer-only perturbation steps;
    one optimizer step on the weights' gradient accumulated over the m propagations."""
    config, x, y, eps = loop.config, batch.x, batch.y, batch.eps
    first, rest = split_first_layer(loop.model)
    step_size = config.step_size_at(eps)
    x_adv = random_start(x, eps, config.random_start, loop.generator) if eps > 0 else x
    loss_sum = torch.zeros((), device=loop.device)
    correct = torch.zeros((), device=loop.device)
    loop.optimizer.zero_grad(set_to_none=True)
    for _ in range(config.attack_steps):
        with autocast(loop.device, config.precision):
            hidden = first(x_adv)
            hidden.retain_grad()
            logits = rest(hidden)
            loss = pgd_at_loss(logits, y, config.alpha_train, config.detach_weights)
        loop.guard(loss, batch)
        loss.backward()  # adds this propagation's gradient to the weights' and gives the adjoint
        if eps > 0:
            with autocast(loop.device, config.precision):
                x_adv = yopo_inner_steps(first, x, x_adv, hidden.grad, eps=eps,
                                         step_size=step_size, steps=config.inner_steps)
        part_loss, part_correct = _tally(loss, logits, y)
        loss_sum += part_loss
        correct += part_correct
    loop.optimizer.step()
    return loss_sum / config.attack_steps, correct / config.attack_steps, len(y)


# --- IAAT ----------------------------------------------------------------------------------------

def iaat_step_sizes(config: RunConfig, radii: torch.Tensor, eps: float) -> torch.Tensor:
    """Return each example's attack step: 2·ε_i / steps, at least the config's step (ramped)."""
    return torch.clamp(2 * radii / config.attack_steps, min=config.step_size_at(eps))


def _attack(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, radii: torch.Tensor,
            config: RunConfig, eps: float, generator: torch.Generator | None,
            alpha: float) -> torch.Tensor:
    return adaptive_pgd(model, x, y, eps=radii, step_size=iaat_step_sizes(config, radii, eps),
                        steps=config.attack_steps, alpha=alpha, random_start=config.random_start,
                        generator=generator)


def _correct(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), eval_mode(model):
        return model(x).argmax(1) == y


def iaat_radii(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, previous: torch.Tensor,
               *, eps: float, config: RunConfig, warmup: bool,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Return IAAT's new radius ε_i of each example, within [0, ``eps``].

    During the warm-up an example gets ``eps`` if it is classified correctly, else 0. Then the
    candidate ε_i + γ is kept if the example resists an (unweighted) attack at it, else ε_i if
    it resists there, else ε_i − γ; 0 if misclassified clean. The new ε_i is
    β·candidate + (1 − β)·previous. Candidates are clipped to [0, ``eps``].
    """
    clean = _correct(model, x, y).to(previous.dtype)
    if warmup or eps <= 0:
        return eps * clean
    gamma, beta = config.iaat_gamma, config.iaat_beta
    current = previous.clamp(0.0, eps)
    higher = (previous + gamma).clamp(0.0, eps)
    lower = (previous - gamma).clamp(0.0, eps)
    resists_now = _correct(model, _attack(model, x, y, current, config, eps, generator, 0.0), y)
    resists_higher = _correct(model, _attack(model, x, y, higher, config, eps, generator, 0.0), y)
    candidate = torch.where(resists_higher, higher, torch.where(resists_now, current, lower))
    return (beta * candidate * clean + (1 - beta) * previous).clamp(0.0, eps)


def _radii_memory(loop: _Loop) -> torch.Tensor:
    """Return IAAT's ε_i of every training example, created as zeros on first use."""
    if "eps" not in loop.state:
        loop.state["eps"] = torch.zeros(len(loop.data), device=loop.device)
    return loop.state["eps"]


def iaat_update(loop: _Loop, batch: Batch) -> Outcome:
    """IAAT: update the minibatch's radii ε_i, attack each example at its own ε_i, one step."""
    config, x, y, eps = loop.config, batch.x, batch.y, batch.eps
    memory = _radii_memory(loop)
    with autocast(loop.device, config.precision):
        radii = iaat_radii(loop.model, x, y, memory[batch.index], eps=eps, config=config,
                           warmup=batch.epoch < config.iaat_warmup, generator=loop.generator)
        memory[batch.index] = radii
        x_adv = x
        if eps > 0 and bool((radii > 0).any()):
            x_adv = _attack(loop.model, x, y, radii, config, eps, loop.generator,
                            config.alpha_train)
        loop.net.train()
        logits = loop.net(x_adv)
        loss = pgd_at_loss(logits, y, config.alpha_train, config.detach_weights)
    loop.descend(loss, batch)
    return (*_tally(loss, logits, y), len(y))
