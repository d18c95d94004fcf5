"""Expected wall time of a profile's jobs on this machine, from a short measured calibration.

``calibrate`` times real training batches (per model, defense, attack steps, batch size and
precision the jobs use) and real evaluation attack steps, in ``workers`` processes at once so
that the measurement includes the slow-down of jobs running side by side. ``estimate`` turns
that into each job's remaining wall time (what is stored costs nothing; a checkpoint resumes),
and ``schedule`` places the jobs on the workers in the order a local pool starts them.
"""
from __future__ import annotations

import math
import os
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from ..compute.adaptive import step_equivalents
from ..compute.checkpoint import CheckpointError, load_checkpoint
from ..compute.data import num_batches, synthetic
from ..compute.device import busy_cores, cpu_info, default_device
from ..compute.train import CURVE_POINTS, passes, train_model
from ..core.datasets import spec as _spec
from ..experiment.config import RunConfig, validation_attack
from ..experiment.registry import Defense, is_pgd
from ..method.attacks import pgd
from ..method.models import build_model
from .jobs import Job
from .pools import worker_pool
import torch

EVAL_STEPS = (2, 6)  # two attack lengths; their difference is the cost of the extra steps
EVAL_BATCH = 250     # the evaluation attack's batch (Store's default is larger; time per image is flat)
# The largest batch the calibration times per model, so that plan stays within about 2 GB on every
# profile (measured on the CPU: the imports take 0.8 GB; a TRADES training step of ResNet-50 at
# 64x64 adds about 0.6 GB per image, of ResNet-18 at 32x32 about 50 MB); a larger batch is timed
# at this size and its time scaled by the batch ratio.
CALIBRATION_BATCH = {"smallcnn": 128, "resnet18": 16, "resnet50": 1}
# Each timing is the median of this many (short, long) pairs: with one pair, two runs of plan on
# the same AMD EPYC, 90 min apart, expected 42.4 and 56.7 min for the same kind of TRADES job
# (one took 45).
TIMING_REPEATS = 3


def median_extra_time(short: Callable[[], object], long: Callable[[], object], *,
                      repeats: int = TIMING_REPEATS, sync: Callable[[], object] = lambda: None,
                      clock: Callable[[], float] = time.perf_counter) -> float:
    """Return the median, over ``repeats`` runs of ``short`` then ``long``, of how much longer
    ``long`` took (the cost of its extra work, free of the fixed cost both share); ``sync`` runs
    before each timed call.

    Example:
        >>> ticks = iter([0, 1, 1, 4,  4, 5, 5, 9,  9, 10, 10, 12])  # pairs: (1, 3) (1, 4) (1, 2)
        >>> median_extra_time(lambda: None, lambda: None, clock=lambda: next(ticks))
        2
    """
    extra = []
    for _ in range(repeats):
        took = []
        for run in (short, long):
            sync()
            started = clock()
            run()
            took.append(clock() - started)
        extra.append(took[1] - took[0])
    return statistics.median(extra)


def _train_combo(config) -> tuple:
    # Everything that changes the cost of one training batch.
    return (config.dataset, config.model, config.defense, config.attack_steps, config.batch_size,
            config.precision, config.replays, config.inner_steps)


@dataclass
class Calibration:
    """Measured seconds per training batch (per combination) and per evaluation image-step."""

    train_batch_s: dict[tuple, float]
    eval_image_step_s: dict[tuple, float]   # (dataset, model) -> s per image and attack step
    workers: int
    threads: int | None
    wall_time_s: float
    cpu: dict = field(default_factory=dict)


def calibration_batch(model: str, batch: int) -> int:
    """Return the batch the calibration times in place of ``batch`` images on ``model``: the
    batch itself, or ``CALIBRATION_BATCH[model]`` when that is smaller."""
    return max(1, min(batch, CALIBRATION_BATCH.get(model, 1)))


def eval_batches(jobs: list[Job]) -> dict[tuple[str, str], int]:
    """Return the batch the calibration attacks per (dataset, model): ``EVAL_BATCH``, at most the
    fewest test images any of the jobs' units evaluates, within ``calibration_batch``."""
    out: dict[tuple[str, str], int] = {}
    for job in jobs:
        key = (job.config.dataset, job.config.model)
        sizes = [n or _spec(job.config.dataset).test_size for a, _alpha, n in job.units
                 if a is not None]
        batch = min([EVAL_BATCH, *sizes])
        out[key] = min(out.get(key, batch), calibration_batch(job.config.model, batch))
    return out


