"""Data-parallel training: two gloo processes on the CPU train the model one process trains.

The two runs differ only in the order of floating-point sums (gradient all-reduce, batch-size
dependent kernels). Those differences stay at float level with SGD; sign-gradient attacks and
Adam's normalised first steps can amplify them, as running one process with 1 or 2 threads
shows, so the exact comparison uses SGD and the CLI check (Adam, smoke profile) is loose.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import wmrlib.compute.train as wtrain
from wmrlib.compute import distributed
from wmrlib.method.attacks import pgd, random_start, trades_attack
from wmrlib.compute.checkpoint import load_checkpoint
from wmrlib.method.models import build_model
from wmrlib.experiment.profiles import profile
from wmrlib.workflow.store import Store

from conftest import mnist_root
from ddp_train import RUNS

HERE = Path(__file__).resolve().parent
ATOL = 1e-4  # float-order differences after 8 SGD steps are about 1e-6


def torchrun(*argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``torchrun --standalone --nproc_per_node 2 argv`` (a free port, one thread each)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", *argv], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def weights(store: Store, config) -> dict[str, torch.Tensor]:
    return load_checkpoint(store.model_path(config), config_key=config.key())["model"]


def max_diff(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_slices_of_the_whole_batch_start_give_the_whole_batch_attack():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x, y = torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    for attack, start in ((pgd, "uniform"), (trades_attack, "normal")):
        whole = attack(model, x, y=y, eps=0.3, step_size=0.1, steps=2, random_start=start,
                       generator=torch.Generator().manual_seed(7))
        x_start = random_start(x, 0.3, start, torch.Generator().manual_seed(7))
        for i in range(3):
            part = attack(model, x[2 * i:2 * i + 2], y=y[2 * i:2 * i + 2], eps=0.3, step_size=0.1,
                          steps=2, random_start=start, x_start=x_start[2 * i:2 * i + 2])
            assert torch.allclose(part, whole[2 * i:2 * i + 2], atol=1e-6)
    assert distributed.world_size() == 1 and distributed.is_main()  # no process group here


def test_two_processes_train_the_one_process_models_and_resume(tmp_path, monkeypatch):
    one, two = Store(tmp_path / "one", device="cpu", progress=False), tmp_path / "two"
    for config in RUNS.values():
        one.get_or_train(config, need_model=False)

    # TRADES resumes, in two processes, from a checkpoint one process wrote in epoch 2.
    trades = RUNS["trades"]
    calls = {"n": 0}
    real = wtrain.adversarial_loss

    def interrupt_after_six(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 6:  # 4 batches per epoch
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(wtrain, "adversarial_loss", interrupt_after_six)
    checkpoint = Store(two).checkpoint_path(trades)
    with pytest.raises(KeyboardInterrupt):
        wtrain.train_model(trades, one.data(trades, train=True), device="cpu",
                           checkpoint=checkpoint, checkpoint_every_s=0.0, progress=False)
    monkeypatch.setattr(wtrain, "adversarial_loss", real)

    torchrun(str(HERE / "ddp_train.py"), str(two))

    store = Store(two, device="cpu")
    ranks = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["runs"] == ranks[1]["runs"]  # rank 1 read what rank 0 wrote
    assert "multiples of 2" in ranks[0]["error"] and "batch_size 33" in ranks[1]["error"]
    assert ranks[0]["dropout"] and ranks[1]["dropout"]
    torch.manual_seed(0)
    init = build_model("smallcnn").state_dict()
    for name, config in RUNS.items():
        info = ranks[0]["runs"][name]
        assert info["world_size"] == 2
        assert info["resumed_from"] == ([1, 2] if name == "trades" else None)
        assert not store.checkpoint_path(config).exists()
        reference, result = weights(one, config), weights(store, config)
        assert max_diff(reference, init) > 100 * ATOL  # training moved the weights
        print(f"{name}: max |1 process - 2 processes| = {max_diff(reference, result):.2e}")
        assert max_diff(reference, result) < ATOL, name
        losses = [h["loss"] for h in info["history"]]
        expected = [h["loss"] for h in one.get_or_train(config).provenance["history"]]
        if info["resumed_from"]:  # a resumed epoch's loss is over the batches after the resume
            losses, expected = losses[:1], expected[:1]
        assert losses == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_torchrun_cli_trains_once_and_prints_once(tmp_path):
    if mnist_root() is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    argv = ["train", "--profile", "smoke", "--defense", "pgd", "--alpha", "0.5", "--quiet",
            "--device", "cpu", "--data-root", str(mnist_root())]
    proc = torchrun("-m", "wmrlib", *argv, "--out", str(tmp_path / "two"))
    out = json.loads(proc.stdout)  # one JSON document: only rank 0 prints
    config = profile("smoke").plan("mnist").run("pgd", 0.5)
    assert out["run"] == config.key()
    folder = Store(tmp_path / "two" / "smoke").run_dir(config)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["config.json", "model.pt", "provenance.json"]
    assert json.loads((folder / "provenance.json").read_text())["world_size"] == 2
    one = subprocess.run([sys.executable, "-m", "wmrlib", *argv, "--out", str(tmp_path / "one")],
                         env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                         text=True, timeout=300, check=True)
    # Adam and sign-gradient steps amplify float-order differences here (one process with 1 or
    # 2 threads differs about as much), so this compares loosely.
    assert out["final"]["loss"] == pytest.approx(json.loads(one.stdout)["final"]["loss"], rel=1e-3)
