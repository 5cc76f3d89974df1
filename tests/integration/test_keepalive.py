"""The scheduled keep-alive against moto and the local Miro."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from miro_oauth.deadline import Deadline
from miro_oauth.keepalive import REFRESH_RESERVE_MS, KeepAlive
from miro_oauth.runtime import runtime
from tests.conftest import CapturedLogs
from tests.integration.lifecycle import (
    USER,
    EventTap,
    age_refresh,
    expire_now,
    get_token,
    install,
    item,
    keep_alive,
    sealed_pair,
    version,
)
from tests.support import log_events
from tools.local.miro_server import Fault
from tools.local.stack import LocalStack

TEAMS = [str(3458764517517818000 + n) for n in range(1, 6)]


def installed(stack: LocalStack, count: int) -> list[str]:
    teams = TEAMS[:count]
    for team in teams:
        install(stack, team)
    return teams


def metric_values(output: str) -> dict[str, float]:
    """The counts in the EMF metric lines Powertools printed."""
    values: dict[str, float] = {}
    for event in log_events(output):
        if "_aws" in event:
            for definition in event["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                name = definition["Name"]
                values[name] = float(event[name][0])
    return values


def test_two_runs_at_once_refresh_each_stale_installation_exactly_once(
    stack: LocalStack, tap: EventTap
) -> None:
    teams = installed(stack, 4)
    stale, fresh = teams[:3], teams[3]
    for team in stale:
        age_refresh(stack, days=31, team_id=team)
    old = {team: sealed_pair(stack, team)["refresh_token"] for team in stale}

    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda _: keep_alive(stack), range(2)))

    assert stack.miro.refresh_requests() == 3
    assert sum(report["refreshed"] for report in reports) == 3
    assert sum(report["failed"] for report in reports) == 0
    for report in reports:
        assert report["scanned"] == 4
        assert report["scanned"] == report["refreshed"] + report["skipped"]
        assert report["complete"] is True
    for team in stale:
        assert version(stack, team) == 2
        assert not stack.miro.is_refresh_token_valid(old[team])
        assert sealed_pair(stack, team)["refresh_token"] == (
            stack.miro.live_refresh_token(team, USER)
        )
        assert float(item(stack, team)["refreshed_at"]["N"]) > time.time() - 60
    assert version(stack, fresh) == 1
    # A plain refresh is no lifecycle change: only the installs were announced.
    assert set(tap.detail_types()) == {"Installation Installed"}


def test_fresh_and_reauthorization_required_installations_are_skipped(
    stack: LocalStack, logs: CapturedLogs, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh, broken = installed(stack, 2)
    age_refresh(stack, days=45, team_id=broken)
    expire_now(stack, broken)
    stack.miro.expire_refresh_tokens_for(broken, USER)
    assert get_token(stack, broken)["error"] == "reauthorization_required"
    requests_before = stack.miro.refresh_requests()

    report = keep_alive(stack)

    assert report["scanned"] == 2
    assert report["skipped"] == 2
    assert report["refreshed"] == 0
    assert stack.miro.refresh_requests() == requests_before
    (summary,) = logs.outcomes("keepalive")
    assert summary["outcome"] == "success"
    assert summary["reason"] == "sweep_complete"
    assert summary["skipped"] == 2
    metrics = metric_values(capsys.readouterr().out)
    assert metrics["KeepAliveScanned"] == 2
    assert metrics["KeepAliveSkipped"] == 2
    assert metrics["KeepAliveRefreshed"] == 0


def test_a_failed_refresh_is_counted_cooled_down_and_the_sweep_goes_on(
    stack: LocalStack, logs: CapturedLogs, tap: EventTap
) -> None:
    teams = installed(stack, 3)
    for team in teams:
        age_refresh(stack, days=31, team_id=team)
    stack.miro.inject(Fault())

    report = keep_alive(stack)
    again = keep_alive(stack)

    assert report["refreshed"] == 2
    assert report["failed"] == 1
    (failure,) = report["failures"]
    assert failure["reason"] == "provider_unavailable"
    cooling = item(stack, failure["team_id"])
    assert cooling["last_failure"]["S"] == "provider_unavailable"
    assert float(cooling["cooldown_until"]["N"]) > time.time()
    # The second run finds the failed one cooling down and leaves it alone.
    assert again["refreshed"] == 0
    assert again["skipped"] == 3
    assert stack.miro.refresh_requests() == 3
    first, second = logs.outcomes("keepalive")
    assert (first["refreshed"], first["failed"]) == (2, 1)
    assert (second["refreshed"], second["failed"]) == (0, 0)
    assert "Installation Refresh Failed" in tap.detail_types(failure["team_id"])


def test_the_sweep_pages_through_the_table_without_reading_tokens_first(
    stack: LocalStack,
) -> None:
    teams = installed(stack, 5)
    for team in teams[::2]:
        age_refresh(stack, days=40, team_id=team)

    sweep = KeepAlive(runtime(), owner="test-sweep", page_size=2)
    report = sweep.run(Deadline(lambda: 120_000))

    assert report.scanned == 5
    assert report.refreshed == 3
    assert report.skipped == 2
    assert report.complete is True
    assert [version(stack, team) for team in teams] == [2, 1, 2, 1, 2]


def test_the_sweep_stops_before_its_time_runs_out_and_says_so(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    teams = installed(stack, 3)
    for team in teams:
        age_refresh(stack, days=31, team_id=team)

    def remaining_ms() -> int:
        # Plenty of time until the first refresh, then the end is near.
        return 120_000 if stack.miro.refresh_requests() == 0 else 20_000

    sweep = KeepAlive(runtime(), owner="test-sweep", page_size=10)
    report = sweep.run(Deadline(remaining_ms, reserve_ms=0))

    assert report.complete is False
    assert report.refreshed == 1
    assert stack.miro.refresh_requests() == 1
    assert [e for e in logs.events() if e.get("event") == "keepalive_deadline"]


def test_a_run_with_too_little_time_refreshes_nothing_and_reports_it(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    (team,) = installed(stack, 1)
    age_refresh(stack, days=31, team_id=team)

    report: dict[str, Any] = keep_alive(stack, timeout_s=REFRESH_RESERVE_MS / 1000)

    assert report["complete"] is False
    assert report["refreshed"] == 0
    assert stack.miro.refresh_requests() == 0
    (summary,) = logs.outcomes("keepalive")
    assert summary["reason"] == "deadline_reached"
    assert version(stack, team) == 1
