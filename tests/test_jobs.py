"""Jobs: the job list covers the plan, and jobs run in-process, in a local pool and via submitit."""
import json

import numpy as np
import pytest

from wmrlib.jobs import EXECUTORS, compute, plan_jobs, run_job
from wmrlib.profiles import profile
from wmrlib.store import Store

from conftest import mnist_root


def test_plan_jobs_cover_every_model_once_longest_first():
    jobs = plan_jobs("cpu")
    plan = profile("cpu").plan("mnist")
    keys = [j.config.key() for j in jobs]
    assert len(keys) == len(set(keys))
    assert set(keys) == {c.key() for c in plan.models() + plan.precision_models()}
    assert [j.cost for j in jobs] == sorted((j.cost for j in jobs), reverse=True)


def test_cpu_units_follow_the_plan():
    plan = profile("cpu").plan("mnist")
    by_key = {j.config.key(): j for j in plan_jobs("cpu")}
    main = 1 + 1 + len(plan.alpha_tests)                       # clean, uniform, each alpha_test
    sweep = (len(plan.eps_tests) - 1) * (1 + len(plan.alpha_tests))  # eps 0.3 is the main attack
    for config in plan.models():
        units = by_key[config.key()].units
        expected = main + (sweep if plan.in_sweep(config) else 0)
        expected += len(plan.other_attacks) if plan.in_other_attacks(config) else 0
        assert len(units) == expected, config.label
        assert (None, 0.0) in units
    headline_seed0 = [c for c in plan.models() if plan.in_other_attacks(c)]
    assert {(c.defense, c.alpha_train) for c in headline_seed0} == {
        ("pgd", 0.0), ("pgd", 0.5), ("trades", 0.0), ("trades", 2.0)}
    (fp32,) = plan.precision_models()
    assert fp32.precision == "fp32" and plan.base.precision == "bf16"
    assert len(by_key[fp32.key()].units) == main


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
        for attack, alpha in job.units:
            record = store.get_or_attack(job.config, attack, alpha, eval_size=job.eval_size,
                                         eval_seed=job.eval_seed)
            assert record.correct.shape == (job.eval_size,)
    files = _unit_files(tmp_path)
    assert len(files) == sum(len(j.units) for j in jobs)
    # Run again: nothing is trained or evaluated twice, and the log keeps both invocations.
    again = compute("smoke", results=tmp_path, data_root=mnist_root(), progress=False, jobs=jobs)
    assert all(not r["trained"] and r["units_computed"] == 0 for r in again["results"])
    log = json.loads((tmp_path / "smoke" / "compute.json").read_text())
    assert len(log) == 2 and all(e["finished"] for e in log)
    assert _unit_files(tmp_path) == files


def test_run_job_in_process_matches_a_pool_worker(tmp_path):
    """The same job gives the same per-example records in this process and in a spawned worker."""
    if mnist_root() is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    job = _two_cheap_jobs()[0]
    run_job(job, str(tmp_path / "a"), "smoke", str(mnist_root()), None, 1)
    compute("smoke", results=tmp_path / "b", data_root=mnist_root(), workers=2, threads=1,
            progress=False, jobs=[job])
    for path in _unit_files(tmp_path / "a"):
        with np.load(tmp_path / "a" / path) as a, np.load(tmp_path / "b" / path) as b:
            for field in ("correct", "margin", "loss"):
                np.testing.assert_array_equal(a[field], b[field])
