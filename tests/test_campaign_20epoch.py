"""The 20-epoch campaign (issue 44): its profile, the best-validation model selection (with
resume), the per-epoch weighted validation probe and the shipped-model lookup."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import wmrlib.compute.train as wtrain
from wmrlib.analysis import zoo
from wmrlib.compute.checkpoint import load_checkpoint, save_checkpoint
from wmrlib.core.keys import key_fields
from wmrlib.core.paths import REPO_ROOT
from wmrlib.experiment.config import RunConfig
from wmrlib.experiment.profiles import PROFILES, profile
from wmrlib.method.models import build_model
from wmrlib.workflow.jobs import plan_jobs
from wmrlib.workflow.store import Store

# Two batches per epoch, one attack step, a validation split: a run of 4 epochs takes seconds.
SMALL = RunConfig(dataset="mnist", eps=0.1, step_size=0.05, attack_steps=1, epochs=4,
                  batch_size=64, optimizer="adam", lr=1e-3, schedule="constant", milestones=(),
                  train_size=128, val_size=16, selection="best-val-rob")
# Scripted validation A_rob: the quarter point of each epoch (batch 1 of 2) reads 99, which must
# never count; the ends of epochs 1-4 read 50, 70, 70 (a tie: the earlier epoch stays) and 60.
END_OF_EPOCH = [50.0, 70.0, 70.0, 60.0]


def _scripted(calls: list):
    """Return a stand-in for train.validation_point that reads the scripted values in call order."""
    def point(model, val, config, device, alpha_test=0.0):
        n = len(calls)
        calls.append(alpha_test)
        rob = END_OF_EPOCH[n // 2] if n % 2 else 99.0
        return {"val_n": len(val), "val_a_nat": 90.0, "val_a_rob": rob}
    return point


def test_existing_profiles_keep_their_keys_and_their_stored_runs():
    """The new RunConfig fields stay out of every key at their defaults: the cpu and cpu-5epoch
    runs stored in the repository are still exactly their profiles' models."""
    for name in ("cpu", "cpu-5epoch"):
        runs = REPO_ROOT / "results" / name / "runs"
        if not runs.is_dir():
            pytest.skip(f"no stored {name} results in this checkout")
        keys = {c.key() for plan in profile(name).plans.values()
                for c in plan.models() + plan.precision_models()}
        assert keys == {p.name for p in runs.iterdir() if p.is_dir()}, name
        for key in keys:  # and each stored config.json rebuilds to its own key
            config = RunConfig.from_dict(json.loads((runs / key / "config.json").read_text()))
            assert config.key() == key
    for name in PROFILES:
        for plan in profile(name).plans.values():
            for config in plan.models():
                fields = key_fields(config)
                assert ("selection" in fields) == (config.selection != "final")
                assert ("val_alpha_test" in fields) == (config.val_alpha_test > 0)


def test_the_20epoch_profile_has_the_declared_settings_and_12_jobs_trades_first():
    plan = profile("cpu-20epoch").plan("mnist")
    cpu = profile("cpu").plan("mnist").base
    base = plan.base
    same = ("optimizer", "lr", "attack_steps", "step_size", "beta", "batch_size", "model",
            "precision", "val_size", "eps", "random_start", "weight_decay", "schedule")
    assert {f: getattr(base, f) for f in same} == {f: getattr(cpu, f) for f in same}
    assert (base.epochs, base.milestones, base.selection, base.val_alpha_test) == (
        20, (0.55, 0.75, 0.9), "best-val-rob", 2.0)
    assert base.eps_ramp * base.epochs == pytest.approx(1.0)  # the ramp spans the first epoch
    # lr drops after epochs 11, 15 and 18; the full ε from the start of epoch 2
    per_epoch = 461
    lr = [wtrain.lr_factor(base, e * per_epoch / (20 * per_epoch)) for e in range(20)]
    assert [e + 1 for e in range(1, 20) if lr[e] < lr[e - 1]] == [12, 16, 19]
    assert wtrain.eps_at(base, 1 / 20) == base.eps > wtrain.eps_at(base, 0.5 / 20)
    jobs = plan_jobs("cpu-20epoch")
    assert [(j.config.defense, j.config.alpha_train, j.config.seed) for j in jobs] == [
        (d, a, s) for pair in (("trades", 2.0), ("pgd", 0.5)) for s in (0, 1, 2)
        for d, a in ((pair[0], 0.0), pair)]
    for job in jobs:
        main = {(a.key(), alpha) for a, alpha, n in job.units if a is not None and n is None}
        assert main == {(plan.attack.key(), alpha) for alpha in (0.0, 1.0, 1.5, 2.0)}
        assert (plan.attack.eps, plan.attack.step_size, plan.attack.steps) == (0.3, 0.01, 40)
        assert {n for _a, _alpha, n in job.units} == {None, 500}  # all 10,000; the check on 500
        assert {a.kind for a, _alpha, _n in job.units if a is not None} == {
            "pgd", "autoattack", "logit-scale"}
        assert job.curve is None
    assert plan.eps_tests == () and plan.other_attacks == () and plan.extras == ()


