"""The machine the figures were taken on."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


def _first_field(path: str, name: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gib: float
    cpu_model: str
    architecture: str
    python: str
    system: str

    @classmethod
    def current(cls) -> Machine:
        memory_kib = _first_field("/proc/meminfo", "MemTotal").split()
        return cls(
            cores=len(os.sched_getaffinity(0)),
            memory_gib=int(memory_kib[0]) / 1024 / 1024 if memory_kib else 0.0,
            cpu_model=_first_field("/proc/cpuinfo", "model name")
            or platform.processor()
            or "unknown",
            architecture=platform.machine(),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            system=f"{platform.system()} {platform.release()}",
        )
