"""Pilot for the cpu profile's schedule: train one model with per-epoch learning-curve probes.

Usage: python benchmarks/pilot_schedule.py OUT.json DEFENSE ALPHA EPOCHS [key=value ...]
Trains on real MNIST (WMR_DATA_ROOT) in fp32 on one thread and writes the history (loss, lr,
A_nat, A_rob, A_sa(2), A_tr(2) on 500 fixed test images after every epoch) with its timing.
"""
from __future__ import annotations

import json
import sys
import time

import torch

from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.compute.data import load
from wmrlib.compute.device import cpu_info
from wmrlib.compute.evaluate import learning_curve_probe
from wmrlib.compute.train import train_model


def main(out: str, defense: str, alpha: str, epochs: str, *overrides: str) -> None:
    """Train one pilot model and write its history to ``out``."""
    torch.set_num_threads(1)
    extra = {}
    for item in overrides:
        k, v = item.split("=", 1)
        extra[k] = tuple(float(t) for t in v.split(",") if t) if k == "milestones" else (
            v if k in ("schedule", "optimizer") else float(v) if "." in v or "e" in v else int(v))
    config = RunConfig(dataset="mnist", defense=defense, alpha_train=float(alpha), eps=0.3,
                       step_size=0.15, attack_steps=5, epochs=int(epochs), batch_size=128,
                       optimizer="adam", lr=1e-3, schedule="constant", milestones=(),
                       eps_ramp=0.2 / int(epochs), precision="fp32").replace(**extra)
    test = load("mnist", train=False).subset(500, seed=0)
    probe = learning_curve_probe(test, AttackConfig(eps=0.3, step_size=0.01, steps=40), 2.0,
                                 device="cpu")
    started = time.perf_counter()
    result = train_model(config, load("mnist", train=True), device="cpu", progress=False,
                         probe=probe)
    json.dump({"config": config.__dict__, "history": result.history, "cpu": cpu_info(),
               "wall_time_s": time.perf_counter() - started}, open(out, "w"), indent=1,
              default=str)


if __name__ == "__main__":
    main(*sys.argv[1:])
