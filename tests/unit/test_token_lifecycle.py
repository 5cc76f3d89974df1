"""The pure parts of the token lifecycle: policy, parsing, answers."""

from __future__ import annotations

from typing import Any

import pytest

from miro_oauth import errors
from miro_oauth.config import ConfigurationError, Settings
from miro_oauth.diagnosis import diagnose
from miro_oauth.installations import Installation
from miro_oauth.refresh import FailureKind, classify, cooldown_seconds, needs_refresh
from miro_oauth.vending import (
    TokenRequest,
    error_answer,
    next_refresh_due,
)

TEAM = "3458764517517818867"
USER = "3458764517517852417"
NOW = 1_800_000_000.0
ENVIRONMENT = {
    "MIRO_CLIENT_ID": "3458764517517818867",
    "MIRO_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x",
    "FLOWS_TABLE": "flows",
    "INSTALLATIONS_TABLE": "installations",
    "TOKEN_KEY_ID": "key",
    "INSTALL_URL": "https://api.example.com/install",
}


def settings(**overrides: str) -> Settings:
    return Settings.from_environment({**ENVIRONMENT, **overrides})


def installation(**fields: Any) -> Installation:
    values: dict[str, Any] = {
        "team_id": TEAM,
        "user_id": USER,
        "token_version": 3,
        "status": "healthy",
        "scope": "boards:read",
        "access_expires_at": int(NOW) + 3600,
        "refreshed_at": NOW,
        "installed_at": NOW - 86_400,
    }
    values.update(fields)
    return Installation(**values)


def miro_refusal(status: int, message: str) -> errors.MiroOAuthError:
    body = (
        f'{{"status": {status}, "code": "oauthError", "message": "{message}", '
        '"type": "error"}'
    ).encode()
    return diagnose(status, {}, body)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 900), (60, 900)],
)
def test_cooldown_starts_at_30_seconds_doubles_and_stops_at_15_minutes(
    failures: int, seconds: int
) -> None:
    assert cooldown_seconds(failures) == seconds


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (miro_refusal(401, "Invalid refresh token."), FailureKind.REJECTED),
        (miro_refusal(401, "Refresh token has expired."), FailureKind.REJECTED),
        (
            errors.ExchangeRejected(provider_error="invalid_grant"),
            FailureKind.REJECTED,
        ),
        (miro_refusal(401, "Invalid client credentials."), FailureKind.CONFIGURATION),
        (diagnose(429, {}, b'{"code": "tooManyRequests"}'), FailureKind.TRANSIENT),
        (diagnose(503, {}, b"<html>busy</html>"), FailureKind.TRANSIENT),
        (errors.ProviderUnavailable(request_sent=False), FailureKind.TRANSIENT),
        (errors.ProviderUnavailable(request_sent=True), FailureKind.UNKNOWN),
        (
            errors.ProviderUnavailable(request_error="ChunkedEncodingError"),
            FailureKind.UNKNOWN,
        ),
        (errors.ProviderTimeout(), FailureKind.UNKNOWN),
        (errors.UnexpectedResponse(provider_status=200), FailureKind.UNKNOWN),
    ],
)
def test_a_refresh_failure_is_judged_by_what_it_says_about_the_refresh_token(
    failure: errors.MiroOAuthError, kind: FailureKind
) -> None:
    assert classify(failure) is kind


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, False),
        ({"access_expires_at": int(NOW) + 301}, False),
        ({"access_expires_at": int(NOW) + 300}, True),
        ({"access_expires_at": int(NOW) - 10}, True),
        ({"access_expires_at": None}, False),
        ({"access_expires_at": int(NOW) - 10, "refreshable": False}, False),
    ],
)
def test_only_refreshable_tokens_inside_the_margin_need_a_refresh(
    fields: dict[str, Any], expected: bool
) -> None:
    assert needs_refresh(installation(**fields), NOW, margin=300) is expected


