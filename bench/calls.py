"""Count the AWS requests the product sends, through botocore's event hooks.

``before-send`` fires once per HTTP request, retries included, so the count
is what AWS bills and throttles, not what the code asked for.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from miro_oauth.runtime import Runtime


class AwsCallCounter:
    """Requests per ``service.Operation`` on the clients it watches."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, event_name: str, **_: Any) -> None:
        # before-send.<service id>.<Operation>
        operation = event_name.removeprefix("before-send.")
        with self._lock:
            self.counts[operation] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_operation(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    @contextmanager
    def watching(self, *clients: Any) -> Iterator[AwsCallCounter]:
        for client in clients:
            client.meta.events.register("before-send", self._count)
        try:
            yield self
        finally:
            for client in clients:
                client.meta.events.unregister("before-send", self._count)


def runtime_clients(deps: Runtime) -> tuple[Any, ...]:
    """Every AWS client a function's runtime holds, the secret's included."""
    return (deps.dynamodb, deps.kms, deps.secrets.client, deps.events.client)


@contextmanager
def counting(deps: Runtime) -> Iterator[AwsCallCounter]:
    """Count the requests made through ``deps`` while the block runs."""
    with AwsCallCounter().watching(*runtime_clients(deps)) as counter:
        yield counter