def test_selection_needs_a_validation_split_and_names_the_choices():
    with pytest.raises(ValueError, match="val_size > 0"):
        RunConfig(selection="best-val-rob")
    with pytest.raises(ValueError, match="val_size > 0"):
        RunConfig(val_alpha_test=2.0)
    with pytest.raises(ValueError, match="'final', 'best-val-rob'"):
        RunConfig(val_size=10, selection="best")


def test_the_stored_model_is_the_best_validation_epoch(mnist_train, monkeypatch):
    """Epoch ends read 50, 70, 70, 60: epoch 2 is selected (the tie at 3 keeps it, the quarter
    points' 99 never count); the model returned is the one after epoch 2, bit for bit, and the
    final model's validation point is kept."""
    calls: list = []
    monkeypatch.setattr(wtrain, "validation_point", _scripted(calls))
    result = train_model_quiet(SMALL, mnist_train)
    assert [h["selected_epoch"] for h in result.history] == [1, 2, 2, 2]
    assert result.selection["rule"] == "best-val-rob"
    assert (result.selection["epoch"], result.selection["val_a_rob"]) == (2, 70.0)
    assert result.selection["final"]["val_a_rob"] == 60.0 and result.selection["final_epoch"] == 4
    assert calls == [0.0, 0.0] * 4  # no weighted probe without val_alpha_test
    calls.clear()
    after_two = train_model_quiet(SMALL, mnist_train, until_epoch=2).model.state_dict()
    for name, tensor in after_two.items():
        assert torch.equal(tensor, result.model.state_dict()[name]), name
    calls.clear()
    final = train_model_quiet(SMALL.replace(selection="final"), mnist_train)
    assert final.selection == {} and "selected_epoch" not in final.history[-1]
    assert not all(torch.equal(t, final.model.state_dict()[k]) for k, t in after_two.items())


def train_model_quiet(config, data, **kw):
    """Train without a progress bar."""
    return wtrain.train_model(config, data, progress=False, **kw)


def test_resume_keeps_the_best_state(mnist_train, tmp_path, monkeypatch):
    """Interrupted in epoch 3 (after epoch 2, the best, and before the tie's check), the resumed
    run selects epoch 2 and returns the same model as an uninterrupted run."""
    calls: list = []
    monkeypatch.setattr(wtrain, "validation_point", _scripted(calls))
    reference = train_model_quiet(SMALL, mnist_train)
    calls.clear()
    real, losses = wtrain.adversarial_loss, {"n": 0}

    def interrupt(*args, **kwargs):
        losses["n"] += 1
        if losses["n"] > 5:  # batch 2 of epoch 3
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    ckpt = tmp_path / "checkpoint.pt"
    monkeypatch.setattr(wtrain, "adversarial_loss", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_model_quiet(SMALL, mnist_train, checkpoint=ckpt, checkpoint_every_s=0.0)
    monkeypatch.setattr(wtrain, "adversarial_loss", real)
    state = load_checkpoint(ckpt, config_key=SMALL.key())
    assert (state["epoch"], state["batch"]) == (2, 1)
    assert (state["best"]["epoch"], state["best"]["val_a_rob"]) == (2, 70.0)
    resumed = train_model_quiet(SMALL, mnist_train, checkpoint=ckpt)
    assert resumed.resumed_from == (2, 1)
    assert resumed.selection["epoch"] == 2
    assert [h["selected_epoch"] for h in resumed.history] == [1, 2, 2, 2]
    for name, tensor in reference.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_each_epoch_end_records_validation_a_sa_and_a_tr(mnist_train):
    """With val_alpha_test the end-of-epoch point adds A_sa and A_tr (the weighted PGD-20), the
    quarter points do not; every point says how long its probe took."""
    config = SMALL.replace(epochs=1, val_alpha_test=2.0)
    result = train_model_quiet(config, mnist_train)
    quarter, end = result.curve
    assert "val_a_sa" not in quarter and end["val_alpha_test"] == 2.0
    assert 0 <= end["val_a_tr"] <= 100 and 0 <= end["val_a_sa"] <= 100
    assert all(p["val_s"] > 0 for p in result.curve)


def test_zoo_loads_a_20epoch_model_and_names_what_exists(tmp_path):
    plan = profile("cpu-20epoch").plan("mnist")
    config = plan.run("trades", 2.0, 1)
    model = build_model(config.model, 10).eval()
    store = Store(tmp_path / "cpu-20epoch", device="cpu", readonly=True, progress=False)
    with pytest.raises(LookupError, match="available: none"):
        zoo.load("cpu-20epoch", "mnist", "trades", alpha_train=2.0, seed=1, results=tmp_path)
    save_checkpoint({"config_key": config.key(), "model_name": config.model,
                     "model": model.state_dict()}, store.model_path(config))
    loaded = zoo.load("cpu-20epoch", "mnist", "trades", alpha_train=2.0, seed=1, results=tmp_path)
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))
    with pytest.raises(ValueError, match="'cpu-20epoch'"):
        zoo.load("cpu-21epoch", "mnist", "trades", results=tmp_path)
    with pytest.raises(ValueError, match="choose one of 'mnist'"):
        zoo.load("cpu-20epoch", "fashionmnist", "trades", results=tmp_path)
    assert Path(store.model_path(config)).is_file()


