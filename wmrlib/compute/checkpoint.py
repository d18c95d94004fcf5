"""Atomic writes and safe checkpoint loading (``weights_only=True``, identity checked)."""
from __future__ import annotations

import fnmatch
import os
import pickle
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch


class CheckpointError(ValueError):
    """A checkpoint is corrupt, carries code, or belongs to another model or configuration."""


class NonFiniteWeightsError(FloatingPointError, ValueError):
    """Weights became NaN or infinite (training diverged): such a state is never saved."""


def _non_finite(weights) -> str | None:
    """Return the name of the first floating tensor of ``weights`` holding NaN or inf, else None."""
    if not isinstance(weights, dict):
        return None
    for name, tensor in weights.items():
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
            return str(name)
    return None


def _read_umask() -> int:
    mask = os.umask(0)  # the umask can only be read by setting it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


# A test hook (tests/test_faults.py): "<event>:<file name pattern>@<n>" kills this process with
# SIGKILL at the n-th write event on a file whose name matches the (fnmatch) pattern. Events:
# "written" (the temporary file is complete, not yet renamed: a kill mid-write) and "renamed"
# (the file is in place). Unset, nothing happens.
FAULT_ENV = "WMR_FAULT"
_fault_seen: dict[str, int] = {}


def _parse_fault(spec: str) -> tuple[str, str, int]:
    """Return (event, pattern, n) of a ``WMR_FAULT`` value; ValueError naming the format if bad."""
    head, _, count = spec.rpartition("@")
    event, _, pattern = head.partition(":")
    if event not in ("written", "renamed") or not pattern or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{FAULT_ENV}={spec!r} is not '<written|renamed>:<file name pattern>@<n>' "
                         "with n >= 1, e.g. 'renamed:checkpoint.pt@1'")
    return event, pattern, int(count)


def fault_point(event: str, path: str | os.PathLike) -> None:
    """Kill this process (SIGKILL) when ``$WMR_FAULT`` names this write event's n-th occurrence."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    wanted, pattern, n = _parse_fault(spec)
    if event != wanted or not fnmatch.fnmatchcase(Path(path).name, pattern):
        return
    _fault_seen[spec] = _fault_seen.get(spec, 0) + 1
    if _fault_seen[spec] == n:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else delete it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise PermissionError(f"cannot write to {path.parent}: {e.strerror}; "
                              "choose a writable results directory") from e
    os.close(fd)
    tmp = Path(tmp)
    try:
        # mkstemp creates the file owner-only (0600); give it the mode of an ordinary new file
        # (0666 minus the umask) so that others can read the results store.
        os.chmod(tmp, 0o666 & ~_UMASK)
        yield tmp
        fault_point("written", path)
        os.replace(tmp, path)
        fault_point("renamed", path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` with torch.save through a temporary file and an atomic rename.

    A state whose ``model`` weights hold NaN or inf is refused (NonFiniteWeightsError) and the
    file at ``path`` is left as it was, so a diverged run never replaces its last good checkpoint
    and cannot be resumed into a "finished" model with NaN weights.
    """
    bad = _non_finite(state.get("model"))
    if bad is not None:
        raise NonFiniteWeightsError(f"weight {bad!r} is NaN or infinite: training diverged; not "
                                    f"saving {path} (the previous file, if any, is kept); lower "
                                    "the learning rate or check the inputs")
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike, *, config_key: str | None = None,
                    model_name: str | None = None, map_location="cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check that it is the one expected."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"refusing checkpoint {path}: it carries pickled objects that are "
                              f"not plain tensors or containers (weights_only load failed: "
                              f"{str(e).splitlines()[0]})") from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({e}); "
                              "delete it to start over") from e
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} is not a wmrlib checkpoint (no 'model' entry)")
    for name, expected in (("config_key", config_key), ("model_name", model_name)):
        found = state.get(name)
        if expected is not None and found != expected:
            raise CheckpointError(f"checkpoint {path} has {name} {found!r} but {expected!r} was "
                                  "expected; it belongs to another run (move or delete it)")
    bad = _non_finite(state["model"])
    if bad is not None:
        raise CheckpointError(f"checkpoint {path} holds NaN or infinite weights ({bad!r}): its run "
                              "diverged; delete it and train again with a lower learning rate")
    return state
