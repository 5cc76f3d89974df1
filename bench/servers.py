"""moto's server in its own process, so the benchmark's threads don't share
its interpreter (and its lock) with the handlers they are timing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tools.local.stack import MotoProcess, MotoServer


@contextmanager
def moto_process() -> Iterator[MotoServer]:
    """The local stack's serial moto server, started in a child process."""
    server = MotoProcess().start()
    try:
        yield server
    finally:
        server.stop()
