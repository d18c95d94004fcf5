"""The campaign's machinery: cost estimates and budgets, the shipped-model zoo, the page fallbacks."""
from __future__ import annotations

import doctest
import json
import math
from pathlib import Path
from dataclasses import replace

import pytest
import torch

from wmrlib import book
from wmrlib.analysis import zoo
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.workflow.cost import (Calibration, Estimate, _train_combo, calibrate, estimate,
                                  schedule)
from wmrlib.workflow.campaign import compute, compute_plan, warn_oversubscription
from wmrlib.workflow.jobs import Job, plan_jobs
from wmrlib.experiment.profiles import PREDECESSORS, profile
from wmrlib.workflow.store import Store
from wmrlib.compute.train import train_model

TINY = RunConfig(dataset="mnist", synthetic=True, train_size=64, batch_size=32, epochs=2,
                 attack_steps=2, step_size=0.1, optimizer="adam", lr=1e-3, schedule="constant",
                 milestones=())
ATTACK = AttackConfig(eps=0.3, step_size=0.1, steps=3)
JOB = Job(TINY, ((None, 0.0, 16), (ATTACK, 0.0, 16), (ATTACK, 2.0, 16)), 0,
          curve=(ATTACK, 2.0, 8))


def _calibration(batch_s=0.5, step_s=1e-3) -> Calibration:
    combo = ("mnist", TINY.model, "pgd", 2, 32, "fp32", TINY.replays, TINY.inner_steps)
    return Calibration({combo: batch_s}, {("mnist", TINY.model): step_s}, 1, 1, 0.1)


def test_estimate_is_the_hand_computed_cost_and_drops_what_is_stored(tmp_path):
    store = Store(tmp_path, device="cpu", progress=False)
    est = estimate(JOB, _calibration(), store)
    # 2 batches × 2 epochs × 0.5 s; curves: 2 epochs × 8 images × (2 × 3 steps + 1) × 1 ms.
    assert est.train_s == pytest.approx(2 * 2 * 0.5 + 2 * 8 * 7 * 1e-3)
    # clean: 16 × 1 step; each attack unit: 16 × (3 + 1) steps, at 1 ms per image-step.
    assert est.eval_s == pytest.approx((16 + 2 * 16 * 4) * 1e-3)
    assert (est.trained, est.units_left) == (False, 3)
    store.get_or_train(TINY, need_model=False)
    store.get_or_attack(TINY, None, eval_size=16)
    done = estimate(JOB, _calibration(), store)
    assert done.train_s == 0 and done.units_left == 2
    assert done.eval_s == pytest.approx(2 * 16 * 4 * 1e-3)


def test_the_estimate_counts_the_validation_probes(tmp_path):
    """A held-out split trains on fewer images and is probed (clean + PGD-20) each quarter pass."""
    store = Store(tmp_path, device="cpu", progress=False)
    config = replace(TINY, train_size=None, val_size=100)
    est = estimate(Job(config, (), 0), _calibration(), store)
    per_epoch = math.ceil((60_000 - 100) / 32)  # 1,873 batches of 32 of the 59,900 kept
    probes = 2 * 4 * 100 * (20 + 2)  # 2 epochs × 4 points × 100 images × (20 steps + clean + final)
    assert est.train_s == pytest.approx(2 * per_epoch * 0.5 + probes * 1e-3)


def test_autoattack_costs_less_on_a_model_pgd_breaks(tmp_path):
    """The AutoAttack unit's estimate scales its dear stages by the stored PGD robust accuracy."""
    from wmrlib.compute.adaptive import step_equivalents
    from wmrlib.experiment.robustness_plan import standard_autoattack

    aa = replace(standard_autoattack(0.3), steps=2, queries=10)
    job = Job(TINY, ((ATTACK, 0.0, 16), (aa, 0.0, 16)), 0)
    store = Store(tmp_path, device="cpu", progress=False)
    upper = estimate(job, _calibration(), store)
    assert upper.eval_s == pytest.approx(16 * (3 + 1 + step_equivalents(aa) + 1) * 1e-3)
    store.get_or_train(TINY, need_model=False)
    survival = float(store.get_or_attack(TINY, ATTACK, eval_size=16).correct.mean())
    assert survival < 1  # 16 synthetic images: the tiny model gets some wrong
    guess = estimate(job, _calibration(), store)
    assert guess.eval_s == pytest.approx(16 * (step_equivalents(aa, 0.0, survival) + 1) * 1e-3)


