"""Memory and CPU of one execution environment over many invocations.

A fresh interpreter imports a function as built, handles ``n`` requests
against the local stack, then traces the allocations of a few more, one
invocation at a time. ``ru_maxrss`` is the process's peak resident size,
the figure Lambda reports as "Max Memory Used" (plus the runtime's own
client, which this process does not run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import coldstart, flows
from bench.package import Build
from bench.stats import Distribution
from tools.local.stack import LocalStack


@dataclass(frozen=True)
class Footprint:
    label: str
    invocations: int
    import_rss_mib: float
    first_rss_mib: float
    peak_rss_mib: float
    import_cpu_ms: float
    first_cpu_ms: float
    warm_cpu_ms: float
    traced_peak_kib: Distribution


def _events(stack: LocalStack, kind: str, count: int) -> list[dict[str, Any]]:
    if kind == "install":
        return [flows.install_event(flows.next_team()) for _ in range(count)]
    return [flows.start(stack).callback_event for _ in range(count)]


def measure(
    stack: LocalStack,
    build: Build,
    n: int,
    traced: int,
    progress: Callable[[str], None],
) -> list[Footprint]:
    chosen = [
        (coldstart.Target("CallbackFunction", "handler", "CallbackFunction"), "cb"),
        (coldstart.Target("InstallFunction", "handler", "InstallFunction"), "install"),
        (coldstart.Target("floor: callback requests", "floor-callback"), "cb"),
    ]
    found = []
    for target, kind in chosen:
        progress(f"memory: {target.label}")
        events = _events(stack, kind, n + traced)
        answer = coldstart.run_child(
            "memory",
            target,
            build,
            events=events,
            traced=traced,
            env=stack.environment,
        )
        bad = [s for s in answer["statuses"] if s not in (200, 302)]
        if bad:
            raise RuntimeError(f"{target.label}: answered {bad[:5]}")
        found.append(
            Footprint(
                label=target.label,
                invocations=int(answer["invocations"]) + traced,
                import_rss_mib=answer["import_rss_mib"],
                first_rss_mib=answer["first_rss_mib"],
                peak_rss_mib=answer["warm_rss_mib"],
                import_cpu_ms=answer["import_cpu_ms"],
                first_cpu_ms=answer["first_cpu_ms"],
                warm_cpu_ms=answer["warm_cpu_ms"],
                traced_peak_kib=Distribution.of(
                    target.label, answer.get("traced_peak_kib", [])
                ),
            )
        )
    return found
