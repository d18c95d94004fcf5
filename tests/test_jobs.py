"""Jobs: the job list covers the plan, and jobs run in-process, in a local pool and via submitit."""
import dataclasses
import json
import re

import numpy as np
import pytest

from wmrlib import book
from wmrlib.workflow.campaign import EXECUTORS, compute, run_job
from wmrlib.workflow.jobs import plan_jobs
from wmrlib.experiment.profiles import profile
from wmrlib.experiment.robustness_plan import robustness_units
from wmrlib.workflow.store import Store

from conftest import mnist_root


def test_plan_jobs_cover_every_model_once_by_priority_then_seed_then_longest_first():
    jobs = plan_jobs("cpu-5epoch")
    plan = profile("cpu-5epoch").plan("mnist")
    keys = [j.config.key() for j in jobs]
    assert len(keys) == len(set(keys))
    assert set(keys) == {c.key() for c in plan.models() + plan.precision_models()}
    order = [(j.priority, j.config.seed, -j.cost) for j in jobs]
    assert order == sorted(order)
    first = [(j.config.label, j.config.alpha_train) for j in jobs if j.priority == 0]
    assert sorted(first) == [("PGD", 0.0), ("PGD+ours", 0.5), ("TRADES", 0.0), ("TRADES+ours", 2.0)]
    assert all(j.config.seed == 0 for j in jobs[:4])
    assert {j.config.seed for j in jobs if j.priority == 2} == {1, 2}


def test_the_cpu_campaign_trains_the_trades_pair_first_then_the_pgd_pair_then_the_rest():
    jobs = plan_jobs("cpu")
    steps = [(j.config.dataset, j.config.defense, j.config.alpha_train, j.config.seed) for j in jobs]
    mnist_trades = [s for s in steps[:10]]
    assert {(d, a) for _, d, a, _ in mnist_trades} == {("trades", 0.0), ("trades", 2.0)}
    assert sorted({s for *_, s in mnist_trades}) == [0, 1, 2, 3, 4]
    assert {(d, a, s) for _, d, a, s in steps[10:16]} == {
        (d, a, s) for d, a in (("pgd", 0.0), ("pgd", 0.5)) for s in (0, 1, 2)}
    sweep = [j for j in jobs if j.priority == 2]
    plan = profile("cpu").plan("mnist")
    assert {(j.config.defense, j.config.alpha_train) for j in sweep} == {
        ("pgd", 0.01), ("pgd", 0.2), ("trades", 0.5), ("trades", 1.0), ("trades", 1.5)} | {
        (e.defense, 0.0) for e in plan.extras}
    # With the sweep and the extras the campaign covers its predecessor's plan at three seeds:
    # the 5-epoch pages are replaced before the PGD pair's last two seeds are trained.
    assert book.covers(dataclasses.replace(plan, seeds=(0, 1, 2)), profile("cpu-5epoch").plan("mnist"))
    later = [j for j in jobs if j.priority >= 3]
    assert {(j.config.defense, j.config.seed) for j in later if j.config.dataset == "mnist"} == {
        (d, s) for d in ("pgd",) for s in (3, 4)}
    assert {j.config.dataset for j in later} == {"mnist", "fashionmnist"}
    assert all(j.config.val_size == 1000 and j.curve is None for j in jobs)  # validation curves
    fashion = [j for j in jobs if j.config.dataset == "fashionmnist"]
    assert len(fashion) == 12 and min(j.priority for j in fashion) > 3  # after MNIST's headline seeds
    # Seed by seed: every arm's seed 1 before any seed 2, so a budget-limited run completes a seed.
    assert [j.config.seed for j in fashion] == [0] * 4 + [1] * 4 + [2] * 4


def test_cpu_units_follow_the_plan():
    plan = profile("cpu-5epoch").plan("mnist")
    by_key = {j.config.key(): j for j in plan_jobs("cpu-5epoch")}
    main = 1 + 1 + len(plan.alpha_tests)                       # clean, uniform, each alpha_test
    sweep = (len(plan.eps_tests) - 1) * (1 + len(plan.alpha_tests))  # eps 0.3 is the main attack
    for config in plan.extras:  # Table 4's extra baselines: A_nat and A_rob only
        assert by_key[config.key()].units == ((None, 0.0, plan.eval_size), (plan.attack, 0.0, plan.eval_size))
    for config in [c for c in plan.models() if not plan.is_extra(c)]:
        units = by_key[config.key()].units
        side = plan.in_sweep(config) or plan.in_other_attacks(config)
        expected = main + (sweep if plan.in_sweep(config) else 0) + side  # + the side subset's clean
        expected += len(plan.other_attacks) if plan.in_other_attacks(config) else 0
        checked = robustness_units(plan, config, plan.robustness)  # every headline model, every seed
        assert bool(checked) == plan.is_headline(config)
        assert len(units) == expected + len(checked), config.label
        assert set(checked) <= set(units)
        assert (None, 0.0, plan.eval_size) in units
        for attack, _alpha, n in units:  # the main attack on the main set, the rest on the side set
            if n == plan.robustness.eval_size:
                continue
            main_attack = attack is None or attack.key() == plan.attack.key()
            assert n == (plan.eval_size if main_attack else plan.side_eval_size) or attack is None
        assert (by_key[config.key()].curve is not None) == plan.is_headline(config)
    headline_seed0 = [c for c in plan.models() if plan.in_other_attacks(c)]
    assert {(c.defense, c.alpha_train) for c in headline_seed0} == {
        ("pgd", 0.0), ("pgd", 0.5), ("trades", 0.0), ("trades", 2.0)}
    assert plan.base.precision == "fp32" and plan.precision_models() == []
    assert plan.eval_size >= 2000 and plan.curve_size == 500


