"""The local stack behind its HTTP front, driven by Debian's headless chromium.

One stack and one browser per module; every test gets empty tables and a
fresh browser profile. Playwright downloads no browser: it launches
``/usr/bin/chromium`` (``apt-get install chromium``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tools.local.chromium import CHROMIUM as CHROMIUM_BINARY
from tools.local.chromium import CHROMIUM_ARGS
from tools.local.front import Front
from tools.local.stack import LocalStack, running

CHROMIUM = Path(CHROMIUM_BINARY)


@dataclass(frozen=True)
class Site:
    """The product as a browser reaches it, plus what it stored."""

    stack: LocalStack
    front: Front

    @property
    def install_url(self) -> str:
        return self.front.install_url

    def installations(self) -> list[dict[str, Any]]:
        table = self.stack.table("InstallationsTable")
        answer = self.stack.dynamodb().scan(TableName=table, ConsistentRead=True)
        items: list[dict[str, Any]] = answer["Items"]
        return items

    def empty_tables(self) -> None:
        dynamodb = self.stack.dynamodb()
        keys = {"FlowsTable": ["pk"], "InstallationsTable": ["team_id", "user_id"]}
        for logical_name, key_names in keys.items():
            table = self.stack.table(logical_name)
            for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]:
                key = {name: item[name] for name in key_names}
                dynamodb.delete_item(TableName=table, Key=key)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: apt-get install chromium (tools/ensure-browser)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def local_site() -> Iterator[Site]:
    front = Front()
    try:
        with running(redirect_uri=front.callback_url) as stack:
            front.serve(stack)
            yield Site(stack, front)
    finally:
        front.stop()


@pytest.fixture
def site(local_site: Site) -> Site:
    local_site.empty_tables()
    return local_site


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    profile = browser.new_context()
    yield profile
    profile.close()
