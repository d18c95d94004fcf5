"""Device selection (CUDA when present, otherwise the CPU) and what the device computes natively."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

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


# The CPU flags that decide what runs fast here: the provenance records them.
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
ALLOW_EMULATED_BF16_ENV = "WMR_ALLOW_EMULATED_BF16"
# Environment variables that make this CPU's kernels those of an older one; all three set to
# AVX2 emulate an AVX2-only CPU on an AVX-512 one (torch, oneDNN, MKL).
ISA_CAP_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


class EmulatedBF16Error(RuntimeError):
    """bf16 was asked for on a device that would emulate it (many times slower than fp32)."""


def cpu_info() -> dict:
    """Return the CPU's model name, which of ``CPU_FLAGS`` it has (/proc/cpuinfo) and any ISA caps set."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
    info = {"model": model, "cores": os.cpu_count(),
            "flags": {flag: flag in flags for flag in CPU_FLAGS}}
    caps = {name: os.environ[name] for name in ISA_CAP_ENV if os.environ.get(name)}
    if caps:  # this CPU runs as an older one: say so wherever its numbers are recorded
        info["isa_caps"] = caps
    return info


def cpu_time_counters(stat_text: str) -> tuple[int, int]:
    """Return (busy, total) clock ticks of all CPUs since boot from the text of /proc/stat.

    Busy is every tick except idle and I/O wait; guest time is already inside user time.

    Example:
        >>> cpu_time_counters("cpu  60 0 20 100 20 0 0 0 0 0\\ncpu0 30 0 10 50 10 0 0 0 0 0")
        (80, 200)
    """
    fields = stat_text.splitlines()[0].split()
    if not fields or fields[0] != "cpu":
        raise ValueError("not /proc/stat text: its first line must start with 'cpu'")
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(ticks)
    return total - ticks[3] - ticks[4], total


def busy_cores(sample_s: float = 0.5, stat: Path = Path("/proc/stat")) -> float | None:
    """Return how many cores' worth of CPU time all processes used over ``sample_s`` seconds,
    from the kernel's counters in ``stat``; None where that file cannot be read (not Linux)."""
    try:
        busy0, total0 = cpu_time_counters(stat.read_text())
        time.sleep(sample_s)
        busy1, total1 = cpu_time_counters(stat.read_text())
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)


def cpu_kind(info: dict | None = None) -> str:
    """Return a short class name of the CPU for cost tables: ``avx512-bf16``, ``avx512``, ``avx2`` or ``other``."""
    info = info or cpu_info()
    flags = info["flags"]
    if flags.get("avx512_bf16") or flags.get("amx_bf16"):
        kind = "avx512-bf16"
    elif flags.get("avx512f"):
        kind = "avx512"
    else:
        kind = "avx2" if flags.get("avx2") else "other"
    caps = info.get("isa_caps")
    return kind + (" capped by " + ", ".join(f"{k}={v}" for k, v in caps.items()) if caps else "")


def native_bf16(device: str | torch.device | None = None) -> bool:
    """Return whether ``device`` computes bf16 natively: CUDA capability ≥ 8.0, or a CPU with avx512_bf16 or amx_bf16."""
    device = default_device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        flags = cpu_info()["flags"]
        return bool(flags["avx512_bf16"] or flags["amx_bf16"]) and _onednn_bf16()
    return False


def _onednn_bf16() -> bool:
    """Whether torch's oneDNN runs bf16 natively here; False when ONEDNN_MAX_CPU_ISA caps it below."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN: trust the CPU flags
        return True


def require_native_bf16(device: str | torch.device | None = None, *,
                        allow_emulated: bool = False) -> None:
    """Raise :class:`EmulatedBF16Error` unless ``device`` runs bf16 natively or the caller insists.

    Setting the environment variable ``WMR_ALLOW_EMULATED_BF16=1`` insists as well.
    """
    device = default_device(device)
    if native_bf16(device) or allow_emulated or os.environ.get(ALLOW_EMULATED_BF16_ENV) == "1":
        return
    flags = cpu_info()["flags"] if device.type == "cpu" else {}
    missing = ("CUDA compute capability ≥ 8.0" if device.type == "cuda"
               else "the CPU flag avx512_bf16 or amx_bf16" if device.type == "cpu"
               and not (flags.get("avx512_bf16") or flags.get("amx_bf16"))
               else "oneDNN's native bf16 kernels (ONEDNN_MAX_CPU_ISA caps them)"
               if device.type == "cpu"
               else f"native bf16 on {device.type}")
    raise EmulatedBF16Error(
        f"precision bf16 asked for, but {device} lacks {missing}: bf16 would be emulated, "
        "measured 5-10x slower than fp32 (an AVX2 CPU ran bf16 PGD at 144 against 1,116 "
        "image-steps/s); use precision fp32 (`--set precision=fp32`), or set "
        f"{ALLOW_EMULATED_BF16_ENV}=1 to insist")
