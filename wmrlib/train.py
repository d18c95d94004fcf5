"""One training loop for PGD-AT, TRADES and their weighted versions, with checkpoint and resume."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.std import tqdm

from . import distributed
from .attacks import eval_mode, pgd, random_start, trades_attack
from .checkpoint import load_checkpoint, save_checkpoint
from .config import RunConfig
from .data import ImageData, iterate_batches, num_batches
from .device import autocast, require_native_bf16
from .losses import pgd_at_loss, trades_loss
from .models import build_model


@dataclass
class TrainResult:
    """A trained model with its per-epoch history and the wall time spent in this process."""

    model: torch.nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    resumed_from: tuple[int, int] | None = None


def make_optimizer(config: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Return the optimizer the config names."""
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def lr_factor(config: RunConfig, progress: float) -> float:
    """Return the learning-rate multiplier at ``progress`` in [0, 1) of training."""
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if config.schedule == "multistep":
        return 0.1 ** sum(progress >= m for m in config.milestones)
    return 1.0


def eps_at(config: RunConfig, progress: float) -> float:
    """Return the training radius at ``progress``: a linear ramp from 0 over ``eps_ramp``."""
    if config.eps_ramp <= 0:
        return config.eps
    return config.eps * min(1.0, progress / config.eps_ramp)


EpochProbe = Callable[[torch.nn.Module, int], dict]


def adversarial_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                     config: RunConfig, eps: float, generator: torch.Generator | None, *,
                     wrapper: torch.nn.Module | None = None,
                     x_start: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attack the batch, then return the defense's training loss and the adversarial logits.

    The attack runs on ``model``; the loss's forward passes go through ``wrapper`` when given
    (its DistributedDataParallel wrapper). ``x_start`` is the attack's start (this process's
    slice of the global batch's start under data-parallel training); without it the attack
    draws its own from ``generator``.
    """
    step_size = config.step_size * (eps / config.eps if config.eps > 0 else 1.0)
    if eps > 0 and config.attack_steps > 0:
        attack = pgd if config.defense == "pgd" else trades_attack
        x_adv = attack(model, x, y=y, eps=eps, step_size=step_size, steps=config.attack_steps,
                       alpha=config.alpha_train, random_start=config.random_start,
                       generator=generator, x_start=x_start)
    else:
        x_adv = x
    net = model if wrapper is None else wrapper
    net.train()
    if config.defense == "pgd":
        logits_adv = net(x_adv)
        loss = pgd_at_loss(logits_adv, y, config.alpha_train, config.detach_weights)
    else:
        logits_nat = net(x)
        logits_adv = net(x_adv)
        loss = trades_loss(logits_nat, logits_adv, y, config.beta, config.alpha_train,
                           config.detach_weights)
    return loss, logits_adv


def _state(config, model, optimizer, epoch, batch, generator, history) -> dict:
    return {"config_key": config.key(), "model_name": config.model, "config": asdict(config),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "epoch": epoch, "batch": batch, "torch_rng": torch.get_rng_state(),
            "attack_rng": generator.get_state(), "history": history}


@dataclass
class _Loop:
    """The state one training run carries from batch to batch."""

    config: RunConfig
    data: ImageData
    model: torch.nn.Module
    net: torch.nn.Module          # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    device: torch.device
    checkpoint: Path | None
    checkpoint_every_s: float
    progress: bool
    per_epoch: int
    history: list[dict] = field(default_factory=list)
    last_save: float = 0.0

    def save(self, epoch: int, batch: int) -> None:
        """Write the checkpoint (rank 0 only) at the position (epoch, next batch)."""
        if self.checkpoint is not None and distributed.is_main():
            save_checkpoint(_state(self.config, self.model, self.optimizer, epoch, batch,
                                   self.generator, self.history), self.checkpoint)
            self.last_save = time.perf_counter()


def _resume(loop: _Loop) -> tuple[int, int, tuple[int, int] | None]:
    """Load the loop's checkpoint if it exists; return (epoch, batch) to start at and the resume point."""
    if loop.checkpoint is None or not loop.checkpoint.exists():
        return 0, 0, None
    state = load_checkpoint(loop.checkpoint, config_key=loop.config.key(),
                            model_name=loop.config.model)
    loop.model.load_state_dict(state["model"])
    loop.optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    loop.generator.set_state(state["attack_rng"])
    loop.history = list(state["history"])
    return state["epoch"], state["batch"], (state["epoch"], state["batch"])


