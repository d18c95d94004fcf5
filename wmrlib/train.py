"""One training loop for PGD-AT, TRADES and their weighted versions, with checkpoint and resume."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.std import tqdm

from . import distributed
from .attacks import pgd, trades_attack
from .checkpoint import load_checkpoint, save_checkpoint
from .config import RunConfig
from .data import ImageData, iterate_batches, num_batches
from .device import autocast
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


def training_memory_format(config: RunConfig) -> torch.memory_format:
    """Return the layout ``train_model`` trains in: channels_last under bf16, else the default.

    Under bf16 autocast on the CPU, NCHW max-pooling is slow; channels_last made bf16 PGD-AT and
    TRADES training of SmallCNN about 1.3x faster on one CPU core (benchmarks/README.md). fp32
    keeps the default layout, so fp32 results are unchanged.
    """
    return torch.channels_last if config.precision == "bf16" else torch.contiguous_format


def adversarial_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                     config: RunConfig, eps: float, generator: torch.Generator | None, *,
                     wrapper: torch.nn.Module | None = None,
                     shard: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attack the batch, then return the defense's training loss and the adversarial logits.

    The attack runs on ``model``; the loss's forward passes go through ``wrapper`` when given
    (its DistributedDataParallel wrapper). ``shard`` says which slice of the global batch ``x``
    is, for the attack's random start (see ``attacks.pgd``).
    """
    step_size = config.step_size * (eps / config.eps if config.eps > 0 else 1.0)
    if eps > 0 and config.attack_steps > 0:
        attack = pgd if config.defense == "pgd" else trades_attack
        x_adv = attack(model, x, y=y, eps=eps, step_size=step_size, steps=config.attack_steps,
                       alpha=config.alpha_train, random_start=config.random_start,
                       generator=generator, shard=shard)
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


def train_model(config: RunConfig, data: ImageData, *, device: str | torch.device | None = None,
                checkpoint: str | Path | None = None, checkpoint_every_s: float = 300.0,
                progress: bool = True) -> TrainResult:
    """Train ``config``'s model on ``data``; resume from ``checkpoint`` when it exists.

    The checkpoint is written at the end of every epoch and every ``checkpoint_every_s``
    seconds, with the model, optimizer, RNG states and the position in the data order, so a
    resumed CPU run ends bitwise-identical to an uninterrupted one.

    Under ``torchrun`` with N > 1 processes (see ``wmrlib.distributed``) every process reads the
    same global batches of ``config.batch_size`` examples and trains on its 1/N slice of each
    through DistributedDataParallel; the attack's random starts and the dropout masks are the
    slices of those one process would draw. The result equals a one-process run up to the order
    of floating-point sums, except for batch norm on the CPU (see ``distributed.wrap``). The batch
    size and the last batch of an epoch must be multiples of N. Only rank 0 writes the
    checkpoint; every process resumes from it, and checkpoints move freely between runs with
    different N.
    """
    device = distributed.init_from_env(device)
    world = distributed.world_size()
    data = data.subset(config.train_size, seed=config.seed)
    last = len(data) % config.batch_size
    if config.batch_size % world or last % world:
        raise ValueError(f"data-parallel training on {world} processes needs batches that split "
                         f"evenly: batch_size {config.batch_size} and the last batch of an epoch "
                         f"({last} of {len(data)} examples) must be multiples of {world}")
    shard = (distributed.rank(), world) if world > 1 else None
    torch.manual_seed(config.seed)
    model = build_model(config.model, data.num_classes).to(device)
    model = model.to(memory_format=training_memory_format(config))
    optimizer = make_optimizer(config, model)
    generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    per_epoch = num_batches(len(data), config.batch_size, drop_last=False)
    total = per_epoch * config.epochs
    start_epoch, start_batch, history, resumed = 0, 0, [], None

    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, config_key=config.key(), model_name=config.model)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        generator.set_state(state["attack_rng"])
        start_epoch, start_batch, history = state["epoch"], state["batch"], list(state["history"])
        resumed = (start_epoch, start_batch)
    net = model
    if world > 1:
        net = distributed.wrap(model, device)
        model = net.module
    saving = checkpoint is not None and distributed.is_main()

    started = time.perf_counter()
    last_save = started
    for epoch in range(start_epoch, config.epochs):
        net.train()
        first = start_batch if epoch == start_epoch else 0
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        batches = iterate_batches(data, config.batch_size, shuffle=True, seed=config.seed,
                                  epoch=epoch, start_batch=first, augment=config.augment,
                                  device=device)
        bar = tqdm(batches, total=per_epoch - first, leave=False,
                   disable=not progress or not distributed.is_main(),
                   desc=f"{config.label} α={config.alpha_train:g} epoch {epoch + 1}/{config.epochs}")
        for i, (x, y) in enumerate(bar, start=first):
            step = epoch * per_epoch + i
            if shard is not None:
                x, y = distributed.shard(x), distributed.shard(y)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(config, step / total)
            with autocast(device, config.precision):
                loss, logits_adv = adversarial_loss(model, x, y, config,
                                                    eps_at(config, step / total), generator,
                                                    wrapper=net, shard=shard)
            # Stop at the first non-finite loss (every rank, so none waits at an all-reduce).
            finite = torch.isfinite(loss.detach()).float()
            if (distributed.all_sum(finite) if world > 1 else finite).item() < world:
                raise FloatingPointError(
                    f"training loss became {loss.item()} in epoch {epoch + 1}, batch {i + 1}; "
                    "lower the learning rate or check the inputs (the last checkpoint is kept)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits_adv.detach().argmax(1) == y).sum()
            seen += len(y)
            if saving and time.perf_counter() - last_save > checkpoint_every_s:
                save_checkpoint(_state(config, model, optimizer, epoch, i + 1, generator, history),
                                checkpoint)
                last_save = time.perf_counter()
        if world > 1:
            loss_sum, correct = distributed.all_sum(loss_sum), distributed.all_sum(correct)
            seen *= world
        if seen:
            loss_value = (loss_sum / seen).item()
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training loss became {loss_value} in epoch {epoch + 1};"
                                         " lower the learning rate or check the inputs")
            history.append({"epoch": epoch + 1, "loss": loss_value,
                            "train_adv_acc": (correct / seen).item(),
                            "lr": optimizer.param_groups[0]["lr"]})
        if saving:
            save_checkpoint(_state(config, model, optimizer, epoch + 1, 0, generator, history),
                            checkpoint)
            last_save = time.perf_counter()
    model = model.to(memory_format=torch.contiguous_format).eval()
    return TrainResult(model, history, time.perf_counter() - started, resumed)