def _measure(combos: list[tuple], evals: dict[tuple, int], threads: int | None,
             device: str | None, barrier=None) -> tuple[dict, dict]:
    """Time real training batches and attack steps on synthetic tensors of the datasets' shapes;
    with ``barrier`` (shared by workers side by side), every worker starts each timing at once."""
    if threads:
        torch.set_num_threads(threads)
    # Unaligned workers time some steps while the others still import or set up, and so miss
    # the contention the campaign's workers meet all the time.
    sync = barrier.wait if barrier is not None else (lambda: None)
    train, evaluate = {}, {}
    for combo in combos:
        dataset, model, defense, steps, batch, precision, replays, inner = combo
        # One pass over the calibration batches; IAAT is timed after its warm-up (its dearer
        # adaptive phase), Free-AT for one pass of its replays.
        config = RunConfig(dataset=dataset, model=model, defense=defense, attack_steps=steps,
                           batch_size=batch, precision=precision,
                           epochs=replays if defense == Defense.FREE else 1, optimizer="adam",
                           lr=1e-3, schedule="constant", milestones=(),
                           step_size=0.01, alpha_train=0.5, replays=replays, inner_steps=inner,
                           iaat_warmup=0)
        timed = calibration_batch(model, batch)
        config = config.replace(batch_size=timed)
        runs = []
        for n_batches in (1, 3):
            data = synthetic(dataset, timed * n_batches, seed=1)
            sized = config.replace(train_size=timed * n_batches)
            runs.append(lambda sized=sized, data=data: train_model(
                sized, data, device=device, progress=False, allow_emulated_bf16=True))
        extra = median_extra_time(*runs, sync=sync)
        train[combo] = max(extra, 1e-6) / 2 * batch / timed
    for (dataset, model_name), eval_batch in evals.items():
        data = synthetic(dataset, eval_batch, train=False, seed=2)
        x, y = data.to_float(slice(None))
        model = build_model(model_name, data.num_classes).eval()
        short, long = (lambda steps=steps: pgd(model, x, y, eps=0.1, step_size=0.01, steps=steps,
                                               alpha=1.0) for steps in EVAL_STEPS)
        extra = median_extra_time(short, long, sync=sync)
        evaluate[(dataset, model_name)] = max(extra, 1e-9) / (
            (EVAL_STEPS[1] - EVAL_STEPS[0]) * eval_batch)
    return train, evaluate


def busy_machine_warning(busy: float, cores: int, *, source: str = "CPU time over 0.5 s",
                         threshold: float = 0.5) -> str | None:
    """Return a warning when ``busy`` cores' worth of other work (at least ``threshold``; measured
    by ``source``) runs on this machine of ``cores`` cores: a calibration then times a shared CPU.
    Else None.

    Example:
        >>> busy_machine_warning(0.1, 2) is None
        True
    """
    if busy < threshold:
        return None
    return (f"the machine is busy ({busy:.1f} of {cores} cores in use, from {source}): the "
            "calibration times a shared CPU, so the expected minutes are too high for an idle "
            "machine and mean little; calibrate again (plan, reproduce --budget-min) when nothing "
            "else runs")


def _busy_warning() -> str | None:
    """The busy-machine warning from the CPU time all processes use now (/proc/stat), or from the
    1-minute load average where there is no /proc/stat; None where neither exists."""
    cores = os.cpu_count() or 1
    busy = busy_cores()
    if busy is not None:
        return busy_machine_warning(busy, cores)
    if hasattr(os, "getloadavg"):  # lags a minute behind, so only a whole busy core counts
        return busy_machine_warning(os.getloadavg()[0], cores, source="the 1-minute load average",
                                    threshold=1.0)
    return None


def calibrate(jobs: list[Job], *, workers: int = 1, threads: int | None = None,
              device: str | None = None) -> Calibration:
    """Time the jobs' training and attack steps here, in ``workers`` processes side by side, at
    the jobs' own sizes (:func:`calibration_batch`, :func:`eval_batches`); warns first when the
    CPU is busy with other work (:func:`busy_machine_warning`)."""
    if default_device(device).type == "cpu":
        busy = _busy_warning()
        if busy:
            warnings.warn(busy, stacklevel=2)
    combos = sorted({_train_combo(j.config) for j in jobs})
    evals = eval_batches(jobs)
    started = time.perf_counter()
    args = (combos, evals, threads, device)
    if workers == 1:
        measured = [_measure(*args)]
    else:
        context = get_context("spawn")
        with context.Manager() as manager, worker_pool(workers) as pool:
            barrier = manager.Barrier(workers, timeout=600)  # a failed worker cannot hang the rest
            measured = [f.result() for f in [pool.submit(_measure, *args, barrier)
                                             for _ in range(workers)]]
    train = {c: sum(m[0][c] for m in measured) / len(measured) for c in combos}
    evaluate = {e: sum(m[1][e] for m in measured) / len(measured) for e in evals}
    return Calibration(train, evaluate, workers, threads, time.perf_counter() - started,
                       cpu_info())


@dataclass
class Estimate:
    """One job's expected remaining wall time, split into training and evaluation."""

    job: Job
    train_s: float
    eval_s: float
    trained: bool        # already stored
    resume_at: tuple[int, int] | None  # (epoch, batch) of a checkpoint it would resume from
    units_left: int

    @property
    def total_s(self) -> float:
        """Return the job's expected remaining wall time in seconds."""
        return self.train_s + self.eval_s