def test_a_checkpoint_lowers_the_training_estimate(tmp_path):
    store = Store(tmp_path, device="cpu", progress=False)

    # Stop the run in its second epoch's probe: the checkpoint holds (epoch 1, batch 0).
    class Stop(Exception):
        pass

    def stop(model, epoch):
        if epoch == 2:
            raise Stop
        return {}

    from wmrlib.compute.data import synthetic
    with pytest.raises(Stop):
        train_model(TINY, synthetic("mnist", 64), device="cpu", progress=False,
                    checkpoint=store.checkpoint_path(TINY), probe=stop)
    est = estimate(replace(JOB, curve=None), _calibration(), store)
    assert est.resume_at == (1, 0)
    assert est.train_s == pytest.approx(2 * 0.5)  # the second epoch's 2 batches are left


def test_schedule_fills_the_first_free_worker_and_defers_past_the_budget():
    ests = [Estimate(JOB, t, 0.0, False, None, 1) for t in (60, 50, 40, 30, 0)]
    started, deferred, wall = schedule(ests, workers=2)
    assert [e.train_s for e in started] == [60, 50, 40, 30] and wall == 90  # 60+30, 50+40
    started, deferred, wall = schedule(ests, workers=2, budget_s=85)
    assert [e.train_s for e in started] == [60, 50, 30] and [e.train_s for e in deferred] == [40]
    assert wall == 90 or wall <= 85
    assert schedule(ests, 1, budget_s=10)[0] == []


def test_calibration_measures_positive_times_for_each_combination():
    cal = calibrate([JOB], workers=1, threads=1)
    assert all(v > 0 for v in cal.train_batch_s.values()) and len(cal.train_batch_s) == 1
    assert all(0 < v < 1 for v in cal.eval_image_step_s.values())
    assert cal.cpu["model"] and cal.wall_time_s > 0


def test_a_timing_is_the_median_extra_time_of_its_repeated_pairs():
    """Hand-computed: pairs taking (1, 3), (1, 9) and (2, 3) s cost 2, 8 and 1 s extra; the
    median, 2, ignores the one disturbed pair. ``sync`` runs before every timed call."""
    from wmrlib.workflow import cost

    ticks = iter([0, 1, 1, 4, 4, 5, 5, 14, 14, 16, 16, 19])
    calls = []
    extra = cost.median_extra_time(lambda: calls.append("short"), lambda: calls.append("long"),
                                   repeats=3, sync=lambda: calls.append("sync"),
                                   clock=lambda: next(ticks))
    assert extra == 2
    assert calls == ["sync", "short", "sync", "long"] * 3
    assert doctest.testmod(cost).failed == 0


def test_calibration_workers_side_by_side_start_every_timing_together():
    """Each timed section waits on the workers' shared barrier, so all of them are timed under
    the contention the campaign meets; two real workers pass through it."""
    from wmrlib.workflow.cost import TIMING_REPEATS, _measure, eval_batches

    class CountingBarrier:
        waits = 0

        def wait(self):
            CountingBarrier.waits += 1

    combos = sorted({_train_combo(JOB.config)})
    evals = eval_batches([JOB])
    _measure(combos, evals, 1, None, CountingBarrier())
    assert CountingBarrier.waits == TIMING_REPEATS * 2 * (len(combos) + len(evals))
    cal = calibrate([JOB], workers=2, threads=1)
    assert cal.workers == 2 and all(v > 0 for v in cal.train_batch_s.values())


def test_plan_prints_every_job_and_the_total(tmp_path):
    text = compute_plan("smoke", results=tmp_path, datasets=["mnist"], threads=1)
    jobs = plan_jobs("smoke", ["mnist"])
    assert len(text.splitlines()) == len(jobs) + 4 and "attack image-steps" in text
    assert f"0 of {len(jobs)} jobs done" in text and "expected wall time" in text


def test_budget_too_small_starts_nothing_and_records_the_deferred(tmp_path):
    summary = compute("smoke", results=tmp_path, datasets=["mnist"], progress=False,
                      budget_min=0.001, threads=1)
    assert summary["jobs"] == 0 and summary["jobs_done"] == 0
    assert len(summary["deferred"]) == len(plan_jobs("smoke", ["mnist"]))
    log = json.loads(Store(tmp_path / "smoke").compute_log_path().read_text())
    assert log[-1]["budget_min"] == 0.001 and log[-1]["cpu"]["flags"]
    assert not (tmp_path / "smoke" / "runs").exists()


