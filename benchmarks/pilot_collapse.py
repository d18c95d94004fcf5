"""The schedule pilot of the campaign issue: which training schedule does not collapse?

Usage: python benchmarks/pilot_collapse.py stage1 [--workers N]
       python benchmarks/pilot_collapse.py decide [--write]
       python benchmarks/pilot_collapse.py tiebreak [--workers N]
       python benchmarks/pilot_collapse.py stage2 [--write]

The protocol (candidates, runs, rejection rule) is ``benchmarks/pilot/schedule/PROTOCOL.md``,
written before the first run. Every run trains on real MNIST (WMR_DATA_ROOT) in fp32 on one
thread, holds out the fixed 1,000-image validation split, and records validation A_nat and
A_rob (PGD-20, step 0.025) after each quarter epoch. Each finished run is one JSON file under
``benchmarks/pilot/schedule/``; an interrupted run resumes from its checkpoint (not committed).
Nothing is written to ``results/``; no test image is read. Stage 2's runs are campaign jobs:
``stage2`` reads their validation curves from ``results/cpu`` and, with ``--write`` once all are
trained, records the verdict in ``STAGE2.md``.
"""
from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import torch

from wmrlib.analysis.collapse import VALIDATION_RULE, largest_drop
from wmrlib.analysis.curves import validation_curves
from wmrlib.analysis.pilot import (chosen_schedule, stage1_decision, stage1_table, stage2_status,
                                   stage2_table, tiebreak_decision, tiebreak_table, tied)
from wmrlib.compute.checkpoint import load_checkpoint
from wmrlib.compute.data import VALIDATION_SEED, load, validation_split
from wmrlib.compute.evaluate import attack_record
from wmrlib.experiment.config import AttackConfig
from wmrlib.experiment.robustness_plan import standard_autoattack
from wmrlib.method.models import build_model
from wmrlib.compute.device import cpu_info
from wmrlib.compute.train import train_model
from wmrlib.experiment.config import RunConfig
from wmrlib.experiment.profiles import SCHEDULE_CANDIDATES, VALIDATION_SIZE, profile
from wmrlib.core.paths import results_root
from wmrlib.workflow.store import Store

HERE = Path(__file__).resolve().parent / "pilot" / "schedule"
# The three configurations that collapsed in the 5-epoch campaign: (defense, alpha_train, seed).
STAGE1_RUNS = (("pgd", 0.0, 2), ("trades", 0.0, 1), ("trades", 2.0, 1))
STAGE1_EPOCHS = 3


def candidate_config(candidate: str, defense: str, alpha: float, seed: int) -> RunConfig:
    """Return one pilot model: the 5-epoch cpu base with the candidate's change and the validation split."""
    base = profile("cpu-5epoch").plan("mnist").base
    return base.replace(defense=defense, alpha_train=alpha, seed=seed, val_size=VALIDATION_SIZE,
                        **SCHEDULE_CANDIDATES[candidate])


def run_name(candidate: str, defense: str, alpha: float, seed: int, epochs: int) -> str:
    """Return the file stem of one pilot run."""
    return f"{candidate}_{defense}-a{alpha:g}-s{seed}_e{epochs}"


def train_one(job: tuple[str, str, float, int, int]) -> str:
    """Train one pilot run (resuming from its checkpoint) and write its JSON; return its name."""
    candidate, defense, alpha, seed, epochs = job
    torch.set_num_threads(1)
    name = run_name(*job)
    out = HERE / f"{name}.json"
    if out.exists():
        return name
    config = candidate_config(candidate, defense, alpha, seed)
    started = time.perf_counter()
    result = train_model(config, load("mnist", train=True), device="cpu", progress=False,
                         checkpoint=HERE / "checkpoints" / f"{name}.pt", until_epoch=epochs)
    record = {"candidate": candidate, "config": asdict(config), "config_key": config.key(),
              "until_epoch": epochs, "validation_seed": VALIDATION_SEED,
              "history": result.history, "curve": result.curve, "cpu": cpu_info(),
              "wall_time_s": time.perf_counter() - started, "resumed_from": result.resumed_from,
              "largest_drop_pp": largest_drop(p["val_a_rob"] for p in result.curve)}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    tmp.replace(out)
    return name


def stage1_jobs() -> list[tuple[str, str, float, int, int]]:
    """Return stage 1's runs, candidate by candidate (the cheaper candidates first)."""
    order = ("b-early-drop", "c-uniform-start", "a-10step")
    return [(c, d, a, s, STAGE1_EPOCHS) for c in order for d, a, s in STAGE1_RUNS]


