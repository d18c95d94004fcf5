"""The numbers the book's "How we reproduce" and figure pages show, computed in wmrlib.analysis
(issue 45: the book only renders): provenance and wall time, the compute log, the precision
check and the baselines' reach, each on hand-written stores with hand-computed answers; and the
two registries the code branches on."""
from __future__ import annotations

import dataclasses
import json
import types

import numpy as np
import pytest

from wmrlib.analysis import paper, records
from wmrlib.analysis.results import MissingResult, ProfileResults
from wmrlib.experiment import registry
from wmrlib.experiment.config import ATTACK_KINDS, DEFENSE_NAMES, DEFENSES, AttackConfig, RunConfig
from wmrlib.experiment.profiles import DatasetPlan, profile


def _write(path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


def _provenance(minutes: float, device: str = "cpu", commit: str = "unknown") -> dict:
    return {"git_commit": commit, "device": device, "torch": "2.x", "date": "2026-12-07T10:00:00",
            "wall_time_s": 60 * minutes}


# --- registries ------------------------------------------------------------------------------------

def test_the_registries_hold_the_names_the_configs_accept():
    assert ATTACK_KINDS == registry.AttackKind.ALL == ("pgd", "autoattack", "logit-scale")
    assert DEFENSES == registry.Defense.ALL == ("pgd", "trades", "free", "yopo", "iaat")
    assert registry.FAMILIES + registry.EXTRA_DEFENSES == DEFENSES
    assert DEFENSE_NAMES == {"pgd": "PGD", "trades": "TRADES", "free": "AT4Free", "yopo": "YOPO",
                             "iaat": "IAAT"}
    assert registry.FAMILY_NAMES == ("PGD", "TRADES")
    # the registry's constants are the plain strings hashed into store keys
    assert RunConfig(defense=registry.Defense.TRADES).key() == RunConfig(defense="trades").key()
    assert AttackConfig().kind == "pgd" and RunConfig().defense == "pgd"


def test_the_attack_kind_predicates():
    pgd, aa = AttackConfig(), AttackConfig(kind="autoattack")
    logit = AttackConfig(kind="logit-scale")
    assert [registry.is_pgd(a) for a in (None, pgd, aa, logit)] == [False, True, False, False]
    assert [registry.is_autoattack(a) for a in (None, pgd, aa, logit)] == [False, False, True, False]
    assert [registry.is_logit_scale(a) for a in (None, pgd, aa, logit)] == [False, False, False, True]
    assert [registry.is_adaptive(a) for a in (None, pgd, aa, logit)] == [False, False, True, True]


def test_the_defense_predicates():
    assert [registry.is_family(d) for d in DEFENSES] == [True, True, False, False, False]
    assert registry.family_name("pgd") == "PGD" and registry.family_name("trades") == "TRADES"
    with pytest.raises(ValueError, match="free"):
        registry.family_name("free")


# --- provenance, wall time, compute log ----------------------------------------------------------

def test_code_since_says_current_or_the_changed_modules():
    assert records.code_since("current") == "current"
    assert records.code_since("unknown") == "unknown"
    assert records.code_since("stale: compute/train.py, method/attacks.py changed") == \
        "changed: compute/train.py, method/attacks.py"


def test_provenance_and_wall_time_of_hand_written_runs(tmp_path):
    stored = ProfileResults("smoke", tmp_path)
    plan = stored.profile.plan("mnist")
    first, second = plan.models()[:2]
    _write(stored.store.provenance_path(first), _provenance(2.0, "cpu"))
    _write(stored.store.provenance_path(second), _provenance(1.0, "cuda"))
    _write(stored.store.evals_dir(first) / "a.json", {"wall_time_s": 30.0})
    _write(stored.store.evals_dir(second) / "b.json", {"wall_time_s": 90.0})

    table = records.provenance_table(stored, plan)
    assert table["model"].tolist() == [first.label, second.label]
    assert table["training (min)"].tolist() == [2.0, 1.0]
    assert table["run"].tolist() == [first.key()[:12], second.key()[:12]]
    assert table["code since"].tolist() == ["unknown", "unknown"]  # commit git cannot place
    assert records.evaluation_wall_time(stored.store, plan) == 120.0
    assert records.wall_time(stored, plan) == {
        "runs stored": 2, "runs planned": len(plan.models()), "device": "cpu, cuda",
        "train_min": 3.0, "eval_min": 2.0, "total_min": 5.0}
    assert records.wall_time(ProfileResults("smoke", tmp_path / "empty"), plan) is None


def test_compute_log_and_its_sum_per_cpu_kind(tmp_path):
    entry = {"date": "2026-12-07T10:00:00", "git_commit": "a" * 40, "executor": "local",
             "workers": 2, "threads": 1, "jobs": 3, "finished": True, "wall_time_s": 600.0,
             "load_average_start": [1.0, 0.5, 0.25], "load_average_end": [2.0, 1.0, 0.5]}
    results = [{"trained": True, "units_computed": 0}, {"trained": False, "units_computed": 4},
               {"trained": False, "units_computed": 0}]  # the last found complete: no work
    _write(tmp_path / "smoke" / "compute.json",
           [entry | {"results": results}, entry | {"jobs_done": 1, "wall_time_s": 300.0,
                                                   "executor": "submitit", "threads": None}])
    log = records.compute_log(tmp_path, "smoke")
    assert log["jobs done"].tolist() == [2, 1]
    assert log["wall_min"].tolist() == [10.0, 5.0]
    assert log["cpu kind"].tolist() == ["not recorded", "not recorded (submitit)"]
    assert log["workers × threads"].tolist() == ["2 × 1", "2 × default"]
    assert log["load avg start → end"].iloc[0] == "1.0 0.5 0.2 → 2.0 1.0 0.5"
    by_cpu = records.compute_by_cpu(tmp_path, "smoke").set_index("cpu kind")
    assert by_cpu.loc["not recorded", "wall_min"] == 10.0
    assert by_cpu.loc["not recorded (submitit)", "invocations"] == 1
    assert records.compute_log(tmp_path / "none", "smoke").empty
    assert records.compute_by_cpu(tmp_path / "none", "smoke").empty


# --- the precision check and the baselines' reach -----------------------------------------------

def test_precision_check_compares_fp32_with_the_bf16_seeds(monkeypatch):
    base = dataclasses.replace(profile("cpu-1epoch").plan("mnist").base, precision="bf16")
    plan = DatasetPlan("mnist", base, seeds=(0, 1, 2), precision_check=True, alpha_tests=(2.0,))
    (fp32,) = plan.precision_models()
    rob = {plan.run("pgd", 0.0, s).key(): v for s, v in zip(plan.seeds, (80.0, 82.0, 84.0))}
    rob[fp32.key()] = 87.0

    def fake(store, plan_, config, attack, alpha):
        assert alpha == 2.0
        value = rob[config.key()]
        return {"a_nat": 99.0, "a_rob": value, "a_sa": value - 10, "a_tr": value - 20}

    monkeypatch.setattr(records, "model_metrics", fake)
    check = records.precision_check(None, plan).set_index("metric")
    row = check.loc["a_rob"]
    assert (row["bf16 mean"], row["bf16 seed std"], row["bf16 seeds"]) == (82.0, 2.0, 3)
    assert row["fp32 − bf16"] == 5.0 and bool(row["within_2_std"]) is False  # 5 > 2 × 2
    assert check.loc["a_nat", "fp32 − bf16"] == 0.0 and bool(check.loc["a_nat", "within_2_std"])
    assert check.loc["a_sa (α_test 2)", "fp32 (seed 0)"] == 77.0


def test_baseline_reach_is_the_seed_mean_beside_the_paper_and_the_aim(monkeypatch):
    plan = profile("cpu").plan("mnist")
    correct = {0: 0.90, 1: 0.92}  # PGD-AT's A_rob fraction per seed; TRADES not stored

    def unit(fraction, n=50):
        return types.SimpleNamespace(correct=np.arange(n) < round(fraction * n))

    class FakeStore:
        def get_or_attack(self, config, attack, alpha, eval_size, eval_seed):
            if config.defense != "pgd" or config.seed not in correct:
                raise MissingResult("not stored")
            return unit(1.0 if attack is None else correct[config.seed])

    monkeypatch.setattr(records, "results_for", lambda name, results: types.SimpleNamespace(
        store=FakeStore()))
    reach = records.baseline_reach("unused", "cpu")
    assert reach["baseline"].tolist() == ["PGD"]  # no TRADES seed stored: no row
    row = reach.iloc[0]
    theirs = float(paper.table(1).query("defense == 'PGD'")["a_rob"].iloc[0])
    assert (row["seeds"], row["A_nat"], row["A_rob"]) == (2, 100.0, pytest.approx(91.0))
    assert row["A_rob seed std"] == pytest.approx(np.std([90.0, 92.0], ddof=1))
    assert row["paper A_rob"] == theirs
    assert row[f"aim (paper − {records.AIM_PP:g} pp)"] == pytest.approx(theirs - records.AIM_PP)
    short = theirs - records.AIM_PP - 91.0
    assert row["reached"] == ("yes" if short <= 0 else f"no: {short:.1f} pp short")
    assert len(plan.seeds) > 2  # the seeds not stored are skipped, not counted


def test_the_book_shows_what_the_analysis_computed():
    """book.records re-exports the analysis's functions (the pages call book.X) and its own
    wrappers take a Source: the same numbers, one home."""
    from wmrlib import book
    from wmrlib.book import records as book_records

    for name in ("baseline_reach", "compute_log", "compute_by_cpu", "pilot_runs", "AIM_PP"):
        assert getattr(book, name) is getattr(records, name)
    assert book_records.evaluation_processes is records.evaluation_processes
