"""Bad input: each case raises from Python (ValueError, TypeError, FileNotFoundError or another
OSError, or a subclass) with a message naming the problem and the fix, and, where the command line
reaches it, ``python -m wmrlib`` prints that as one ``error:`` line with exit status 2, before any
training, and leaves an existing results store exactly as it was.

The command-line cases run ``wmrlib.cli.main`` in this process (no import cost per case);
``test_cli_cases_in_real_processes`` runs a few of them as real ``python -m wmrlib`` processes.
"""
from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

import wmrlib.workflow.store as wstore
import wmrlib.compute.train as wtrain
from wmrlib.compute import data as wdata
from wmrlib.book.params import check_notebook_parameters
from wmrlib.method.attacks import pgd, trades_attack
from wmrlib.compute.checkpoint import load_checkpoint
from wmrlib.cli import main
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.compute.device import default_device
from wmrlib.method.dro import chi2_dro, chi2_dro_curve
from wmrlib.workflow.campaign import compute
from wmrlib.method.losses import pgd_at_loss, trades_loss
from wmrlib.method.metrics import a_sa
from wmrlib.experiment.profiles import profile
from wmrlib.workflow.store import Store
from wmrlib.compute.train import train_model

REPO = Path(__file__).resolve().parents[1]
TINY = RunConfig(dataset="mnist", synthetic=True, train_size=64, batch_size=32, attack_steps=1,
                 epochs=1, eps=0.3, step_size=0.1, optimizer="adam", lr=1e-3,
                 schedule="constant", milestones=(), seed=0)
ATTACK = AttackConfig(eps=0.3, step_size=0.1, steps=2)
TRAIN = ["train", "--profile", "smoke", "--defense", "pgd"]
EVALUATE = ["evaluate", "--profile", "smoke", "--defense", "pgd"]


# --- files the cases read ------------------------------------------------------------------------

def _idx(path: Path, array) -> None:
    array = np.asarray(array, np.uint8)
    path.write_bytes(bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
                     + array.tobytes())


