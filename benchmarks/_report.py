"""Markdown report helpers shared by the benchmark scripts."""
from __future__ import annotations

import math
import os
import platform


class Report:
    """Collects markdown lines, printing each as it is added."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def table(self, header: list[str], rows: list[list]) -> None:
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.add("| " + " | ".join(str(c) for c in row) + " |")
        self.add()

    def write(self, path: str) -> None:
        """Write the report's markdown to ``path``."""
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def fmt(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def load_avg() -> str:
    """Return the 1/5/15-minute load averages as text."""
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def cpu_name() -> str:
    """Return the CPU model name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