def test_the_log_says_the_epoch_validation_a_rob_elapsed_time_and_time_left(tmp_path):
    """A hand-written checkpoint of a 20-epoch run after 2 of its 20 × 461 batches, written 922 s
    after the job started from scratch: 1 batch/s, so 8,298 s (138 min) of training are left."""
    import os

    from wmrlib.workflow.campaign import TrainingPace, checkpoint_progress

    config = profile("cpu-20epoch").plan("mnist").run("trades", 2.0, 0)
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"config_key": config.key(), "model": {"w": torch.zeros(2)},
                     "epoch": 2, "batch": 0,
                     "history": [{"epoch": 1, "train_adv_acc": 0.5, "selected_epoch": 1},
                                 {"epoch": 2, "train_adv_acc": 0.625, "selected_epoch": 2}],
                     "curve": [{"epoch": 2.0, "val_a_nat": 97.0, "val_a_rob": 84.0}]}, path)
    os.utime(path, (1922.0, 1922.0))
    line = checkpoint_progress(path, config, TrainingPace(started=1000.0), now=1930.0)
    assert line == ("training: 2 of 20 epochs done (training-attack accuracy 62.5 %); validation "
                    "at epoch 2.00: A_nat 97.0 %, A_rob 84.0 % (highest so far 84.0 % at epoch "
                    "2.00); selected "
                    "so far: epoch 2; elapsed 15.5 min, about 138 min of training left")
    # resumed at epoch 1: only this process's batches time the rest
    line = checkpoint_progress(path, config, TrainingPace(1000.0, done_at_start=461), now=1930.0)
    assert line.endswith("about 277 min of training left")


def test_the_run_provenance_records_the_selected_epoch(mnist_train, tmp_path, monkeypatch):
    """A run trained through the store records the rule and epoch that chose its weights (the
    best-validation epoch 2 of the scripted curve), not the final epoch."""
    from conftest import mnist_root

    calls: list = []
    monkeypatch.setattr(wtrain, "validation_point", _scripted(calls))
    store = Store(tmp_path, data_root=mnist_root(), progress=False)
    store.get_or_train(SMALL, need_model=False)
    info = json.loads(store.provenance_path(SMALL).read_text())
    assert info["selected"]["rule"] == "best-val-rob"
    assert (info["selected"]["epoch"], info["selected"]["final_epoch"]) == (2, 4)


def test_the_campaign_runs_with_its_measured_layout_unless_told_otherwise():
    from wmrlib.workflow.campaign import LAYOUTS, default_layout

    assert default_layout("cpu-20epoch", None, None) == LAYOUTS["cpu-20epoch"] == (2, 1)
    assert default_layout("cpu-20epoch", 1, None) == (1, None)     # a given layout wins
    assert default_layout("cpu-20epoch", None, 2) == (1, 2)
    assert default_layout("smoke", None, None) == (1, None)        # no measured layout