def test_the_compute_log_keeps_each_jobs_expected_minutes_beside_its_wall_time(tmp_path,
                                                                               monkeypatch):
    import wmrlib.workflow.campaign as campaign

    calibration = _calibration(batch_s=0.5, step_s=1e-3)
    monkeypatch.setattr(campaign, "calibrate", lambda *a, **k: calibration)
    expected = estimate(JOB, calibration, Store(tmp_path / "smoke", readonly=True)).total_s / 60
    summary = compute("smoke", results=tmp_path, progress=False, budget_min=60, threads=1,
                      jobs=[JOB])
    assert summary["jobs_done"] == 1 and summary["results"][0]["wall_time_s"] > 0
    assert summary["expected_min"] == {JOB.describe(): round(expected, 1)}
    log = json.loads(Store(tmp_path / "smoke").compute_log_path().read_text())
    assert log[-1]["expected_min"] == summary["expected_min"]


def test_more_workers_than_cores_warns_with_both_numbers(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    with pytest.warns(UserWarning, match=r"3 workers × 1 threads = 3 threads on 2 cores"):
        warn_oversubscription(3, 1)


def test_busy_cores_reads_the_kernels_cpu_counters(tmp_path, monkeypatch):
    from wmrlib.compute import device
    from wmrlib.compute.device import busy_cores, cpu_time_counters

    assert doctest.testmod(device).failed == 0
    # user nice system idle iowait irq softirq steal guest guest_nice: busy excludes idle, iowait
    assert cpu_time_counters("cpu  10 2 3 50 5 1 1 1 7 0\ncpu0 1 1 1 1 1 1 1 1 0 0") == (18, 73)
    with pytest.raises(ValueError, match="first line must start with 'cpu'"):
        cpu_time_counters("intr 1 2 3")
    # two snapshots 200 ticks apart, 150 of them busy, on 2 cores: 1.5 cores' worth of work
    stat = tmp_path / "stat"
    snapshots = iter(["cpu  100 0 0 100 0 0 0 0 0 0", "cpu  250 0 0 150 0 0 0 0 0 0"])
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("time.sleep", lambda s: stat.write_text(next(snapshots)))
    stat.write_text(next(snapshots))
    assert busy_cores(stat=stat) == pytest.approx(1.5)
    assert busy_cores(stat=tmp_path / "absent") is None


def test_calibrating_on_a_busy_machine_warns_with_the_cpu_in_use(monkeypatch):
    from wmrlib.workflow.cost import _busy_warning, busy_machine_warning

    assert busy_machine_warning(0.49, 2) is None
    assert "1.9 of 2 cores in use, from CPU time" in busy_machine_warning(1.9, 2)
    monkeypatch.setattr("wmrlib.workflow.cost.busy_cores", lambda: 1.2)
    with pytest.warns(UserWarning, match="the machine is busy"):
        calibrate([JOB], workers=1, threads=1)
    # without /proc/stat the lagging load average decides, and only a whole busy core counts
    monkeypatch.setattr("wmrlib.workflow.cost.busy_cores", lambda: None)
    monkeypatch.setattr("os.getloadavg", lambda: (0.9, 0.9, 0.9))
    assert _busy_warning() is None
    monkeypatch.setattr("os.getloadavg", lambda: (2.0, 2.0, 2.0))
    assert "from the 1-minute load average" in _busy_warning()


def test_budget_and_plan_bad_input_is_one_line(capsys):
    from wmrlib.cli import main

    assert main(["plan", "--profile", "nope"]) == 2
    assert "profile" in capsys.readouterr().err
    assert main(["plan", "--profile", "cpu", "--datasets", "cifar10"]) == 2
    assert "cifar10" in capsys.readouterr().err
    assert main(["reproduce", "--profile", "smoke", "--budget-min", "-1", "--no-notebooks"]) == 2
    assert "budget_min" in capsys.readouterr().err


def test_reproduce_logs_progress_lines_unless_quiet_and_draws_bars_only_on_a_terminal(
        tmp_path, monkeypatch):
    import wmrlib.workflow.reproduce as reproduce_module
    from wmrlib.cli import main

    calls = []
    monkeypatch.setattr(reproduce_module, "compute", lambda *a, **k: calls.append(k) or {})
    base = ["reproduce", "--profile", "smoke", "--no-notebooks", "--out", str(tmp_path)]
    assert main(base) == 0 and main(base + ["--quiet"]) == 0
    assert [c["log_progress"] for c in calls] == [True, False]
    assert not any(c["progress"] for c in calls)  # pytest's stderr is not a terminal


# --- the zoo -------------------------------------------------------------------------------------

def test_zoo_loads_a_stored_model_checked_against_its_key(tmp_path, monkeypatch):
    plan = profile("smoke").plan("mnist")
    small = replace(plan, base=plan.base.replace(synthetic=True, train_size=32, batch_size=32))
    fake = replace(profile("smoke"), plans={"mnist": small})
    monkeypatch.setattr(zoo, "get_profile", lambda name: fake)
    config = small.run("pgd", 0.0)
    trained = Store(tmp_path / "smoke", device="cpu", progress=False).get_or_train(config).model
    model = zoo.load("smoke", "mnist", "pgd", results=tmp_path)
    assert not model.training
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model(x), trained.eval()(x))
    with pytest.raises(LookupError, match=r"weights are not in .*available: pgd alpha_train=0 seed=0"):
        zoo.load("smoke", "mnist", "trades", alpha_train=2.0, results=tmp_path)
    with pytest.raises(LookupError, match="does not train it"):
        zoo.load("smoke", "mnist", "pgd", alpha_train=0.3, results=tmp_path)
    # Weights of another run under this run's name are refused by the key check.
    other = small.run("trades", 2.0)
    Store(tmp_path / "smoke", device="cpu", progress=False).get_or_train(other, need_model=False)
    store = Store(tmp_path / "smoke", device="cpu", progress=False)
    store.model_path(config).write_bytes(store.model_path(other).read_bytes())
    with pytest.raises(Exception, match="config_key"):
        zoo.load("smoke", "mnist", "pgd", results=tmp_path)


