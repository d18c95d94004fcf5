"""Is the robustness real? AutoAttack units, weighted APGD, the masking probes and the page."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import mnist_root
from wmrlib.analysis.results import ProfileResults
from wmrlib.book import RobustnessPage
from wmrlib.compute import adaptive
from wmrlib.method import metrics
from wmrlib.analysis import robustness
from wmrlib.method.apgd import apgd, checkpoints, logit_scaled
from wmrlib.method.attacks import attack_objective, pgd
from wmrlib.compute.checkpoint import save_checkpoint
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.compute.outcome import EvalRecord
from wmrlib.experiment.profiles import profile
from wmrlib.workflow.provenance import provenance
from wmrlib.experiment.robustness_plan import RobustnessPlan, robust_models, robustness_units, standard_autoattack
from wmrlib.workflow.store import Store, write_json

REPO = Path(__file__).resolve().parents[1]
TINY_AA = AttackConfig(kind="autoattack", eps=0.1, steps=5, queries=30, restarts=2)
CONFIG = RunConfig(dataset="mnist", epochs=1, attack_steps=1, step_size=0.1)


def _store_with(model: torch.nn.Module, root: Path, configs=(CONFIG,), **kw) -> Store:
    """Return a store in which the i-th config of ``configs`` is trained as ``model`` with its
    weights moved by i·0.01·N(0, 1) noise (so that each model differs)."""
    store = Store(root, data_root=mnist_root(), device="cpu", progress=False, **kw)
    g = torch.Generator().manual_seed(0)
    for i, config in enumerate(configs):
        weights = {k: v + 0.01 * i * torch.randn(v.shape, generator=g)
                   for k, v in model.state_dict().items()}
        save_checkpoint({"config_key": config.key(), "model_name": config.model,
                         "model": weights}, store.model_path(config))
        write_json(store.provenance_path(config), provenance(torch.device("cpu"), 0.0, kind="train",
                                                             config_key=config.key()))
    return store


class _Saturated(torch.nn.Module):
    """Logits times 1000: a softmax so sharp that the cross-entropy gradient underflows to 0."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return 1000 * self.model(x)


class _Binarized(_Saturated):
    """Rounds every pixel to 0 or 1 first: the input gradient is 0 everywhere."""

    def forward(self, x):
        return self.model(torch.round(x))


class _Noisy(_Saturated):
    """Adds fresh noise to the logits at every call: a randomised defense."""

    def forward(self, x):
        return self.model(x) + 0.1 * torch.randn(x.shape[0], 10)


# --- configs and keys -----------------------------------------------------------------------------

def test_new_attack_fields_keep_every_key():
    assert AttackConfig().key() == "b7324626dda077db"  # the default attack's key since v1
    assert AttackConfig(kind="pgd", queries=5000, scales=[0.01, 0.1, 1, 10, 100]).key() == \
        AttackConfig().key()
    keys = {AttackConfig().key(), AttackConfig(kind="autoattack").key(),
            AttackConfig(kind="logit-scale").key(), AttackConfig(kind="autoattack", queries=9).key()}
    assert len(keys) == 4
    folders = list((REPO / "results").glob("*/evals/*"))
    for path in [p for f in folders for p in f.glob("*.json")]:
        info = json.loads(path.read_text())
        attack = None if info["attack"] is None else AttackConfig(**info["attack"])
        store = Store(path.parents[2], readonly=True)
        names = {store._unit_key(attack, info["alpha_test"], n, info["eval_seed"])
                 for n in (info["eval_size"], None)}
        assert path.stem in names, path