def _train_epoch(loop: _Loop, epoch: int, first: int) -> tuple[float, float, int]:
    """Train one epoch from batch ``first``; return the summed loss, correct count and examples seen."""
    config, world = loop.config, distributed.world_size()
    total = loop.per_epoch * config.epochs
    loop.net.train()
    loss_sum = torch.zeros((), device=loop.device)
    correct = torch.zeros((), device=loop.device)
    seen = 0
    batches = iterate_batches(loop.data, config.batch_size, shuffle=True, seed=config.seed,
                              epoch=epoch, start_batch=first, augment=config.augment,
                              device=loop.device)
    bar = tqdm(batches, total=loop.per_epoch - first, leave=False,
               disable=not loop.progress or not distributed.is_main(),
               desc=f"{config.label} α={config.alpha_train:g} epoch {epoch + 1}/{config.epochs}")
    for i, (x, y) in enumerate(bar, start=first):
        step = epoch * loop.per_epoch + i
        eps = eps_at(config, step / total)
        # The start of the whole batch, then this process's slice: data-parallel runs start
        # where a one-process run would.
        attacked = eps > 0 and config.attack_steps > 0
        x_start = random_start(x, eps, config.random_start, loop.generator) if attacked else None
        if world > 1:
            x, y = distributed.shard(x), distributed.shard(y)
            x_start = None if x_start is None else distributed.shard(x_start)
        for group in loop.optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(config, step / total)
        with autocast(loop.device, config.precision):
            loss, logits_adv = adversarial_loss(loop.model, x, y, config, eps, loop.generator,
                                                wrapper=loop.net, x_start=x_start)
        # Stop at the first non-finite loss (every rank, so none waits at an all-reduce).
        finite = torch.isfinite(loss.detach()).float()
        if (distributed.all_sum(finite) if world > 1 else finite).item() < world:
            raise FloatingPointError(
                f"training loss became {loss.item()} in epoch {epoch + 1}, batch {i + 1}; "
                "lower the learning rate or check the inputs (the last checkpoint is kept)")
        loop.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loop.optimizer.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits_adv.detach().argmax(1) == y).sum()
        seen += len(y)
        if time.perf_counter() - loop.last_save > loop.checkpoint_every_s:
            loop.save(epoch, i + 1)
    if world > 1:
        loss_sum, correct = distributed.all_sum(loss_sum), distributed.all_sum(correct)
        seen *= world
    return float(loss_sum), float(correct), seen


def _epoch_record(loop: _Loop, epoch: int, loss_sum: float, correct: float, seen: int,
                  probe: EpochProbe | None) -> None:
    """Append epoch ``epoch``'s loss, adversarial training accuracy, lr and probe to the history."""
    if not seen:
        return
    loss_value = loss_sum / seen
    if not math.isfinite(loss_value):
        raise FloatingPointError(f"training loss became {loss_value} in epoch {epoch + 1};"
                                 " lower the learning rate or check the inputs")
    entry = {"epoch": epoch + 1, "loss": loss_value, "train_adv_acc": correct / seen,
             "lr": loop.optimizer.param_groups[0]["lr"]}
    if probe is not None and distributed.is_main():
        with eval_mode(loop.model):
            entry.update(probe(loop.model, epoch + 1))
    loop.history.append(entry)


def train_model(config: RunConfig, data: ImageData, *, device: str | torch.device | None = None,
                checkpoint: str | Path | None = None, checkpoint_every_s: float = 300.0,
                progress: bool = True, probe: EpochProbe | None = None,
                allow_emulated_bf16: bool = False) -> TrainResult:
    """Train ``config``'s model on ``data``; resume from ``checkpoint`` when it exists.

    The checkpoint is written at the end of every epoch and every ``checkpoint_every_s``
    seconds, with the model, optimizer, RNG states and the position in the data order, so a
    resumed CPU run ends bitwise-identical to an uninterrupted one. ``probe(model, epoch)``,
    when given, runs after every epoch (model in eval mode) and its dict joins that epoch's
    history entry: the learning curves. bf16 on a device without native bf16 raises
    :class:`wmrlib.device.EmulatedBF16Error` unless ``allow_emulated_bf16``.

    Under ``torchrun`` with N > 1 processes (see ``wmrlib.distributed``) every process reads the
    same global batches of ``config.batch_size`` examples and trains on its 1/N slice of each
    through DistributedDataParallel; the random starts (drawn for the whole batch, then sliced)
    and the dropout masks are the slices of those one process would draw. The result equals a
    one-process run up to the order of floating-point sums, except for batch norm on the CPU
    (see ``distributed.wrap``). The batch size and the last batch of an epoch must be multiples
    of N. Only rank 0 writes the checkpoint; every process resumes from it, and checkpoints
    move freely between runs with different N.
    """
    device = distributed.init_from_env(device)
    if config.precision == "bf16":
        require_native_bf16(device, allow_emulated=allow_emulated_bf16)
    world = distributed.world_size()
    data = data.subset(config.train_size, seed=config.seed)
    last = len(data) % config.batch_size
    if config.batch_size % world or last % world:
        raise ValueError(f"data-parallel training on {world} processes needs batches that split "
                         f"evenly: batch_size {config.batch_size} and the last batch of an epoch "
                         f"({last} of {len(data)} examples) must be multiples of {world}")
    torch.manual_seed(config.seed)
    model = build_model(config.model, data.num_classes).to(device)
    model = model.to(memory_format=torch.channels_last)
    loop = _Loop(config, data, model, model, make_optimizer(config, model),
                 torch.Generator(device=device).manual_seed(config.seed + 1), device,
                 Path(checkpoint) if checkpoint is not None else None, checkpoint_every_s,
                 progress, num_batches(len(data), config.batch_size, drop_last=False))
    start_epoch, start_batch, resumed = _resume(loop)
    if world > 1:
        loop.net = distributed.wrap(model, device)

    started = loop.last_save = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        first = start_batch if epoch == start_epoch else 0
        loss_sum, correct, seen = _train_epoch(loop, epoch, first)
        _epoch_record(loop, epoch, loss_sum, correct, seen, probe)
        loop.save(epoch + 1, 0)
    model = model.to(memory_format=torch.contiguous_format).eval()
    return TrainResult(model, loop.history, time.perf_counter() - started, resumed)
