"""The tokens function against moto and the local Miro: vend, refresh, revoke."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import CapturedLogs
from tests.integration.lifecycle import (
    TEAM,
    USER,
    EventTap,
    all_items,
    disconnect,
    end_cooldown,
    environment,
    expire_now,
    expire_soon,
    get_token,
    install,
    item,
    sealed_pair,
    set_numbers,
    status,
    version,
)
from tools.local.miro_server import Fault
from tools.local.stack import CLIENT_ID, CLIENT_SECRET, LocalStack, MotoServer, running

INSTALL_URL = (
    f"https://abc123.execute-api.us-east-1.amazonaws.com/install?team_id={TEAM}"
)


def outcome(logs: CapturedLogs, event: str = "get_token") -> dict[str, Any]:
    found = logs.outcomes(event)
    assert found, f"no {event} outcome was logged"
    return found[-1]


# Serving --------------------------------------------------------------------------


def test_a_token_with_time_left_is_served_as_stored_without_calling_miro(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    install(stack)

    answer = get_token(stack)

    assert set(answer) == {"access_token", "expires_at", "scope"}
    assert answer["access_token"] == stack.miro.live_access_token(TEAM, USER)
    assert answer["expires_at"] == int(item(stack)["access_expires_at"]["N"])
    assert answer["scope"] == "boards:read boards:write"
    assert stack.miro.refresh_requests() == 0
    event = outcome(logs)
    assert event["outcome"] == "success"
    assert event["reason"] == "served"
    assert event["token_version"] == 1


def test_operation_defaults_to_get_token_and_may_be_named(stack: LocalStack) -> None:
    install(stack)

    assert get_token(stack) == get_token(stack, operation="get_token")


def test_an_expiring_token_is_refreshed_form_encoded_and_the_old_pair_retired(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    install(stack)
    old = sealed_pair(stack)
    expire_soon(stack)

    answer = get_token(stack)

    assert stack.miro.refresh_requests() == 1
    request = stack.miro.token_requests[-1]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form["grant_type"] == ["refresh_token"]
    assert request.form["refresh_token"] == [old["refresh_token"]]
    assert request.form["client_secret"] == [CLIENT_SECRET]
    assert stack.miro.is_access_token_valid(answer["access_token"])
    assert not stack.miro.is_access_token_valid(old["access_token"])
    assert answer["expires_at"] > time.time() + 3000
    stored = sealed_pair(stack)
    assert stored["access_token"] == answer["access_token"]
    assert stored["refresh_token"] == stack.miro.live_refresh_token(TEAM, USER)
    assert version(stack) == 2
    assert "lease_owner" not in item(stack)
    assert outcome(logs)["reason"] == "refreshed"


def test_fifty_concurrent_calls_on_an_expiring_token_refresh_once_and_share_it(
    stack: LocalStack,
) -> None:
    install(stack)
    expire_soon(stack, seconds=30)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: get_token(stack), range(50)))

    assert stack.miro.refresh_requests() == 1
    tokens = {answer.get("access_token") for answer in answers}
    assert len(tokens) == 1, [a for a in answers if "error" in a][:3]
    (token,) = tokens
    assert isinstance(token, str)
    assert stack.miro.is_access_token_valid(token)
    assert version(stack) == 2


def test_an_app_without_expiring_tokens_is_served_as_it_is(
    moto_server: MotoServer,
) -> None:
    moto_server.reset()
    with running(moto=moto_server, expiring_tokens=False) as stack:
        install(stack)
        set_numbers(stack, refreshed_at=time.time() - 90 * 86_400)

        answer = get_token(stack)
        state = status(stack)
        refreshes = stack.miro.refresh_requests()
        valid = stack.miro.is_access_token_valid(answer["access_token"])

    assert answer["expires_at"] is None
    assert valid
    assert refreshes == 0
    assert state["status"] == "healthy"
    assert state["next_refresh_due"] is None
    assert state["access_expires_at"] is None


# Miro refuses the refresh token ----------------------------------------------------


def test_a_rejected_refresh_token_needs_reauthorization_and_miro_is_not_asked_again(
    stack: LocalStack, logs: CapturedLogs, tap: EventTap
) -> None:
    install(stack)
    expire_now(stack)
    stack.miro.expire_refresh_tokens_for(TEAM, USER)

    first = get_token(stack)
    again = get_token(stack)

    assert first["error"] == "reauthorization_required"
    assert first["reason"] == "refresh_token_rejected"
    assert first["install_url"] == INSTALL_URL
    assert "access_token" not in first
    assert again["error"] == "reauthorization_required"
    assert again["install_url"] == INSTALL_URL
    assert stack.miro.refresh_requests() == 1
    stored = item(stack)
    assert stored["status"]["S"] == "reauthorization_required"
    assert stored["status_reason"]["S"] == "refresh_token_rejected"
    assert "lease_owner" not in stored
    event = logs.outcomes("get_token")[0]
    assert event["outcome"] == "failure"
    assert event["reason"] == "refresh_token_rejected"
    assert event["provider_status"] == 401
    assert "install" in event["hint"]
    (reauthorization,) = [
        e for e in tap.events() if e["detail-type"] != "Installation Installed"
    ]
    assert reauthorization["detail-type"] == "Installation Reauthorization Required"
    assert reauthorization["source"] == "miro-oauth"
    assert reauthorization["detail"]["reason"] == "refresh_token_rejected"
    assert status(stack)["status"] == "reauthorization_required"


def test_installing_again_heals_a_reauthorization_required_installation(
    stack: LocalStack,
) -> None:
    install(stack)
    expire_now(stack)
    stack.miro.expire_refresh_tokens_for(TEAM, USER)
    assert get_token(stack)["error"] == "reauthorization_required"

    install(stack)
    answer = get_token(stack)

    assert stack.miro.is_access_token_valid(answer["access_token"])
    state = status(stack)
    assert state["status"] == "healthy"
    assert state["failure_count"] == 0
    assert state["last_failure"] is None


# Lost answers and crashed holders --------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "timeout_s", "miro_processed"),
    [
        (Fault.answer_lost(), 15.0, True),
        (Fault(drop_connection=True), 15.0, False),
        (Fault(status=200, delay=3.0, after_processing=True), 4.0, True),
        (Fault(status=200, delay=3.0), 4.0, False),
    ],
    ids=["answer-lost", "dropped-unprocessed", "time-out-processed", "time-out"],
)
def test_a_refresh_whose_answer_is_lost_is_marked_then_settled_by_the_next_call(
    stack: LocalStack,
    tap: EventTap,
    fault: Fault,
    timeout_s: float,
    miro_processed: bool,
) -> None:
    install(stack)
    expire_soon(stack)
    stack.miro.inject(fault)

    lost = get_token(stack, timeout_s=timeout_s)

    assert lost["error"] == "provider_unavailable"
    assert lost["reason"] == "refresh_outcome_unknown"
    assert lost["retry_after"] >= 1
    marked = item(stack)
    assert marked["last_failure"]["S"] == "refresh_outcome_unknown"
    assert marked["failure_count"]["N"] == "1"
    assert marked["status"]["S"] == "healthy"
    assert "lease_owner" not in marked
    assert float(marked["cooldown_until"]["N"]) > time.time()
    assert version(stack) == 1
    # The stored access token may be dead if Miro rotated: not served meanwhile.
    assert get_token(stack)["reason"] == "refresh_cooling_down"
    assert stack.miro.refresh_requests() == 1

    end_cooldown(stack)
    settled = get_token(stack)

    assert stack.miro.refresh_requests() == 2
    types = tap.detail_types()
    assert types[:2] == ["Installation Installed", "Installation Refresh Failed"]
    if miro_processed:
        assert settled["error"] == "reauthorization_required"
        assert settled["install_url"] == INSTALL_URL
        assert item(stack)["status"]["S"] == "reauthorization_required"
        assert types[2:] == ["Installation Reauthorization Required"]
    else:
        assert stack.miro.is_access_token_valid(settled["access_token"])
        healed = item(stack)
        assert "last_failure" not in healed
        assert "failure_count" not in healed
        assert types[2:] == ["Installation Recovered"]


def spend_refresh_token_elsewhere(stack: LocalStack) -> None:
    """What a holder that crashed after sending did: Miro rotated the pair."""
    answer = requests.post(
        stack.miro.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": sealed_pair(stack)["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=5,
    )
    assert answer.status_code == 200


def test_a_live_lease_makes_callers_wait_and_never_call_miro_themselves(
    stack: LocalStack,
) -> None:
    install(stack)
    expire_soon(stack)
    set_numbers(stack, lease_expires_at=time.time() + 25)

    answer = get_token(stack, timeout_s=3.0)

    assert answer["error"] == "provider_unavailable"
    assert answer["reason"] == "refresh_in_progress"
    assert answer["retry_after"] >= 1
    assert stack.miro.refresh_requests() == 0


@pytest.mark.parametrize("holder_sent_it", [False, True])
def test_a_lease_left_by_a_crashed_holder_expires_and_the_next_caller_settles_it(
    stack: LocalStack, holder_sent_it: bool
) -> None:
    install(stack)
    expire_now(stack)
    if holder_sent_it:
        spend_refresh_token_elsewhere(stack)
    set_numbers(stack, lease_expires_at=time.time() - 1)

    answer = get_token(stack)

    if holder_sent_it:
        assert answer["error"] == "reauthorization_required"
    else:
        assert stack.miro.is_access_token_valid(answer["access_token"])
        assert version(stack) == 2


# Cool-down ------------------------------------------------------------------------


def test_a_failed_refresh_cools_down_and_miro_is_not_asked_during_it(
    stack: LocalStack, logs: CapturedLogs, tap: EventTap
) -> None:
    install(stack)
    expire_soon(stack)
    current = sealed_pair(stack)["access_token"]
    stack.miro.inject(Fault())

    failed = get_token(stack)
    during = get_token(stack)
    expire_now(stack)
    expired = get_token(stack)

    # Miro kept the pair: the still-valid token is served until it expires.
    assert failed["access_token"] == current
    assert during["access_token"] == current
    assert expired["error"] == "provider_unavailable"
    assert expired["reason"] == "refresh_cooling_down"
    assert 1 <= expired["retry_after"] <= 30
    assert stack.miro.refresh_requests() == 1
    stored = item(stack)
    assert stored["last_failure"]["S"] == "provider_unavailable"
    first = logs.outcomes("get_token")[0]
    assert first["note"] == "provider_unavailable"
    assert tap.detail_types()[1:] == ["Installation Refresh Failed"]

    end_cooldown(stack)
    stack.miro.inject(Fault.rate_limited(reset_in=10))
    assert get_token(stack)["reason"] == "provider_rate_limited"
    second = item(stack)
    cooldown = float(second["cooldown_until"]["N"]) - float(
        second["last_failure_at"]["N"]
    )
    assert second["failure_count"]["N"] == "2"
    assert cooldown == pytest.approx(60, abs=1)

    end_cooldown(stack)
    recovered = get_token(stack)
    assert stack.miro.is_access_token_valid(recovered["access_token"])
    assert tap.detail_types()[-1] == "Installation Recovered"
    assert stack.miro.refresh_requests() == 3


def test_repeated_failures_with_an_expired_token_end_in_reauthorization(
    stack: LocalStack, tap: EventTap
) -> None:
    with environment(MAX_REFRESH_FAILURES="2"):
        install(stack)
        expire_now(stack)
        stack.miro.inject(Fault(), Fault.error_page(503))

        first = get_token(stack)
        end_cooldown(stack)
        second = get_token(stack)

    assert first["error"] == "provider_unavailable"
    assert first["reason"] == "provider_unavailable"
    assert first["retry_after"] == 30
    assert second["error"] == "reauthorization_required"
    assert second["reason"] == "refresh_failures_exhausted"
    assert second["install_url"] == INSTALL_URL
    assert item(stack)["status_reason"]["S"] == "refresh_failures_exhausted"
    assert tap.detail_types()[1:] == [
        "Installation Refresh Failed",
        "Installation Reauthorization Required",
    ]


def test_rejected_client_credentials_never_cost_the_installation(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    install(stack)
    expire_now(stack)
    stack.miro.inject(Fault.oauth_error("invalid_client", "bad client", 401))

    answer = get_token(stack)

    assert answer["error"] == "internal_error"
    assert answer["reason"] == "client_credentials_rejected"
    stored = item(stack)
    assert stored["status"]["S"] == "healthy"
    assert "failure_count" not in stored
    assert "ClientSecret" in outcome(logs)["hint"]


# Status ---------------------------------------------------------------------------


def test_status_describes_the_installation_without_any_token(stack: LocalStack) -> None:
    assert status(stack)["status"] == "not_installed"
    install(stack)

    healthy = status(stack)

    stored = item(stack)
    expires = int(stored["access_expires_at"]["N"])
    assert healthy == {
        "status": "healthy",
        "reason": None,
        "refreshed_at": int(float(stored["refreshed_at"]["N"])),
        "next_refresh_due": expires - 300,
        "access_expires_at": expires,
        "failure_count": 0,
        "cooldown_until": None,
        "last_failure": None,
    }
    access = stack.miro.live_access_token(TEAM, USER)
    assert access is not None
    assert access not in json.dumps(healthy)


# Disconnect -----------------------------------------------------------------------


def test_disconnect_revokes_with_a_json_body_deletes_and_is_idempotent(
    stack: LocalStack, tap: EventTap, logs: CapturedLogs
) -> None:
    install(stack)
    access = sealed_pair(stack)["access_token"]

    first = disconnect(stack)
    second = disconnect(stack)

    assert first == {"disconnected": True}
    assert second == {"disconnected": True}
    assert all_items(stack) == []
    (revoke,) = stack.miro.revoke_requests
    assert revoke.headers["content-type"] == "application/json"
    assert json.loads(revoke.body) == {
        "accessToken": access,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
    }
    assert not stack.miro.is_access_token_valid(access)
    assert stack.miro.live_refresh_token(TEAM, USER) is None
    assert tap.detail_types() == ["Installation Installed", "Installation Disconnected"]
    reasons = [e["reason"] for e in logs.outcomes("disconnect")]
    assert reasons == ["revoked", "not_installed"]
    assert get_token(stack)["error"] == "not_installed"


def test_disconnect_succeeds_when_miro_already_forgot_the_installation(
    stack: LocalStack, tap: EventTap
) -> None:
    install(stack)
    stack.miro.revoke_all()

    answer = disconnect(stack)

    assert answer == {"disconnected": True}
    assert all_items(stack) == []
    assert len(stack.miro.revoke_requests) == 1
    (event,) = [e for e in tap.events() if e["detail-type"].endswith("Disconnected")]
    assert event["detail"]["reason"] == "already_revoked"


@pytest.mark.parametrize(
    "fault", [Fault(), Fault(drop_connection=True)], ids=["5xx", "connection"]
)
def test_a_failed_revoke_keeps_the_installation_and_its_lease_free(
    stack: LocalStack, fault: Fault
) -> None:
    install(stack)
    stack.miro.inject_revoke(fault)

    answer = disconnect(stack)

    assert answer["error"] == "provider_unavailable"
    assert answer["retry_after"] >= 1
    kept = item(stack)
    assert "lease_owner" not in kept
    assert stack.miro.is_access_token_valid(get_token(stack)["access_token"])
    assert disconnect(stack) == {"disconnected": True}


# Bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        [],
        "get_token",
        {},
        {"team_id": TEAM},
        {"team_id": "team-1", "user_id": USER},
        {"team_id": int(TEAM), "user_id": USER},
        {"team_id": "1" * 33, "user_id": USER},
        {"team_id": TEAM, "user_id": f"{USER}\n"},
        {"team_id": TEAM, "user_id": USER, "operation": "refresh"},
        {"team_id": TEAM, "user_id": USER, "operation": ["status"]},
    ],
)
def test_malformed_requests_get_invalid_request_and_one_log_event(
    stack: LocalStack, logs: CapturedLogs, event: Any
) -> None:
    answer = stack.invoke("TokensFunction", event)

    assert answer["error"] == "invalid_request"
    assert answer["detail"]
    assert answer["reference"]
    (logged,) = logs.outcomes()
    assert logged["outcome"] == "failure"
    assert logged["reason"] == "invalid_request"
    assert logged["hint"]


# Events and secrets ---------------------------------------------------------------


def test_the_callback_announces_the_installation_and_survives_a_missing_bus(
    stack: LocalStack, tap: EventTap, logs: CapturedLogs
) -> None:
    install(stack)
    with environment(EVENT_BUS_NAME="no-such-bus"):
        install(stack, team_id="3458764517517811111")

    (event,) = tap.events()
    assert event["detail-type"] == "Installation Installed"
    assert event["source"] == "miro-oauth"
    assert set(event["detail"]) == {
        "team_id",
        "user_id",
        "reason",
        "token_version",
        "time",
    }
    assert event["detail"]["team_id"] == TEAM
    assert event["detail"]["token_version"] == 1
    assert len(all_items(stack)) == 2
    assert "lifecycle event not published" in logs.text


def test_no_refresh_token_access_token_or_secret_leaks_into_logs_events_or_storage(
    stack: LocalStack,
    logs: CapturedLogs,
    tap: EventTap,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers: list[dict[str, Any]] = []
    stored: list[str] = []

    def step(answer: dict[str, Any]) -> None:
        answers.append(answer)
        stored.append(json.dumps(all_items(stack), default=str))

    install(stack)
    expire_soon(stack)
    step(get_token(stack))
    stack.miro.inject(Fault())
    expire_now(stack)
    step(get_token(stack))
    end_cooldown(stack)
    stack.miro.inject(Fault.answer_lost())
    step(get_token(stack))
    step(status(stack))
    end_cooldown(stack)
    step(get_token(stack))
    install(stack)
    step(get_token(stack))
    live_refresh_token = stack.miro.live_refresh_token(TEAM, USER)
    step(disconnect(stack))

    refresh_tokens = {
        value
        for request in stack.miro.token_requests
        for value in request.form.get("refresh_token", [])
    }
    assert live_refresh_token is not None
    refresh_tokens.add(live_refresh_token)
    access_tokens = {a["access_token"] for a in answers if "access_token" in a}
    assert len(refresh_tokens) >= 3
    assert len(access_tokens) >= 2
    tap.events()
    haystacks = {
        "logs": logs.text + capsys.readouterr().out,
        "events": "\n".join(tap.raw),
        "stored": "\n".join(stored),
        "answers": json.dumps(
            [{k: v for k, v in a.items() if k != "access_token"} for a in answers]
        ),
    }
    for where, text in haystacks.items():
        for secret in refresh_tokens | access_tokens | {CLIENT_SECRET}:
            assert secret not in text, f"a token or secret leaked into {where}"
        assert "Traceback" not in text
