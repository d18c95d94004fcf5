"""RunConfig/AttackConfig validation and keys; the profiles against Appendix A.2 and the paper's tables."""
import dataclasses
import json
import os
import subprocess
import sys

import pytest

from wmrlib.analysis import paper, tables
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.experiment.profiles import PROFILES, DatasetPlan, profile

# --- validation -------------------------------------------------------------------------------

BAD_RUN = [  # (field, bad value, expected exception)
    ("dataset", "svhn", ValueError),
    ("model", "vgg16", ValueError),
    ("defense", "mart", ValueError),
    ("optimizer", "rmsprop", ValueError),
    ("precision", "fp16", ValueError),
    ("schedule", "linear", ValueError),
    ("random_start", "gaussian", ValueError),
    ("eps", -0.1, ValueError),
    ("eps", 1.5, ValueError),
    ("eps", float("nan"), ValueError),
    ("step_size", 0.0, ValueError),
    ("step_size", -0.01, ValueError),
    ("attack_steps", -1, ValueError),
    ("alpha_train", -0.5, ValueError),
    ("beta", -1.0, ValueError),
    ("batch_size", 0, ValueError),
    ("epochs", 0, ValueError),
    ("lr", 0.0, ValueError),
    ("momentum", 1.5, ValueError),
    ("train_size", 0, ValueError),
    ("eps", "0.3", TypeError),
    ("alpha_train", "1.0", TypeError),
    ("attack_steps", "10", TypeError),
    ("attack_steps", 2.5, TypeError),
    ("batch_size", True, TypeError),
    ("augment", "no", TypeError),
]


BAD_ATTACK = [
    ("eps", -0.01, ValueError),
    ("eps", 1.01, ValueError),
    ("step_size", 0.0, ValueError),
    ("steps", -1, ValueError),
    ("restarts", 0, ValueError),
    ("loss", "cw", ValueError),
    ("random_start", "gaussian", ValueError),
    ("eps", "0.3", TypeError),
    ("steps", "40", TypeError),
]


@pytest.mark.parametrize("cls, field, value, error",
                         [(RunConfig, *case) for case in BAD_RUN]
                         + [(AttackConfig, *case) for case in BAD_ATTACK])
def test_bad_config_value_raises_naming_the_field(cls, field, value, error):
    with pytest.raises(error) as info:
        cls(**{field: value})
    assert field in str(info.value)


def test_unknown_choice_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        RunConfig(dataset="svhn")
    for name in ("mnist", "cifar10", "tinyimagenet"):
        assert name in str(info.value)


def test_boundary_values_are_accepted():
    RunConfig(eps=0.0, attack_steps=0, alpha_train=0.0, beta=0.0, epochs=1, batch_size=1)
    RunConfig(eps=1.0)
    AttackConfig(eps=0.0, steps=0)


def test_default_model_follows_the_dataset():
    assert RunConfig(dataset="mnist").model == "smallcnn"
    assert RunConfig(dataset="cifar10").model == "resnet18"
    assert RunConfig(dataset="tinyimagenet").model == "resnet50"


# --- keys -------------------------------------------------------------------------------------

# A different valid value for every RunConfig field; the test fails when a field is added here
# without an entry, so a new field cannot silently be left out of the key.
CHANGED = dict(dataset="cifar10", model="resnet18", defense="trades", alpha_train=0.5, beta=5.0,
               eps=0.2, step_size=0.02, attack_steps=7, epochs=3, batch_size=64, optimizer="adam",
               lr=0.02, momentum=0.5, weight_decay=1e-4, schedule="cosine", milestones=(0.5,),
               eps_ramp=0.3, train_size=128, augment=True, synthetic=True, seed=1,
               precision="bf16", detach_weights=True, random_start="uniform", lr_decay=0.2,
               replays=4, inner_steps=5, iaat_warmup=2, iaat_gamma=0.01, iaat_beta=0.5,
               val_size=1000, selection="best-val-rob", val_alpha_test=2.0)
# Settings that a changed field needs beside it (the validation split of the selection rule).
NEEDS = {"selection": dict(val_size=1000), "val_alpha_test": dict(val_size=1000)}