def test_bad_executor_and_workers_are_refused(tmp_path):
    with pytest.raises(ValueError, match="executor"):
        compute("smoke", results=tmp_path, executor="kubernetes", jobs=[])
    with pytest.raises(ValueError, match="workers"):
        compute("smoke", results=tmp_path, workers=0, jobs=[])
    assert "submitit" in EXECUTORS


def _two_cheap_jobs():
    jobs = [j for j in plan_jobs("smoke", ["mnist"]) if j.config.seed == 1]
    return sorted(jobs, key=lambda j: j.cost)[:2]


def _unit_files(root):
    return sorted(p.relative_to(root) for p in root.rglob("evals/*/*.npz"))


@pytest.mark.parametrize("executor, workers, cluster", [
    ("local", 2, None), ("submitit", 1, "local")], ids=["local-pool", "submitit-local"])
def test_jobs_write_the_shared_store_and_are_idempotent(tmp_path, executor, workers, cluster):
    if mnist_root() is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    pytest.importorskip("submitit")
    jobs = _two_cheap_jobs()
    summary = compute("smoke", results=tmp_path, data_root=mnist_root(), workers=workers,
                      threads=1, executor=executor, cluster=cluster, progress=False, jobs=jobs)
    assert summary["finished"] and summary["jobs_done"] == 2 and summary["executor"] == executor
    assert {r["key"] for r in summary["results"]} == {j.config.key() for j in jobs}
    if executor == "local":
        assert len({r["pid"] for r in summary["results"]}) >= 1
    store = Store(tmp_path / "smoke", readonly=True, progress=False)
    for job in jobs:
        assert store.has_run(job.config)
        for attack, alpha, n in job.units:
            record = store.get_or_attack(job.config, attack, alpha, eval_size=n,
                                         eval_seed=job.eval_seed)
            assert record.correct.shape == (n,)
    files = _unit_files(tmp_path)
    assert len(files) == sum(len(j.units) for j in jobs)
    # Run again: nothing is trained or evaluated twice, and the log keeps both invocations.
    again = compute("smoke", results=tmp_path, data_root=mnist_root(), progress=False, jobs=jobs)
    assert all(not r["trained"] and r["units_computed"] == 0 for r in again["results"])
    assert again["jobs_done"] == 0  # found complete: the compute log does not count them again
    log = json.loads((tmp_path / "smoke" / "compute.json").read_text())
    assert len(log) == 2 and all(e["finished"] for e in log)
    assert book.compute_log(tmp_path, "smoke")["jobs done"].tolist() == [2, 0]
    assert _unit_files(tmp_path) == files


def test_run_job_in_process_matches_a_pool_worker(tmp_path, capsys):
    """The same job gives the same per-example records in this process and in a spawned worker;
    with log_progress it writes one timestamped line per stage, so a log file shows progress."""
    if mnist_root() is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    job = _two_cheap_jobs()[0]
    run_job(job, str(tmp_path / "a"), "smoke", str(mnist_root()), None, 1, log_progress=True)
    lines = capsys.readouterr().err.splitlines()
    n = len(job.units)
    assert len(lines) == 3 + n, lines
    assert all(re.match(r"\d\d:\d\d:\d\d \[" + re.escape(job.describe()) + r"\] ", line)
               for line in lines)
    assert f"start: train, then {n} evaluation units" in lines[0]
    assert "trained in" in lines[1] and "done in" in lines[-1]
    assert [line.split("] ")[1].split(" (")[0] for line in lines[2:-1]] == [
        f"unit {i}/{n}" for i in range(1, n + 1)]
    first = job.units[0][0]  # the attack named as a reader knows it, not its dataclass
    assert f"unit 1/{n} ({'clean' if first is None else first.name}" in lines[2]
    assert "AttackConfig" not in "".join(lines)
    run_job(job, str(tmp_path / "a"), "smoke", str(mnist_root()), None, 1, log_progress=True)
    again = capsys.readouterr().err.splitlines()  # nothing left to do: start and done only
    assert len(again) == 2 and f"start: {n} evaluation units" in again[0]
    assert "(0 units computed)" in again[1]
    compute("smoke", results=tmp_path / "b", data_root=mnist_root(), workers=2, threads=1,
            progress=False, jobs=[job])
    for path in _unit_files(tmp_path / "a"):
        with np.load(tmp_path / "a" / path) as a, np.load(tmp_path / "b" / path) as b:
            for field in ("correct", "margin", "loss"):
                np.testing.assert_array_equal(a[field], b[field])


def test_invocations_side_by_side_keep_each_others_log_rows(tmp_path):
    """Two reproduce runs writing one compute log: each rewrites only its own row."""
    from wmrlib.workflow.campaign import _log_invocation

    log = tmp_path / "cpu" / "compute.json"
    _log_invocation(log, {"invocation": "a", "wall_time_s": 60})
    _log_invocation(log, {"invocation": "b", "wall_time_s": 5})
    _log_invocation(log, {"invocation": "a", "wall_time_s": 120})  # a's heartbeat, after b started
    rows = json.loads(log.read_text())
    assert sorted((r["invocation"], r["wall_time_s"]) for r in rows) == [("a", 120), ("b", 5)]
    log.write_text(json.dumps([{"kind": "compute", "wall_time_s": 7}]))  # a row from before ids
    _log_invocation(log, {"invocation": "c", "wall_time_s": 1})
    assert [r.get("invocation") for r in json.loads(log.read_text())] == [None, "c"]
