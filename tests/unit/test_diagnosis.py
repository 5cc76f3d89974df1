"""Which cause a failed token request is reported as."""

from __future__ import annotations

import json

import pytest

from miro_oauth import errors
from miro_oauth.diagnosis import diagnose


def miro_error(status: int, message: str, code: str = "oauthError") -> bytes:
    return json.dumps(
        {"status": status, "code": code, "message": message, "type": "error"}
    ).encode()


def rfc_error(error: str, description: str = "") -> bytes:
    return json.dumps({"error": error, "error_description": description}).encode()


@pytest.mark.parametrize(
    ("status", "body", "cause"),
    [
        (401, miro_error(401, "Redirect URI mismatch."), errors.RedirectUriMismatch),
        (
            401,
            miro_error(401, "Invalid client credentials"),
            errors.ClientCredentialsRejected,
        ),
        (400, miro_error(400, "Authorization code expired"), errors.CodeExpired),
        (
            400,
            miro_error(400, "Authorization code already used"),
            errors.CodeAlreadyUsed,
        ),
        (400, miro_error(400, "Code verifier does not match"), errors.PkceRejected),
        (400, miro_error(400, "Unsupported content type"), errors.MalformedRequest),
        (401, rfc_error("invalid_client"), errors.ClientCredentialsRejected),
        (400, rfc_error("invalid_request"), errors.MalformedRequest),
        (400, rfc_error("invalid_grant", "The code has expired"), errors.CodeExpired),
        (400, rfc_error("invalid_grant"), errors.ExchangeRejected),
        (401, miro_error(401, "Unauthorized"), errors.ExchangeRejected),
        (
            429,
            miro_error(429, "Too many requests", "tooManyRequests"),
            errors.ProviderRateLimited,
        ),
        (503, b"<html>Service Unavailable</html>", errors.ProviderUnavailable),
        (500, b"", errors.ProviderUnavailable),
        (400, b"<html>Bad Request</html>", errors.UnexpectedResponse),
        (302, b"", errors.UnexpectedResponse),
    ],
)
def test_each_known_refusal_is_named_for_its_cause(
    status: int, body: bytes, cause: type[errors.ExchangeFailed]
) -> None:
    failure = diagnose(status, {}, body)

    assert type(failure) is cause
    assert failure.fields["provider_status"] == status
    assert failure.log_fields()["hint"] == cause.hint


def test_an_unnamed_refusal_late_in_the_code_lifetime_is_reported_as_expiry() -> None:
    failure = diagnose(400, {}, rfc_error("invalid_grant"), flow_age=590)

    assert isinstance(failure, errors.CodeExpired)


def test_both_error_shapes_are_kept_in_the_log_fields() -> None:
    miro = diagnose(401, {}, miro_error(401, "Redirect URI mismatch."))
    rfc = diagnose(400, {}, rfc_error("invalid_grant", "bad code"))

    assert miro.fields["provider_code"] == "oauthError"
    assert miro.fields["provider_message"] == "Redirect URI mismatch."
    assert rfc.fields["provider_error"] == "invalid_grant"
    assert rfc.fields["provider_error_description"] == "bad code"


def test_rate_limit_headers_are_reported() -> None:
    headers = {"X-RateLimit-Limit": "100000", "X-RateLimit-Reset": "1700000000"}

    failure = diagnose(429, headers, miro_error(429, "Too many", "tooManyRequests"))

    assert failure.fields["rate_limit_limit"] == "100000"
    assert failure.fields["rate_limit_reset"] == "1700000000"
    assert failure.status == 503


def test_a_provider_message_echoing_a_token_is_redacted() -> None:
    token = "eyJtaXJvLm9yaWdpbiI6ImV1MDEifQ_" + "x" * 40
    failure = diagnose(400, {}, miro_error(400, f"code {token} is invalid"))

    assert token not in json.dumps(failure.log_fields())
    assert "[redacted]" in failure.fields["provider_message"]