def test_equal_configs_have_equal_keys():
    a = RunConfig(dataset="mnist", alpha_train=0.5, train_size=100)
    b = RunConfig(dataset="mnist", alpha_train=0.5, train_size=100)
    assert a == b and a.key() == b.key()
    assert len(a.key()) == 16 and int(a.key(), 16) >= 0
    # Numbers given as int or float, and milestones as list or tuple, are the same config.
    c = RunConfig(dataset="mnist", alpha_train=1, eps=1, milestones=[0.55, 0.75, 0.9])
    d = RunConfig(dataset="mnist", alpha_train=1.0, eps=1.0, milestones=(0.55, 0.75, 0.9))
    assert c == d and c.key() == d.key()
    assert AttackConfig(eps=1, step_size=1).key() == AttackConfig(eps=1.0, step_size=1.0).key()


def test_changing_any_field_changes_the_key():
    base = RunConfig()
    assert set(CHANGED) == {f.name for f in dataclasses.fields(RunConfig)}
    keys = {base.key()}
    for name, value in CHANGED.items():
        start = dataclasses.replace(base, **NEEDS.get(name, {}))
        changed = dataclasses.replace(start, **{name: value})
        assert changed != start and changed.key() != start.key(), name
        keys.add(changed.key())
    assert len(keys) == 1 + len(CHANGED)


def test_changing_any_attack_field_changes_the_key():
    base = AttackConfig()
    changes = dict(eps=0.1, step_size=0.02, steps=20, loss="margin", restarts=2, random_start="none",
                   kind="autoattack", queries=100, scales=(1.0,))
    assert set(changes) == {f.name for f in dataclasses.fields(AttackConfig)}
    keys = {base.key()} | {dataclasses.replace(base, **{k: v}).key() for k, v in changes.items()}
    assert len(keys) == 1 + len(changes)


def test_from_dict_round_trips_and_rejects_unknown_fields():
    for config in (RunConfig(), RunConfig(**CHANGED)):
        again = RunConfig.from_dict(dataclasses.asdict(config))
        assert again == config and again.key() == config.key()
        # through JSON, as the store writes config.json (tuples come back as lists)
        again = RunConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(config))))
        assert again == config and again.key() == config.key()
    with pytest.raises(ValueError, match="colour"):
        RunConfig.from_dict({"colour": "red"})


def test_key_is_the_same_in_another_process():
    configs = [RunConfig(), RunConfig(**CHANGED), profile("smoke").plan("mnist").run("trades", 2.0, 1)]
    script = ("import json, dataclasses, sys\n"
              "from wmrlib.experiment.config import RunConfig, AttackConfig\n"
              "dicts = json.loads(sys.stdin.read())\n"
              "print(json.dumps([RunConfig.from_dict(d).key() for d in dicts]"
              " + [AttackConfig().key()]))\n")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", script], input=json.dumps(
        [dataclasses.asdict(c) for c in configs]), capture_output=True, text=True, env=env,
        timeout=120, check=True)
    assert json.loads(out.stdout) == [c.key() for c in configs] + [AttackConfig().key()]


def test_replace_validates_again():
    with pytest.raises(ValueError, match="alpha_train"):
        RunConfig().replace(alpha_train=-1.0)


# --- profiles ---------------------------------------------------------------------------------

def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        profile("nope")
    for name in PROFILES:
        assert name in str(info.value)
    assert set(PROFILES) == {"smoke", "cpu", "paper", "cpu-5epoch", "cpu-1epoch", "cpu-20epoch"}


def test_unknown_dataset_of_a_profile_raises():
    with pytest.raises(ValueError, match="cpu"):
        profile("cpu").plan("cifar10")


