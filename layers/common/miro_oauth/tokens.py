"""The token set Miro returns, parsed strictly and never printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class TokenResponseInvalid(ValueError):
    """A 2xx answer that is not a usable token set."""


def _identifier(payload: dict[str, Any], key: str) -> str:
    # Miro's SDK types say string, a docs example shows a bare number larger
    # than 2**53: accept both, keep the digits exactly as a string.
    value = payload.get(key)
    if isinstance(value, bool) or value is None:
        raise TokenResponseInvalid(f"{key} missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise TokenResponseInvalid(f"{key} is not a string or integer")


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int | None
    scope: str
    team_id: str
    user_id: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret

    @classmethod
    def from_response(cls, payload: object) -> TokenSet:
        if not isinstance(payload, dict):
            raise TokenResponseInvalid("body is not a JSON object")
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise TokenResponseInvalid("access_token missing")
        token_type = payload.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenResponseInvalid("token_type is not bearer")
        refresh = payload.get("refresh_token")
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            raise TokenResponseInvalid("refresh_token is not a string")
        expires_in = payload.get("expires_in")
        if expires_in is not None and (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int)
            or expires_in <= 0
        ):
            raise TokenResponseInvalid("expires_in is not a positive integer")
        scope = payload.get("scope", "")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_in=expires_in,
            scope=scope if isinstance(scope, str) else " ".join(map(str, scope)),
            team_id=_identifier(payload, "team_id"),
            user_id=_identifier(payload, "user_id"),
        )