@dataclass
class Ctx:
    """Paths and tensors the cases use; ``out`` is a results root that already holds results."""

    tmp: Path
    out: Path
    empty: Path
    corrupt_mnist: Path
    corrupt_cifar: Path
    afile: Path
    model: torch.nn.Module = field(default_factory=lambda: torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 10)))
    x: torch.Tensor = field(default_factory=lambda: torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    y: torch.Tensor = field(default_factory=lambda: torch.tensor([0, 1, 2, 3]))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-input")
    empty = tmp / "empty-data"
    empty.mkdir()
    # MNIST in its IDX format, tiny, with a training-label file whose magic number is wrong.
    raw = tmp / "corrupt-mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("t10k", 4)):
        _idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x07" + b"\x00" * 12)
    # CIFAR-10 batches where data_batch_1 is not a pickle (the other files only need to exist).
    cifar = tmp / "corrupt-cifar" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch", "batches.meta"]:
        (cifar / name).write_bytes(b"")
    (cifar / "data_batch_1").write_bytes(b"this is not a pickle")
    afile = tmp / "afile"
    afile.write_text("a regular file")
    return tmp, empty, raw.parents[1], cifar.parent, afile


def _populate(out: Path) -> None:
    """A results root that holds a finished run and an evaluation unit, for two profiles."""
    for prof in ("smoke", "paper"):
        run = out / prof / "runs" / "0123456789abcdef"
        run.mkdir(parents=True)
        (run / "provenance.json").write_text('{"config_key": "0123456789abcdef"}\n')
        (run / "model.pt").write_bytes(b"\x80stored weights")
        unit = out / prof / "evals" / "0123456789abcdef"
        unit.mkdir(parents=True)
        np.savez_compressed(unit / "fedcba9876543210.npz", correct=np.array([True, False]))
        (unit / "fedcba9876543210.json").write_text('{"kind": "evaluate"}\n')


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def ctx(files, tmp_path):
    tmp, empty, mnist, cifar, afile = files
    out = tmp_path / "results"
    _populate(out)
    return Ctx(tmp_path, out, empty, mnist, cifar, afile)


# --- the cases ------------------------------------------------------------------------------------

@dataclass
class Case:
    python: list[Callable[[Ctx], object]]        # each must raise `error`
    error: type
    says: tuple[str, ...]                        # in the message: the problem and the fix
    cli: Callable[[Ctx], list[str]] | None = None  # argv after `python -m wmrlib`
    cli_says: tuple[str, ...] | None = None      # in the error line (default: `says`)
    may_create: tuple[str, ...] = ()             # file names a failing command may add (complete)
    why_no_cli: str = ""


def _bad_labels(c):
    return wdata.ImageData("mnist", torch.zeros(3, 1, 28, 28, dtype=torch.uint8),
                           torch.tensor([0, 4, 12]), 10)


def _nan(c):
    x = c.x.clone()
    x[1, 0, 3, 3] = float("nan")
    return x


CASES = {
    "unknown-dataset": Case(
        [lambda c: RunConfig(dataset="svhn"), lambda c: wdata.load("svhn", c.empty)], ValueError,
        ("'svhn'", "choose one of 'mnist', 'cifar10', 'tinyimagenet'"),
        lambda c: [*TRAIN, "--dataset", "svhn"]),
    "unknown-model": Case(
        [lambda c: RunConfig(model="vgg16")], ValueError,
        ("unknown model 'vgg16'", "choose one of", "'smallcnn'", "'resnet18'"),
        why_no_cli="no --model option: a profile fixes the model of each dataset"),
    "unknown-defense": Case(
        [lambda c: RunConfig(defense="mart")], ValueError,
        ("unknown defense 'mart'", "choose one of 'pgd', 'trades'"),
        lambda c: ["train", "--profile", "smoke", "--defense", "mart"]),
    "unknown-profile": Case(
        [lambda c: profile("nope")], ValueError,
        ("unknown profile 'nope'", "choose one of 'smoke', 'cpu', 'paper'"),
        lambda c: ["train", "--profile", "nope", "--defense", "pgd"]),
    "dataset-not-in-profile": Case(
        [lambda c: profile("cpu").plan("cifar10")], ValueError, ("'cifar10'", "'mnist'"),
        lambda c: ["train", "--profile", "cpu", "--dataset", "cifar10", "--defense", "pgd"],
        ("profile 'cpu' does not cover dataset 'cifar10'", "'mnist'", "'fashionmnist'", "another profile")),
    "unknown-attack-loss": Case(
        [lambda c: AttackConfig(loss="cw"), lambda c: pgd(c.model, c.x, c.y, eps=0.1, step_size=0.01,
                                                          steps=1, loss="cw")], ValueError,
        ("unknown loss 'cw'", "choose one of 'ce', 'margin'"), lambda c: [*EVALUATE, "--loss", "cw"]),
    "eps-negative": Case(
        [lambda c: AttackConfig(eps=-0.1), lambda c: RunConfig(eps=-0.1),
         lambda c: pgd(c.model, c.x, c.y, eps=-0.1, step_size=0.01, steps=1)], ValueError,
        ("eps must be a number ≥ 0 and ≤ 1", "got -0.1"), lambda c: [*EVALUATE, "--eps", "-0.1"]),
    "eps-above-one": Case(
        [lambda c: AttackConfig(eps=1.5), lambda c: trades_attack(c.model, c.x, eps=1.5,
                                                                  step_size=0.01, steps=1)],
        ValueError, ("eps must be a number ≥ 0 and ≤ 1", "got 1.5"),
        lambda c: [*EVALUATE, "--eps", "1.5"]),
    "eps-nan": Case(
        [lambda c: AttackConfig(eps=math.nan)], ValueError, ("eps must be a number ≥ 0", "got nan"),
        lambda c: [*EVALUATE, "--eps", "nan"]),
    "step-size-zero": Case(
        [lambda c: AttackConfig(step_size=0.0), lambda c: RunConfig(step_size=0),
         lambda c: pgd(c.model, c.x, c.y, eps=0.1, step_size=0.0, steps=1)], ValueError,
        ("step_size must be a finite number > 0", "got 0"), lambda c: [*EVALUATE, "--step-size", "0"]),
    "step-size-negative": Case(
        [lambda c: AttackConfig(step_size=-0.01)], ValueError,
        ("step_size must be a finite number > 0", "got -0.01"),
        lambda c: [*EVALUATE, "--step-size", "-0.01"]),
    "steps-negative": Case(
        [lambda c: AttackConfig(steps=-1), lambda c: RunConfig(attack_steps=-1),
         lambda c: pgd(c.model, c.x, c.y, eps=0.1, step_size=0.01, steps=-1)], ValueError,
        ("steps must be ≥ 0", "got -1"), lambda c: [*EVALUATE, "--steps", "-1"]),
    "steps-not-an-integer": Case(
        [lambda c: AttackConfig(steps=2.5)], TypeError, ("steps must be an integer", "2.5"),
        lambda c: [*EVALUATE, "--steps", "2.5"], ("--steps", "invalid int value: '2.5'", "--help")),
    "restarts-zero": Case(
        [lambda c: AttackConfig(restarts=0)], ValueError, ("restarts must be ≥ 1", "got 0"),
        lambda c: [*EVALUATE, "--restarts", "0"]),
    "alpha-train-negative": Case(
        [lambda c: RunConfig(alpha_train=-1.0)], ValueError,
        ("alpha_train must be a finite number ≥ 0", "got -1"), lambda c: [*TRAIN, "--alpha", "-1"]),
    "alpha-negative": Case(
        [lambda c: pgd(c.model, c.x, c.y, eps=0.1, step_size=0.01, steps=1, alpha=-0.5),
         lambda c: pgd_at_loss(torch.zeros(4, 10), c.y, alpha=-0.5),
         lambda c: a_sa(np.ones(4), np.zeros(4), -0.5)], ValueError,
        ("alpha must be a finite number ≥ 0", "got -0.5"),
        why_no_cli="the command line sets alpha as --alpha (alpha_train) and --alpha-test"),
    "alpha-infinite": Case(
        [lambda c: RunConfig(alpha_train=math.inf)], ValueError,
        ("alpha_train must be a finite number ≥ 0", "got inf"), lambda c: [*TRAIN, "--alpha", "inf"]),
    "alpha-test-negative": Case(
        [lambda c: Store(c.out / "smoke", device="cpu", progress=False).get_or_evaluate(
            TINY, ATTACK, (1.0, -1.0), eval_size=8)], ValueError,
        ("alpha_test must be a finite number ≥ 0", "got -1"),
        lambda c: [*EVALUATE, "--alpha-test", "1", "-1"]),
    "beta-negative": Case(
        [lambda c: RunConfig(beta=-1.0),
         lambda c: trades_loss(torch.zeros(4, 10), torch.zeros(4, 10), c.y, beta=-1.0)], ValueError,
        ("beta must be a finite number ≥ 0", "got -1"),
        why_no_cli="no --beta option: a profile fixes TRADES' beta"),
    "rho-negative": Case(
        [lambda c: chi2_dro([1.0, 2.0], -0.5), lambda c: chi2_dro_curve([1.0, 2.0], [0.1, -0.5])],
        ValueError, ("rho must be a finite number ≥ 0", "got -0.5"),
        why_no_cli="the χ²-DRO curve is drawn by the dro notebook, not the command line"),
    "batch-size-zero": Case(
        [lambda c: RunConfig(batch_size=0),
         lambda c: wdata.iterate_batches(wdata.synthetic("mnist", 4), 0, shuffle=False),
         lambda c: Store(c.out, eval_batch_size=0)], ValueError, ("batch_size must be ≥ 1", "got 0"),
        why_no_cli="no --batch-size option: a profile fixes the batch size"),
    "empty-batch": Case(
        [lambda c: pgd(c.model, c.x[:0], c.y[:0], eps=0.1, step_size=0.01, steps=1)], ValueError,
        ("inputs are empty (batch size 0)", "at least one image"),
        why_no_cli="the command line attacks whole test sets"),
    "labels-out-of-range": Case(
        [lambda c: pgd(c.model, c.x, c.y + 7, eps=0.1, step_size=0.01, steps=1), _bad_labels],
        ValueError, ("labels must lie in [0, 9]", "got range"),
        why_no_cli="labels come from dataset files; see corrupt-idx for bad labels in a file"),
    "inputs-outside-unit-interval": Case(
        [lambda c: pgd(c.model, c.x * 255, c.y, eps=0.1, step_size=0.01, steps=1),
         lambda c: trades_attack(c.model, c.x - 0.5, eps=0.1, step_size=0.01, steps=1)], ValueError,
        ("inputs must lie in [0, 1]", "feed unnormalised images"),
        why_no_cli="the command line reads images from dataset files as uint8"),
    "inputs-nan": Case(
        [lambda c: pgd(c.model, _nan(c), c.y, eps=0.1, step_size=0.01, steps=1)], ValueError,
        ("inputs contain NaN", "finite values in [0, 1]"),
        why_no_cli="the command line reads images from dataset files as uint8"),
    "losses-nan": Case(
        [lambda c: chi2_dro([1.0, math.nan], 0.1)], ValueError, ("losses contain NaN/inf", "finite"),
        why_no_cli="see test_training_that_diverges_* for a training loss that becomes NaN"),
    "seed-negative": Case(
        [lambda c: RunConfig(seed=-1)], ValueError, ("seed must be ≥ 0", "got -1"),
        lambda c: [*TRAIN, "--seed", "-1"]),
    "unknown-device": Case(
        [lambda c: default_device("tpu9"), lambda c: Store(c.out, device="tpu9")], ValueError,
        ("unknown device 'tpu9'", "use cpu, cuda"), lambda c: [*TRAIN, "--device", "tpu9"]),
    "cuda-unavailable": Case(
        [lambda c: default_device("cuda:0")], ValueError,
        ("device 'cuda:0'", "CUDA is not available", "use cpu or auto"),
        lambda c: [*EVALUATE, "--device", "cuda:0"]),
    "data-missing-offline": Case(
        [lambda c: wdata.load("mnist", c.empty, train=True, download=False)],
        wdata.DatasetNotFoundError,
        ("mnist not found in", "empty-data", "download=True", "WMR_DATA_ROOT"),
        lambda c: [*TRAIN, "--data-root", str(c.empty)], may_create=("config.json",)),
    "corrupt-idx": Case(
        [lambda c: wdata.load("mnist", c.corrupt_mnist, train=True)], wdata.CorruptDatasetError,
        ("train-labels-idx1-ubyte is corrupt", "expected magic number", "delete it and download it again"),
        lambda c: [*TRAIN, "--data-root", str(c.corrupt_mnist)], may_create=("config.json",)),
    "corrupt-pickle": Case(
        [lambda c: wdata.load("cifar10", c.corrupt_cifar, train=True)], wdata.CorruptDatasetError,
        ("data_batch_1 is corrupt", "delete it and download it again"),
        lambda c: ["train", "--profile", "paper", "--dataset", "cifar10", "--defense", "pgd",
                   "--data-root", str(c.corrupt_cifar)], may_create=("config.json",)),
    "results-under-a-file": Case(
        [lambda c: Store(c.afile / "results", device="cpu").get_or_train(TINY)], PermissionError,
        ("cannot write to", "afile", "choose a writable results directory"),
        lambda c: [*TRAIN, "--out", str(c.afile / "results")]),
    "notebook-profile-not-a-string": Case(
        [lambda c: check_notebook_parameters(profile=123, readonly=True)], TypeError,
        ("notebook parameter profile must be a profile name", "int (123)", "`-p profile cpu`"),
        why_no_cli="`reproduce` passes the notebooks the profile it has checked"),
    "notebook-readonly-not-a-bool": Case(
        [lambda c: check_notebook_parameters(profile="cpu", readonly="yes"),
         lambda c: check_notebook_parameters(download="False")], TypeError,
        ("must be True or False", "got str", "`-p", "True`"),
        why_no_cli="`reproduce --readonly` is a flag: always a bool"),
    "workers-zero": Case(
        [lambda c: compute("smoke", results=c.out, workers=0)], ValueError,
        ("workers must be ≥ 1", "got 0"), lambda c: ["reproduce", "--profile", "smoke", "--workers", "0"]),
}
SKIP = {"cuda-unavailable": torch.cuda.is_available()}
CLI_CASES = [name for name, case in CASES.items() if case.cli is not None]


def _skip(name):
    if SKIP.get(name):
        pytest.skip("CUDA is available here")


def test_there_are_enough_cases():
    assert len(CASES) >= 15 and len(CLI_CASES) >= 15


@pytest.mark.parametrize("name", list(CASES))
def test_python_raises_naming_the_problem_and_the_fix(name, ctx):
    _skip(name)
    case = CASES[name]
    before = snapshot(ctx.out)
    for call in case.python:
        with pytest.raises(case.error) as info:
            call(ctx)
        message = str(info.value)
        assert isinstance(info.value, (ValueError, TypeError, OSError)), type(info.value)
        for part in case.says:
            assert part in message, (part, message)
    assert snapshot(ctx.out) == before  # nothing written, nothing lost


def _argv(case, ctx):
    argv = case.cli(ctx)
    if "--out" not in argv:
        argv += ["--out", str(ctx.out)]
    return argv + ["--quiet"]


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_prints_one_error_line_with_status_2(name, ctx, capsys, monkeypatch):
    _skip(name)
    case = CASES[name]
    monkeypatch.setattr(wstore, "train_model", _no_training)
    before = snapshot(ctx.out)
    try:
        status = main(_argv(case, ctx))
    except SystemExit as e:  # argparse usage errors exit through the parser
        status = e.code
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for part in case.cli_says or case.says:
        assert part in lines[0], (part, lines[0])
    after = snapshot(ctx.out)
    assert {k: after[k] for k in before} == before  # everything stored before is intact
    new = set(after) - set(before)
    assert all(Path(n).name in case.may_create for n in new), new
    for n in new:  # whatever was added is complete
        if n.endswith(".json"):
            RunConfig.from_dict(json.loads(after[n]))
    assert not [p for p in ctx.out.rglob("*.tmp")]


def _no_training(*args, **kwargs):
    raise AssertionError("a bad-input command started training")


REAL = ["alpha-test-negative", "corrupt-idx"]


def test_cli_cases_in_real_processes(ctx):
    """The same through `python -m wmrlib`, with warnings on: still exactly one line."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="default")
    for name in REAL:
        case = CASES[name]
        proc = subprocess.run([sys.executable, "-m", "wmrlib", *_argv(case, ctx)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        lines = proc.stderr.splitlines()
        assert proc.returncode == 2 and proc.stdout == "", (name, proc.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, proc.stderr)
        for part in case.cli_says or case.says:
            assert part in lines[0], (name, part, lines[0])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores directory permissions; results-under-a-file covers an "
                           "unwritable results directory for root")
def test_read_only_results_directory(ctx, capsys):
    locked = ctx.tmp / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="choose a writable results directory"):
            Store(locked, device="cpu", progress=False).get_or_train(TINY)
        assert main([*TRAIN, "--out", str(locked), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "writable" in err
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_notebook_parameters_that_are_right_pass():
    good = dict(profile="cpu", fallback_profile=None, results="../results", readonly=True,
                device="auto", progress=False, n_train=4000, epochs=2, n_test=500, alpha_train=1,
                data_root=None, download=True)
    assert check_notebook_parameters(**good) == good
    with pytest.raises(TypeError, match="unknown notebook parameter 'profil'"):
        check_notebook_parameters(profil="cpu")
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        check_notebook_parameters(profile="gpu")
    with pytest.raises(TypeError, match="n_train must be an integer"):
        check_notebook_parameters(n_train="4000")


# --- training that diverges to NaN ----------------------------------------------------------------

DIVERGING = RunConfig(dataset="mnist", synthetic=True, train_size=256, batch_size=32, epochs=1,
                      attack_steps=1, eps=0.1, step_size=0.1, optimizer="sgd", lr=1e6,
                      momentum=0.9, schedule="constant", milestones=(), seed=0)


def _diverging_data():
    return wdata.synthetic("mnist", DIVERGING.train_size, seed=0)


def test_training_that_diverges_stops_with_a_clear_error():
    with pytest.raises(FloatingPointError, match="training loss became nan.*lower the learning rate"):
        train_model(DIVERGING, _diverging_data(), device="cpu", progress=False)


def test_diverged_training_never_saves_nan_weights_nor_finishes_on_resume(tmp_path):
    """Before checkpoint.save_checkpoint refused non-finite weights, a run that diverged saved
    NaN weights mid-epoch, and running it again resumed there and "finished" with NaN weights."""
    ckpt = tmp_path / "checkpoint.pt"
    for attempt in range(2):
        with pytest.raises(FloatingPointError, match="lower the learning rate"):
            train_model(DIVERGING, _diverging_data(), device="cpu", checkpoint=ckpt,
                        checkpoint_every_s=0.0, progress=False)
        if ckpt.exists():  # the last good checkpoint, if any: finite and loadable
            state = load_checkpoint(ckpt, config_key=DIVERGING.key())
            assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert not list(tmp_path.glob("*.tmp"))
    # Through the store: no model.pt or provenance.json for a diverged run, however often it runs.
    store = Store(tmp_path / "store", device="cpu", progress=False)
    for attempt in range(2):
        with pytest.raises(FloatingPointError, match="lower the learning rate"):
            store.get_or_train(DIVERGING)
        folder = store.run_dir(DIVERGING)
        assert not (folder / "model.pt").exists() and not store.has_run(DIVERGING)


def test_training_stops_at_the_first_non_finite_loss(monkeypatch):
    losses = []
    real = wtrain.adversarial_loss

    def recording(*args, **kwargs):
        assert not losses or math.isfinite(losses[-1]), "kept training after a non-finite loss"
        loss, logits = real(*args, **kwargs)
        losses.append(loss.item())
        return loss, logits

    monkeypatch.setattr(wtrain, "adversarial_loss", recording)
    with pytest.raises(FloatingPointError):
        train_model(DIVERGING, _diverging_data(), device="cpu", progress=False)
    assert not math.isfinite(losses[-1])
