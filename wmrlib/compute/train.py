"""One training loop for every defense, with checkpoint and resume.

PGD-AT and TRADES (weighted or not) and the extra baselines of Table 4 (Free-AT, YOPO-m-n and
IAAT, in :mod:`wmrlib.compute.defenses`) share the loop: the data order, the learning-rate schedule, the
ε ramp, the checkpoints and the history. What differs is one minibatch's update, a function per
defense in ``UPDATES``.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.std import tqdm

from . import defenses, distributed
from ..method import metrics
from ..method.attacks import eval_mode, pgd, random_start, trades_attack
from .checkpoint import load_checkpoint, save_checkpoint
from ..experiment.config import RunConfig, validation_attack
from ..experiment.registry import Defense, is_family
from .data import ImageData, epoch_order, iterate_batches, num_batches, validation_split
from .device import autocast, require_native_bf16
from .evaluate import attack_record
from ..method.losses import pgd_at_loss, trades_loss
from ..method.models import build_model


@dataclass
class TrainResult:
    """A trained model with its per-epoch history and the wall time spent in this process."""

    model: torch.nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    curve: list[dict[str, float]] = field(default_factory=list)  # validation A_nat / A_rob
    wall_time_s: float = 0.0
    resumed_from: tuple[int, int] | None = None
    state: dict[str, torch.Tensor] = field(default_factory=dict)  # the defense's carried state
    # The model-selection record (``config.selection``): rule, selected epoch, its validation
    # A_rob and the final model's validation point; empty for the rule "final".
    selection: dict = field(default_factory=dict)


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
        return config.lr_decay ** sum(progress >= m for m in config.milestones)
    return 1.0


def passes(config: RunConfig) -> int:
    """Return the passes over the training data: ``epochs``, or ceil(epochs / replays) for Free-AT.

    Free-AT's ``epochs`` count paper-equivalent epochs: it replays each minibatch ``replays``
    times, so one pass takes as many optimizer steps as ``replays`` epochs of the others.
    """
    if config.defense == Defense.FREE:
        return math.ceil(config.epochs / config.replays)
    return config.epochs


def eps_at(config: RunConfig, progress: float) -> float:
    """Return the training radius at ``progress``: a linear ramp from 0 over ``eps_ramp``."""
    if config.eps_ramp <= 0:
        return config.eps
    return config.eps * min(1.0, progress / config.eps_ramp)


EpochProbe = Callable[[torch.nn.Module, int], dict]
# Validation probes per epoch (at its quarters) when the config holds out a validation split.
CURVE_POINTS = 4


def curve_batches(per_epoch: int, points: int = CURVE_POINTS) -> set[int]:
    """Return the batch counts within an epoch after which the validation probe runs."""
    return {max(1, round(per_epoch * k / points)) for k in range(1, points + 1)}


def validation_point(model: torch.nn.Module, val: ImageData, config: RunConfig,
                     device: torch.device, alpha_test: float = 0.0) -> dict[str, float]:
    """Return A_nat and A_rob (percent) of ``model`` on the validation split under
    :func:`wmrlib.experiment.config.validation_attack`, with A_sa and A_tr at ``alpha_test`` (the
    same attack, weighted) when it is > 0, and the seconds the probe took (``val_s``); the attacks
    draw from their own generator, so the training run's random streams are untouched."""
    attack = validation_attack(config)
    kw = dict(batch_size=250, device=device, seed=0, progress=False)
    started = time.perf_counter()
    with eval_mode(model):
        clean = attack_record(model, val, None, **kw)
        robust = attack_record(model, val, attack, 0.0, **kw)
        point = {"val_n": len(val), "val_a_nat": 100 * float(clean.correct.mean()),
                 "val_a_rob": 100 * float(robust.correct.mean())}
        if alpha_test > 0:
            weighted = attack_record(model, val, attack, alpha_test, **kw)
            point.update(val_alpha_test=float(alpha_test),
                         val_a_sa=100 * metrics.a_sa(robust.correct, robust.margin, alpha_test),
                         val_a_tr=100 * metrics.a_tr(weighted.correct, weighted.margin, alpha_test))
    point["val_s"] = time.perf_counter() - started
    return point


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
    step_size = config.step_size_at(eps)
    if eps > 0 and config.attack_steps > 0:
        attack = pgd if config.defense == Defense.PGD else trades_attack
        x_adv = attack(model, x, y=y, eps=eps, step_size=step_size, steps=config.attack_steps,
                       alpha=config.alpha_train, random_start=config.random_start,
                       generator=generator, x_start=x_start)
    else:
        x_adv = x
    net = model if wrapper is None else wrapper
    net.train()
    if config.defense == Defense.PGD:
        logits_adv = net(x_adv)
        loss = pgd_at_loss(logits_adv, y, config.alpha_train, config.detach_weights)
    else:
        logits_nat = net(x)
        logits_adv = net(x_adv)
        loss = trades_loss(logits_nat, logits_adv, y, config.beta, config.alpha_train,
                           config.detach_weights)
    return loss, logits_adv