def test_zoo_loads_a_fashion_mnist_model_and_never_falls_back_to_an_mnist_one(tmp_path, monkeypatch):
    """zoo.load("cpu", "fashionmnist", ...) returns the cpu profile's Fashion-MNIST model; while
    none is trained it raises (cpu-5epoch has no Fashion-MNIST models to fall back to)."""
    plan = profile("cpu").plan("fashionmnist")
    small = replace(plan, base=plan.base.replace(synthetic=True, train_size=32, batch_size=32,
                                                 epochs=1, val_size=0))
    fake = replace(profile("cpu"), plans={**profile("cpu").plans, "fashionmnist": small})
    real = zoo.get_profile
    monkeypatch.setattr(zoo, "get_profile", lambda name: fake if name == "cpu" else real(name))
    with pytest.raises(LookupError, match=r"no cpu fashionmnist model trades alpha_train=2 seed=1 "
                                          r"\(its weights are not in .*\); available: none"):
        zoo.load("cpu", "fashionmnist", "trades", alpha_train=2.0, seed=1, results=tmp_path)
    config = small.run("trades", 2.0, 1)
    trained = Store(tmp_path / "cpu", device="cpu", progress=False).get_or_train(config).model
    model = zoo.load("cpu", "fashionmnist", "trades", alpha_train=2.0, seed=1, results=tmp_path)
    x = torch.rand(4, 1, 28, 28)
    assert not model.training and torch.equal(model(x), trained.eval()(x))
    assert zoo.available("cpu", "fashionmnist", tmp_path) == ["trades alpha_train=2 seed=1"]


# --- page fallbacks -------------------------------------------------------------------------------

def test_mnist_pages_fall_back_to_the_5epoch_results_never_to_smoke(tmp_path):
    chain = book.profiles_of("cpu", "smoke")
    assert chain == ["cpu", PREDECESSORS["cpu"], "smoke"] == ["cpu", "cpu-5epoch", "smoke"]
    mnist = [s.profile for s in book.candidate_sources("mnist", chain, results=tmp_path, readonly=True)]
    assert mnist == ["cpu", "cpu-5epoch"]
    cifar = [s.profile for s in book.candidate_sources("cifar10", chain, results=tmp_path, readonly=True)]
    assert cifar == ["smoke"]
    assert book.profiles_of("smoke", "smoke") == ["smoke"]


