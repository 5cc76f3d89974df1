"""Fixtures shared by every tier: one moto server per session, fresh per test."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from tests.support import log_events
from tools.local.stack import LocalStack, MotoProcess, MotoServer, running


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoProcess().start()
    yield server
    server.stop()


@pytest.fixture
def stack(moto_server: MotoServer) -> Iterator[LocalStack]:
    moto_server.reset()
    with running(moto=moto_server) as local:
        yield local


class CapturedLogs:
    """Every log line the code under test wrote, formatted as Lambda writes it."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def events(self) -> list[dict[str, Any]]:
        return log_events(self.text)

    def outcomes(self, event: str | None = None) -> list[dict[str, Any]]:
        found = [e for e in self.events() if "event" in e and "outcome" in e]
        return [e for e in found if event is None or e["event"] == event]


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    """Swap the stream of the functions' Powertools handlers, as Lambda reads it.

    Library modules log through the standard ``logging`` module; those
    records reach the root logger and are formatted the same way.
    """
    captured = CapturedLogs()
    # The functions' Logger shares this handler; create it if no handler module
    # has been imported yet.
    Logger(service="miro-oauth")
    service = logging.getLogger("miro-oauth")
    swapped = [
        (handler, handler.setStream(captured.stream))
        for handler in service.handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    library = logging.StreamHandler(captured.stream)
    library.setFormatter(LambdaPowertoolsFormatter())
    library.addFilter(lambda record: not record.name.startswith("miro-oauth"))
    logging.getLogger().addHandler(library)
    yield captured
    logging.getLogger().removeHandler(library)
    for handler, original in swapped:
        if original is not None:
            handler.setStream(original)
