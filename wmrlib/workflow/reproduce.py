"""Run the project's notebooks with papermill at a profile, computing any result not yet stored."""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.std import tqdm

from ..core.checks import check_choice, check_int
from ..core.paths import REPO_ROOT
from ..experiment.profiles import PROFILES
from .campaign import compute
from .jobs import plan_jobs
from .store import Store
NOTEBOOKS = ("nonuniform", "uniform", "sensitivity", "attacks", "histograms", "dro", "claims", "budget",
             "robustness", "quickstart")


def notebook_path(name: str) -> Path:
    """Return the source notebook called ``name``."""
    check_choice("notebook", name, NOTEBOOKS)
    return REPO_ROOT / "notebooks" / f"{name}.ipynb"


def reproduce(profile: str, *, only=None, results: str | Path = "results",
              data_root: str | Path | None = None, device: str | None = None,
              timeout: int | None = None, readonly: bool = False,
              output_dir: str | Path | None = None, workers: int = 1, threads: int | None = None,
              executor: str = "local", cluster: str | None = None, slurm: dict | None = None,
              datasets=None, notebooks: bool = True, budget_min: float | None = None,
              overrides: tuple[dict, dict] | None = None, quiet: bool = False) -> list[Path]:
    """Compute a profile's missing results, then execute the notebooks; return their paths.

    Unless ``readonly``, every run and evaluation unit the notebooks read is first computed as one
    job per run (:func:`wmrlib.workflow.campaign.compute`: in this process, in ``workers`` local processes, or
    through submitit). The executed notebooks go to ``<results>/<profile>/notebooks/`` (or
    ``output_dir``), beside the results they used. Bars show only on a terminal; unless
    ``quiet``, each job also logs a timestamped line per stage to stderr (a log file keeps them).
    The notebooks then run ``workers`` at a time, each in its own kernel.
    """
    check_choice("profile", profile, PROFILES)
    names = list(only) if only else list(NOTEBOOKS)
    for name in names:  # before anything is computed: a wrong name costs nothing
        check_choice("notebook", name, NOTEBOOKS)
    check_int("workers", workers, low=1)
    if not readonly:
        compute(profile, results=results, datasets=datasets, data_root=data_root, device=device,
                workers=workers, threads=threads, executor=executor, cluster=cluster, slurm=slurm,
                progress=sys.stderr.isatty() and not quiet, log_progress=not quiet,
                budget_min=budget_min,
                jobs=plan_jobs(profile, datasets, overrides) if overrides else None)
    if not notebooks:
        return []
    import papermill

    results = Path(results).resolve()
    out_dir = Path(output_dir) if output_dir else Store(results / profile, readonly=True).notebooks_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    if data_root is not None:
        os.environ["WMR_DATA_ROOT"] = str(Path(data_root).resolve())
    # Everything the notebooks read was computed above: they run read-only, so a notebook that
    # asks for a result the job list missed shows "No stored results" (the tests look for it).
    parameters = {"profile": profile, "results": str(results), "readonly": True,
                  "device": device or "auto", "progress": False}

    def execute(name: str) -> Path:
        target = out_dir / f"{name}.ipynb"
        papermill.execute_notebook(str(notebook_path(name)), str(target), parameters=parameters,
                                   kernel_name="python3", cwd=str(REPO_ROOT / "notebooks"),
                                   execution_timeout=timeout, progress_bar=False)
        return target

    # Each notebook runs in its own kernel process, so ``workers`` threads run that many at once.
    with ThreadPoolExecutor(max_workers=min(workers, len(names)) or 1) as pool:
        return list(tqdm(pool.map(execute, names), total=len(names), desc=f"reproduce {profile}",
                         disable=not sys.stderr.isatty()))