def test_the_earlier_profiles_keep_their_settings_and_the_5epoch_results_stay_readable(tmp_path):
    """The 5-epoch results moved to a profile of their own, with the same keys, until the cpu
    campaign replaces them; the 1-epoch results left the store (git history keeps them)."""
    from pathlib import Path

    stored = Path(__file__).resolve().parents[1] / "results"
    assert not (stored / "cpu-1epoch").exists() and (stored / "cpu-5epoch" / "runs").is_dir()
    five = profile("cpu-5epoch").plan("mnist")
    assert all((stored / "cpu-5epoch" / "runs" / c.key()).is_dir() for c in five.models())
    plan = profile("cpu-1epoch").plan("mnist")
    assert len(plan.models() + plan.precision_models()) == 18
    (source,) = book.candidate_sources("mnist", ["cpu-5epoch"], results=tmp_path, readonly=True)
    assert source.superseded and "5-epoch models" in source.label
    assert plan.base.precision == "bf16" and profile("cpu").plan("mnist").base.precision == "fp32"
    new = profile("cpu").plan("mnist")
    assert new.base.val_size == 1000 and len(new.seeds) == 5 and new.models()[0].key() not in {
        c.key() for c in five.models()}


# --- stale results ---------------------------------------------------------------------------------

def _git_repo(tmp_path):
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("config", "user.email", "t@t"), git("config", "user.name", "t")
    return git