def test_bad_input_names_the_allowed_values():
    cases = [(dict(kind="cw"), "attack kind 'cw'; choose one of 'pgd', 'autoattack', 'logit-scale'"),
             (dict(kind="logit-scale", scales=(1.0, -2.0)), "logit scale must be .*> 0, got -2"),
             (dict(kind="logit-scale", scales=()), "scales must be a non-empty tuple"),
             (dict(kind="autoattack", loss="margin"), "takes loss 'ce' only"),
             (dict(kind="autoattack", queries=0), "queries must be ≥ 1")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            AttackConfig(**kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="logit scale must be .*> 0"):
        logit_scaled(torch.nn.Identity(), -1.0)
    with pytest.raises(ValueError, match="unweighted: use alpha_test 0"):
        adaptive.batch_attack(AttackConfig(kind="logit-scale"), 1.0)
    with pytest.raises(ValueError, match="kind 'autoattack'.*got 'pgd'"):
        RobustnessPlan(AttackConfig())
    with pytest.raises(ValueError, match="unknown models 'all'; choose one of 'headline'"):
        RobustnessPlan(standard_autoattack(0.3), models="all")


def test_names_of_the_new_attacks():
    assert standard_autoattack(0.3).name == "AutoAttack"
    assert TINY_AA.name == "AutoAttack (5 it., 30 queries)"
    assert AttackConfig(kind="logit-scale").name == "40-PGD-logit-scale"
    assert AttackConfig(steps=100, loss="margin").name == "100-PGD-margin"


def test_robustness_units_cover_the_headline_models_on_one_subset():
    plan = profile("cpu").plan("mnist")
    rp = RobustnessPlan(standard_autoattack(0.3), eval_size=500)
    checked = robust_models(plan, rp)
    assert [(c.defense, c.alpha_train, c.seed) for c in checked] == [
        ("pgd", 0.0, 0), ("pgd", 0.5, 0), ("trades", 0.0, 0), ("trades", 2.0, 0)]
    units = robustness_units(plan, checked[1], rp)
    assert {n for _a, _alpha, n in units} == {500}
    kinds = [(a.kind if a else None, alpha) for a, alpha, _n in units]
    assert (None, 0.0) in kinds and ("logit-scale", 0.0) in kinds
    assert {alpha for k, alpha in kinds if k == "autoattack"} == {0.0, *plan.alpha_tests}
    sweep = [a for a, _alpha, _n in units if a and a.kind == "pgd" and a.eps != plan.attack.eps]
    assert sorted(a.eps for a in sweep) == [0.1, 0.2, 0.4, 0.5]
    assert all(a.steps * a.step_size > a.eps for a in sweep)  # every radius can be crossed
    assert robustness_units(plan, plan.run("pgd", 0.2), rp) == []
    assert robustness_units(plan, plan.run("pgd", 0.0, 1), rp) == []


# --- the attacks ----------------------------------------------------------------------------------

def test_apgd_checkpoints_follow_the_paper():
    assert checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(5)[0] == 0 and max(checkpoints(5)) <= 5


def test_weighted_apgd_beats_unweighted_apgd_and_pgd_on_the_weighted_objective(
        trained_smallcnn, mnist_test):
    x, y = mnist_test.to_float(torch.arange(128))
    eps, steps, alpha = 0.1, 20, 2.0

    def objective(x_adv):
        with torch.no_grad():
            return float(attack_objective(trained_smallcnn(x_adv), y, alpha=alpha).sum())

    g = torch.Generator().manual_seed(0)
    weighted = apgd(trained_smallcnn, x, y, eps=eps, steps=steps, alpha=alpha, generator=g)
    plain = apgd(trained_smallcnn, x, y, eps=eps, steps=steps, generator=g)
    weighted_pgd = pgd(trained_smallcnn, x, y, eps=eps, step_size=2.5 * eps / steps, steps=steps,
                       alpha=alpha, generator=g)
    assert (weighted - x).abs().max() <= eps + 1e-6 and 0 <= weighted.min() and weighted.max() <= 1
    assert objective(weighted) > objective(plain)
    assert objective(weighted) > objective(weighted_pgd)


def test_autoattack_stages_say_who_fooled_each_example(trained_smallcnn, mnist_test):
    x, y = mnist_test.to_float(torch.arange(16))
    x_adv, stage = adaptive.autoattack_batch(trained_smallcnn, x, y, eps=0.1, steps=5, queries=30)
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6
    with torch.no_grad():
        fooled = trained_smallcnn(x_adv).argmax(1) != y
    robust = stage == adaptive.STAGES.index("robust")
    assert bool((fooled == ~robust).all()) and bool((x_adv[robust] == x[robust]).all())


# --- the unit in the store ------------------------------------------------------------------------

def test_autoattack_unit_round_trips_through_the_store(trained_smallcnn, mnist_test, tmp_path):
    store = _store_with(trained_smallcnn, tmp_path, eval_batch_size=8)
    kw = dict(eval_size=16, eval_seed=0)
    first = store.get_or_attack(CONFIG, TINY_AA, 0.0, **kw)
    assert store.has_unit(CONFIG, TINY_AA, 0.0, **kw)
    assert not store.has_unit(CONFIG, replace_kind(TINY_AA), 0.0, **kw)  # keyed by the kind
    info = store.provenance_of(CONFIG, TINY_AA, 0.0, **kw)
    assert info["attack"]["kind"] == "autoattack" and info["eval_size"] == 16 and info["git_commit"]
    assert info["pyautoattack"].startswith("0.")
    again = Store(tmp_path, device="cpu", readonly=True).get_or_attack(CONFIG, TINY_AA, 0.0, **kw)
    for name in ("correct", "margin", "loss"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert set(again.extra) == {"stage", "grad_l1", "logit_jitter"}
    np.testing.assert_array_equal(first.extra["stage"], again.extra["stage"])
    # correct is the outcome at the point whose margin is stored
    np.testing.assert_array_equal(first.correct, first.margin > 0)
    assert not list(store.evals_dir(CONFIG).glob("*.partial.npz"))


def replace_kind(attack: AttackConfig) -> AttackConfig:
    return dataclasses.replace(attack, kind="logit-scale")


def test_a_sa_and_a_tr_come_from_the_autoattack_records(trained_smallcnn, mnist_test, tmp_path):
    store = _store_with(trained_smallcnn, tmp_path, eval_batch_size=16)
    alphas = (1.0, 2.0)
    record = store.get_or_evaluate(CONFIG, TINY_AA, alphas, eval_size=16)
    assert isinstance(record, EvalRecord) and 0 < record.a_rob() < 1
    for a in alphas:
        assert record.a_sa(a) == metrics.a_sa(record.uniform.correct, record.uniform.margin, a)
        weighted = store.get_or_attack(CONFIG, TINY_AA, a, eval_size=16)
        assert record.a_tr(a) == metrics.a_tr(weighted.correct, weighted.margin, a)
        assert not weighted.extra  # the weighted counterpart is APGD alone


def test_an_interrupted_unit_resumes_where_it_stopped(trained_smallcnn, mnist_test, tmp_path,
                                                      monkeypatch):
    data = mnist_test.subset(24, seed=0)
    attack = dataclasses.replace(TINY_AA, eps=0.05)
    whole = adaptive.adaptive_record(trained_smallcnn, data, attack, 2.0, batch_size=8,
                                     progress=False)
    partial = tmp_path / "unit.partial.npz"
    save = adaptive._save_partial

    def save_then_stop(*args):
        save(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(adaptive, "_save_partial", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        adaptive.adaptive_record(trained_smallcnn, data, attack, 2.0, batch_size=8,
                                 progress=False, partial=partial)
    monkeypatch.setattr(adaptive, "_save_partial", save)
    batches = []
    run = adaptive.batch_attack(attack, 2.0)
    monkeypatch.setattr(adaptive, "batch_attack",
                        lambda a, alpha: lambda *args: batches.append(1) or run(*args))
    resumed = adaptive.adaptive_record(trained_smallcnn, data, attack, 2.0, batch_size=8,
                                       progress=False, partial=partial)
    assert len(batches) == 2  # of 3: the first was kept
    for name in ("correct", "margin", "loss"):
        np.testing.assert_allclose(getattr(resumed, name), getattr(whole, name), rtol=1e-6)
    # a partial file of other batching is ignored, not mixed in
    batches.clear()
    adaptive.adaptive_record(trained_smallcnn, data, attack, 2.0, batch_size=12, progress=False,
                             partial=partial)
    assert len(batches) == 2


# --- the probes -----------------------------------------------------------------------------------

def _flags(model, data, eps: float) -> dict[str, bool]:
    attack = AttackConfig(eps=eps, step_size=eps / 4, steps=8)
    rp = RobustnessPlan(dataclasses.replace(TINY_AA, eps=eps), eval_size=len(data),
                        sweep_eps=(0.2, 0.5))
    frame = robustness.probe_model(model, data, attack, rp, batch_size=len(data))
    assert list(frame["probe"]) == list(robustness.PROBES)
    return dict(zip(frame["probe"], frame["flag"]))


def test_probes_stay_quiet_on_a_normal_model(trained_smallcnn, mnist_test):
    assert not any(_flags(trained_smallcnn, mnist_test.subset(16, seed=0), 0.3).values())


def test_probes_flag_saturated_logits(trained_smallcnn, mnist_test):
    flags = _flags(_Saturated(trained_smallcnn), mnist_test.subset(16, seed=0), 0.3)
    assert flags["logit scaling"] and flags["zero gradients"] and flags["A_rob → 0 as ε grows"]
    assert not flags["randomness"]


def test_probes_flag_shattered_gradients(trained_smallcnn, mnist_test):
    flags = _flags(_Binarized(trained_smallcnn), mnist_test.subset(16, seed=0), 0.5)
    assert flags["Square beats white-box"] and flags["zero gradients"]
    assert flags["A_rob → 0 as ε grows"]
    # Not asserted: "logit scaling". With zero gradients its scales are only extra random starts,
    # and at ε 0.5 one of them can round an image into a wrong class: one image of 16 is 6.25 pp,
    # over the 3 pp threshold. Which image falls depends on float details (it fired on an AVX2 CPU
    # in a whole-file run and not alone), so the flag is chance here, not a property of the probe.


def test_probes_flag_a_randomised_model(trained_smallcnn, mnist_test):
    torch.manual_seed(0)
    flags = _flags(_Noisy(trained_smallcnn), mnist_test.subset(16, seed=0), 0.3)
    assert flags["randomness"] and not flags["zero gradients"]


# --- the page -------------------------------------------------------------------------------------

def test_page_says_so_when_nothing_is_stored(tmp_path):
    from wmrlib import book

    page = RobustnessPage(book.Page("cpu", None, results=tmp_path, progress=False))
    for show in (page.accuracy, page.nonuniform, page.flags, page.claims):
        source, why = show()
        assert source is None and "No stored results" in why


def test_page_tables_from_stored_units(trained_smallcnn, mnist_test, tmp_path, monkeypatch):
    from wmrlib import book

    plan = profile("smoke").plan("mnist")
    rp = RobustnessPlan(dataclasses.replace(TINY_AA, eps=plan.attack.eps, steps=3, queries=10,
                                            restarts=1), eval_size=12, sweep_eps=(0.3, 0.5))
    monkeypatch.setattr(robustness, "plan_for", lambda _plan: rp)
    models = robust_models(plan, rp)
    store = _store_with(trained_smallcnn, tmp_path / "smoke", models, eval_batch_size=12)
    for config in models:
        for attack, alpha, n in robustness_units(plan, config, rp):
            store.get_or_attack(config, attack, alpha, eval_size=n, eval_seed=plan.eval_seed)
    page = RobustnessPage(book.Page("smoke", None, results=tmp_path, progress=False))
    _, rob = page.accuracy()
    assert list(rob["model"]) == ["PGD", "PGD+ours α 0.5", "TRADES", "TRADES+ours α 2"]
    assert {"A_nat", plan.attack.name, "logit scaling", rp.attack.name} <= set(rob.columns)
    _, nonuniform = page.nonuniform()
    assert len(nonuniform) == 4 * len(plan.alpha_tests)
    _, flags = page.flags()
    assert flags["flag"].dtype == bool and len(flags) == 4 * len(robustness.PROBES)
    # the page's one row per probe: how many models it flags and the range of its value
    per_probe = robustness.probe_summary(flags)
    assert list(per_probe["probe"]) == list(robustness.PROBES) and set(per_probe["models"]) == {4}
    for row in per_probe.itertuples():
        mine = flags[flags["probe"] == row.probe]
        assert row.flagged == mine["flag"].sum() and row.largest == mine["value"].max()
        assert row.smallest == mine["value"].min() and row.threshold == mine["threshold"].iloc[0]
    _, (verdicts, detail) = page.claims()
    assert list(verdicts["claim"]) == ["C2", "C2", "C3", "C3"]
    assert list(verdicts["family"]) == ["PGD", "TRADES", "PGD", "TRADES"]
    assert set(verdicts["PGD, book"]) == {"not stored"}  # the smoke models' main units are not
    for column in (f"{plan.attack.name}, this subset", "AutoAttack, this subset"):
        assert set(verdicts[column]) <= {"holds", "does not hold", "inconclusive"}
    assert len(detail) == 2 * (2 * len(plan.alpha_tests) + 2)
    assert robustness.what_changed(verdicts, detail).startswith("Under AutoAttack")
    shown = robustness.compact_detail(detail)  # the page's narrower view of the same numbers
    assert list(shown.columns) == ["claim", "comparison", f"{plan.attack.name} gain [interval]",
                                   f"{plan.attack.name} verdict", "AutoAttack gain [interval]",
                                   "AutoAttack verdict"]
    first = detail.iloc[0]
    assert shown["AutoAttack gain [interval]"].iloc[0] == (f"{first['AutoAttack gain']:+.2f} "
                                                           f"{first['AutoAttack interval']}")
    # The flags other pages carry are the probe table's, read from the same units.
    table = robustness.probe_table(store, plan, rp)
    fired = {m: list(g.loc[g["flag"], "probe"]) for m, g in table.groupby("model", sort=False)}
    assert robustness.flagged_models(store, plan) == {m: p for m, p in fired.items() if p}
    stored = sorted(p.name for p in (tmp_path / "smoke").rglob("*.npz"))
    sentence = robustness.headline_sentence(store, plan)  # given a writable store, it still only reads
    assert sorted(p.name for p in (tmp_path / "smoke").rglob("*.npz")) == stored
    assert sentence.startswith("We also attacked the first seed's headline models with standard "
                               "AutoAttack") and "Under AutoAttack" in sentence


def test_notebook_renders_a_note_without_stored_units(tmp_path):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "robustness.ipynb"
    papermill.execute_notebook(str(REPO / "notebooks" / "robustness.ipynb"), str(out),
                               parameters={"results": str(tmp_path / "results"), "progress": False},
                               kernel_name="python3", cwd=str(REPO / "notebooks"),
                               progress_bar=False)
    nb = json.loads(out.read_text())
    shown = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in shown if o["output_type"] == "error"]
    notes = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in shown)
    # MNIST's five sections and Fashion-MNIST's five, each with its own note
    assert notes.count("No stored results") == 10
    assert "A_rob per model and attack (Fashion-MNIST)" in "".join(
        str(o.get("data", {}).get("text/markdown", "")) for o in shown)
    assert ("the robustness check (AutoAttack and the probes on 500 test images) is not complete "
            "for these models yet") in notes


def test_step_equivalents_rank_the_units_by_cost():
    aa = standard_autoattack(0.3, restarts=2)
    assert adaptive.step_equivalents(AttackConfig()) == 40
    assert adaptive.step_equivalents(AttackConfig(kind="logit-scale")) == 40 * 5
    assert adaptive.step_equivalents(aa, 2.0) == pytest.approx(220)
    assert adaptive.step_equivalents(aa) > 20 * adaptive.step_equivalents(aa, 2.0)
    # APGD-CE on every image; APGD-T, FAB-T, the survivor APGD and Square on those it leaves.
    assert adaptive.step_equivalents(aa) == pytest.approx(1.2 * 100 + 25.3 * 100 + 0.46 * 5000)
    assert adaptive.step_equivalents(aa, survival=0.25) == pytest.approx(
        1.2 * 100 + 0.25 * (25.3 * 100 + 0.46 * 5000))
    with pytest.raises(ValueError, match="survival"):
        adaptive.step_equivalents(aa, survival=1.5)


def test_flags_skip_unchecked_models_and_never_attack(tmp_path, monkeypatch):
    plan = profile("smoke").plan("mnist")
    store = Store(tmp_path, data_root=mnist_root(), device="cpu", progress=False)
    monkeypatch.setattr(Store, "get_or_attack", lambda *a, **k: pytest.fail("attacked a model"))
    assert robustness.flagged_models(store, plan) == {}
    assert robustness.headline_sentence(Store(tmp_path, readonly=True), plan) is None


def test_a_flagged_model_is_marked_in_every_section_of_its_source(tmp_path, monkeypatch):
    from IPython.display import Markdown

    from wmrlib import book

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    monkeypatch.setattr("wmrlib.analysis.results.flagged_models",
                        lambda store, plan: {"PGD+ours α 0.5": ["logit scaling"]})
    monkeypatch.setattr("wmrlib.analysis.collapse.collapsed_models",
                        lambda store, plan: {"TRADES seed 1": 2})
    plan = profile("smoke").plan("mnist")
    source = book.Source("mnist", "smoke", plan, Store(tmp_path, readonly=True))
    book.section("Table 1", source, None)
    text = " ".join(o.data for o in shown if isinstance(o, Markdown))
    assert "gradient-masking probes flag PGD+ours α 0.5 (logit scaling)" in text
    from wmrlib.analysis.collapse import describe_rule

    assert f"collapsed in training ({describe_rule(plan)}): TRADES seed 1 (epoch 2)" in text
    assert "40-PGD A_rob fell by more than 20 pp" in describe_rule(profile("cpu-5epoch").plan("mnist"))


def test_seeds_not_yet_checked_cut_the_check_to_the_first_seed(tmp_path):
    plan = profile("cpu").plan("mnist")
    rp = plan.robustness
    assert rp.models == "headline-seeds" and len(robust_models(plan, rp)) == 4 * len(plan.seeds)
    cut, was_cut = robustness.stored_check(Store(tmp_path, readonly=True), plan, rp)
    assert was_cut and cut.models == "headline" and len(robust_models(plan, cut)) == 4
    first = dataclasses.replace(rp, models="headline")
    assert robustness.stored_check(Store(tmp_path, readonly=True), plan, first) == (first, False)


def test_the_check_follows_an_eps_override_and_keeps_its_standard_counts():
    from wmrlib.workflow.jobs import plan_jobs
    from wmrlib.experiment.overrides import override_profile

    plan = override_profile(profile("cpu"), {"eps": 0.2}, {"eps": 0.2}).plan("mnist")
    assert plan.robustness.attack == dataclasses.replace(standard_autoattack(0.2, restarts=2))
    jobs = {j.config.key(): j for j in plan_jobs("cpu", overrides=({"eps": 0.2}, {"eps": 0.2}))}
    headline = jobs[plan.run("pgd").key()]
    assert any(a is not None and a.kind == "autoattack" and a.eps == 0.2 for a, _, _ in headline.units)


def test_pages_other_than_the_check_do_not_wait_for_it(tmp_path):
    """A model whose every unit but the robustness check's is stored is complete for the pages."""
    from wmrlib import book
    from wmrlib.workflow.jobs import plan_jobs

    plan = profile("cpu").plan("mnist")
    checked = dataclasses.replace(plan, robustness=None)
    stored = {plan.run("pgd").key(), plan.run("pgd", 0.5).key(), plan.run("trades").key(),
              plan.run("trades", 2.0).key()}

    class _Stored:
        def has_run(self, config):
            return config.key() in stored

        def has_unit(self, config, attack, alpha, eval_size, eval_seed):
            return config.key() in stored and (attack, alpha, eval_size) in checked.units(config)

    assert len(plan_jobs("cpu")) > 4
    results = ProfileResults("cpu", tmp_path)
    results.store = _Stored()
    cut = results.stored_plan("mnist")
    assert cut is not None and cut.seeds == (0,) and cut.pgd_alphas == (0.5,)
    assert cut.trades_alphas == (2.0,)


def test_a_family_checked_before_the_other_shows_alone(tmp_path):
    """Only TRADES's first-seed pair has its units stored: the check is cut to that family."""
    plan = profile("cpu").plan("mnist")
    rp = plan.robustness
    trades = [plan.run("trades", 0.0), plan.run("trades", plan.headline[1])]
    keys = {(c.key(), None if a is None else a.key(), alpha, n)
            for c in trades for a, alpha, n in robustness_units(plan, c, rp)}

    class _Stored:
        def has_unit(self, config, attack, alpha, eval_size, eval_seed):
            return (config.key(), None if attack is None else attack.key(), alpha, eval_size) in keys

    cut, was_cut = robustness.stored_check(_Stored(), plan, rp)
    assert was_cut and cut.families == ("trades",) and cut.models == "headline"
    assert [c.key() for c in robust_models(plan, cut)] == [c.key() for c in trades]


def test_an_unknown_family_is_one_clear_error():
    with pytest.raises(ValueError, match="robustness family"):
        RobustnessPlan(standard_autoattack(0.3), families=("pgd", "fgsm"))


# --- the logit-scaling unit reads nothing of the process ------------------------------------------

def test_logit_scaling_unit_ignores_the_global_random_stream():
    """The unit's outcomes are the model's in eval mode: the same under any global seed, equal to
    those of the same network without its dropout layer, and the model stays in eval mode."""
    from wmrlib.compute.data import synthetic
    from wmrlib.method.models import build_model

    torch.manual_seed(0)
    model = build_model("smallcnn", 10).eval()
    torch.nn.init.normal_(model.classifier.fc3.weight, std=0.3)  # logits not all zero
    data = synthetic("mnist", 16, train=False, seed=0)
    attack = AttackConfig(kind="logit-scale", eps=0.3, step_size=0.1, steps=2,
                          scales=(0.1, 1.0, 100.0))

    def unit(net, global_seed):
        torch.manual_seed(global_seed)
        return adaptive.adaptive_record(net, data, attack, batch_size=8, progress=False)

    first, second = unit(model, 1), unit(model, 2)
    assert not model.training and not model.classifier.drop.training
    without_dropout = build_model("smallcnn", 10)
    without_dropout.load_state_dict(model.state_dict())
    without_dropout.classifier.drop = torch.nn.Identity()
    third = unit(without_dropout.eval(), 3)
    for other in (second, third):
        for name in ("correct", "margin", "loss"):
            assert np.array_equal(getattr(first, name), getattr(other, name)), name
        assert np.array_equal(first.extra["correct_by_scale"], other.extra["correct_by_scale"])


# --- how much 40-PGD overstates a model -----------------------------------------------------------

def _write_unit(store: Store, config: RunConfig, attack, correct: list[bool], eval_size: int) -> None:
    """Store a hand-made unit: ``correct`` per example, margins and losses that say the same."""
    ok = np.array(correct)
    path = store.unit_path(config, attack, 0.0, eval_size=eval_size, eval_seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, labels=np.zeros(len(ok), dtype=np.int64), correct=ok,
             margin=np.where(ok, -1.0, 1.0), loss=np.where(ok, 0.1, 2.0))


def test_pgd_gap_is_pgd_minus_autoattack_on_the_check_images(tmp_path):
    """12 of 16 images survive PGD and 10 of 16 AutoAttack on the check's subset: 75 − 62.5 =
    12.5 pp (the main subset's PGD unit, all correct, plays no part); a model without its
    AutoAttack unit has no gap."""
    plan = profile("smoke").plan("mnist")
    rp = plan.robustness
    assert rp.eval_size == 16 and plan.eval_size == 128 and plan.eval_seed == 0
    store = Store(tmp_path, device="cpu", progress=False)
    checked, other = robust_models(plan, rp)[:2]
    _write_unit(store, checked, plan.attack, [True] * 12 + [False] * 4, 16)
    _write_unit(store, checked, rp.attack, [True] * 10 + [False] * 6, 16)
    _write_unit(store, checked, plan.attack, [True] * 128, 128)
    _write_unit(store, other, plan.attack, [True] * 16, 16)
    assert robustness.pgd_gap(store, plan, checked) == pytest.approx(12.5)
    assert robustness.pgd_gap(store, plan, other) is None
    assert robustness.PGD_GAP_PP == 3.0


def test_published_gaps_are_reported_minus_autoattack():
    gaps = robustness.published_gaps("mnist")
    assert list(gaps["family"]) == ["PGD", "TRADES"]
    assert gaps["gap"].tolist() == pytest.approx([89.62 - 88.50, 95.60 - 92.81])  # 1.12, 2.79
    assert robustness.published_gaps("tinyimagenet").empty


def test_the_models_page_flags_gaps_above_the_threshold():
    import pandas as pd

    from wmrlib.book.models import gap_note, group_gap_line

    frame = pd.DataFrame({"model": list("abcd"),
                          "40-PGD → AutoAttack (pp)": [2.0, 3.0, 3.5, float("nan")]})
    assert group_gap_line(frame) == (" 40-PGD overstates the 3 checked models by 2.0–3.5 pp; 1 of "
                                     "them by more than 3 pp.")
    assert group_gap_line(frame.iloc[3:]) == ""
    note = gap_note()
    assert "above 3 pp" in note and "1.12 pp (PGD, ε 0.3)" in note and "2.79 pp (TRADES" in note


def test_zoo_pgd_gap_reads_the_shipped_models_check():
    """zoo.pgd_gap of a shipped cpu model is the robustness page's 40-PGD minus AutoAttack A_rob."""
    from wmrlib import zoo

    plan = profile("cpu").plan("mnist")
    store = Store(REPO / "results" / "cpu", device="cpu", readonly=True, progress=False)
    config = plan.run("trades", 2.0, 0)
    if not robustness.is_checked(store, plan, config, plan.robustness):
        pytest.skip("the cpu TRADES+ours model's check is not stored")
    table = robustness.accuracy_table(store, plan, dataclasses.replace(plan.robustness,
                                                                        models="headline"))
    row = table[table["model"] == "TRADES+ours α 2"].iloc[0]
    gap = zoo.pgd_gap("cpu", "mnist", "trades", alpha_train=2.0)
    assert gap == pytest.approx(row[plan.attack.name] - row[plan.robustness.attack.name])
    assert gap > zoo.PGD_GAP_PP
    assert zoo.pgd_gap("cpu", "mnist", "iaat") is None  # the check does not cover it
    with pytest.raises(LookupError, match="no cpu mnist model trades alpha_train=7"):
        zoo.pgd_gap("cpu", "mnist", "trades", alpha_train=7.0)
