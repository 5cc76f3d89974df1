"""Fixtures of the integration tier."""

from __future__ import annotations

import pytest

from tests.integration.lifecycle import EventTap
from tools.local.stack import LocalStack


@pytest.fixture
def tap(stack: LocalStack) -> EventTap:
    """Lifecycle events published from now on, read back from the bus."""
    return EventTap(stack)