def training_batches(config: RunConfig) -> tuple[int, int]:
    """Return (batches per pass, batches in all) of ``config``'s training run on its real data:
    train.py holds the validation split out first, then takes ``train_size`` of the rest;
    Free-AT counts its passes over the data (:func:`wmrlib.compute.train.passes`)."""
    n_train = config.train_size or _spec(config.dataset).train_size - config.val_size
    per_epoch = num_batches(n_train, config.batch_size, drop_last=False)
    return per_epoch, passes(config) * per_epoch


def unit_steps(job: Job, store, attack, alpha: float, n: int | None) -> float:
    """Return one evaluation unit's cost in image-steps (examples × PGD-step equivalents + the
    final pass); AutoAttack's dear stages scale with the job's stored PGD robust accuracy."""
    n = n or _spec(job.config.dataset).test_size
    if attack is None:
        return float(n)
    survival = _pgd_survival(job, store, attack.eps)
    return n * (step_equivalents(attack, alpha, survival) + 1)


def validation_steps(config: RunConfig) -> float:
    """Return the image-steps of one pass's validation probes: clean + PGD-20 on the split at each
    quarter, and the weighted PGD-20 at the pass's end when ``config.val_alpha_test`` > 0."""
    if not config.val_size:
        return 0.0
    probe = CURVE_POINTS * (step_equivalents(validation_attack(config)) + 2)
    if config.val_alpha_test > 0:
        probe += step_equivalents(validation_attack(config)) + 1
    return config.val_size * probe


def estimate(job: Job, calibration: Calibration, store) -> Estimate:
    """Return ``job``'s expected remaining wall time in ``store`` (stored parts cost nothing)."""
    config = job.config
    per_step = calibration.eval_image_step_s[(config.dataset, config.model)]
    trained = store.has_run(config)
    resume_at, train_s = None, 0.0
    if not trained:
        per_epoch, total = training_batches(config)
        done = 0
        checkpoint = store.checkpoint_path(config)
        if checkpoint.exists():
            resume_at = _checkpoint_position(checkpoint)
            if resume_at is not None:
                done = resume_at[0] * per_epoch + resume_at[1]
        batches = max(total - done, 0)
        train_s = batches * calibration.train_batch_s[_train_combo(config)]
        if job.curve is not None:  # clean + unweighted + weighted attack after every epoch left
            attack, _alpha, n = job.curve
            epochs_left = math.ceil(batches / per_epoch)
            train_s += epochs_left * n * (2 * attack.steps * attack.restarts + 1) * per_step
        # the validation probes of the passes left (clean + PGD each quarter, weighted at the end)
        train_s += batches / per_epoch * validation_steps(config) * per_step
    eval_s, left = 0.0, 0
    for attack, alpha, n in job.units:
        if store.has_unit(config, attack, alpha, eval_size=n, eval_seed=job.eval_seed):
            continue
        left += 1
        eval_s += unit_steps(job, store, attack, alpha, n) * per_step
    return Estimate(job, train_s, eval_s, trained, resume_at, left)


def _pgd_survival(job: Job, store, eps: float) -> float:
    """Return the lowest robust accuracy (a fraction) among the job's stored unweighted PGD
    units at ``eps``, or 1 when none is stored: AutoAttack's dear stages attack only the images
    its first stage leaves correct, so a model PGD breaks costs far less than a robust one."""
    survival = 1.0
    for attack, alpha, n in job.units:
        if (not is_pgd(attack) or alpha != 0 or attack.eps != eps
                or not store.has_unit(job.config, attack, 0.0, eval_size=n, eval_seed=job.eval_seed)):
            continue
        record = store.get_or_attack(job.config, attack, 0.0, eval_size=n, eval_seed=job.eval_seed)
        survival = min(survival, float(record.correct.mean()))  # stored: read, not attacked
    return survival


def _checkpoint_position(path: Path) -> tuple[int, int] | None:
    try:
        state = load_checkpoint(path)
    except CheckpointError:
        return None  # a corrupt checkpoint is replaced by a fresh start
    return int(state["epoch"]), int(state["batch"])


def schedule(estimates: list[Estimate], workers: int, budget_s: float | None = None
             ) -> tuple[list[Estimate], list[Estimate], float]:
    """Place jobs on ``workers`` in order (each on the first free worker); return (started,
    deferred, expected wall time). With ``budget_s``, a job that would end after it is deferred."""
    free = [0.0] * workers
    started, deferred = [], []
    for est in estimates:
        if est.total_s == 0:
            continue
        w = min(range(workers), key=free.__getitem__)
        if budget_s is not None and free[w] + est.total_s > budget_s:
            deferred.append(est)
            continue
        free[w] += est.total_s
        started.append(est)
    return started, deferred, max(free)
