"""How much of the invocation is left, so waiting never outlives the function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# No client timeout is set: the function's own limit still applies.
UNBOUNDED_MS = 15_000


@dataclass(frozen=True)
class Deadline:
    """The Lambda context's remaining time, less what the answer needs."""

    remaining: Callable[[], int]
    reserve_ms: int = 1_500

    @classmethod
    def of(cls, context: object, reserve_ms: int = 1_500) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if not callable(remaining):
            return cls(lambda: UNBOUNDED_MS, reserve_ms)
        return cls(lambda: int(remaining()), reserve_ms)

    def left_ms(self) -> int:
        """Milliseconds to spend before the answer must be written."""
        return max(self.remaining() - self.reserve_ms, 0)

    def allows(self, milliseconds: float) -> bool:
        return self.left_ms() > milliseconds
