"""Device selection: CUDA when present, otherwise the CPU."""
from __future__ import annotations

import torch


def default_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` if given (``"auto"`` counts as not given), else CUDA if available, else CPU.

    An unknown device name, or CUDA / MPS where there is none, raises ValueError now rather than
    at the first tensor moved there.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda, cuda:<index>, mps or auto") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here; "
                         "use cpu or auto")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} asked for, but MPS is not available here; "
                         "use cpu or auto")
    return dev


def autocast(device: torch.device, precision: str):
    """Return an autocast context for ``precision`` ("fp32" disables it, "bf16" enables bfloat16)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