def _write(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_result_is_stale_only_when_compute_code_changed(tmp_path, monkeypatch):
    from wmrlib.workflow.staleness import NUMBER_PRESERVING, changed_since, staleness

    git = _git_repo(tmp_path)
    _write(tmp_path, "wmrlib/compute/train.py", "x = 1\n")
    _write(tmp_path, "book.md", "text\n")
    git("add", "."), git("commit", "-qm", "one")
    commit = git("rev-parse", "HEAD")
    _write(tmp_path, "book.md", "new text\n")                  # docs change: not stale
    _write(tmp_path, "wmrlib/book/page.py", "y = 2\n")         # book code: not stale
    _write(tmp_path, "wmrlib/analysis/claims.py", "z = 3\n")   # analysis code: not stale
    assert staleness(commit, tmp_path) == "current"
    assert staleness(commit + "-dirty", tmp_path) == "current"
    _write(tmp_path, "wmrlib/compute/train.py", "x = 2\n")     # training code: stale
    changed_since.cache_clear()
    assert staleness(commit, tmp_path) == "stale: compute/train.py changed"
    assert staleness("0" * 40, tmp_path) == "unknown" and staleness("unknown", tmp_path) == "unknown"
    git("add", "."), git("commit", "-qm", "two: changes a number")
    changed_since.cache_clear()
    assert staleness(commit, tmp_path) == "stale: compute/train.py changed"
    _write(tmp_path, "wmrlib/method/attacks.py", "layout = 'channels_last'\n")
    git("add", "."), git("commit", "-qm", "three: the same numbers")
    three = git("rev-parse", "HEAD")
    changed_since.cache_clear()
    assert staleness(commit, tmp_path) == "stale: compute/train.py, method/attacks.py changed"
    monkeypatch.setitem(NUMBER_PRESERVING, three, "a layout")  # declared: only commit two counts
    changed_since.cache_clear()
    assert staleness(commit, tmp_path) == "stale: compute/train.py changed"
    two = git("rev-parse", "HEAD~1")
    assert staleness(two, tmp_path) == "current"  # after two, only the declared commit


@pytest.mark.parametrize("module", ["method/apgd.py", "compute/adaptive.py", "compute/evaluate.py",
                                    "method/attacks.py", "compute/data.py", "compute/outcome.py"])
def test_a_change_in_any_compute_folder_makes_results_stale(tmp_path, module):
    from wmrlib.workflow.staleness import COMPUTE_LAYERS, changed_since, staleness

    assert module.split("/")[0] in COMPUTE_LAYERS
    git = _git_repo(tmp_path)
    _write(tmp_path, f"wmrlib/{module}", "changed = False\n")
    git("add", "."), git("commit", "-qm", "one")
    commit = git("rev-parse", "HEAD")
    _write(tmp_path, f"wmrlib/{module}", "changed = True\n")
    changed_since.cache_clear()
    assert staleness(commit, tmp_path) == f"stale: {module} changed"


def test_the_layer_move_keeps_flat_era_results_readable(tmp_path, monkeypatch):
    """A result from the flat layout is stale for a flat-era change (AutoAttack's adaptive.py
    included) and current across a declared move into the layer folders."""
    import subprocess

    from wmrlib.workflow.staleness import NUMBER_PRESERVING, changed_since, staleness

    git = _git_repo(tmp_path)
    _write(tmp_path, "wmrlib/adaptive.py", "a = 1\n")
    git("add", "."), git("commit", "-qm", "flat")
    old = git("rev-parse", "HEAD")
    (tmp_path / "wmrlib" / "compute").mkdir()
    subprocess.run(["git", "mv", "wmrlib/adaptive.py", "wmrlib/compute/adaptive.py"], cwd=tmp_path,
                   check=True)
    git("commit", "-qm", "move")
    move = git("rev-parse", "HEAD")
    changed_since.cache_clear()
    assert staleness(old, tmp_path).startswith("stale")  # an undeclared move counts as a change
    monkeypatch.setitem(NUMBER_PRESERVING, move, "the layer move")
    changed_since.cache_clear()
    assert staleness(old, tmp_path) == "current"
    _write(tmp_path, "wmrlib/compute/adaptive.py", "a = 2\n")
    changed_since.cache_clear()
    assert staleness(old, tmp_path) == "stale: compute/adaptive.py changed"


def test_a_job_past_its_latest_start_is_skipped_and_writes_nothing(tmp_path, capsys):
    import time

    from wmrlib.workflow.campaign import run_job

    result = run_job(JOB, str(tmp_path), "smoke", start_by=time.time() - 1, log_progress=True)
    assert result.skipped and result.units_computed == 0 and not result.trained
    assert not any(tmp_path.iterdir())
    assert capsys.readouterr().err.strip().endswith(
        f"[{JOB.describe()}] skipped: it could no longer finish within the budget")


def test_a_training_jobs_log_reads_its_checkpoint_once_per_change(tmp_path):
    """The line is built from a hand-written checkpoint: 2 of 5 epochs, the last validation point
    below the best one; the reporter says it once, again only when the checkpoint changes, and
    nothing while there is no checkpoint or it belongs to another run."""
    import torch

    from wmrlib.compute.checkpoint import save_checkpoint
    from wmrlib.workflow.campaign import _training_reporter, checkpoint_progress

    plan = profile("cpu").plan("mnist")
    config, other = plan.run("pgd", 0.5), plan.run("pgd", 0.0)
    path = tmp_path / "checkpoint.pt"
    said = []
    report = _training_reporter(path, config, said.append)
    report()
    assert said == [] and checkpoint_progress(path, config) is None
    state = {"config_key": config.key(), "model": {"w": torch.zeros(2)},
             "history": [{"epoch": 1, "train_adv_acc": 0.80}, {"epoch": 2, "train_adv_acc": 0.8125}],
             "curve": [{"epoch": 1.0, "val_a_nat": 97.0, "val_a_rob": 84.0},
                       {"epoch": 2.0, "val_a_nat": 97.5, "val_a_rob": 71.25}]}
    save_checkpoint(state, path)
    report()
    report()
    assert said == [f"training: 2 of {config.epochs} epochs done (training-attack accuracy 81.2 %); "
                    "validation at epoch 2.00: A_nat 97.5 %, A_rob 71.2 % (highest so far 84.0 % at epoch "
                    "1.00)"]
    state["history"].append({"epoch": 3, "train_adv_acc": 0.9})
    save_checkpoint(state, path)
    report()
    assert len(said) == 2 and said[1].startswith(f"training: 3 of {config.epochs} epochs done (")
    assert checkpoint_progress(path, other) is None  # another run's checkpoint is not read


def test_a_progress_line_names_the_utc_time_and_the_job():
    from wmrlib.workflow.campaign import progress_line

    assert progress_line("mnist PGD seed 0", "trained in 3.0 min", now=3723.0) == (
        "01:02:03 [mnist PGD seed 0] trained in 3.0 min")


_ORPHAN_SCRIPT = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from wmrlib.workflow.pools import exit_with_parent

def pid_then_sleep():
    import os
    print(os.getpid(), flush=True)
    time.sleep(600)

if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=exit_with_parent,
                               initargs=(0.2,))
    pool.submit(pid_then_sleep)
    time.sleep(600)