def decide(write: bool = False) -> None:
    """Print each stage-1 run's validation curve summary and each candidate's verdict; with
    ``write``, also record them in ``DECISION.md`` beside the protocol."""
    table = stage1_table(HERE).round(1)
    decision = stage1_decision(HERE, len(STAGE1_RUNS)).round(2)
    gaps = tiebreak_table(HERE).round(1)
    tiebreak = tiebreak_decision(HERE, len(STAGE1_RUNS)).round(2)
    chosen = chosen_schedule(HERE, len(STAGE1_RUNS))
    print(table.to_string(index=False))
    print(decision.to_string(index=False))
    if len(tiebreak):
        print(gaps.to_string(index=False))
        print(tiebreak.to_string(index=False))
    print(f"schedule for stage 2: {chosen or 'not decided yet'}")
    if write:
        runs = [json.loads(p.read_text()) for p in sorted(HERE.glob("*_e*.json"))]
        cpus = sorted({r["cpu"]["model"] for r in runs})
        minutes = sum(r["wall_time_s"] for r in runs) / 60
        text = ["# Schedule pilot: stage 1 as run", "",
                "Produced by `python benchmarks/pilot_collapse.py decide --write` from the run files "
                "beside it; the rules are `PROTOCOL.md`'s.", "",
                table.to_markdown(index=False), "", decision.to_markdown(index=False), ""]
        if len(tiebreak) > 1:
            text += ["## The tie-break", "",
                     "The survivors tied within the protocol's 0.5 pp, so the tie-break decides: "
                     "the smaller mean 40-PGD → AutoAttack gap on 500 validation images "
                     "(`pilot_collapse.py tiebreak`), then the cost.", "",
                     gaps.to_markdown(index=False), "", tiebreak.to_markdown(index=False), ""]
        text += [f"**Schedule for stage 2 (the campaign's first jobs): {chosen or 'not decided yet'}.**", "",
                f"CPU: {', '.join(cpus)}; {len(runs)} runs, {minutes:.0f} core-minutes of training "
                "recorded in this process (a run resumed after a restart counts its resumed part).", ""]
        (HERE / "DECISION.md").write_text("\n".join(text))


def stage2(write: bool = False, results: Path | None = None) -> str:
    """Print stage 2's runs (the campaign's TRADES pair, read from ``results``/cpu) and its
    status; with ``write``, record them in ``STAGE2.md`` once every run is trained. Return the
    status."""
    plan = profile("cpu").plan("mnist")
    store = Store(results_root(results) / "cpu", readonly=True)
    table = stage2_table(validation_curves(store, plan), plan).round(1)
    status = stage2_status(table)
    print(table.to_string(index=False))
    print(f"stage 2: {status}")
    if not write:
        return status
    if status == "on trial":
        left = int((table["trained"] != "yes").sum())
        raise SystemExit(f"stage 2 is still on trial ({left} of its {len(table)} runs not trained): "
                         "STAGE2.md is written once every run is; run this again then")
    chosen = chosen_schedule(HERE, len(STAGE1_RUNS))
    verdict = {"accepted": f"**{chosen} is accepted**: none of its {len(table)} runs collapsed.",
               "rejected": f"**{chosen} is rejected**: a run collapsed; the next survivor goes "
                           "to stage 2 (PROTOCOL.md)."}[status]
    text = ["# Schedule pilot: stage 2 as run", "",
            "Produced by `python benchmarks/pilot_collapse.py stage2 --write` from the campaign's "
            "stored validation curves (`results/cpu`); the rule is `PROTOCOL.md`'s: a run "
            f"collapses when its validation A_rob falls {VALIDATION_RULE.words()} below its "
            "running maximum.", "", table.to_markdown(index=False), "", verdict, ""]
    (HERE / "STAGE2.md").write_text("\n".join(text))
    return status


TIEBREAK_IMAGES = 500  # validation images of the tie-break


def gap_one(name: str) -> str:
    """Measure one stage-1 model's 40-PGD and AutoAttack A_rob on 500 validation images and write
    ``tiebreak/<name>.json``; AutoAttack keeps finished batches, so an interrupted run resumes."""
    torch.set_num_threads(1)
    out = HERE / "tiebreak" / f"{name}.json"
    if out.exists():
        return name
    run = json.loads((HERE / f"{name}.json").read_text())
    config = RunConfig.from_dict(run["config"])
    state = load_checkpoint(HERE / "models" / f"{name}.pt", config_key=config.key(),
                            model_name=config.model)
    model = build_model(config.model, 10)
    model.load_state_dict(state["model"])
    model.eval()
    _train, val = validation_split(load("mnist", train=True), VALIDATION_SIZE)
    images = val.subset(TIEBREAK_IMAGES, seed=0)
    pgd = attack_record(model, images, AttackConfig(eps=0.3, step_size=0.01, steps=40), 0.0,
                        device="cpu", progress=False)
    auto = attack_record(model, images, standard_autoattack(0.3), 0.0, device="cpu",
                         progress=False, partial=HERE / "tiebreak" / f"{name}.partial.npz")
    record = {"candidate": run["candidate"], "images": len(images),
              "pgd40_a_rob": 100 * float(pgd.correct.mean()),
              "autoattack_a_rob": 100 * float(auto.correct.mean()), "cpu": cpu_info()}
    record["gap_pp"] = record["pgd40_a_rob"] - record["autoattack_a_rob"]
    out.write_text(json.dumps(record, indent=1))
    return name


def main() -> None:
    """Run a stage of the pilot or print its decision."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("stage1", "decide", "tiebreak", "stage2"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--write", action="store_true",
                        help="decide: also write DECISION.md; stage2: also write STAGE2.md")
    args = parser.parse_args()
    if args.stage == "decide":
        return decide(args.write)
    if args.stage == "stage2":
        stage2(args.write)
        return None
    if args.stage == "tiebreak":
        (HERE / "tiebreak").mkdir(exist_ok=True)
        names = [run_name(*job) for job in stage1_jobs() if job[0] in tied(HERE, len(STAGE1_RUNS))]
        with ProcessPoolExecutor(args.workers) as pool:
            for i, name in enumerate(pool.map(gap_one, names), start=1):
                print(f"[{i}/{len(names)}] {name} done", flush=True)
        return None
    (HERE / "checkpoints").mkdir(parents=True, exist_ok=True)
    jobs = stage1_jobs()
    with ProcessPoolExecutor(args.workers) as pool:
        for i, name in enumerate(pool.map(train_one, jobs), start=1):
            print(f"[{i}/{len(jobs)}] {name} done", flush=True)


if __name__ == "__main__":
    main()
