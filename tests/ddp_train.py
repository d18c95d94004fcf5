"""Train the runs of tests/test_ddp.py in a results store; that test starts this under torchrun.

Usage: ``torchrun --nproc_per_node N tests/ddp_train.py ROOT``. Each rank writes
ROOT/rank<r>.json with the provenance of every run as it got it, the error an uneven batch
size raised, and whether its dropout masks were its slices of the one-process masks.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from wmrlib.compute import distributed
from wmrlib.experiment.config import RunConfig
from wmrlib.workflow.store import Store
from wmrlib.compute.train import train_model

# Synthetic MNIST (no files needed); SGD, because Adam's normalised first steps turn
# floating-point-order differences in near-zero gradients into steps of size lr (see test_ddp.py).
BASE = RunConfig(dataset="mnist", synthetic=True, train_size=128, batch_size=32, epochs=2,
                 eps=0.3, step_size=0.05, attack_steps=3, optimizer="sgd", lr=0.02,
                 momentum=0.9, schedule="constant", milestones=(), seed=0)
RUNS = {"pgd": BASE.replace(defense="pgd", alpha_train=0.5),
        "trades": BASE.replace(defense="trades", alpha_train=2.0)}


def dropout_is_sharded() -> bool:
    """Return whether ShardedDropout applies this rank's slice of the one-process dropout mask."""
    x = torch.rand(8, 200, generator=torch.Generator().manual_seed(0))
    layer = distributed.ShardedDropout(0.5).train()
    same = []
    for dtype in (torch.float32, torch.bfloat16):
        torch.manual_seed(1)
        whole = F.dropout(x.to(dtype), 0.5, True)
        torch.manual_seed(1)
        same.append(torch.equal(layer(distributed.shard(x.to(dtype))), distributed.shard(whole)))
    return all(same)


def main(root: Path) -> None:
    """Train every run of RUNS (resuming any checkpoint there) and report what this rank saw."""
    store = Store(root, device="cpu", progress=False)
    seen = {name: store.get_or_train(config, need_model=False).provenance
            for name, config in RUNS.items()}
    try:
        train_model(BASE.replace(batch_size=33), store.data(BASE, train=True), progress=False)
        error = None
    except ValueError as e:
        error = str(e)
    (root / f"rank{distributed.rank()}.json").write_text(json.dumps(
        {"runs": seen, "error": error, "dropout": dropout_is_sharded()}))
    distributed.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
