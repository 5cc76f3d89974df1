"""Summaries of latency samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    weight = position - low
    return ordered[low] * (1 - weight) + ordered[high] * weight


@dataclass(frozen=True)
class Distribution:
    """Samples in milliseconds."""

    name: str
    samples: tuple[float, ...]

    @classmethod
    def of(cls, name: str, samples: Sequence[float]) -> Distribution:
        return cls(name, tuple(samples))

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def p50(self) -> float:
        return percentile(self.samples, 0.50)

    @property
    def p90(self) -> float:
        return percentile(self.samples, 0.90)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 0.99)


def ratio(product: float, floor: float) -> float:
    return product / floor if floor > 0 else math.nan
