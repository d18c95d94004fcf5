"""The one home of the project's paths: the repository root, the results root and the data root."""
from __future__ import annotations

import os
from pathlib import Path

# wmrlib/core/paths.py -> the repository holding the wmrlib package (a source checkout).
REPO_ROOT = Path(__file__).resolve().parents[2]
# The results store's root in this repository (one folder per profile under it).
RESULTS_ROOT = REPO_ROOT / "results"
DATA_ROOT_VARIABLE = "WMR_DATA_ROOT"


def results_root(results: str | Path | None = None) -> Path:
    """Return ``results`` as a path, or the repository's results folder when it is None."""
    return RESULTS_ROOT if results is None else Path(results)


def data_root(root: str | Path | None = None) -> Path:
    """Return the data root: ``root``, else ``$WMR_DATA_ROOT``, else ``./data``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(DATA_ROOT_VARIABLE) or "data")
