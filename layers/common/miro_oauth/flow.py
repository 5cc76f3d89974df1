"""The values that tie one browser's install to its callback.

RFC 6749 10.12 and RFC 9700 4.7: ``state`` is unguessable, single use and
bound to the browser that started the flow. Here it carries 256 random bits;
a second random value, the *binding*, goes to the browser in a cookie and only
its hash is stored. PKCE (RFC 7636) adds a verifier that never leaves the
server until the token request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

STATE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
COOKIE_PREFIX = "__Host-miro-oauth-"


def digest(value: str) -> str:
    """SHA-256 hex of a secret value, for keys and comparisons."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def cookie_name(state: str) -> str:
    """One cookie per flow, so two tabs started side by side both finish."""
    return COOKIE_PREFIX + digest(state)[:16]


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 4.2, method S256."""
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode("ascii")


def binding_matches(cookie_value: str | None, binding_hash: str) -> bool:
    if not cookie_value:
        return False
    return hmac.compare_digest(digest(cookie_value), binding_hash)


@dataclass(frozen=True)
class FlowSecrets:
    state: str
    binding: str
    code_verifier: str | None

    @classmethod
    def new(cls, *, pkce: bool) -> FlowSecrets:
        return cls(
            state=secrets.token_urlsafe(32),
            binding=secrets.token_urlsafe(32),
            # 64 characters from RFC 7636's unreserved set (43 to 128 allowed).
            code_verifier=secrets.token_urlsafe(48) if pkce else None,
        )