def test_an_item_without_the_refreshable_flag_is_refreshable_when_it_expires() -> None:
    item = {
        "team_id": {"S": TEAM},
        "user_id": {"S": USER},
        "token_version": {"N": "1"},
        "refreshed_at": {"N": str(NOW)},
        "installed_at": {"N": str(NOW)},
    }

    assert Installation.from_item(item).refreshable is False
    expiring = {**item, "access_expires_at": {"N": str(int(NOW))}}
    assert Installation.from_item(expiring).refreshable is True


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {"team_id": TEAM, "user_id": USER},
            TokenRequest("get_token", TEAM, USER),
        ),
        (
            {"operation": "status", "team_id": TEAM, "user_id": USER},
            TokenRequest("status", TEAM, USER),
        ),
        (
            {"operation": "disconnect", "team_id": "1", "user_id": "2"},
            TokenRequest("disconnect", "1", "2"),
        ),
    ],
)
def test_requests_name_an_operation_and_an_installation(
    event: dict[str, Any], expected: TokenRequest
) -> None:
    assert TokenRequest.parse(event) == expected


@pytest.mark.parametrize(
    "event",
    [
        None,
        {"team_id": TEAM},
        {"team_id": TEAM, "user_id": ""},
        {"team_id": TEAM, "user_id": "-1"},
        {"team_id": TEAM, "user_id": "１２３"},
        {"team_id": True, "user_id": USER},
        {"team_id": TEAM, "user_id": USER, "operation": "revoke"},
        {"team_id": TEAM, "user_id": USER, "operation": None},
    ],
)
def test_anything_else_is_an_invalid_request(event: object) -> None:
    with pytest.raises(errors.InvalidRequest):
        TokenRequest.parse(event)


def test_an_unknown_operation_is_named_in_the_log_only_when_it_looks_like_one() -> None:
    with pytest.raises(errors.InvalidRequest) as plain:
        TokenRequest.parse({"operation": "refresh", "team_id": TEAM, "user_id": USER})
    with pytest.raises(errors.InvalidRequest) as odd:
        TokenRequest.parse({"operation": "x" * 500, "team_id": TEAM, "user_id": USER})

    assert plain.value.fields["operation"] == "refresh"
    assert "operation" not in odd.value.fields


def test_reauthorization_answers_carry_the_install_url_for_the_team() -> None:
    request = TokenRequest("get_token", TEAM, USER)

    answer = error_answer(errors.RefreshTokenRejected(), settings(), request, "ref-1")

    assert answer == {
        "error": "reauthorization_required",
        "reason": "refresh_token_rejected",
        "message": errors.RefreshTokenRejected.hint,
        "reference": "ref-1",
        "install_url": f"https://api.example.com/install?team_id={TEAM}",
    }


@pytest.mark.parametrize(
    ("failure", "retry_after"),
    [
        (errors.RefreshCoolingDown(retry_after=42), 42),
        (errors.RefreshInProgress(retry_after=1), 1),
        (errors.ProviderRateLimited(retry_after="60"), 5),
        (errors.StorageUnavailable(), 5),
    ],
)
def test_retryable_answers_always_say_when_to_retry_in_whole_seconds(
    failure: errors.MiroOAuthError, retry_after: int
) -> None:
    answer = error_answer(failure, settings(), None, "ref")

    assert answer["retry_after"] == retry_after
    assert answer["error"] in ("provider_unavailable", "storage_unavailable")
    assert "install_url" not in answer


def test_next_refresh_is_due_at_the_margin_or_the_keep_alive_age() -> None:
    config = settings(REFRESH_MARGIN_SECONDS="600", KEEPALIVE_AGE_DAYS="20")

    assert next_refresh_due(installation(), config) == int(NOW) + 3000
    idle = installation(access_expires_at=int(NOW) + 40 * 86_400)
    assert next_refresh_due(idle, config) == int(NOW) + 20 * 86_400
    cooling = installation(cooldown_until=NOW + 3500)
    assert next_refresh_due(cooling, config) == int(NOW) + 3500
    assert next_refresh_due(installation(refreshable=False), config) is None
    broken = installation(status="reauthorization_required")
    assert next_refresh_due(broken, config) is None


def test_lifecycle_settings_have_defaults_and_refuse_nonsense() -> None:
    defaults = settings()

    assert defaults.refresh_margin_seconds == 300
    assert defaults.keepalive_age_days == 30
    assert defaults.max_refresh_failures == 5
    assert defaults.event_bus_name == "default"
    for name, value in [
        ("REFRESH_MARGIN_SECONDS", "-1"),
        ("REFRESH_MARGIN_SECONDS", "3601"),
        ("KEEPALIVE_AGE_DAYS", "60"),
        ("KEEPALIVE_AGE_DAYS", "ten"),
        ("MAX_REFRESH_FAILURES", "0"),
    ]:
        with pytest.raises(ConfigurationError, match=name):
            settings(**{name: value})