def test_paper_profile_matches_appendix_a2():
    p = profile("paper")
    mnist, cifar, tiny = p.plan("mnist"), p.plan("cifar10"), p.plan("tinyimagenet")
    # MNIST: the TRADES CNN, eps 0.3, eta 0.01, K = 40, m = 128, 100 epochs; 40-PGD evaluation.
    b = mnist.base
    assert (b.model, b.eps, b.step_size, b.attack_steps, b.batch_size, b.epochs) == \
        ("smallcnn", 0.3, 0.01, 40, 128, 100)
    assert (mnist.attack.eps, mnist.attack.steps, mnist.attack.step_size) == (0.3, 40, 0.01)
    assert mnist.attack.name == "40-PGD"
    # CIFAR-10: ResNet-18, eps 0.031, eta 0.007, S = 10, m = 128, 100 epochs; 20- and 100-PGD.
    b = cifar.base
    assert (b.model, b.eps, b.step_size, b.attack_steps, b.batch_size, b.epochs) == \
        ("resnet18", 0.031, 0.007, 10, 128, 100)
    assert (cifar.attack.eps, cifar.attack.steps, cifar.attack.loss) == (0.031, 20, "ce")
    names = {a.name for a in cifar.other_attacks}
    assert "100-PGD" in names
    assert names | {cifar.attack.name} == {a for a in paper.table(9)["attack"]}
    assert all(a.eps == 0.031 for a in cifar.other_attacks)
    # Tiny ImageNet: ResNet-50, eps 0.016, eta 0.0015, K = 10, m = 64, 100 epochs, 1/lambda = 6;
    # evaluated with "exactly the same configuration of training (10-PGD)".
    b = tiny.base
    assert (b.model, b.eps, b.step_size, b.attack_steps, b.batch_size, b.epochs, b.beta) == \
        ("resnet50", 0.016, 0.0015, 10, 64, 100, 6.0)
    assert (tiny.attack.eps, tiny.attack.step_size, tiny.attack.steps) == (0.016, 0.0015, 10)
    # The whole test set is evaluated, on real data.
    for plan in (mnist, cifar, tiny):
        assert plan.eval_size is None and not plan.base.synthetic


@pytest.mark.parametrize("number, dataset", [(4, "cifar10"), (5, "tinyimagenet"), (6, "mnist")])
def test_paper_profile_trades_beta_is_the_printed_inv_lambda(number, dataset):
    t = paper.table(number)
    printed = set(t.loc[t["defense"].str.startswith("TRADES"), "inv_lambda"])
    assert printed == {profile("paper").plan(dataset).base.beta}


def _paper_alphas(numbers, dataset):
    """alpha_train of the +ours rows and alpha_test of every row, over the paper's tables."""
    pgd, trades, tests, eps = set(), set(), set(), set()
    for n in numbers:
        t = paper.table(n)
        assert set(t["dataset"]) == {dataset}
        pgd |= set(t.loc[t["defense"] == "PGD+ours", "alpha_train"])
        trades |= set(t.loc[t["defense"] == "TRADES+ours", "alpha_train"])
        if "alpha_test" in t:
            tests |= set(t["alpha_test"])
        eps |= set(t["eps_test"])
    return pgd, trades, tests, eps


@pytest.mark.parametrize("dataset", ["mnist", "cifar10", "tinyimagenet"])
def test_paper_profile_covers_every_alpha_of_the_paper_tables(dataset):
    numbers = [n for n, spec in tables.SPECS.items() if spec.dataset == dataset]
    assert set(numbers) & {1, 2, 3, 4, 5, 6, 10, 11, 12}
    pgd, trades, tests, eps = _paper_alphas(numbers, dataset)
    plan = profile("paper").plan(dataset)
    assert pgd <= set(plan.pgd_alphas), pgd - set(plan.pgd_alphas)
    assert trades <= set(plan.trades_alphas), trades - set(plan.trades_alphas)
    assert tests <= set(plan.alpha_tests) | {tables.SWEEP_ALPHA_TEST[dataset]}
    assert eps <= set(plan.eps_tests) | {plan.attack.eps}
    # The headline models are the +ours rows of Tables 1-3.
    headline = paper.table({"mnist": 1, "cifar10": 2, "tinyimagenet": 3}[dataset])
    assert (set(headline.loc[headline.defense == "PGD+ours", "alpha_train"]),
            set(headline.loc[headline.defense == "TRADES+ours", "alpha_train"])) == \
        ({plan.headline[0]}, {plan.headline[1]})


def test_cpu_profile_covers_the_mnist_tables_and_smoke_uses_paper_alphas():
    pgd, trades, tests, eps = _paper_alphas([1, 6, 10], "mnist")
    cpu = profile("cpu").plan("mnist")
    assert pgd <= set(cpu.pgd_alphas) and trades <= set(cpu.trades_alphas)
    assert tests <= set(cpu.alpha_tests)
    for dataset, smoke in profile("smoke").plans.items():
        # Fashion-MNIST has no paper plan: its smoke plan trains the cpu plan's alphas
        paper_plan = profile("paper" if dataset in profile("paper").plans else "cpu").plan(dataset)
        assert set(smoke.pgd_alphas) <= set(paper_plan.pgd_alphas)
        assert set(smoke.trades_alphas) <= set(paper_plan.trades_alphas)
        assert smoke.headline == paper_plan.headline


