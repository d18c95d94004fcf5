"""Table 4's extra baselines (Free-AT, YOPO-m-n, IAAT) in the shared training loop."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

import wmrlib.compute.train as wtrain
from wmrlib.analysis import tables
from wmrlib.method.attacks import adaptive_pgd, project, random_start
from wmrlib.compute.checkpoint import load_checkpoint
from wmrlib.experiment.config import RunConfig
from wmrlib.compute.data import iterate_batches
from wmrlib.compute.defenses import iaat_radii, yopo_inner_steps
from wmrlib.method.models import ResNet18, SmallCNN, build_model, split_first_layer
from wmrlib.experiment.profiles import profile
from wmrlib.workflow.store import MissingResult, Store
from wmrlib.compute.train import adversarial_loss, passes, train_model

SMALL = dict(dataset="mnist", eps=0.1, step_size=0.025, attack_steps=3, epochs=3, batch_size=64,
             optimizer="adam", lr=1e-3, schedule="constant", milestones=(), train_size=512, seed=0)
SETTINGS = {"free": dict(replays=2, epochs=6),  # 3 passes
            "yopo": dict(inner_steps=2, random_start="uniform"),
            "iaat": dict(iaat_warmup=1, iaat_gamma=0.03, iaat_beta=0.5, random_start="uniform")}


def config_of(defense: str, **changes) -> RunConfig:
    return RunConfig(defense=defense, **(SMALL | SETTINGS[defense] | changes))


def pgd_loss_on(model, x, y) -> float:
    """The PGD-AT loss on a fixed batch, a yardstick common to every defense."""
    torch.manual_seed(123)
    loss, _ = adversarial_loss(model, x, y, RunConfig(**SMALL), SMALL["eps"],
                               torch.Generator().manual_seed(7))
    return loss.item()


# --- each defense learns -------------------------------------------------------------------------

@pytest.mark.parametrize("defense", ["free", "yopo", "iaat"])
def test_a_few_steps_lower_the_loss(mnist_train, defense):
    config = config_of(defense)
    subset = mnist_train.subset(config.train_size, seed=config.seed)
    x, y = subset.images[:256].float() / 255, subset.labels[:256]
    torch.manual_seed(config.seed)
    before = pgd_loss_on(build_model("smallcnn"), x, y)
    result = train_model(config, mnist_train, progress=False)
    assert len(result.history) == passes(config)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert pgd_loss_on(result.model, x, y) < 0.8 * before


def test_free_at_makes_ceil_epochs_over_replays_passes():
    assert passes(config_of("free", epochs=5, replays=2)) == 3
    assert passes(config_of("free", epochs=4, replays=8)) == 1
    assert passes(config_of("yopo", epochs=5)) == passes(config_of("iaat", epochs=5)) == 5


# --- Free-AT with m = 1 is FGSM-style training with a carried perturbation -----------------------

def test_free_at_with_one_replay_is_fgsm_training_with_a_carried_perturbation(mnist_train):
    """m = 1: per minibatch one SGD step on CE(x + δ) and δ ← clip(δ + ε·sign ∇_x, ±ε), δ carried
    over minibatches and epochs (200 examples: the last batch of 8 uses δ's first rows)."""
    config = config_of("free", replays=1, epochs=2, train_size=200, optimizer="sgd", lr=0.05)
    result = train_model(config, mnist_train, progress=False)

    data = mnist_train.subset(config.train_size, seed=config.seed)
    torch.manual_seed(config.seed)
    model = build_model("smallcnn", 10).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    delta, eps = torch.zeros(config.batch_size, 1, 28, 28), config.eps
    for epoch in range(2):
        for x, y in iterate_batches(data, config.batch_size, shuffle=True, seed=config.seed,
                                    epoch=epoch):
            x_in = (x + delta[:len(y)]).clamp(0, 1).requires_grad_(True)
            loss = F.cross_entropy(model(x_in), y, reduction="none").mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            delta[:len(y)] = (delta[:len(y)] + eps * x_in.grad.sign()).clamp(-eps, eps)
    assert torch.equal(result.state["delta"], delta)
    for name, tensor in model.state_dict().items():
        assert torch.equal(result.model.state_dict()[name], tensor), name


# --- YOPO with n = 1 is K-step PGD on the first layer's gradient ---------------------------------

def test_yopo_with_one_inner_step_is_pgd_training_with_accumulated_gradients(mnist_train):
    """YOPO-K-1: with n = 1 the adjoint p is taken where the inner step starts, and
    ∇_η <p, f_0(x + η)> = ∇_x ℓ(x + η) exactly, so the perturbation follows K-step PGD (sign steps
    of σ, projected, from the same uniform start, model in train mode). The weights take one
    step per minibatch on the sum of the loss gradients at the PGD iterates x_0 … x_{K-1} (the
    points where p was computed, not the final x_K)."""
    config = config_of("yopo", attack_steps=4, inner_steps=1, epochs=2, train_size=128,
                       optimizer="sgd", lr=0.05)
    result = train_model(config, mnist_train, progress=False)

    data = mnist_train.subset(config.train_size, seed=config.seed)
    torch.manual_seed(config.seed)
    model = build_model("smallcnn", 10).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    gen = torch.Generator().manual_seed(config.seed + 1)
    eps, sigma = config.eps, config.step_size
    for epoch in range(2):
        for x, y in iterate_batches(data, config.batch_size, shuffle=True, seed=config.seed,
                                    epoch=epoch):
            x_adv = random_start(x, eps, "uniform", gen)
            opt.zero_grad()
            for _ in range(config.attack_steps):
                point = x_adv.clone().requires_grad_(True)
                F.cross_entropy(model(point), y, reduction="none").mean().backward()
                x_adv = project(point.detach() + sigma * point.grad.sign(), x, eps)
            opt.step()
    for name, tensor in model.state_dict().items():
        assert torch.allclose(result.model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6), name


def test_yopo_inner_steps_share_one_gradient_exactly_for_an_affine_first_layer():
    conv = SmallCNN().first_layer()
    x = torch.rand(4, 1, 28, 28)
    adjoint = torch.randn(4, 32, 26, 26)
    start = project(x + 0.05 * torch.randn_like(x), x, 0.1)
    kw = dict(eps=0.1, step_size=0.03, steps=4)
    shared = yopo_inner_steps(conv, x, start, adjoint, **kw)
    recomputed = yopo_inner_steps(torch.nn.Sequential(conv), x, start, adjoint, **kw)  # not affine
    assert torch.equal(shared, recomputed)
    assert (shared - x).abs().max() <= 0.1 + 1e-6 and not torch.equal(shared, start)


def test_yopo_needs_a_model_split_at_its_first_layer():
    for model, shape in ((SmallCNN().eval(), (2, 1, 28, 28)), (ResNet18().eval(), (2, 3, 32, 32))):
        first, rest = split_first_layer(model)
        x = torch.rand(shape)
        with torch.no_grad():
            assert torch.equal(rest(first(x)), model(x))
        assert all(any(p is q for q in model.parameters()) for p in first.parameters())
    with pytest.raises(TypeError, match="first_layer"):
        split_first_layer(torch.nn.Linear(3, 2))


# --- IAAT's radii --------------------------------------------------------------------------------

class _Constant(torch.nn.Module):
    """Predicts class 0 whatever the input: no attack can fool it."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([1.0, 0.0]))

    def forward(self, x):
        return self.bias.expand(len(x), 2) + 0 * x.flatten(1).sum(1, keepdim=True)


class _Threshold(torch.nn.Module):
    """Class 0 when the mean pixel is above 0.5: a perturbation of 0.02 flips x = 0.51."""

    def forward(self, x):
        score = 100 * (x.flatten(1).mean(1) - 0.5)
        return torch.stack([score, torch.zeros_like(score)], 1)


IAAT = RunConfig(defense="iaat", eps=0.3, step_size=0.05, attack_steps=3, iaat_gamma=0.05,
                 iaat_beta=0.5, random_start="uniform")


def test_iaat_radius_grows_while_the_example_resists_and_stays_below_eps():
    x, y = torch.rand(4, 1, 4, 4), torch.zeros(4, dtype=torch.long)
    previous = torch.tensor([0.0, 0.1, 0.28, 0.3])
    new = iaat_radii(_Constant(), x, y, previous, eps=0.3, config=IAAT, warmup=False,
                     generator=torch.Generator().manual_seed(0))
    expected = 0.5 * torch.clamp(previous + 0.05, max=0.3) + 0.5 * previous
    assert torch.allclose(new, expected)
    assert (new[:3] > previous[:3]).all() and new[3] == 0.3


def test_iaat_radius_shrinks_when_the_example_falls_and_stays_above_zero():
    x = torch.cat([torch.full((3, 1, 4, 4), 0.51), torch.full((1, 1, 4, 4), 0.4)])
    y = torch.zeros(4, dtype=torch.long)  # the last one is misclassified clean
    previous = torch.tensor([0.2, 0.03, 0.0, 0.2])
    new = iaat_radii(_Threshold(), x, y, previous, eps=0.3, config=IAAT, warmup=False,
                     generator=torch.Generator().manual_seed(0))
    assert new[0] == pytest.approx(0.2 - 0.5 * 0.05)      # falls at ε_i: one γ lower, averaged
    assert new[1] == pytest.approx(0.5 * 0.0 + 0.5 * 0.03)  # ε_i − γ < 0 is clipped to 0
    assert new[2] == 0.0                                  # resists at 0 (clean), not at γ: stays
    assert new[3] == pytest.approx(0.5 * 0.2)             # misclassified clean: towards 0
    assert (new >= 0).all() and (new <= 0.3).all()


def test_iaat_warm_up_gives_eps_to_correct_examples_only():
    x = torch.cat([torch.full((1, 1, 4, 4), 0.51), torch.full((1, 1, 4, 4), 0.4)])
    new = iaat_radii(_Threshold(), x, torch.zeros(2, dtype=torch.long), torch.zeros(2), eps=0.3,
                     config=IAAT, warmup=True)
    assert new.tolist() == pytest.approx([0.3, 0.0])


def test_iaat_training_keeps_every_radius_within_its_bounds(mnist_train):
    config = config_of("iaat", epochs=2, train_size=256)
    result = train_model(config, mnist_train, progress=False)
    radii = result.state["eps"]
    assert radii.shape == (256,) and (radii >= 0).all() and (radii <= config.eps + 1e-7).all()
    assert len(radii.unique()) > 2  # adapted after the warm-up epoch, not just {0, ε}


def test_adaptive_pgd_keeps_each_example_in_its_own_ball():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    torch.nn.init.normal_(model.classifier.fc3.weight)  # not the zero init: input gradients ≠ 0
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    eps = torch.linspace(0.0, 0.3, 8)
    x_adv = adaptive_pgd(model, x, y, eps=eps, step_size=torch.full((8,), 0.05), steps=3,
                         generator=torch.Generator().manual_seed(0))
    gap = (x_adv - x).abs().flatten(1).amax(1)
    assert (gap <= eps + 1e-6).all() and gap[0] == 0 and gap[-1] > 0.2
    assert x_adv.min() >= 0 and x_adv.max() <= 1


# --- resume ------------------------------------------------------------------------------------

@pytest.mark.parametrize("defense", ["free", "iaat"])
def test_resume_mid_epoch_is_bitwise_identical(mnist_train, tmp_path, monkeypatch, defense):
    """Free-AT carries δ and IAAT its radii across batches: both live in the checkpoint."""
    config = config_of(defense, train_size=256, **({"epochs": 4} if defense == "free" else {"epochs": 2}))
    reference = train_model(config, mnist_train, progress=False)

    calls = {"n": 0}
    real = wtrain.UPDATES[defense]

    def interrupt_after_five(*args):
        calls["n"] += 1
        if calls["n"] > 5:  # in the middle of the second pass (4 batches per pass)
            raise KeyboardInterrupt
        return real(*args)

    ckpt = tmp_path / "run.pt"
    monkeypatch.setitem(wtrain.UPDATES, defense, interrupt_after_five)
    with pytest.raises(KeyboardInterrupt):
        train_model(config, mnist_train, checkpoint=ckpt, checkpoint_every_s=0.0, progress=False)
    monkeypatch.setitem(wtrain.UPDATES, defense, real)
    state = load_checkpoint(ckpt, config_key=config.key())
    assert (state["epoch"], state["batch"]) == (1, 1) and state["defense_state"]
    torch.manual_seed(999)  # the resumed run must not depend on the caller's RNG
    resumed = train_model(config, mnist_train, checkpoint=ckpt, progress=False)
    assert resumed.resumed_from == (1, 1)
    for name, tensor in reference.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    for name, tensor in reference.state.items():
        assert torch.equal(tensor, resumed.state[name]), name


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    (dict(defense="fgsm"), "unknown defense 'fgsm'; choose one of 'pgd', 'trades', 'free', 'yopo', 'iaat'"),
    (dict(defense="free", replays=0), "replays must be ≥ 1, got 0"),
    (dict(defense="yopo", inner_steps=0), "inner_steps must be ≥ 1, got 0"),
    (dict(defense="yopo", attack_steps=0), "attack_steps of defense 'yopo' must be ≥ 1, got 0"),
    (dict(defense="iaat", attack_steps=0), "attack_steps of defense 'iaat' must be ≥ 1, got 0"),
    (dict(defense="iaat", iaat_warmup=-1), "iaat_warmup must be ≥ 0, got -1"),
    (dict(defense="iaat", iaat_beta=1.5), "iaat_beta must be a number ≥ 0 and ≤ 1, got 1.5"),
    (dict(defense="iaat", iaat_gamma=-0.1), "iaat_gamma must be a number ≥ 0 and ≤ 1, got -0.1"),
    (dict(lr_decay=0.0), "lr_decay must be a number > 0 and ≤ 1, got 0"),
])
def test_bad_settings_give_one_line_errors_naming_the_allowed_values(changes, message):
    with pytest.raises(ValueError) as info:
        RunConfig(**changes)
    assert str(info.value) == message and "\n" not in str(info.value)


def test_an_extra_baseline_must_be_another_defense_of_the_plan_dataset():
    plan = profile("smoke").plan("mnist")
    with pytest.raises(ValueError, match="another defense than 'pgd'"):
        dataclasses.replace(plan, extras=(plan.base,))


# --- profiles, jobs and the Table 4 page -----------------------------------------------------------

def test_extra_baselines_join_the_cpu_and_paper_plans_last_and_keep_every_key():
    cpu = profile("cpu-5epoch").plan("mnist")
    models, before = cpu.models(), dataclasses.replace(cpu, extras=()).models()
    assert len(before) == 17 and [c.key() for c in models[:17]] == [c.key() for c in before]
    assert [c.label for c in models[17:]] == ["AT4Free", "YOPO-5-3", "IAAT"]
    for config in models[17:]:
        assert cpu.priority(config) == 3 and not cpu.is_headline(config)
        assert cpu.units(config) == [(None, 0.0, cpu.eval_size), (cpu.attack, 0.0, cpu.eval_size)]
        assert cpu.run(config.defense) == config
    assert max(cpu.priority(c) for c in models[:17]) < 3
    assert all(cpu.units(c) == dataclasses.replace(cpu, extras=()).units(c) for c in before)
    cifar = profile("paper").plan("cifar10")
    assert [c.label for c in cifar.extras] == ["AT4Free", "YOPO-5-3", "IAAT"]
    assert [passes(c) for c in cifar.extras] == [26, 36, 110]


def test_table4_analog_shows_stored_extra_baselines_beside_the_paper_rows(tmp_path):
    base = profile("smoke").plan("mnist")
    free = dataclasses.replace(base.base, defense="free", replays=1, train_size=256)
    plan = dataclasses.replace(base, extras=(free,))
    with pytest.raises(MissingResult):
        tables.extra_baselines_analog(Store(tmp_path, readonly=True, progress=False), plan)
    frame = tables.extra_baselines_analog(Store(tmp_path, progress=False, device="cpu"), plan)
    free_row, pgd_row = frame.to_dict("records")  # a writable store trains the PGD-AT reference too
    assert free_row["defense"] == free_row["paper_row"] == "AT4Free"
    assert (free_row["paper_cifar10_a_nat"], free_row["paper_cifar10_a_rob"]) == (81.80, 39.00)
    assert 0 <= free_row["ours_mnist_a_rob"] <= free_row["ours_mnist_a_nat"] <= 100
    assert pgd_row["defense"] == pgd_row["paper_row"] == "PGD" and pgd_row["paper_cifar10_a_rob"] == 49.29
    assert not any(c.startswith("delta") for c in frame.columns)  # side by side, not compared
    stored = tables.extra_baselines_analog(Store(tmp_path, readonly=True, progress=False), plan)
    assert stored.equals(frame)
    # In the paper's Table 4 an extra baseline not stored yet is left out, not an error.
    yopo = dataclasses.replace(base.base, defense="yopo", train_size=256)
    later = dataclasses.replace(plan, extras=(free, yopo), pgd_alphas=(), seeds=(0,))
    rows = tables.ours(Store(tmp_path, readonly=True, progress=False), later, "uniform",
                       ("pgd", "free", "yopo"))
    assert list(rows["defense"]) == ["PGD", "AT4Free"]
    with pytest.raises(MissingResult):  # a missing PGD-AT or TRADES model still stops the table
        tables.ours(Store(tmp_path, readonly=True, progress=False), later, "uniform")
