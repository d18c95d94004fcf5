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


# Commits that changed compute code without changing a stored number beyond the order of
# floating-point sums, each with why and what tests it. A result from before such a commit stays
# current; any other change to compute code after a result's commit makes the result stale.
NUMBER_PRESERVING = {
    "2029e76a959763885692b47c829721fcb7217ce8":
        "the attacks convert MNIST models to channels_last (a memory layout: the same sums in "
        "another order; tests/test_portable.py compares the layouts)",
    "db2b2d88448c2c1a51859bfcfdeb208b30b95a8c":
        "adds data.nested_positions and EvalRecord.restrict; no existing computation changes",
    "20c215a9720570d9929199a73bf8d59cdde6ec23":
        "adds attacks.automatic_layout, a switch that is on by default and on in every stored "
        "computation; tests/test_portable.py checks both settings",
    "90927ddb525dca4e8f02a7d922c46f3af9eb2a6d":
        "a docstring of attacks.automatic_layout; no code changes",
}


def _git(repo, *args) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@functools.lru_cache(maxsize=256)
def changed_since(commit: str, repo: str | Path = REPO) -> tuple[str, ...] | None:
    """Return the compute modules that differ between ``commit`` and the work tree, leaving out
    what the NUMBER_PRESERVING commits changed (empty when nothing else), or None when that
    cannot be told (no git, or a commit git does not know, as in a shallow clone)."""
    base = commit.removesuffix("-dirty")
    if not base or base == "unknown":
        return None
    paths = [f"wmrlib/{name}" for name in COMPUTE_CODE]
    later = _git(repo, "rev-list", "--reverse", f"{base}..HEAD")
    if later is None:
        return None
    # Net differences between the declared commits: base..P1^, P1..P2^, ..., Pk..work tree.
    segments, start = [], base
    for sha in later.split():
        if sha in NUMBER_PRESERVING:
            segments.append((start, f"{sha}^"))
            start = sha
    segments.append((start,))
    changed = set()
    for segment in segments:
        names = _git(repo, "diff", "--name-only", *segment, "--", *paths)
        if names is None:
            return None
        changed |= set(names.split())
    return tuple(sorted(Path(line).name for line in changed))


def staleness(commit: str, repo: str | Path = REPO) -> str:
    """Return ``"current"``, ``"stale: <modules> changed"`` or ``"unknown"`` for a stored commit."""
    changed = changed_since(commit, str(repo))
    if changed is None:
        return "unknown"
    return f"stale: {', '.join(changed)} changed" if changed else "current"