def test_profiles_cover_the_documented_datasets():
    assert set(profile("smoke").plans) == {"mnist", "fashionmnist", "cifar10", "tinyimagenet"}
    assert set(profile("cpu").plans) == {"mnist", "fashionmnist"}
    assert set(profile("cpu-5epoch").plans) == {"mnist"}
    assert set(profile("paper").plans) == {"mnist", "cifar10", "tinyimagenet"}
    for name in PROFILES:
        for dataset, plan in profile(name).plans.items():
            assert plan.dataset == plan.base.dataset == dataset


def _expected_models(plan: DatasetPlan) -> int:
    """Baselines + each +ours alpha for the first seed, four headline models per extra seed,
    then Table 4's extra baselines."""
    return (2 + len(set(plan.pgd_alphas)) + len(set(plan.trades_alphas))
            + 4 * (len(plan.seeds) - 1) + len(plan.extras))


@pytest.mark.parametrize("name", PROFILES)
def test_models_have_unique_keys_and_include_the_baselines(name):
    for dataset, plan in profile(name).plans.items():
        models = plan.models()
        keys = [m.key() for m in models]
        assert len(keys) == len(set(keys))
        assert len(models) == _expected_models(plan)
        models = [m for m in models if not plan.is_extra(m)]
        for seed in plan.seeds:
            mine = {(m.defense, m.alpha_train) for m in models if m.seed == seed}
            assert {("pgd", 0.0), ("trades", 0.0), ("pgd", plan.headline[0]),
                    ("trades", plan.headline[1])} <= mine
        first = {(m.defense, m.alpha_train) for m in models if m.seed == plan.seeds[0]}
        assert first == {("pgd", 0.0), ("trades", 0.0)} | {("pgd", a) for a in plan.pgd_alphas} \
            | {("trades", a) for a in plan.trades_alphas}
        assert all(m.label == ("PGD" if m.defense == "pgd" else "TRADES")
                   + ("+ours" if m.alpha_train else "") for m in models)


def test_models_drop_repeats_when_the_headline_is_not_in_the_alpha_lists():
    base = profile("smoke").plan("mnist")
    plan = dataclasses.replace(base, pgd_alphas=(0.5, 0.5), trades_alphas=(), headline=(0.5, 3.0),
                               seeds=(0, 1))
    models = plan.models()
    assert len({m.key() for m in models}) == len(models)
    # seed 0: pgd 0, pgd 0.5, trades 0; seed 1: the four headline models (trades 3.0 included).
    assert len(models) == 3 + 4
    assert ("trades", 3.0, 1) in {(m.defense, m.alpha_train, m.seed) for m in models}


@pytest.mark.parametrize("name", ["smoke", "cpu"])
def test_small_profiles_change_sizes_not_the_code_path(name):
    """Same datasets, models, defenses, radii, TRADES beta and attack types as the paper (the cpu
    campaign's training start is the schedule pilot's choice, in CHOICES; Fashion-MNIST is ours)."""
    big = profile("paper")
    for dataset, plan in profile(name).plans.items():
        if dataset not in big.plans:
            continue
        ref = big.plan(dataset)
        fields = ("dataset", "model", "eps", "beta", "detach_weights") + (
            ("random_start",) if name == "smoke" else ())
        for field in fields:
            assert getattr(plan.base, field) == getattr(ref.base, field), (name, dataset, field)
        # a cheaper training precision is allowed only with an fp32 twin that checks it
        if plan.base.precision != ref.base.precision:
            assert [c.precision for c in plan.precision_models()] == [ref.base.precision]
        assert {m.defense for m in plan.models() if not plan.is_extra(m)} == {"pgd", "trades"}
        assert plan.attack.eps == ref.attack.eps
        assert (plan.attack.loss, plan.attack.random_start, plan.attack.restarts) == \
            (ref.attack.loss, ref.attack.random_start, ref.attack.restarts)
        # the sensitivity radii are a subset of the paper's, plus the main radius
        assert set(plan.eps_tests) <= set(ref.eps_tests) | {ref.attack.eps}
        # every attack loss the paper uses on the dataset is exercised
        losses = lambda pl: {a.loss for a in (pl.attack, *pl.other_attacks)}  # noqa: E731
        assert losses(ref) <= losses(plan)
        # a real dataset for MNIST; CIFAR-10 and Tiny ImageNet may be synthetic only at smoke
        assert plan.base.synthetic == (name == "smoke" and dataset != "mnist")
