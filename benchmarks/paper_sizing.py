#!/usr/bin/env python
"""Size the ``paper`` profile: FLOPs from the plan, CPU-days measured here, GPU-hours assumed.

What is counted, what is measured and what is assumed, in that order:

1. **Counted** (``torch.utils.flop_counter.FlopCounterMode``, batch ``--count-batch``, divided
   per image): one forward pass; one attack step as ``wmrlib.method.attacks.pgd`` runs it (eval mode,
   forward + ``torch.autograd.grad`` w.r.t. the input only); one TRADES attack step
   (``trades_attack``, whose clean forward runs once per call); and one whole training step of
   each defense (``wmrlib.compute.train.adversarial_loss`` with a 1-step attack, ``loss.backward()``
   with weight gradients, the optimizer step), from which the attack step is subtracted to get
   the outer update (for TRADES: the attack's clean forward, the clean and adversarial forward
   passes in train mode and their backward). The real wmrlib functions run under the counter,
   with its module tracker replaced by a global-only one (the tracker's backward hooks do not
   support ``torch.autograd.grad``). The number of aten operators dispatched per call is counted
   alongside (for the GPU launch-overhead floor below).
2. **Totals from the plan** (``profile("paper").plan(d)``, nothing hard-coded): training = Σ over
   ``plan.models()`` (+ ``plan.precision_models()``) of train images × epochs × (attack steps ×
   attack-step FLOPs + outer-update FLOPs); evaluation = Σ over models × ``plan.units(model)`` of
   test images × (steps × restarts × attack-step FLOPs + the forward pass that scores the unit,
   + one forward per restart when restarts > 1). Dataset sizes come from ``wmrlib.compute.data.DATASETS``.
3. **Measured here**: image-steps/s of ``wmrlib.method.attacks.pgd`` on SmallCNN, ResNet-18 and
   ResNet-50 (fp32, random init, a few seconds each) and the fp32 ``torch.mm`` rate, giving an
   achieved GFLOP/s and the CPU-days of the profile on this machine.
4. **Assumed** (no GPU here): vendor dense peaks of a few GPUs times an achieved fraction of peak
   (``--fraction``, default 20-50 %), with a floor of ``--op-us`` microseconds per dispatched
   aten operator for eager PyTorch (what bounds SmallCNN on a GPU: its steps are tiny).

Usage (from the repository root; keep the CPU load small on a shared machine)::

    OMP_NUM_THREADS=1 python benchmarks/paper_sizing.py --out benchmarks/paper-sizing.md
"""
from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from wmrlib.method.attacks import pgd, trades_attack
from wmrlib.experiment.config import RunConfig
from wmrlib.compute.data import DATASETS
from wmrlib.method.models import build_model
from wmrlib.experiment.profiles import DatasetPlan, Profile, profile
from wmrlib.workflow.store import Store
from wmrlib.compute.train import adversarial_loss, make_optimizer
from _report import Report, cpu_name, fmt, load_avg  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

# benchmarks/README.md, full run on 2 quiet cores (default 2 threads), for comparison only.
README_QUIET_GFLOPS = {"smallcnn": 85.0, "resnet18": 175.0}
README_MATMUL = {"fp32": 152.0, "bf16": 368.0}  # fp32 from 85 GFLOP/s = 56 % of torch.mm

# Vendor dense peaks in TFLOP/s (data-sheet numbers, no sparsity). "fp32 as configured" is what
# the paper profile (precision fp32) gets from PyTorch's defaults: cuDNN convolutions may use
# TF32 (torch.backends.cudnn.allow_tf32 defaults to True), so on Ampere and later the conv peak
# is the TF32 tensor-core peak; V100 has no TF32 and runs fp32 on CUDA cores.
GPUS = [
    # name, mode, peak TFLOP/s, note
    ("V100 SXM2", "fp32 as configured (no TF32)", 15.7, "fp32 CUDA cores"),
    ("V100 SXM2", "fp16 AMP", 125.0, "fp16 tensor cores; wmrlib's AMP is bf16 only and V100 has "
                                     "no bf16 tensor cores, so this needs an fp16+GradScaler path"),
    ("A100 SXM/PCIe", "fp32 as configured (TF32 convs)", 156.0, "TF32 tensor cores (fp32 19.5)"),
    ("A100 SXM/PCIe", "bf16 AMP (precision=\"bf16\")", 312.0, "bf16 tensor cores"),
    ("H100 SXM", "fp32 as configured (TF32 convs)", 494.7, "TF32 tensor cores (fp32 67)"),
    ("H100 SXM", "bf16 AMP (precision=\"bf16\")", 989.4, "bf16 tensor cores"),
    ("RTX 4090", "fp32 as configured (TF32 convs)", 82.6, "TF32 tensor = fp32 CUDA-core peak 82.6"),
    ("RTX 4090", "bf16 AMP (precision=\"bf16\")", 165.2, "bf16 tensor, fp32 accumulate"),
]


