"""Every notebook runs once: papermill at the smoke profile into a fresh store.

The fresh store starts as a copy of the committed smoke results for CIFAR-10 and Tiny ImageNet
(ResNets on synthetic tensors: slow to train on a CPU, and their pages only say "not
reproduced"), and ``reproduce`` trains and evaluates every MNIST smoke model in it before the
notebooks run, so the compute path and every chapter are exercised in one pass. The book build
(``scripts/book.sh``) executes the same notebooks with their default parameters against the
committed store; the nbval run of the sources is the slow test ``test_source_notebooks_run_under_nbval``.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from wmrlib.workflow.store import Store
from wmrlib.experiment.profiles import profile
from wmrlib.core.paths import REPO_ROOT as REPO
from wmrlib.workflow.reproduce import NOTEBOOKS, reproduce

from conftest import mnist_root

# notebook -> least number of HTML tables it must display at the smoke profile
# (synthetic CIFAR-10 / Tiny ImageNet results are not shown beside the paper's: those sections
# show the paper's table and a "not reproduced" note, and no figure)
TABLES = {"nonuniform": 6 + 3, "uniform": 3, "sensitivity": 3, "attacks": 2, "dro": 1,
          "claims": 1 + 7, "quickstart": 1, "budget": 3}
FIGURES = {"histograms": 2, "sensitivity": 1, "dro": 1, "quickstart": 1, "budget": 1}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Run reproduce('smoke') once; return (results root, {name: executed notebook}, seconds)."""
    root = mnist_root()
    if root is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    tmp = tmp_path_factory.mktemp("reproduce")
    committed = Store(REPO / "results" / "smoke", readonly=True)
    fresh = Store(tmp / "smoke")
    for dataset, plan in profile("smoke").plans.items():
        if dataset == "mnist":
            continue  # trained and evaluated by reproduce below
        for config in plan.models():
            for folder, target in ((committed.run_dir(config), fresh.run_dir(config)),
                                   (committed.evals_dir(config), fresh.evals_dir(config))):
                shutil.copytree(folder, target)
    old = os.environ.get("WMR_DATA_ROOT")
    os.environ["WMR_DATA_ROOT"] = str(root)  # the quickstart loads MNIST from data_root=None
    try:
        started = time.perf_counter()
        # two processes train and evaluate, then two kernels run the notebooks: both cores work
        paths = reproduce("smoke", results=tmp, output_dir=tmp / "nb", workers=2, threads=1)
        seconds = time.perf_counter() - started
    finally:
        if old is None:
            os.environ.pop("WMR_DATA_ROOT", None)
        else:
            os.environ["WMR_DATA_ROOT"] = old
    print(f"\nreproduce('smoke') over {len(paths)} notebooks took {seconds:.0f} s")
    return tmp, {Path(p).stem: nbformat.read(p, as_version=4) for p in paths}, seconds


def outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.get("outputs", [])


def html_tables(nb) -> int:
    return sum(str(o.get("data", {}).get("text/html", "")).count("<table")
               for o in outputs(nb) if o.output_type in ("display_data", "execute_result"))


def test_every_notebook_ran_without_errors(executed):
    tmp, notebooks, _ = executed
    assert set(notebooks) == set(NOTEBOOKS)
    for name, nb in notebooks.items():
        errors = [o for o in outputs(nb) if o.output_type == "error"]
        assert not errors, (name, [f"{o.ename}: {o.evalue}" for o in errors])
        assert nb.metadata.papermill.exception is None, name
        assert nb.metadata.papermill.parameters["profile"] == "smoke"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), name
        stderr = "".join(o.get("text", "") for o in outputs(nb)
                         if o.output_type == "stream" and o.name == "stderr")
        assert "Traceback" not in stderr, (name, stderr)
        # reproduce computes the job list, then runs the notebooks read-only: a result the job
        # list missed would show as "No stored results".
        shown = "".join(str(o.get("data", {})) for o in outputs(nb))
        assert "No stored results" not in shown, name


def test_table_notebooks_display_html_tables(executed):
    _, notebooks, _ = executed
    for name, least in TABLES.items():
        assert html_tables(notebooks[name]) >= least, (name, html_tables(notebooks[name]))


def test_figure_notebooks_draw_figures(executed):
    _, notebooks, _ = executed
    for name, least in FIGURES.items():
        # wmrlib.book.figure shows each figure as an HTML <figure> with an inline PNG
        images = sum(str(o.get("data", {}).get("text/html", "")).count("<figure")
                     for o in outputs(notebooks[name]))
        assert images >= least, (name, images)


def test_every_section_found_its_results(executed):
    """At the smoke profile with readonly=False nothing may fall back to 'no stored results'."""
    _, notebooks, _ = executed
    for name, nb in notebooks.items():
        for o in outputs(nb):
            text = str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
            assert "No stored results" not in text, (name, text[:300])


def test_reproduce_stored_every_smoke_model(executed):
    tmp, _, _ = executed
    for dataset, plan in profile("smoke").plans.items():
        for config in plan.models():
            assert Store(tmp / "smoke").provenance_path(config).exists(), \
                (dataset, config.label, config.alpha_train, config.seed)
            assert list(Store(tmp / "smoke").evals_dir(config).glob("*.npz"))


@pytest.mark.slow
def test_source_notebooks_run_under_nbval():
    """``pytest --nbval-lax`` on the notebooks with their default parameters (read-only).

    Equivalent command: ``cd notebooks && pytest --nbval-lax -p no:cacheprovider
    nonuniform.ipynb uniform.ipynb sensitivity.ipynb attacks.ipynb histograms.ipynb dro.ipynb``.
    They read ``../results`` read-only, so they pass with whatever is stored (sections without
    results show a note). The quickstart is left out; the
    papermill test above runs it (it attacks shipped models).
    """
    pytest.importorskip("nbval")
    folder = REPO / "notebooks"
    names = [f"{n}.ipynb" for n in NOTEBOOKS if n != "quickstart"]
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as in Jupyter and papermill
    if mnist_root() is not None:
        env["WMR_DATA_ROOT"] = str(mnist_root())
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider",
                             "-q", "-o", "addopts=", *names], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout  # one item per cell


def test_every_install_cell_clones_the_repository_of_config_yml():
    """The repository URL has one setting, `_config.yml`'s repository.url; every chapter's Colab
    cell clones exactly that repository into the folder it then works from."""
    import yaml

    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    name = url.rstrip("/").rsplit("/", 1)[1]
    for notebook in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / f"{notebook}.ipynb", as_version=4)
        install = nb.cells[1].source if nb.cells[0].cell_type == "markdown" else nb.cells[0].source
        assert f"!git clone -q --depth 1 {url} /content/{name}" in install, notebook
        assert f"%cd /content/{name}/notebooks" in install, notebook
        assert install.count("github.com") == 1, notebook


def test_the_quickstart_says_the_launch_buttons_need_that_repository_public():
    """The Colab buttons open `_config.yml`'s repository: the Quickstart says it must be public there."""
    import yaml

    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    intro = nbformat.read(REPO / "notebooks" / "quickstart.ipynb", as_version=4).cells[0].source
    line = next((l for l in intro.splitlines() if "launch button" in l and "public" in l), "")
    assert url in line and "_config.yml" in line, line
