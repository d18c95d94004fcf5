"""The shared training loop (four defenses), checkpoint resume, and the evaluation record."""
import numpy as np
import pytest
import torch

import wmrlib.compute.train as wtrain
from wmrlib.compute import evaluate as wevaluate
from wmrlib.compute.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.compute.evaluate import evaluate_model
from wmrlib.compute.outcome import EvalRecord
from wmrlib.compute.train import adversarial_loss, train_model

QUICK = dict(dataset="mnist", eps=0.1, step_size=0.025, attack_steps=5, epochs=3, batch_size=64,
             optimizer="adam", lr=1e-3, schedule="constant", train_size=512, seed=0)


class PickledObject:
    """Any class instance: torch.save pickles it, weights_only loading must refuse it."""


def fixed_batch_loss(model, config, x, y):
    torch.manual_seed(123)
    loss, _ = adversarial_loss(model, x, y, config, config.eps, torch.Generator().manual_seed(7))
    return loss.item()


@pytest.mark.parametrize("defense, alpha", [("pgd", 0.0), ("pgd", 0.5), ("trades", 0.0), ("trades", 2.0)])
def test_a_few_epochs_lower_the_training_loss(mnist_train, defense, alpha):
    config = RunConfig(defense=defense, alpha_train=alpha, **QUICK)
    subset = mnist_train.subset(config.train_size, seed=config.seed)
    x = subset.images[:256].float() / 255
    y = subset.labels[:256]
    from wmrlib.method.models import build_model

    torch.manual_seed(config.seed)
    before = fixed_batch_loss(build_model("smallcnn"), config, x, y)
    result = train_model(config, mnist_train, progress=False)
    after = fixed_batch_loss(result.model, config, x, y)
    assert after < 0.8 * before
    assert len(result.history) == config.epochs
    assert all(np.isfinite(h["loss"]) for h in result.history)


def test_bf16_training_runs_and_learns(mnist_train):
    from wmrlib.compute.device import native_bf16
    if not native_bf16("cpu"):  # emulated bf16 is refused (tests/test_portable.py) and very slow
        pytest.skip("bf16 is not native on this CPU")
    config = RunConfig(defense="pgd", alpha_train=0.5, precision="bf16", **QUICK)
    result = train_model(config, mnist_train, progress=False)
    assert result.history[-1]["loss"] < result.history[0]["loss"]


def test_resume_after_interruption_is_bitwise_identical(mnist_train, tmp_path, monkeypatch):
    config = RunConfig(defense="trades", alpha_train=1.0, **(QUICK | dict(train_size=256, epochs=2)))
    reference = train_model(config, mnist_train, progress=False).model.state_dict()

    calls = {"n": 0}
    real = wtrain.adversarial_loss

    def interrupt_after_five(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:  # in the middle of epoch 2 (4 batches per epoch)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    ckpt = tmp_path / "run.pt"
    monkeypatch.setattr(wtrain, "adversarial_loss", interrupt_after_five)
    with pytest.raises(KeyboardInterrupt):
        train_model(config, mnist_train, checkpoint=ckpt, checkpoint_every_s=0.0, progress=False)
    monkeypatch.setattr(wtrain, "adversarial_loss", real)
    state = load_checkpoint(ckpt, config_key=config.key())
    assert (state["epoch"], state["batch"]) == (1, 1)
    torch.manual_seed(999)  # the resumed run must not depend on the caller's RNG
    resumed = train_model(config, mnist_train, checkpoint=ckpt, progress=False)
    assert resumed.resumed_from == (1, 1)
    for name, tensor in reference.items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_checkpoint_for_another_config_is_refused(mnist_train, tmp_path):
    config = RunConfig(**(QUICK | dict(train_size=64, epochs=1)))
    ckpt = tmp_path / "run.pt"
    train_model(config, mnist_train, checkpoint=ckpt, progress=False)
    other = config.replace(alpha_train=0.5)
    with pytest.raises(CheckpointError, match=config.key()) as info:
        train_model(other, mnist_train, checkpoint=ckpt, progress=False)
    assert other.key() in str(info.value)


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": PickledObject()}, path)
    with pytest.raises(CheckpointError, match="pickled"):
        load_checkpoint(path)


def test_corrupt_checkpoint_is_refused_and_save_is_atomic(tmp_path):
    path = tmp_path / "run.pt"
    save_checkpoint({"model": {"w": torch.ones(3)}}, path)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)
    path.write_bytes(good)


    with pytest.raises(Exception):
        save_checkpoint({"model": {"w": torch.zeros(3)}, "bad": lambda: 0}, path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_evaluation_record_and_metrics(trained_smallcnn, mnist_test, tmp_path, monkeypatch):
    data = mnist_test.subset(200, seed=1)
    attack = AttackConfig(eps=0.1, step_size=0.01, steps=5)
    calls = {"n": 0}
    real = wevaluate.pgd

    def counting_pgd(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(wevaluate, "pgd", counting_pgd)
    record = evaluate_model(trained_smallcnn, data, attack, alpha_tests=(1.0, 2.0), batch_size=100,
                            progress=False)
    assert calls["n"] == 2 * (1 + 2)  # two batches: one unweighted attack + one per alpha_test
    assert record.labels.shape == (200,)
    assert record.a_nat() > record.a_rob()
    assert record.a_sa(0.0) == pytest.approx(record.a_rob())
    assert record.a_sa(2.0) <= record.a_sa(1.0) <= record.a_rob()
    assert record.a_tr(2.0) <= record.a_sa(2.0) + 0.02
    with pytest.raises(KeyError):
        record.a_tr(1.5)
    path = tmp_path / "rec.npz"
    record.save(path)
    again = EvalRecord.load(path)
    assert again.summary() == record.summary()
    assert again.attack == attack
    assert np.array_equal(again.weighted[2.0].margin, record.weighted[2.0].margin)
