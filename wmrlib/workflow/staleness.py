"""Stale results: a stored result is stale when the code that computes results has changed since
the commit that produced it. Changes to the book, the docs or the tests never make a result stale.
"""
from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

from ..core.paths import REPO_ROOT

# The code whose change can change a stored number: the layers that compute (the method and the
# compute layer: training, attacks, APGD and AutoAttack, evaluation, data), as folders of
# the package. Every module added to them is covered without a list to keep.
COMPUTE_LAYERS = ("method", "compute")
COMPUTE_CODE = tuple(f"wmrlib/{layer}/" for layer in COMPUTE_LAYERS)
# Before the layer move the same code lived in flat modules; those paths cover the history
# before it (the move itself is declared in NUMBER_PRESERVING).
FLAT_COMPUTE_CODE = tuple(f"wmrlib/{name}.py" for name in (
    "attacks", "losses", "train", "evaluate", "models", "data", "risk", "metrics", "defenses",
    "adaptive", "apgd"))


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
    "f6bef4119c1c458298a24e4738fb8cb392e10e19":
        "adaptive.step_equivalents gains a survival factor: a cost estimate for plan, read by no "
        "computation (adaptive.py entered the compute code with the layer move)",
    "2e892c224f13b62130a8e6bd3f81bc24112f1044":
        "adds the validation split (RunConfig.val_size, default 0), its learning curves and "
        "train_model(until_epoch=...); with their defaults nothing a stored run did changes "
        "(tests/test_train_evaluate.py checks the validation curves and that val_size 0 trains "
        "on every image)",
    "46cdb5fce41d6e57c76807f55d50e41d922d6ca1":
        "the layer move: every module into its layer folder, with import paths rewritten; "
        "evaluate's records moved to compute/outcome.py unchanged; models read the dataset "
        "registry's default models and class counts (the same values); no computation changes "
        "(tests/test_layers.py checks the layout, the whole suite the numbers)",
    "b273c4ad242a9da2c65c6eeaa93883caab173794":
        "SmallCNN's ReLUs after the first run in place (bit-identical outputs, gradients and PGD: "
        "tests/test_models.py::test_in_place_relus_change_no_number); MNIST's loader shared with "
        "Fashion-MNIST's (the same torchvision class reads the same files)",
    "7835f9dacb1be2097b7c968915e467093f79cb37":
        "adds device.cpu_time_counters and device.busy_cores, read only by the calibration's "
        "busy-machine warning (workflow/cost.py); no computation calls them",
    "0cf70d955962c01bb5f4add5fc0e9264a3c5057e":
        "adds RunConfig.selection and val_alpha_test (out of the key at their defaults 'final' "
        "and 0): the best-validation model, its checkpoint state and the weighted validation "
        "probe run only when a config sets them; validation points also record the probe's "
        "seconds (val_s); a default run trains, checkpoints and resumes as before "
        "(tests/test_train_evaluate.py's bitwise resume, tests/test_campaign_20epoch.py)",
    "698b3a7262fabc1ab2c9ce9227dd8bfa06fec8c9":
        "eval_mode gives each submodule its own mode back, the logit-scaling wrapper takes its "
        "model's mode, and compute.checkpoint gains a write hook that acts only under WMR_FAULT; "
        "training calls eval_mode on the model itself, whose modules share one mode, so no run "
        "changes (the smoke MNIST profile at 3 epochs, retrained: 8 of 8 models bit-identical, and "
        "every unit but the 4 logit-scaling ones); the logit-scaling units do change "
        "(UNIT_CHANGES)",
    "f62ef5d4d8111460e70f55724d543abe73f668ad":
        "adaptive.py, evaluate.py and train.py compare attack kinds and defenses through the "
        "registries of experiment/registry.py (constants and predicates equal to the literals "
        "they replace); ten trainings (every defense, weighted and not) and every unit kind gave "
        "bit-identical weights, histories and records under both versions",
}

# Commits that changed what some kinds of evaluation unit compute, and no run: a stored unit of
# such a kind computed before the commit differs from what the code computes now. ``staleness``
# judges runs; ``unit_stale`` judges one unit and ``stale_units`` counts a store's.
UNIT_CHANGES = {
    "698b3a7262fabc1ab2c9ce9227dd8bfa06fec8c9": (
        "logit-scale", "the wrapped model's dropout was on when the outcomes were measured"),
}


def _git(repo, *args) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@functools.lru_cache(maxsize=256)
def changed_since(commit: str, repo: str | Path = REPO_ROOT) -> tuple[str, ...] | None:
    """Return the compute modules (paths under ``wmrlib/``) that differ between ``commit`` and the
    work tree, leaving out
    what the NUMBER_PRESERVING commits changed (empty when nothing else), or None when that
    cannot be told (no git, or a commit git does not know, as in a shallow clone)."""
    base = commit.removesuffix("-dirty")
    if not base or base == "unknown":
        return None
    paths = [*FLAT_COMPUTE_CODE, *COMPUTE_CODE]
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
    return tuple(sorted(str(Path(line).relative_to("wmrlib")) for line in changed))


def staleness(commit: str, repo: str | Path = REPO_ROOT) -> str:
    """Return ``"current"``, ``"stale: <modules> changed"`` or ``"unknown"`` for a stored commit."""
    changed = changed_since(commit, str(repo))
    if changed is None:
        return "unknown"
    return f"stale: {', '.join(changed)} changed" if changed else "current"


@functools.lru_cache(maxsize=1024)
def _is_ancestor(commit: str, later: str, repo: str) -> bool | None:
    """Return whether ``commit`` is ``later`` or one of its ancestors; None when git cannot tell."""
    if any(_git(repo, "cat-file", "-e", f"{c}^{{commit}}") is None for c in (commit, later)):
        return None
    try:
        out = subprocess.run(["git", "merge-base", "--is-ancestor", commit, later], cwd=repo,
                             capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(out.returncode)


def unit_stale(commit: str, kind: str | None, repo: str | Path = REPO_ROOT) -> bool | None:
    """Return whether a stored unit of attack ``kind`` computed at ``commit`` predates a commit of
    :data:`UNIT_CHANGES` for its kind (None when git cannot tell)."""
    base = commit.removesuffix("-dirty")
    changes = [sha for sha, (k, _why) in UNIT_CHANGES.items() if k == kind]
    if not changes:
        return False
    if not base or base == "unknown":
        return None
    found = [_is_ancestor(base, sha, str(repo)) for sha in changes]
    if None in found:
        return None
    return any(before and not sha.startswith(base) for before, sha in zip(found, changes))


def stale_units(root: str | Path, kind: str, repo: str | Path = REPO_ROOT) -> dict[str, int]:
    """Return how many stored units of attack ``kind`` a store (``results/<profile>``) holds,
    how many of them are stale (:func:`unit_stale`) and for how many git cannot tell."""
    counts = {"units": 0, "stale": 0, "unknown": 0}
    for path in sorted(Path(root).glob("evals/*/*.json")):
        info = json.loads(path.read_text())
        if (info.get("attack") or {}).get("kind") != kind:
            continue
        stale = unit_stale(info.get("git_commit", "unknown"), kind, repo)
        counts["units"] += 1
        if stale is None:
            counts["unknown"] += 1
        elif stale:
            counts["stale"] += 1
    return counts
