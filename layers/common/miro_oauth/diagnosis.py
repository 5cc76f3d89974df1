"""Turn Miro's refusal into the cause a developer can act on.

Miro documents one error shape (``{"status", "code", "message", "type"}``);
other OAuth servers answer RFC 6749 5.2 (``{"error", "error_description"}``).
Bodies for an expired or reused code, a wrong secret or a JSON request are
undocumented, so the message is read for the known causes and, where it names
none, what this client knows (the flow's age) narrows it down.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from miro_oauth import errors
from miro_oauth.config import CODE_LIFETIME_SECONDS
from miro_oauth.redact import redact

# Checked in order: the first family whose words appear wins.
_MESSAGE_CAUSES: tuple[tuple[tuple[str, ...], type[errors.ExchangeFailed]], ...] = (
    (("redirect",), errors.RedirectUriMismatch),
    (("verifier", "pkce", "code_challenge"), errors.PkceRejected),
    (("client", "secret", "credential"), errors.ClientCredentialsRejected),
    (("expired", "expire"), errors.CodeExpired),
    (("already", "used", "reuse", "revoked", "redeemed"), errors.CodeAlreadyUsed),
    (
        ("content type", "content-type", "malformed", "missing", "unsupported"),
        errors.MalformedRequest,
    ),
)

_RFC_ERRORS: Mapping[str, type[errors.ExchangeFailed]] = {
    "invalid_client": errors.ClientCredentialsRejected,
    "unauthorized_client": errors.ClientCredentialsRejected,
    "invalid_request": errors.MalformedRequest,
    "unsupported_grant_type": errors.MalformedRequest,
}

_RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit": "rate_limit_limit",
    "x-ratelimit-remaining": "rate_limit_remaining",
    "x-ratelimit-reset": "rate_limit_reset",
    "retry-after": "retry_after",
}


def _parse_body(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    return redact(str(value))


def diagnose(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    flow_age: float | None = None,
) -> errors.ExchangeFailed:
    """The error that names the most likely cause of a failed token request."""
    payload = _parse_body(body)
    fields: dict[str, Any] = {"provider_status": status}
    lowered = {k.lower(): v for k, v in headers.items()}
    for header, key in _RATE_LIMIT_HEADERS.items():
        if header in lowered:
            fields[key] = redact(lowered[header])[:40]

    if payload is None:
        fields["provider_body"] = "non-JSON" if body else "empty"
    else:
        fields["provider_code"] = _text(payload.get("code"))
        fields["provider_message"] = _text(payload.get("message"))
        fields["provider_error"] = _text(payload.get("error"))
        fields["provider_error_description"] = _text(payload.get("error_description"))

    cause = _classify(status, payload, flow_age)
    return cause(f"token endpoint answered HTTP {status}", **fields)


def _classify(
    status: int, payload: dict[str, Any] | None, flow_age: float | None
) -> type[errors.ExchangeFailed]:
    code = str(payload.get("code", "")) if payload else ""
    if status == 429 or code == "tooManyRequests":
        return errors.ProviderRateLimited
    if status >= 500:
        return errors.ProviderUnavailable
    if payload is None or not 400 <= status < 500:
        return errors.UnexpectedResponse

    words = " ".join(
        str(payload.get(key, "")) for key in ("message", "error_description")
    ).lower()
    for keywords, cause in _MESSAGE_CAUSES:
        if any(word in words for word in keywords):
            return cause

    rfc_error = str(payload.get("error", ""))
    if rfc_error in _RFC_ERRORS:
        return _RFC_ERRORS[rfc_error]
    if flow_age is not None and flow_age >= CODE_LIFETIME_SECONDS - 60:
        # Nothing named, but the code was close to Miro's 10 minutes.
        return errors.CodeExpired
    return errors.ExchangeRejected
