"""Stale results: a stored result is stale when the code that computes results has changed since
the commit that produced it. Changes to the book, the docs or the tests never make a result stale.
"""
from __future__ import annotations

import functools
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The modules whose change can change a stored number (training, attacks, evaluation, data).
COMPUTE_CODE = ("attacks.py", "losses.py", "train.py", "evaluate.py", "models.py", "data.py",
                "risk.py", "metrics.py", "defenses.py")


@functools.lru_cache(maxsize=256)
def changed_since(commit: str, repo: str | Path = REPO) -> tuple[str, ...] | None:
    """Return the compute modules that differ between ``commit`` and the work tree (empty when
    none), or None when that cannot be told (no git, or a commit git does not know)."""
    base = commit.removesuffix("-dirty")
    if not base or base == "unknown":
        return None
    paths = [f"wmrlib/{name}" for name in COMPUTE_CODE]
    try:
        out = subprocess.run(["git", "diff", "--name-only", base, "--", *paths], cwd=repo,
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return tuple(sorted(Path(line).name for line in out.stdout.split()))


def staleness(commit: str, repo: str | Path = REPO) -> str:
    """Return ``"current"``, ``"stale: <modules> changed"`` or ``"unknown"`` for a stored commit."""
    changed = changed_since(commit, str(repo))
    if changed is None:
        return "unknown"
    return f"stale: {', '.join(changed)} changed" if changed else "current"
