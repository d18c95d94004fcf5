"""Provenance of a result: code version, machine, library versions, date and wall time."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

from ..core.version import __version__
from ..compute.device import cpu_info


def git_commit(path: str | Path | None = None) -> str:
    """Return the git commit of the code (with ``-dirty`` if the work tree has changes), or 'unknown'.

    Without ``path`` this is the commit of the wmrlib this process imported: it is read once, at
    import, so editing the work tree while a long run goes on does not change what the run records.
    """
    if path is None and _IMPORTED_COMMIT is not None:
        return _IMPORTED_COMMIT
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "wmrlib"],
                               cwd=cwd.parent if cwd.name == "wmrlib" else cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_IMPORTED_COMMIT: str | None = None
_IMPORTED_COMMIT = git_commit()


def device_name(device: torch.device) -> str:
    """Return a human-readable name of ``device``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} threads)"


def provenance(device: torch.device, wall_time_s: float, **extra) -> dict:
    """Return the provenance record stored beside every result."""
    return {
        "git_commit": git_commit(),
        "wmrlib": __version__,
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(float(wall_time_s), 3),
        **({"gpu": torch.cuda.get_device_name(device)} if device.type == "cuda" else {}),
        "cpu": cpu_info(),
        **extra,
    }