"""


def test_a_pool_worker_ends_when_its_parent_is_killed(tmp_path):
    """A killed ``reproduce`` must not leave its workers training on, unseen by the compute log."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(_ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert Path(f"/proc/{worker}/stat").exists()  # the worker runs
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:  # gone, or a zombie its new parent has not reaped yet
                if Path(f"/proc/{worker}/stat").read_text().split(") ")[1][0] == "Z":
                    break
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.2)
        else:
            os.kill(worker, signal.SIGKILL)
            raise AssertionError("the worker outlived its killed parent by 30 s")
    finally:
        parent.kill()


def test_a_partial_campaign_is_shown_cut_to_its_complete_models(tmp_path, monkeypatch):
    import wmrlib.workflow.jobs as wjobs
    from wmrlib.analysis.results import forget

    plan = profile("cpu").plan("mnist")
    first = {plan.run(d, a).key() for d, a in (("pgd", 0.0), ("pgd", 0.5), ("trades", 0.0),
                                                  ("trades", 2.0), ("trades", 1.0))}
    done = set(first)
    monkeypatch.setattr(wjobs, "estimate_needed", lambda job, store: job.config.key() not in done)
    # Fashion-MNIST has no earlier profile: its first seed's four headline models are shown.
    fashion = profile("cpu").plan("fashionmnist")
    done |= {c.key() for c in fashion.headline_models(0)}
    sources = book.candidate_sources("fashionmnist", ["cpu", "cpu-5epoch"], results=tmp_path,
                                     readonly=True)
    assert [(s.profile, s.partial) for s in sources] == [("cpu", False), ("cpu", True)]
    assert sources[1].plan.seeds == (0,) and len(sources[1].plan.models()) == 4
    # MNIST's complete part (one seed, two α_train values) is smaller than cpu-5epoch's plan
    # (three seeds, both sweeps, three extras): the 5-epoch models stay on the pages.
    sources = book.candidate_sources("mnist", ["cpu", "cpu-5epoch"], results=tmp_path, readonly=True)
    assert [(s.profile, s.partial) for s in sources] == [("cpu", False), ("cpu-5epoch", False)]
    # Three seeds of the headline models, both sweeps and the extras: the new models replace them.
    done |= {c.key() for s in (0, 1, 2) for c in plan.headline_models(s)}
    done |= {plan.run("pgd", a).key() for a in plan.pgd_alphas}
    done |= {plan.run("trades", a).key() for a in plan.trades_alphas}
    done |= {e.key() for e in plan.extras}
    # The campaign's order trains the TRADES pair's five seeds first: its seeds 3-4 stay shown.
    trades_later = {c.key() for s in (3, 4) for c in plan.headline_models(s, ("trades",))}
    done |= trades_later
    forget()  # the store changed: the results object reads it again
    sources = book.candidate_sources("mnist", ["cpu", "cpu-5epoch"], results=tmp_path, readonly=True)
    assert [(s.profile, s.partial) for s in sources] == [("cpu", False), ("cpu", True),
                                                          ("cpu-5epoch", False)]
    cut = sources[1].plan
    assert cut.seeds == (0, 1, 2) and cut.pgd_alphas == plan.pgd_alphas
    assert cut.trades_alphas == plan.trades_alphas and cut.extras == plan.extras
    assert cut.family_only_seeds == (("trades", 3), ("trades", 4))
    assert cut.seeds_of("trades") == (0, 1, 2, 3, 4) and cut.seeds_of("pgd") == (0, 1, 2)
    assert {c.key() for c in cut.models()} == done - {c.key() for c in fashion.headline_models(0)}
    assert "PARTIAL" in sources[1].label and "(3 seeds (the TRADES pair 5))" in sources[1].label
    assert book.covers(cut, profile("cpu-5epoch").plan("mnist"))
    # One extra short: not yet.
    done.discard(plan.extras[-1].key())
    forget()
    sources = book.candidate_sources("mnist", ["cpu", "cpu-5epoch"], results=tmp_path, readonly=True)
    assert [s.partial for s in sources] == [False, False]


