"""Warm invocations: the real handlers in-process against the local stack.

Each flow is /install, Allow at the local Miro, /callback; the two handler
invocations are timed on their own. The floor flow sends the requests the
design needs (``bench.floor``) to the same servers, interleaved with the
product's flows so both see the same machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import floor, flows
from bench.calls import counting
from bench.stats import Distribution
from miro_oauth.runtime import runtime
from tools.local.stack import LocalStack

WARM_UP = 20
RESET_EVERY = 25


@dataclass
class CallCounts:
    """AWS requests per operation for one invocation of each kind."""

    cold_callback: dict[str, int] = field(default_factory=dict)
    warm_callback: dict[str, int] = field(default_factory=dict)
    install: dict[str, int] = field(default_factory=dict)
    mean_warm_callback: float = 0.0


@dataclass
class WarmLatency:
    callback: Distribution
    callback_floor: Distribution
    install: Distribution
    install_floor: Distribution


def _check(status: int, what: str) -> None:
    if status not in (200, 302):
        raise RuntimeError(f"{what} answered {status}")


def count_calls(stack: LocalStack) -> CallCounts:
    """One cold callback (secret not cached), one warm, one install."""
    counts = CallCounts()
    flows.fresh(stack)
    with counting(runtime()) as counted:
        started = flows.start(stack)
    counts.install = counted.by_operation()
    with counting(runtime()) as counted:
        _check(flows.finish(stack, started)[0], "/callback")
    counts.cold_callback = counted.by_operation()
    started = flows.start(stack)
    with counting(runtime()) as counted:
        _check(flows.finish(stack, started)[0], "/callback")
    counts.warm_callback = counted.by_operation()
    return counts


def measure(
    stack: LocalStack,
    n: int,
    counts: CallCounts,
    progress: Callable[[str], None],
) -> WarmLatency:
    flows.fresh(stack)
    clients = floor.FloorClients.create()
    secret = floor.read_secret(clients)
    times: dict[str, list[float]] = {
        "callback": [],
        "floor": [],
        "install": [],
        "install_floor": [],
    }
    product_calls = 0
    for number in range(WARM_UP + n):
        record = number >= WARM_UP
        if number % 250 == 0:
            progress(f"warm flows {number}/{WARM_UP + n}")
        if number > WARM_UP and number % RESET_EVERY == 0:
            flows.fresh(stack)
            clients = floor.FloorClients.create()
            secret = floor.read_secret(clients)
            # The product's first callback after a reset reads the secret.
            flows.finish(stack, flows.start(stack))

        started = flows.start(stack)
        with counting(runtime()) as counted:
            status, elapsed = flows.finish(stack, started)
        _check(status, "/callback")
        if record:
            product_calls += counted.total
            times["callback"].append(elapsed)
            times["install"].append(started.install_ms)

        baseline = flows.start(stack)
        began = time.perf_counter()
        _check(floor.callback(clients, baseline.callback_event, secret), "floor")
        floor_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        floor.install(clients)
        install_floor_ms = (time.perf_counter() - began) * 1000
        if record:
            times["floor"].append(floor_ms)
            times["install_floor"].append(install_floor_ms)

    counts.mean_warm_callback = product_calls / n
    return WarmLatency(
        callback=Distribution.of("/callback", times["callback"]),
        callback_floor=Distribution.of("floor: callback requests", times["floor"]),
        install=Distribution.of("/install", times["install"]),
        install_floor=Distribution.of("floor: PutItem", times["install_floor"]),
    )
