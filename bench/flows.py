"""Drive the real handlers through the local stack, as a browser would."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tools.local.invoke import http_event
from tools.local.stack import API_DOMAIN, LocalStack

# Every flow of a run gets its own Miro team, so each makes its own
# installation and none overwrites another's.
_TEAMS = itertools.count(4_100_000_000)


def fresh(stack: LocalStack) -> None:
    """Empty moto and provision the template again.

    moto copies a whole table for every TransactWriteItems (to roll back), so
    its latency grows with the table; DynamoDB's does not. Sections start
    from empty tables, and long runs empty them every ``RESET_EVERY`` flows.
    The next callback reads the secret again (a cold runtime).
    """
    stack.moto.reset()
    stack.provision()


def next_team() -> str:
    return str(next(_TEAMS))


@dataclass(frozen=True)
class Started:
    """An install the user has approved: the callback Miro redirects to."""

    team_id: str
    install_ms: float
    callback_event: dict[str, Any]

    @property
    def code(self) -> str:
        query = str(self.callback_event["rawQueryString"])
        return dict(parse_qsl(query))["code"]


def _header(result: dict[str, Any], name: str) -> str:
    headers = {k.lower(): v for k, v in result.get("headers", {}).items()}
    return str(headers.get(name.lower(), ""))


def install_event(team_id: str) -> dict[str, Any]:
    return http_event(
        "GET", "/install", raw_query=f"team_id={team_id}", domain=API_DOMAIN
    )


def start(stack: LocalStack, team_id: str | None = None) -> Started:
    """/install, then Allow at the local Miro; /install is timed."""
    team = team_id or next_team()
    began = time.perf_counter()
    result = stack.invoke("InstallFunction", install_event(team))
    elapsed = (time.perf_counter() - began) * 1000
    if result["statusCode"] != 302:
        raise RuntimeError(f"/install answered {result['statusCode']}")
    cookie = str(result["cookies"][0]).split(";", 1)[0]
    callback_url = stack.miro.approve_url(_header(result, "Location"))
    event = http_event(
        "GET",
        "/callback",
        raw_query=urlsplit(callback_url).query,
        cookies=[cookie],
        domain=API_DOMAIN,
    )
    return Started(team, elapsed, event)


def finish(stack: LocalStack, started: Started) -> tuple[int, float]:
    """/callback for an approved install: its status and time in ms."""
    began = time.perf_counter()
    result = stack.invoke("CallbackFunction", started.callback_event)
    return int(result["statusCode"]), (time.perf_counter() - began) * 1000