def test_a_family_only_seed_adds_that_familys_pair_and_nothing_else():
    plan = replace(profile("cpu").plan("mnist"), seeds=(0, 1), family_only_seeds=(("pgd", 4),))
    added = {c.key() for c in plan.models()} - {c.key() for c in replace(plan, family_only_seeds=()).models()}
    assert added == {plan.run("pgd", 0.0, 4).key(), plan.run("pgd", 0.5, 4).key()}
    assert [c.seed for c in plan.headline_seed_models(("trades",))] == [0, 0, 1, 1]
    assert book.seeds_text(plan) == "2 seeds (the PGD pair 3)"
    assert plan.every_seed() == (0, 1, 4) and replace(plan, family_only_seeds=()).every_seed() == (0, 1)
    with pytest.raises(ValueError, match="already one of the common seeds"):
        replace(plan, family_only_seeds=(("trades", 1),))
    with pytest.raises(ValueError, match="defense family"):
        replace(plan, family_only_seeds=(("fgsm", 3),))


def test_plan_calibrates_at_the_profiles_own_sizes_within_bounded_memory():
    """The calibration's attack batch is at most the profile's evaluation size, and its training
    batch at most the profile's (a ResNet is timed on a smaller batch, scaled up)."""
    from wmrlib.workflow.cost import CALIBRATION_BATCH, calibration_batch, eval_batches

    jobs = plan_jobs("smoke")
    batches = eval_batches(jobs)
    for (dataset, model), batch in batches.items():
        plan = profile("smoke").plan(dataset)
        assert 1 <= batch <= plan.eval_size and batch <= CALIBRATION_BATCH[model]
    assert batches[("tinyimagenet", "resnet50")] == 1 and batches[("mnist", "smallcnn")] == 16
    assert calibration_batch("smallcnn", 128) == 128  # the cpu profile is timed at its own batch
    assert calibration_batch("resnet50", 64) == 1 and calibration_batch("resnet18", 8) == 8


def test_zoo_warns_on_a_collapsed_model_and_falls_back_to_the_predecessor():
    """TRADES seed 1 of the 5-epoch campaign collapsed: it loads, with a warning naming the flag;
    the cpu campaign has no model yet, so cpu's name returns cpu-5epoch's, with a warning."""
    import warnings

    with pytest.warns(zoo.CollapsedModelWarning, match="collapsed in training in epoch 2"):
        zoo.load("cpu-5epoch", "mnist", "trades", seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.load("cpu-5epoch", "mnist", "trades", seed=0)  # healthy: no warning
    if not zoo.available("cpu", "mnist"):
        with pytest.warns(UserWarning, match="returning 'cpu-5epoch'"):
            model = zoo.load("cpu", "mnist", "pgd", alpha_train=0.5, seed=0)
        assert not model.training


def test_the_models_page_lists_every_shipped_model_with_its_load_line():
    from wmrlib.book.models import shipped_models

    frame = shipped_models(Path(__file__).resolve().parents[1] / "results")
    five = frame[frame["profile"] == "cpu-5epoch"]
    assert len(five) == len(profile("cpu-5epoch").plan("mnist").models()) == 20
    row = five[(five["model"] == "TRADES") & (five["seed"] == 1)].iloc[0]
    assert row["collapsed in training"] == "yes (epoch 2)" and row["clean (%)"] > 90
    assert row["load"] == 'zoo.load("cpu-5epoch", "mnist", "trades", alpha_train=0, seed=1)' and row["dataset"] == "mnist"
    assert five["AutoAttack A_rob (%)"].notna().sum() == 12  # every headline model and seed


def test_a_campaign_waiting_for_its_schedule_refuses_to_compute(tmp_path, monkeypatch):
    """Until the schedule pilot's decision is recorded, the cpu campaign trains nothing."""
    from wmrlib.experiment import profiles as profiles_module

    monkeypatch.setattr(profiles_module, "CAMPAIGN_SCHEDULE", "PENDING")
    assert "schedule pilot" in profiles_module.profile("cpu").pending
    with pytest.raises(ValueError, match="cannot be computed yet"):
        compute("cpu", results=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())
    monkeypatch.setattr(profiles_module, "CAMPAIGN_SCHEDULE", "c-uniform-start")
    assert profiles_module.profile("cpu").pending == ""
    assert profiles_module.profile("cpu").plan("mnist").base.random_start == "uniform"
