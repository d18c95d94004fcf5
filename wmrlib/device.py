"""Device selection: CUDA when present, otherwise the CPU."""
from __future__ import annotations

import torch


def default_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` if given (``"auto"`` counts as not given), else CUDA if available, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast(device: torch.device, precision: str):
    """Return an autocast context for ``precision`` ("fp32" disables it, "bf16" enables bfloat16)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