# --- output --------------------------------------------------------------------------------------

def span(lo: float, hi: float, digits: int = 0) -> str:
    return f"{fmt(lo, digits)} – {fmt(hi, digits)}"


# --- the run: options, header --------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line (``argv`` None: ``sys.argv``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="also write the markdown report to this file")
    ap.add_argument("--profile", default="paper", help="profile to size (default: paper)")
    ap.add_argument("--count-batch", type=int, default=2, help="batch used for FLOP counting")
    ap.add_argument("--time-budget", type=float, nargs=3, default=(3.0, 7.0, 6.0),
                    metavar=("SMALLCNN", "RESNET18", "RESNET50"),
                    help="seconds of PGD timing per model (0 skips; default 3 7 6)")
    ap.add_argument("--fraction", type=float, nargs=2, default=(0.2, 0.5), metavar=("LOW", "HIGH"),
                    help="ASSUMED achieved fraction of the GPU's dense peak (default 0.2 0.5)")
    ap.add_argument("--op-us", type=float, nargs=2, default=(4.0, 10.0), metavar=("LOW", "HIGH"),
                    help="ASSUMED eager-PyTorch cost per dispatched aten op on a GPU, µs")
    return ap.parse_args(argv)


@dataclass
class SizingRun:
    """What every section reads: the options, the profile, the report and the run's settings."""

    args: argparse.Namespace
    rep: Report
    prof: Profile
    eval_batch: int          # the evaluation batch (Store.eval_batch_size's default)
    threads: int             # torch threads of the counting and the timing
    omp: str | None          # OMP_NUM_THREADS, where set
    t_start: float


def start_run(args: argparse.Namespace) -> SizingRun:
    """Start the clock, look up the profile and the evaluation batch, note the threads."""
    t_start = time.perf_counter()
    rep = Report()
    prof = profile(args.profile)
    eval_batch = inspect.signature(Store.__init__).parameters["eval_batch_size"].default
    return SizingRun(args=args, rep=rep, prof=prof, eval_batch=eval_batch,
                     threads=torch.get_num_threads(), omp=os.environ.get("OMP_NUM_THREADS"),
                     t_start=t_start)


def report_header(run: SizingRun, argv: list[str] | None) -> None:
    """Report the command, the machine, torch and its threads, and the evaluation batch."""
    omp = run.omp
    command = "python " + " ".join([os.path.relpath(sys.argv[0])] + list(argv if argv is not None
                                                                          else sys.argv[1:]))
    run.rep.add(f"# Sizing the `{run.prof.name}` profile: FLOPs, CPU-days, GPU-hours")
    run.rep.add()
    run.rep.table(["item", "value"], [
        ["command", f"`{'OMP_NUM_THREADS=' + omp + ' ' if omp else ''}{command}`"],
        ["date", time.strftime("%Y-%m-%d %H:%M:%S %Z")],
        ["CPU", f"{cpu_name()}, {os.cpu_count()} logical CPUs"],
        ["torch", torch.__version__],
        ["torch threads (timing and counting)",
         f"{run.threads}" + (f" (OMP_NUM_THREADS={omp})" if omp else " (default)")],
        ["load average at start (1/5/15 min)", load_avg()],
        ["evaluation batch (Store.eval_batch_size default)", run.eval_batch],
    ])


# --- counting ------------------------------------------------------------------------------------

class _GlobalOnly:
    """Stands in for FlopCounterMode's ModuleTracker: everything is attributed to 'Global'.

    The tracker registers multi-grad hooks that raise under ``torch.autograd.grad`` (the call
    every wmrlib attack step makes); the FLOP formulas themselves do not need it.
    """

    parents = ("Global",)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return None