def _state(config, model, optimizer, epoch, batch, generator, history, defense_state,
           curve, best) -> dict:
    state = {"config_key": config.key(), "model_name": config.model, "config": asdict(config),
             "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "epoch": epoch, "batch": batch, "torch_rng": torch.get_rng_state(),
             "attack_rng": generator.get_state(), "history": history,
             "defense_state": defense_state, "curve": curve}
    if best:  # the selection's best-so-far model (config.selection "best-val-rob")
        state["best"] = best
    return state


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
    # What a defense carries from batch to batch (Free-AT's perturbation, IAAT's radii): tensors,
    # saved in the checkpoint so that a resumed run continues exactly.
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    val: ImageData | None = None  # the validation split, probed at the quarters of each epoch
    curve: list[dict] = field(default_factory=list)
    # config.selection "best-val-rob": the best model so far by end-of-epoch validation A_rob
    # ({"epoch", "val_a_rob", "model"}), kept in every checkpoint so that a resumed run keeps it.
    best: dict = field(default_factory=dict)

    def save(self, epoch: int, batch: int) -> None:
        """Write the checkpoint (rank 0 only) at the position (epoch, next batch)."""
        if self.checkpoint is not None and distributed.is_main():
            save_checkpoint(_state(self.config, self.model, self.optimizer, epoch, batch,
                                   self.generator, self.history, self.state, self.curve,
                                   self.best),
                            self.checkpoint)
            self.last_save = time.perf_counter()

    def select(self, epoch: int, point: dict) -> None:
        """Keep the model as the best so far when its end-of-epoch validation A_rob beats the
        best one's (a tie keeps the earlier epoch); a no-op unless ``config.selection`` is
        "best-val-rob"."""
        if self.config.selection != "best-val-rob":
            return
        if not self.best or point["val_a_rob"] > self.best["val_a_rob"]:
            self.best = {"epoch": epoch, "val_a_rob": float(point["val_a_rob"]),
                         "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()}}

    def guard(self, loss: torch.Tensor, batch: defenses.Batch) -> None:
        """Raise FloatingPointError if ``loss`` is not finite (checked on every rank, so none
        waits at an all-reduce); the last checkpoint is kept."""
        world = distributed.world_size()
        finite = torch.isfinite(loss.detach()).float()
        if (distributed.all_sum(finite) if world > 1 else finite).item() < world:
            raise FloatingPointError(
                f"training loss became {loss.item()} in epoch {batch.epoch + 1}, batch "
                f"{batch.number + 1}; lower the learning rate or check the inputs (the last "
                "checkpoint is kept)")

    def descend(self, loss: torch.Tensor, batch: defenses.Batch) -> None:
        """Take one optimizer step on ``loss`` once it is known to be finite."""
        self.guard(loss, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


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
    # Checkpoints written before the extra baselines existed carry no defense state.
    loop.state = {k: v.to(loop.device) for k, v in state.get("defense_state", {}).items()}
    loop.curve = list(state.get("curve", []))
    loop.best = dict(state.get("best", {}))
    return state["epoch"], state["batch"], (state["epoch"], state["batch"])


def _minimax_update(loop: _Loop, batch: defenses.Batch) -> defenses.Outcome:
    """PGD-AT's or TRADES's update of one minibatch: attack it, then one step on the loss."""
    config, x, y = loop.config, batch.x, batch.y
    # The start of the whole batch, then this process's slice: data-parallel runs start where a
    # one-process run would.
    attacked = batch.eps > 0 and config.attack_steps > 0
    x_start = random_start(x, batch.eps, config.random_start, loop.generator) if attacked else None
    if distributed.world_size() > 1:
        x, y = distributed.shard(x), distributed.shard(y)
        x_start = None if x_start is None else distributed.shard(x_start)
    with autocast(loop.device, config.precision):
        loss, logits_adv = adversarial_loss(loop.model, x, y, config, batch.eps, loop.generator,
                                            wrapper=loop.net, x_start=x_start)
    loop.descend(loss, batch)
    return loss.detach() * len(y), (logits_adv.detach().argmax(1) == y).sum(), len(y)


# One minibatch's update per defense: (loop, batch) -> (summed loss, correct count, examples).
UPDATES: dict[str, Callable[[_Loop, defenses.Batch], defenses.Outcome]] = {
    Defense.PGD: _minimax_update, Defense.TRADES: _minimax_update,
    Defense.FREE: defenses.free_update, Defense.YOPO: defenses.yopo_update,
    Defense.IAAT: defenses.iaat_update,
}


def _train_epoch(loop: _Loop, epoch: int, first: int) -> tuple[float, float, int]:
    """Train one pass from batch ``first``; return the summed loss, correct count and examples seen."""
    config, world = loop.config, distributed.world_size()
    total = loop.per_epoch * passes(config)
    update = UPDATES[config.defense]
    loop.net.train()
    loss_sum = torch.zeros((), device=loop.device)
    correct = torch.zeros((), device=loop.device)
    seen = 0
    order = epoch_order(len(loop.data), shuffle=True, seed=config.seed, epoch=epoch).to(loop.device)
    batches = iterate_batches(loop.data, config.batch_size, shuffle=True, seed=config.seed,
                              epoch=epoch, start_batch=first, augment=config.augment,
                              device=loop.device)
    bar = tqdm(batches, total=loop.per_epoch - first, leave=False,
               disable=not loop.progress or not distributed.is_main(),
               desc=f"{config.label} α={config.alpha_train:g} epoch {epoch + 1}/{passes(config)}")
    probe_after = curve_batches(loop.per_epoch) if loop.val is not None else set()
    for i, (x, y) in enumerate(bar, start=first):
        step = epoch * loop.per_epoch + i
        for group in loop.optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(config, step / total)
        index = order[i * config.batch_size:(i + 1) * config.batch_size]
        batch = defenses.Batch(x, y, index, eps_at(config, step / total), epoch, i)
        batch_loss, batch_correct, n = update(loop, batch)
        loss_sum += batch_loss
        correct += batch_correct
        seen += n
        if i + 1 in probe_after and distributed.is_main():
            # The end of the epoch is its selection check and adds the weighted probe.
            end = i + 1 == loop.per_epoch
            point = {"epoch": epoch + (i + 1) / loop.per_epoch,
                     "lr": loop.optimizer.param_groups[0]["lr"], "train_eps": batch.eps}
            point.update(validation_point(loop.model, loop.val, config, loop.device,
                                          config.val_alpha_test if end else 0.0))
            loop.curve.append(point)
            if end:
                loop.select(epoch + 1, point)
            loop.net.train()
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
    if loop.best:
        entry.update(selected_epoch=loop.best["epoch"], selected_val_a_rob=loop.best["val_a_rob"])
    loop.history.append(entry)


def selection_record(loop: _Loop) -> dict:
    """Return the run's model-selection record: the rule, the selected epoch and its validation
    A_rob, and the final model's last validation point (robust overfitting shows as the gap);
    empty for the rule "final"."""
    if loop.config.selection == "final" or not loop.best:
        return {}
    final = next((p for p in reversed(loop.curve) if "val_a_rob" in p), {})
    return {"rule": loop.config.selection, "epoch": loop.best["epoch"],
            "val_a_rob": loop.best["val_a_rob"], "final_epoch": len(loop.history),
            "final": {k: v for k, v in final.items() if k.startswith("val_") or k == "epoch"}}


def train_model(config: RunConfig, data: ImageData, *, device: str | torch.device | None = None,
                checkpoint: str | Path | None = None, checkpoint_every_s: float = 300.0,
                progress: bool = True, probe: EpochProbe | None = None,
                allow_emulated_bf16: bool = False, until_epoch: int | None = None) -> TrainResult:
    """Train ``config``'s model on ``data``; resume from ``checkpoint`` when it exists.

    The checkpoint is written at the end of every epoch and every ``checkpoint_every_s``
    seconds, with the model, optimizer, RNG states and the position in the data order, so a
    resumed CPU run ends bitwise-identical to an uninterrupted one. ``probe(model, epoch)``,
    when given, runs after every epoch (model in eval mode) and its dict joins that epoch's
    history entry: the learning curves. bf16 on a device without native bf16 raises
    :class:`wmrlib.compute.device.EmulatedBF16Error` unless ``allow_emulated_bf16``.

    With ``config.val_size`` > 0 the loop holds out that many training images
    (:func:`wmrlib.compute.data.validation_split`), trains on the rest, and after each quarter of every
    epoch records the validation A_nat and A_rob in ``TrainResult.curve``: the learning curves
    the collapse detector reads. ``until_epoch`` stops after that many passes (a pilot's
    truncated schedule: the lr schedule and ε ramp stay those of ``config.epochs``). The point
    at the end of each epoch also holds A_sa and A_tr at ``config.val_alpha_test`` when that is
    > 0. With ``config.selection`` "best-val-rob" that point is the selection check: the model
    returned (and stored) is the one of the epoch with the highest validation A_rob (a tie keeps
    the earlier epoch), the best so far travels in every checkpoint, each history entry names
    the epoch selected so far, and ``TrainResult.selection`` records the rule, the epoch and the
    final model's validation point.

    Under ``torchrun`` with N > 1 processes (see ``wmrlib.compute.distributed``) every process reads the
    same global batches of ``config.batch_size`` examples and trains on its 1/N slice of each
    through DistributedDataParallel; the random starts (drawn for the whole batch, then sliced)
    and the dropout masks are the slices of those one process would draw. The result equals a
    one-process run up to the order of floating-point sums, except for batch norm on the CPU
    (see ``distributed.wrap``). The batch size and the last batch of an epoch must be multiples
    of N. Only rank 0 writes the checkpoint; every process resumes from it, and checkpoints
    move freely between runs with different N. Free-AT, YOPO and IAAT (``wmrlib.compute.defenses``)
    train in one process only; Free-AT's ``epochs`` are paper-equivalent epochs and its history
    has one entry per pass over the data (see :func:`passes`).
    """
    device = distributed.init_from_env(device)
    if config.precision == "bf16":
        require_native_bf16(device, allow_emulated=allow_emulated_bf16)
    world = distributed.world_size()
    if world > 1 and not is_family(config.defense):
        raise ValueError(f"defense {config.defense!r} trains in one process only; run it without "
                         "torchrun (data-parallel training covers 'pgd' and 'trades')")
    data, val = validation_split(data, config.val_size)
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
                 progress, num_batches(len(data), config.batch_size, drop_last=False),
                 val=val if config.val_size > 0 else None)
    start_epoch, start_batch, resumed = _resume(loop)
    if world > 1:
        loop.net = distributed.wrap(model, device)

    started = loop.last_save = time.perf_counter()
    stop = passes(config) if until_epoch is None else min(until_epoch, passes(config))
    for epoch in range(start_epoch, stop):
        first = start_batch if epoch == start_epoch else 0
        loss_sum, correct, seen = _train_epoch(loop, epoch, first)
        _epoch_record(loop, epoch, loss_sum, correct, seen, probe)
        loop.save(epoch + 1, 0)
    selection = selection_record(loop)
    if selection:  # the stored model is the selected one
        model.load_state_dict(loop.best["model"])
    model = model.to(memory_format=torch.contiguous_format).eval()
    return TrainResult(model, loop.history, loop.curve, time.perf_counter() - started, resumed,
                       loop.state, selection)
