"""Run a profile's jobs: in this process, in local worker processes, or through submitit.

Every job writes into the shared store, which keys results by config hash and writes atomically,
so jobs can run side by side, and a job that was interrupted resumes from its checkpoint when
run again. ``compute`` runs them (optionally within a time budget); ``compute_plan`` prints
what is left and what it costs (``python -m wmrlib plan``).
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
import uuid
import warnings
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.std import tqdm

from ..compute.checkpoint import CheckpointError, load_checkpoint
from ..compute.device import cpu_kind, default_device
from ..core.checks import check_choice, check_int, check_number
from ..experiment.config import RunConfig
from ..experiment.profiles import profile as get_profile
from .cost import calibrate, estimate, schedule, training_batches, unit_steps
from .pools import worker_pool
from .jobs import Job, estimate_needed, plan_jobs, unit_image_steps
from .provenance import provenance
from .store import Store, write_json

EXECUTORS = ("local", "submitit")
# The local layout (workers, threads per worker) a profile's campaign runs with when neither is
# given: measured by benchmarks/worker_layout.py (benchmarks/worker-layout.md). On the 2-core
# AMD EPYC of 2026-12-07, 2 workers × 1 thread trained 2.2× the minibatches per second of
# 1 × 2 (and the AVX2 EPYC ran the cpu campaign's pairs that way).
LAYOUTS: dict[str, tuple[int, int]] = {"cpu-20epoch": (2, 1)}


def default_layout(profile_name: str, workers: int | None, threads: int | None
                   ) -> tuple[int, int | None]:
    """Return (workers, threads): the given ones, or the profile's measured layout when neither
    is given (one worker with torch's default threads for a profile without one)."""
    if workers is None and threads is None and profile_name in LAYOUTS:
        return LAYOUTS[profile_name]
    return (1 if workers is None else workers), threads


@dataclass
class JobResult:
    """What a finished job reports back."""

    key: str
    label: str
    wall_time_s: float
    trained: bool
    units_computed: int
    pid: int = field(default_factory=os.getpid)
    skipped: bool = False  # not started: it could no longer finish within the budget


def jobs_computed(results: list[dict]) -> int:
    """Return how many of an invocation's job results (``asdict(JobResult)``) trained or
    evaluated anything: a job found complete, or skipped, did no work there."""
    return sum(bool(r["trained"]) or r["units_computed"] > 0 for r in results)


def run_job(job: Job, results: str, profile_name: str, data_root: str | None = None,
            device: str | None = None, threads: int | None = None,
            start_by: float | None = None, log_progress: bool = False) -> JobResult:
    """Train ``job``'s run if needed and compute its missing evaluation units (idempotent).

    With ``start_by`` (a ``time.time()`` value) a job that would start later does nothing and
    reports itself skipped: a budget-limited run stops cleanly instead of being cut off. With
    ``log_progress``, one timestamped line per stage goes to stderr (:func:`progress_line`).
    """
    if start_by is not None and time.time() > start_by:
        _say(job, log_progress, "skipped: it could no longer finish within the budget")
        return JobResult(job.config.key(), job.describe(), 0.0, False, 0, skipped=True)
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run_job(job, results, profile_name, data_root, device, log_progress)
    finally:
        torch.set_num_threads(previous)  # a job run in the caller's process leaves it as it was


def progress_line(label: str, message: str, now: float | None = None) -> str:
    """Return one line of a job's progress log: UTC time of day, the job, what happened."""
    stamp = time.strftime("%H:%M:%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp} [{label}] {message}"


def _say(job: Job, log_progress: bool, message: str) -> None:
    # One line per stage: a bar cannot show progress in a log file, and a job takes an hour.
    if log_progress:
        print(progress_line(job.describe(), message), file=sys.stderr, flush=True)


def _run_job(job: Job, results: str, profile_name: str, data_root, device,
             log_progress: bool = False) -> JobResult:
    def say(message: str) -> None:
        _say(job, log_progress, message)

    store = Store(Path(results) / profile_name, data_root=data_root, device=device,
                  progress=False)
    started = time.perf_counter()
    trained = not store.has_run(job.config)
    say(f"start: {'train, then ' if trained else ''}{len(job.units)} evaluation units "
        f"(pid {os.getpid()})")
    watch = (_Heartbeat(_training_reporter(store.checkpoint_path(job.config), job.config, say,
                                           started=time.time()),
                        every_s=CHECKPOINT_POLL_S) if trained and log_progress else None)
    try:
        store.get_or_train(job.config, need_model=False, curve=job.curve, curve_seed=job.eval_seed)
    finally:
        if watch is not None:
            watch.stop()
    if trained:
        say(f"trained in {(time.perf_counter() - started) / 60:.1f} min")
    computed, done_steps, eval_s = 0, 0.0, 0.0
    for i, (attack, alpha, n) in enumerate(job.units, 1):
        if not store.has_unit(job.config, attack, alpha, eval_size=n, eval_seed=job.eval_seed):
            steps = unit_steps(job, store, attack, alpha, n) if log_progress else 0.0
            unit_started = time.perf_counter()
            store.get_or_attack(job.config, attack, alpha, eval_size=n, eval_seed=job.eval_seed)
            took = time.perf_counter() - unit_started
            computed, done_steps, eval_s = computed + 1, done_steps + steps, eval_s + took
            what = "clean" if attack is None else f"{attack.name} at ε {attack.eps:g}"
            left = (_eval_steps_left(job, store, i) * eval_s / done_steps
                    if log_progress and done_steps > 0 else None)
            say(f"unit {i}/{len(job.units)} ({what}, α {alpha:g}, {n or 'all'} images) in "
                f"{took / 60:.1f} min; {_pace(time.perf_counter() - started, left, 'evaluation')}")
    wall = time.perf_counter() - started
    say(f"done in {wall / 60:.1f} min ({computed} units computed)")
    return JobResult(job.config.key(), job.describe(), wall, trained, computed)


def _eval_steps_left(job: Job, store: Store, done: int) -> float:
    """Return the image-steps of the job's units after the first ``done`` that are not stored."""
    return sum(unit_steps(job, store, a, alpha, n) for a, alpha, n in job.units[done:]
               if not store.has_unit(job.config, a, alpha, eval_size=n, eval_seed=job.eval_seed))


def _pace(elapsed_s: float, left_s: float | None, what: str) -> str:
    """Return "elapsed X min, about Y min of <what> left" (or "time left not known yet").

    Example:
        >>> _pace(90.0, 600.0, "training")
        'elapsed 1.5 min, about 10 min of training left'
    """
    left = ("time left not known yet" if left_s is None
            else f"about {left_s / 60:.0f} min of {what} left")
    return f"elapsed {elapsed_s / 60:.1f} min, {left}"


CHECKPOINT_POLL_S = 30.0  # how often a logged job looks for a new training checkpoint


@dataclass
class TrainingPace:
    """Where a job's training stood when its log started watching, to time the rest: the wall
    clock then (``time.time()``) and the batches its checkpoint had done (0 for a fresh run)."""

    started: float
    done_at_start: int = 0


def checkpoint_progress(path: str | Path, config: RunConfig, pace: TrainingPace | None = None,
                        now: float | None = None) -> str | None:
    """Return one progress line from a training run's checkpoint: the epochs trained and, with a
    validation split, its latest validation A_nat and A_rob beside the highest A_rob so far and
    where it was measured (a collapse shows as a fall from it; a quarter-epoch high is not
    selectable) and the epoch the selection rule holds; with ``pace``, the
    time elapsed since the job started and the training time left at the pace of this process
    (batches since ``pace`` over the time to the checkpoint's writing). None while there is no
    readable checkpoint (none yet, or the run just finished)."""
    try:
        state = load_checkpoint(path, config_key=config.key())
    except (FileNotFoundError, CheckpointError):
        return None
    history, curve = state.get("history") or [], state.get("curve") or []
    line = f"training: {len(history)} of {config.epochs} epochs done"
    if history:
        line += f" (training-attack accuracy {100 * history[-1]['train_adv_acc']:.1f} %)"
    if curve and "val_a_rob" in curve[-1]:
        point = curve[-1]
        best = max(curve, key=lambda p: p["val_a_rob"])  # the first of equal highs
        line += (f"; validation at epoch {point['epoch']:.2f}: A_nat {point['val_a_nat']:.1f} %, "
                 f"A_rob {point['val_a_rob']:.1f} % (highest so far "
                 f"{best['val_a_rob']:.1f} % at epoch {best['epoch']:.2f})")
    if history and "selected_epoch" in history[-1]:
        line += f"; selected so far: epoch {history[-1]['selected_epoch']}"
    if pace is not None:
        per_epoch, total = training_batches(config)
        done = int(state["epoch"]) * per_epoch + int(state["batch"])
        written = Path(path).stat().st_mtime
        rate = (done - pace.done_at_start) / max(written - pace.started, 1e-9)
        left = (total - done) / rate if done > pace.done_at_start and rate > 0 else None
        line += f"; {_pace((time.time() if now is None else now) - pace.started, left, 'training')}"
    return line


def _training_reporter(path: Path, config: RunConfig, say, started: float | None = None):
    """Return a callable that says :func:`checkpoint_progress` whenever the checkpoint changes
    (with the elapsed and expected time when ``started``, a ``time.time()`` value, is given); it
    reads the checkpoint only when the file has changed since its last look."""
    last = {"line": None, "mtime": None}
    pace = None
    if started is not None:
        pace = TrainingPace(started)
        try:  # a resumed run: its own pace counts from the checkpoint it resumes from
            state = load_checkpoint(path, config_key=config.key())
            pace.done_at_start = int(state["epoch"]) * training_batches(config)[0] + int(state["batch"])
        except (FileNotFoundError, CheckpointError):
            pass

    def report() -> None:
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == last["mtime"]:
            return
        last["mtime"] = mtime
        line = checkpoint_progress(path, config, pace)
        if line is not None and line != last["line"]:
            last["line"] = line
            say(line)
    return report


class _Heartbeat:
    """Call ``beat`` every ``every_s`` seconds in a daemon thread until stopped."""

    def __init__(self, beat, every_s: float = 60.0) -> None:
        self._stop = threading.Event()

        def loop():
            while not self._stop.wait(every_s):
                beat()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the beats (the last one may still be running; it writes atomically)."""
        self._stop.set()
        self._thread.join(timeout=5)


def refuse_pending(profile_name: str) -> None:
    """Raise when the profile may not be computed yet (:attr:`Profile.pending` says why)."""
    why = get_profile(profile_name).pending
    if why:
        raise ValueError(f"profile {profile_name!r} cannot be computed yet: {why}; compute "
                         "another profile, or record the decision first")


def warn_oversubscription(workers: int, threads: int | None) -> None:
    """Warn when ``workers`` × ``threads`` asks for more threads than this machine has cores."""
    cores = os.cpu_count() or 1
    wanted = workers * (threads or 1)
    if wanted > cores:
        warnings.warn(f"{workers} workers × {threads or 1} threads = {wanted} threads on {cores} "
                      f"cores: the jobs will slow each other down; use --workers {min(workers, cores)}"
                      f" --threads {max(1, cores // min(workers, cores))}", stacklevel=3)


def _within_budget(jobs, store_root: Path, budget_min: float, workers: int, threads, data_root,
                   device, progress: bool
                   ) -> tuple[list[Job], list[str], dict[str, float], dict[str, float]]:
    """Return the jobs expected to finish within ``budget_min`` minutes, the deferred labels, the
    latest start time of each job (by run key) and each started job's expected minutes (by
    label), which the compute log keeps beside the measured wall time."""
    store = Store(store_root, data_root=data_root, device=device, readonly=True, progress=False)
    todo = [j for j in jobs if estimate_needed(j, store)]
    if not todo:
        return [], [], {}, {}
    calibration = calibrate(todo, workers=workers, threads=threads, device=device)
    estimates = [estimate(j, calibration, store) for j in todo]
    # The calibration's own time counts against the budget.
    budget_s = budget_min * 60 - calibration.wall_time_s
    started, deferred, wall = schedule(estimates, workers, budget_s)
    print(f"budget {budget_min:g} min: starting {len(started)} of {len(todo)} unfinished jobs "
          f"(expected {wall / 60:.0f} min); {len(deferred)} wait for a later run", file=sys.stderr)
    deadline = time.time() + budget_s
    # Each job must start early enough to end by the deadline (estimates can be off).
    start_by = {e.job.config.key(): deadline - e.total_s for e in started}
    expected = {e.job.describe(): round(e.total_s / 60, 1) for e in started}
    return [e.job for e in started], [e.job.describe() for e in deferred], start_by, expected


def _submitit_executor(folder: Path, cluster: str | None, slurm: dict | None):
    try:
        import submitit
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError("executor 'submitit' needs the submitit package: "
                                  "pip install 'wmrlib[cluster]'") from exc
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    executor.update_parameters(**(slurm or {"timeout_min": 180}))
    return executor


def compute(profile_name: str, *, results: str | Path = "results", datasets=None,
            data_root: str | Path | None = None, device: str | None = None, workers: int = 1,
            threads: int | None = None, executor: str = "local", cluster: str | None = None,
            slurm: dict | None = None, progress: bool = True, jobs: list[Job] | None = None,
            budget_min: float | None = None, log_progress: bool | None = None) -> dict:
    """Run every job of a profile; return a summary with the wall time, also saved as JSON.

    ``executor="local"`` runs the jobs in this process (``workers=1``) or in a pool of
    ``workers`` processes with ``threads`` torch threads each; ``executor="submitit"`` submits one
    job per run through submitit (``cluster="slurm"``, or ``"local"`` / ``"debug"`` to test).
    ``jobs`` replaces the profile's job list (e.g. a subset of :func:`plan_jobs`). With
    ``budget_min``, a short calibration (:mod:`wmrlib.workflow.cost`) first estimates every job, and only
    the jobs expected to finish within that many minutes start; the others wait for a later run.
    ``progress`` shows a bar of finished jobs; ``log_progress`` (default: as ``progress``) has
    every job write a timestamped line per stage to stderr, which a log file keeps.
    """
    check_choice("executor", executor, EXECUTORS)
    check_int("workers", workers, low=1)
    if threads is not None:
        check_int("threads", threads, low=1)
    if budget_min is not None:
        check_number("budget_min", budget_min, low=0.0, low_inclusive=False)
    warn_oversubscription(workers, threads)
    refuse_pending(profile_name)
    jobs = plan_jobs(profile_name, datasets) if jobs is None else list(jobs)
    results = Path(results).resolve()
    (results / profile_name).mkdir(parents=True, exist_ok=True)
    deferred: list[str] = []
    start_by: dict[str, float] = {}
    expected_min: dict[str, float] = {}
    if budget_min is not None:
        jobs, deferred, start_by, expected_min = _within_budget(jobs, results / profile_name, budget_min,
                                                  workers, threads, data_root, device, progress)
    root = None if data_root is None else str(Path(data_root).resolve())
    args = (str(results), profile_name, root, device, threads)
    show = progress if log_progress is None else log_progress
    started, done = time.perf_counter(), []
    log = Store(results / profile_name, readonly=True).compute_log_path()
    header = dict(kind="compute", invocation=uuid.uuid4().hex[:12], profile=profile_name,
                  datasets=list(datasets) if datasets else None, executor=executor,
                  workers=workers, threads=threads, jobs=len(jobs), budget_min=budget_min,
                  deferred=deferred, expected_min=expected_min,
                  load_average_start=os.getloadavg())

    lock = threading.Lock()

    def record(finished: bool) -> dict:
        # Rewritten after every job and every minute, so a killed invocation still counts its time.
        with lock:
            results_so_far = [asdict(r) for r in list(done)]
            entry = provenance(default_device(device), time.perf_counter() - started, **header,
                               finished=finished, jobs_done=jobs_computed(results_so_far),
                               load_average_end=os.getloadavg(), results=results_so_far)
            _log_invocation(log, entry)
        return entry

    record(False)
    heartbeat = _Heartbeat(lambda: record(False))  # a killed invocation still logs its time
    bar = tqdm(total=len(jobs), desc=f"compute {profile_name}", disable=not progress)
    if executor == "submitit":
        ex = _submitit_executor(results / profile_name / "submitit", cluster, slurm)
        futures = [ex.submit(run_job, job, *args, start_by.get(job.config.key()),
                             log_progress=show) for job in jobs]
        for future in futures:
            done.append(future.result())
            bar.update()
            record(False)
    elif workers == 1:
        for job in jobs:
            done.append(run_job(job, *args, start_by.get(job.config.key()), log_progress=show))
            bar.update()
            record(False)
    else:
        with worker_pool(workers) as pool:
            futures = [pool.submit(run_job, job, *args, start_by.get(job.config.key()),
                                   log_progress=show) for job in jobs]
            for future in as_completed(futures):
                done.append(future.result())
                bar.update()
                record(False)
    bar.close()
    heartbeat.stop()
    return record(True)


def _log_invocation(log: Path, entry: dict) -> None:
    """Write ``entry`` into the compute log in place of its invocation's earlier entry, re-reading
    the log under a file lock, so that invocations running side by side keep each other's rows."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = json.loads(log.read_text()) if log.exists() else []
        rows = [r for r in rows if r.get("invocation") != entry["invocation"]]
        write_json(log, rows + [entry])


def compute_plan(profile_name: str, *, results: str | Path = "results", datasets=None,
                 workers: int = 1, threads: int | None = None, device: str | None = None,
                 data_root: str | Path | None = None,
                 overrides: tuple[dict, dict] | None = None) -> str:
    """Return a text table of a profile's jobs: units, state and expected minutes on this machine."""
    check_int("workers", workers, low=1)
    if threads is not None:
        check_int("threads", threads, low=1)
    warn_oversubscription(workers, threads)
    jobs = plan_jobs(profile_name, datasets, overrides)
    store = Store(Path(results) / profile_name, data_root=data_root, device=device,
                  readonly=True, progress=False)
    calibration = calibrate(jobs, workers=workers, threads=threads, device=device)
    estimates = [estimate(j, calibration, store) for j in jobs]
    _, _, wall = schedule(estimates, workers)
    lines = [f"plan {profile_name}: {len(jobs)} jobs, {workers} worker(s) × "
             f"{threads or 'default'} thread(s); calibrated in {calibration.wall_time_s:.0f} s on "
             f"{calibration.cpu['model']} ({cpu_kind(calibration.cpu)})",
             f"{'job':<44} {'units left':>10} {'train min':>9} {'eval min':>8} {'total min':>9}  state"]
    for e in estimates:
        state = ("done" if e.total_s == 0 else "evaluate" if e.trained else
                 f"resume at epoch {e.resume_at[0] + 1}" if e.resume_at else "train")
        lines.append(f"{e.job.describe():<44} {e.units_left:>5}/{len(e.job.units):<4} "
                     f"{e.train_s / 60:>9.1f} {e.eval_s / 60:>8.1f} {e.total_s / 60:>9.1f}  {state}")
    units = sum(len(j.units) for j in jobs)
    steps = sum(unit_image_steps(j) for j in jobs)
    lines.append(f"evaluation: {units} units, {steps / 1e6:.1f} M attack image-steps "
                 "(each unit's examples × PGD-step equivalents)")
    total = sum(e.total_s for e in estimates)
    done = sum(e.total_s == 0 for e in estimates)
    lines.append(f"{done} of {len(jobs)} jobs done; remaining work {total / 60:.0f} worker-minutes, "
                 f"expected wall time {wall / 60:.0f} min with {workers} worker(s)")
    return "\n".join(lines)