class _OpCounter(TorchDispatchMode):
    """Counts aten operators dispatched (views included, which launch no kernel)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def count(fn) -> tuple[float, int]:
    """Return (FLOPs, aten operator calls) of ``fn()``."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    ops = _OpCounter()
    with counter, ops:
        fn()
    return float(counter.get_total_flops()), ops.calls


@dataclass
class Cost:
    """FLOPs per image and aten operator calls per batch of one piece of work."""

    flops: float
    ops: int

    def __sub__(self, other: "Cost") -> "Cost":
        return Cost(self.flops - other.flops, self.ops - other.ops)


@dataclass
class ModelCosts:
    model: str
    params: int
    forward: Cost                  # eval-mode forward, no grad (scores an evaluation unit)
    step: dict[str, Cost]          # one attack step: "pgd" (wmrlib.method.attacks.pgd), "trades"
    outer: dict[str, Cost]         # the rest of one training step per defense (see module doc)
    pgd_once: Cost                 # per pgd() call beyond its steps (checks, start): ops only


def count_model(plan, batch: int) -> ModelCosts:
    """Count the FLOPs of the plan's model with the real wmrlib functions on ``batch`` images."""
    spec = DATASETS[plan.dataset]
    base: RunConfig = plan.base
    torch.manual_seed(0)
    model = build_model(base.model, spec.num_classes).eval()
    x = torch.rand(batch, *spec.shape)
    y = torch.arange(batch) % spec.num_classes
    att = dict(eps=plan.attack.eps, step_size=plan.attack.step_size, steps=1)

    def fwd():
        with torch.no_grad():
            model(x)

    forward = Cost(*count(fwd))
    pgd_call = Cost(*count(lambda: pgd(model, x, y, random_start="none", **att)))
    # trades_attack's one call = a no-grad clean forward + its steps; the forward is counted in
    # the outer update below (it runs once per training step, whatever the number of steps).
    trades_call = Cost(*count(lambda: trades_attack(model, x, y=y, alpha=plan.headline[1],
                                                    random_start="none", **att)))
    # Operators per step: a 2-step call minus a 1-step call, on one image (operator counts do
    # not depend on the batch); the rest of a call (input checks, start) runs once per call.
    x1, y1 = x[:1], y[:1]
    pgd_ops = (count(lambda: pgd(model, x1, y1, random_start="none", **{**att, "steps": 2}))[1]
               - count(lambda: pgd(model, x1, y1, random_start="none", **att))[1])
    trades_ops = (count(lambda: trades_attack(model, x1, y=y1, alpha=plan.headline[1],
                                              random_start="none", **{**att, "steps": 2}))[1]
                  - count(lambda: trades_attack(model, x1, y=y1, alpha=plan.headline[1],
                                                random_start="none", **att))[1])
    pgd_step = Cost(pgd_call.flops, pgd_ops)
    pgd_once = Cost(0.0, pgd_call.ops - pgd_ops)
    step = {"pgd": pgd_step, "trades": Cost(trades_call.flops - forward.flops, trades_ops)}
    outer = {}
    for defense, alpha in (("pgd", plan.headline[0]), ("trades", plan.headline[1])):
        cfg = base.replace(defense=defense, alpha_train=alpha, attack_steps=1)
        opt = make_optimizer(cfg, model)
        gen = torch.Generator().manual_seed(0)

        def train_step(cfg=cfg, opt=opt, gen=gen):
            loss, _ = adversarial_loss(model, x, y, cfg, cfg.eps, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        outer[defense] = Cost(*count(train_step)) - step[defense]
        model.eval()
    per_image = lambda c: Cost(c.flops / batch, c.ops)  # noqa: E731
    return ModelCosts(base.model, sum(p.numel() for p in model.parameters()), per_image(forward),
                      {k: per_image(v) for k, v in step.items()},
                      {k: per_image(v) for k, v in outer.items()}, pgd_once)


def count_flops_per_image(run: SizingRun) -> tuple[dict[str, DatasetPlan], dict[str, ModelCosts]]:
    """Section 1: count the FLOPs and operators per image of each plan's model; report them."""
    args, rep = run.args, run.rep
    t0 = time.perf_counter()
    plans = {d: run.prof.plan(d) for d in run.prof.plans}
    costs = {d: count_model(p, args.count_batch) for d, p in plans.items()}
    count_s = time.perf_counter() - t0
    rep.add("## 1. FLOPs per image (counted)")
    rep.add()
    rep.add(f"`FlopCounterMode` on the real wmrlib calls, batch {args.count_batch}, divided per "
            "image; fp32, random init. It counts convolutions and matrix products (forward and "
            "backward, with the backward's input/weight masks), not element-wise work (batch "
            "norm, ReLU, pooling, the loss, the projection, the SGD update). 'ops' = aten "
            f"operators dispatched per batch call. Counting took {count_s:.1f} s.")
    rep.add()
    rows = []
    for d, c in costs.items():
        spec = DATASETS[d]
        rows.append([d, f"{c.model} ({c.params / 1e6:.1f} M params)", "×".join(map(str, spec.shape)),
                     fmt(c.forward.flops / 1e9, 3), fmt(c.step["pgd"].flops / 1e9, 3),
                     fmt(c.step["trades"].flops / 1e9, 3), fmt(c.outer["pgd"].flops / 1e9, 3),
                     fmt(c.outer["trades"].flops / 1e9, 3),
                     f"{c.forward.ops} / {c.step['pgd'].ops} / {c.outer['pgd'].ops} / "
                     f"{c.outer['trades'].ops}"])
    rep.table(["dataset", "model", "input", "forward GFLOP", "PGD attack step GFLOP",
               "TRADES attack step GFLOP", "PGD-AT outer update GFLOP",
               "TRADES outer update GFLOP", "ops: fwd / step / outer PGD-AT / outer TRADES"], rows)
    rep.add("Attack step = forward + gradient w.r.t. the input only (`torch.autograd.grad`, eval "
            "mode), ≈ 2× the forward because the weight gradients are pruned. Outer update = one "
            "training step with a 1-step attack minus that step: PGD-AT one train-mode forward + "
            "backward with weight gradients (≈ 3× forward, the first convolution's input "
            "gradient is skipped); TRADES adds the attack's clean no-grad forward and the clean "
            "train-mode forward and backward (≈ 6× forward).")
    rep.add()
    return plans, costs


# --- totals from the plan ------------------------------------------------------------------------

@dataclass
class Totals:
    models: int = 0
    units: int = 0
    train_images: float = 0.0        # images through a training step (Σ train size × epochs)
    train_attack_steps: float = 0.0  # image-steps of the training attack
    train_flops: float = 0.0
    train_ops: float = 0.0           # aten operator calls (per batch) over the whole training
    eval_attack_steps: float = 0.0   # image-steps of the evaluation attacks
    eval_forwards: float = 0.0       # image forward passes scoring the units (clean included)
    eval_flops: float = 0.0
    eval_ops: float = 0.0


def plan_totals(plan, costs: ModelCosts, eval_batch: int) -> Totals:
    spec = DATASETS[plan.dataset]
    t = Totals()
    for config in plan.models() + plan.precision_models():
        t.models += 1
        n_train = config.train_size or spec.train_size
        batches = math.ceil(n_train / config.batch_size) * config.epochs
        step, outer = costs.step[config.defense], costs.outer[config.defense]
        images = n_train * config.epochs
        t.train_images += images
        t.train_attack_steps += images * config.attack_steps
        t.train_flops += images * (config.attack_steps * step.flops + outer.flops)
        t.train_ops += batches * (config.attack_steps * step.ops + outer.ops)
        for attack, _alpha, n_eval in plan.units(config):
            n_eval = n_eval or spec.test_size
            eval_batches = math.ceil(n_eval / eval_batch)
            t.units += 1
            if attack is None:
                steps, forwards = 0, 1
            else:
                steps = attack.steps * attack.restarts
                forwards = 1 + (attack.restarts if attack.restarts > 1 else 0)
            t.eval_attack_steps += n_eval * steps
            t.eval_forwards += n_eval * forwards
            t.eval_flops += n_eval * (steps * costs.step["pgd"].flops + forwards * costs.forward.flops)
            calls = 0 if attack is None else attack.restarts
            t.eval_ops += eval_batches * (steps * costs.step["pgd"].ops + calls * costs.pgd_once.ops
                                          + forwards * costs.forward.ops)
    return t


def sum_totals(totals: Iterable[Totals]) -> Totals:
    """Field-wise sum of ``totals``."""
    tt = Totals()
    for t in totals:
        for k in vars(tt):
            setattr(tt, k, getattr(tt, k) + getattr(t, k))
    return tt


def report_plan_work(run: SizingRun, plans: dict[str, DatasetPlan],
                     costs: dict[str, ModelCosts]) -> tuple[dict[str, Totals], Totals]:
    """Section 2: training and evaluation work of each plan and in all; return (per plan, all)."""
    rep = run.rep
    totals = {d: plan_totals(p, costs[d], run.eval_batch) for d, p in plans.items()}
    rep.add("## 2. Work of the profile (from the plan)")
    rep.add()
    rows = []
    for d, p in plans.items():
        t, b, spec = totals[d], p.base, DATASETS[d]
        rows.append([d, t.models, f"{b.train_size or spec.train_size:,} × {b.epochs} ep., "
                                   f"{b.attack_steps}-step attack, batch {b.batch_size}",
                     fmt(t.train_images / 1e6, 1), fmt(t.train_attack_steps / 1e9, 2),
                     fmt(t.train_flops / 1e15, 1), t.units,
                     f"{p.eval_size or spec.test_size:,}", fmt(t.eval_attack_steps / 1e6, 1),
                     fmt(t.eval_flops / 1e15, 2),
                     fmt((t.train_flops + t.eval_flops) / 1e15, 1)])
    tt = sum_totals(totals.values())
    rows.append(["**total**", tt.models, "", fmt(tt.train_images / 1e6, 1),
                 fmt(tt.train_attack_steps / 1e9, 2), f"**{fmt(tt.train_flops / 1e15, 1)}**",
                 tt.units, "", fmt(tt.eval_attack_steps / 1e6, 1),
                 f"**{fmt(tt.eval_flops / 1e15, 2)}**",
                 f"**{fmt((tt.train_flops + tt.eval_flops) / 1e15, 1)}**"])
    rep.table(["dataset", "models", "training per model", "train images (M)",
               "train attack image-steps (G)", "train PFLOP", "eval units", "test images per unit",
               "eval attack image-steps (M)", "eval PFLOP", "total PFLOP"], rows)
    rep.add("Training PFLOP = Σ over `plan.models()` of train images × epochs × (attack steps × "
            "attack-step FLOPs + outer-update FLOPs). Evaluation PFLOP = Σ over models × "
            "`plan.units(model)` of test images × (steps × restarts × attack-step FLOPs + one "
            "forward scoring the unit). Per dataset, the models and units:")
    rep.add()
    report_models_and_units(rep, plans)
    return totals, tt


def report_models_and_units(rep: Report, plans: dict[str, DatasetPlan]) -> None:
    """One line per plan: its models by label, its seeds and its evaluation units."""
    for d, p in plans.items():
        models = p.models() + p.precision_models()
        units = [len(p.units(m)) for m in models]
        labels = defaultdict(int)
        for m in models:
            labels[m.label] += 1
        rep.add(f"- {d}: {len(models)} models ("
                + ", ".join(f"{k} {v}" for k, v in labels.items())
                + f"; seeds {list(p.seeds)}), {sum(units)} units "
                f"({min(units)}–{max(units)} per model: clean; main attack "
                f"{p.attack.steps}-step uniform and at α_test {list(p.alpha_tests)}"
                + (f"; ε sweep {list(p.eps_tests)}" if p.eps_tests else "")
                + (f"; {len(p.other_attacks)} other attacks "
                   f"({', '.join(f'{a.steps}-step {a.loss}' for a in p.other_attacks)})"
                   if p.other_attacks else "") + ").")
    rep.add()


# --- CPU timing ----------------------------------------------------------------------------------

def time_pgd(name: str, num_classes: int, shape, batch: int, budget_s: float) -> tuple[float, int]:
    """Return (image-steps/s, timed steps) of 1-step wmrlib PGD calls for about ``budget_s``.

    One warm-up call first (inside the budget); the rate is over all timed calls after it.
    """
    torch.manual_seed(0)
    model = build_model(name, num_classes).eval()
    x = torch.rand(batch, *shape)
    y = torch.arange(batch) % num_classes
    start = time.perf_counter()
    pgd(model, x, y, eps=0.03, step_size=0.01, steps=1, random_start="none")
    n, t0 = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < budget_s:
        pgd(model, x, y, eps=0.03, step_size=0.01, steps=1, random_start="none")
        n += 1
    return n * batch / (time.perf_counter() - t0), n


def time_matmul(n: int, budget_s: float) -> float:
    """fp32 torch.mm GFLOP/s on n×n matrices for about ``budget_s`` (one warm-up call)."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    start = time.perf_counter()
    torch.mm(a, b)
    k, t0 = 0, time.perf_counter()
    while k == 0 or time.perf_counter() - start < budget_s:
        torch.mm(a, b)
        k += 1
    return 2 * n ** 3 * k / (time.perf_counter() - t0) / 1e9


def measure_cpu_gflops(run: SizingRun,
                       costs: dict[str, ModelCosts]) -> tuple[dict[str, float], float]:
    """Section 3: this CPU's achieved GFLOP/s per model on 1-step PGD, and its fp32 matmul rate."""
    args, rep = run.args, run.rep
    rep.add("## 3. This CPU (measured now)")
    rep.add()
    specs = {"smallcnn": ("mnist", 128), "resnet18": ("cifar10", 64), "resnet50": ("tinyimagenet", 4)}
    step_flops = {}
    for d, c in costs.items():
        step_flops.setdefault(c.model, c.step["pgd"].flops)
    for name, (d, _) in specs.items():
        if name not in step_flops:
            step_flops[name] = count_model(run.prof.plan(d), args.count_batch).step["pgd"].flops
    t0 = time.perf_counter()
    measured, rows = {}, []
    for (name, (d, batch)), budget in zip(specs.items(), args.time_budget):
        if budget <= 0:
            continue
        spec = DATASETS[d]
        rate, n = time_pgd(name, spec.num_classes, spec.shape, batch, budget)
        measured[name] = rate * step_flops[name] / 1e9
        rows.append([name, batch, n, fmt(rate, 1), fmt(step_flops[name] / 1e9, 3),
                     fmt(measured[name], 1), fmt(README_QUIET_GFLOPS.get(name), 0)])
    mm = time_matmul(2048, 2.0)
    timing_s = time.perf_counter() - t0
    rep.table(["model", "batch", "timed 1-step calls", "image-steps/s", "GFLOP per image-step",
               "achieved GFLOP/s", "README, 2 quiet threads"], rows)
    rep.add(f"fp32 `torch.mm` 2048² at the same threads: {fmt(mm, 1)} GFLOP/s (README: ≈ "
            f"{README_MATMUL['fp32']:.0f} fp32, {README_MATMUL['bf16']:.0f} bf16 on 2 quiet "
            f"threads). Achieved ÷ matmul: " + ", ".join(f"{k} {100 * v / mm:.0f} %"
                                                          for k, v in measured.items())
            + f". Timing took {timing_s:.1f} s; load average after it: {load_avg()}.")
    rep.add()
    return measured, mm


def cpu_rate(measured: dict[str, float], model: str, source: str) -> float | None:
    """GFLOP/s of ``model`` measured in this run or from the README; ResNet-18's where absent."""
    if source == "measured":
        return measured.get(model) or measured.get("resnet18")
    return README_QUIET_GFLOPS.get(model) or README_QUIET_GFLOPS["resnet18"]


def report_cpu_days(rep: Report, costs: dict[str, ModelCosts], totals: dict[str, Totals],
                    tt: Totals, measured: dict[str, float]) -> dict[str, float]:
    """Section 3, continued: CPU-days of each plan; return the totals ("measured", "readme")."""
    rows = []
    tot = {"measured": 0.0, "readme": 0.0}
    for d, t in totals.items():
        m = costs[d].model
        flops = t.train_flops + t.eval_flops
        days = {}
        for src in tot:
            r = cpu_rate(measured, m, src)
            days[src] = flops / (r * 1e9) / 86400 if r else float("nan")
            tot[src] += days[src]
        rows.append([d, m, fmt(flops / 1e15, 1), fmt(cpu_rate(measured, m, "measured"), 1),
                     fmt(days["measured"], 0), fmt(days["measured"] / 365, 1),
                     fmt(cpu_rate(measured, m, "readme"), 0), fmt(days["readme"], 0)])
    rows.append(["**total**", "", fmt((tt.train_flops + tt.eval_flops) / 1e15, 1), "",
                 f"**{fmt(tot['measured'], 0)}**", f"**{fmt(tot['measured'] / 365, 1)}**", "",
                 f"**{fmt(tot['readme'], 0)}**"])
    rep.table(["dataset", "model", "PFLOP", "GFLOP/s (this run)", "CPU-days (this run)",
               "CPU-years (this run)", "GFLOP/s (README quiet)", "CPU-days (README quiet)"], rows)
    rep.add("CPU-days = PFLOP ÷ achieved GFLOP/s of that model's PGD step (ResNet-18's rate "
            "where a model was not timed; the README has no ResNet-50 number). Training steps "
            "are assumed to run at the attack step's GFLOP/s; element-wise work is not in the "
            "FLOPs but is in the measured rate.")
    rep.add()
    return tot


# --- GPUs (assumed) ------------------------------------------------------------------------------

def gpu_hours(totals: dict[str, Totals], peak_tflops: float, fraction: float,
              op_us: float) -> dict[str, float]:
    """GPU-hours per plan: per phase, the longer of the FLOP time and the per-op floor."""
    out = {}
    for d, t in totals.items():
        secs = 0.0
        for flops, ops in ((t.train_flops, t.train_ops), (t.eval_flops, t.eval_ops)):
            secs += max(flops / (peak_tflops * 1e12 * fraction), ops * op_us * 1e-6)
        out[d] = secs / 3600
    return out


def estimate_gpu_hours(run: SizingRun, totals: dict[str, Totals]
                       ) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """Section 4: GPU-hours per GPU at the ASSUMED efficiency; return A100's (low, high) by mode."""
    rep = run.rep
    f_lo, f_hi = run.args.fraction
    op_lo, op_hi = run.args.op_us
    rep.add("## 4. GPUs (ASSUMED efficiency, not measured)")
    rep.add()
    rep.add(f"GPU-hours = Σ over datasets and phases (training, evaluation) of max(FLOPs ÷ "
            f"(dense peak × fraction), aten ops × per-op cost). Low = fraction {f_hi:.0%} and "
            f"{op_lo:g} µs per op; high = fraction {f_lo:.0%} and {op_hi:g} µs per op. One GPU, "
            "eager PyTorch, no torch.compile or CUDA graphs.")
    rep.add()
    rows = []
    a100 = {}
    for name, mode, peak, note in GPUS:
        lo, hi = gpu_hours(totals, peak, f_hi, op_lo), gpu_hours(totals, peak, f_lo, op_hi)
        rows.append([name, mode, fmt(peak, 1)] + [span(lo[d], hi[d]) for d in totals]
                    + [f"**{span(sum(lo.values()), sum(hi.values()))}**",
                       span(sum(lo.values()) / 24, sum(hi.values()) / 24, 1), note])
        if name.startswith("A100"):
            a100[mode] = (lo, hi)
    rep.table(["GPU", "mode", "dense peak TFLOP/s (vendor)"] + [f"{d} GPU-h" for d in totals]
              + ["total GPU-h", "GPU-days", "peak used"], rows)
    rep.add("Where the per-op floor binds (GPU-hours that do not fall with a faster GPU):")
    rep.add()
    rows = []
    for d, t in totals.items():
        for phase, flops, ops in (("training", t.train_flops, t.train_ops),
                                  ("evaluation", t.eval_flops, t.eval_ops)):
            rows.append([d, phase, fmt(ops / 1e6, 1), span(ops * op_lo * 1e-6 / 3600,
                                                        ops * op_hi * 1e-6 / 3600, 1),
                         span(flops / (312e12 * f_hi) / 3600, flops / (312e12 * f_lo) / 3600, 1)])
    rep.table(["dataset", "phase", "aten ops (M)", "per-op floor, h", "A100 bf16 FLOP time, h"],
              rows)
    return a100


# --- how we got this figure ----------------------------------------------------------------------

def report_headline_and_method(run: SizingRun, tt: Totals, cpu_days: dict[str, float],
                               a100: dict[str, tuple[dict[str, float], dict[str, float]]],
                               measured: dict[str, float], mm: float) -> None:
    """Section 5: the headline figure, then what was counted, derived, measured and assumed."""
    args, rep, prof = run.args, run.rep, run.prof
    f_lo, f_hi = args.fraction
    op_lo, op_hi = args.op_us
    a_fp32, a_bf16 = a100.get("fp32 as configured (TF32 convs)"), a100.get("bf16 AMP (precision=\"bf16\")")
    rep.add("## How we got this figure")
    rep.add()
    if a_fp32 and a_bf16:
        rep.add(f"**Headline.** The `{prof.name}` profile is "
                f"{fmt((tt.train_flops + tt.eval_flops) / 1e15, 0)} PFLOP of convolution and "
                f"matrix-product work ({fmt(tt.train_flops / 1e15, 0)} training, "
                f"{fmt(tt.eval_flops / 1e15, 1)} evaluation): about "
                f"{fmt(cpu_days['measured'], 0)} CPU-days on this machine at the rates measured "
                f"in this run ({fmt(cpu_days['readme'], 0)} at the README's quiet 2-thread rates), "
                f"and "
                f"on one A100 {span(sum(a_fp32[0].values()), sum(a_fp32[1].values()))} GPU-hours "
                f"as configured (fp32, TF32 convolutions) or "
                f"{span(sum(a_bf16[0].values()), sum(a_bf16[1].values()))} with bf16 autocast.")
        rep.add()
    rep.add("Counted: convolution and matrix-product FLOPs per image of the forward pass, of one "
            "attack step (forward + input gradient, as `wmrlib.method.attacks.pgd` computes it) and of "
            "each defense's outer update, with `FlopCounterMode` on the real wmrlib functions "
            f"at batch {args.count_batch}. Derived: totals from `profile('{prof.name}')`'s plans "
            "(models × epochs × train images × steps; models × units × test images × steps × "
            "restarts), dataset sizes from `wmrlib.compute.data.DATASETS`. Measured: this CPU's achieved "
            "GFLOP/s on 1-step PGD calls of each model and its `torch.mm` rate, in this run "
            f"({run.threads} thread{'s' if run.threads > 1 else ''}"
            + (", set by OMP_NUM_THREADS to keep the load small on a machine shared with a long "
               "experiment" if run.omp else "") + f"; load average {load_avg()} at the end). "
            "Assumptions:")
    rep.add()
    for line in [
        "FLOPs are conv/matmul only: element-wise work (batch norm, ReLU, pooling, the loss and "
        "weights, the projection, the optimizer) is not counted. On a GPU it is memory-bound and "
        "is one reason the achieved fraction of peak is low for these small images.",
        "The weighted (α > 0) and unweighted variants have the same conv/matmul FLOPs (the "
        "importance weights are element-wise); each defense is counted once, at its headline α.",
        "Training steps run at the same achieved GFLOP/s as attack steps (CPU-days).",
        "GPU peaks are vendor data-sheet dense numbers (no sparsity), not measurements: "
        + "; ".join(f"{n} {m} {p:g}" for n, m, p, _ in GPUS) + " TFLOP/s. "
        "'fp32 as configured' uses the TF32 tensor-core peak on Ampere and later because cuDNN "
        "convolutions may use TF32 under PyTorch's defaults.",
        f"The achieved fraction of peak on a GPU is ASSUMED to be {f_lo:.0%}–{f_hi:.0%} "
        "(no GPU here). For comparison, the measured fraction on this CPU (achieved ÷ fp32 "
        "`torch.mm`) is " + ", ".join(f"{k} {100 * v / mm:.0f} %" for k, v in measured.items())
        + "; that is a fraction of a measured matmul rate, not of a hardware peak.",
        f"Eager PyTorch costs {op_lo:g}–{op_hi:g} µs per dispatched aten operator (ASSUMED: host "
        "dispatch and kernel launch; views launch nothing but are counted). This floor, not the "
        "FLOPs, sets the time of the SmallCNN (MNIST) phases on any of these GPUs; CUDA graphs "
        "or torch.compile would lower it.",
        f"One GPU, no data-loading stalls, no checkpointing or evaluation I/O; evaluation in "
        f"batches of {run.eval_batch} (the store's default), training in the plan's batch size.",
        "Models and seeds are exactly `plan.models()` and `plan.precision_models()`; evaluation "
        "units exactly `plan.units(model)`; `eval_size` None = the whole test set.",
    ]:
        rep.add(f"- {line}")
    rep.add()


# --- main ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = start_run(args)
    report_header(run, argv)
    plans, costs = count_flops_per_image(run)
    totals, tt = report_plan_work(run, plans, costs)
    measured, mm = measure_cpu_gflops(run, costs)
    cpu_days = report_cpu_days(run.rep, costs, totals, tt, measured)
    a100 = estimate_gpu_hours(run, totals)
    report_headline_and_method(run, tt, cpu_days, a100, measured, mm)
    run.rep.add(f"Wall time of this run: {time.perf_counter() - run.t_start:.1f} s.")
    if args.out:
        run.rep.write(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
