"""Miro's redirect back to us: check, claim, exchange, store.

The order is the protection. Nothing reaches Miro until the state is known,
fresh, unused and bound to this browser, and until one atomic write has
claimed the code; after that the code is never sent again, whatever happens.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from miro_oauth import errors, events
from miro_oauth.config import CODE_LIFETIME_SECONDS
from miro_oauth.flow import STATE_PATTERN, binding_matches, cookie_name, digest
from miro_oauth.flows import claim_key
from miro_oauth.provider import Timeouts
from miro_oauth.redact import redact
from miro_oauth.runtime import Runtime

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 8192
MAX_FIELDS = 16
# Miro's codes are base64 region markers plus URL-safe text; a generous bound.
CODE_PATTERN = re.compile(r"[A-Za-z0-9._~+/=-]{16,2048}")
# RFC 6749 4.1.2.1 error codes a provider may send instead of a code.
PROVIDER_ERRORS = frozenset(
    {
        "access_denied",
        "invalid_request",
        "unauthorized_client",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    }
)
CALLBACK_PARAMETERS = ("code", "state", "error")


@dataclass(frozen=True)
class Installed:
    team_id: str
    user_id: str
    scope: str
    token_version: int
    flow_age: float
    refreshable: bool


def read_query(raw_query: str) -> dict[str, str]:
    """The callback's query, refusing what Miro never sends.

    API Gateway joins repeated parameters with commas, so the raw string is
    parsed here: a repeated ``code`` or ``state`` is tampering, not a value.
    """
    if len(raw_query) > MAX_QUERY_LENGTH:
        raise errors.InvalidCallback("query string too long", length=len(raw_query))
    try:
        parsed = parse_qs(
            raw_query,
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidCallback("query string cannot be parsed") from None
    for name in CALLBACK_PARAMETERS:
        if len(parsed.get(name, [])) > 1:
            raise errors.RepeatedParameter(
                f"{name} appears more than once", parameter=name
            )
    return {name: values[0] for name, values in parsed.items()}


def provider_refusal(query: Mapping[str, str]) -> errors.ProviderDenied:
    """RFC 6749 4.1.2.1: Miro sent ``error=`` instead of a code."""
    error = query.get("error", "")
    known = error if error in PROVIDER_ERRORS else "unrecognised"
    description = redact(query.get("error_description", ""))[:200] or None
    if error == "access_denied":
        return errors.AccessDenied(
            "user denied access",
            provider_error=known,
            provider_error_description=description,
        )
    return errors.ProviderDenied(
        "provider returned an error",
        provider_error=known,
        provider_error_description=description,
    )


class CallbackFlow:
    def __init__(
        self, runtime: Runtime, clock: Callable[[], float] = time.time
    ) -> None:
        self.runtime = runtime
        self.clock = clock

    def complete(
        self,
        query: Mapping[str, str],
        cookies: Mapping[str, str],
        remaining_ms: int | None,
    ) -> Installed:
        if "error" in query:
            raise provider_refusal(query)

        code, state = self._validated(query)
        record = self.runtime.flows.get_state(state)
        now = self.clock()
        if record is None:
            raise errors.StateRejected("no such state")
        if record.consumed_at is not None:
            if record.code_hash == digest(code):
                raise self._replay(code)
            raise errors.StateAlreadyUsed("state consumed by an earlier callback")
        if record.age(now) > self.runtime.settings.state_lifetime:
            raise errors.StateExpired(flow_age_s=round(record.age(now)))
        cookie = cookies.get(cookie_name(state), "")
        if not binding_matches(cookie, record.binding_hash):
            raise errors.StateNotBound(cookie_present=bool(cookie))
        client_secret = self.runtime.client_secret()

        claim = self.runtime.flows.claim(record, code, cookie, now)

        try:
            installed = self._exchange_and_store(
                code,
                record.redirect_uri,
                record.code_verifier,
                record.created_at,
                client_secret,
                remaining_ms,
            )
        except errors.MiroOAuthError as failure:
            self._finish(claim, succeeded=False, reason=failure.reason)
            raise
        self._finish(claim, succeeded=True, reason="installed")
        return installed

    def _validated(self, query: Mapping[str, str]) -> tuple[str, str]:
        code, state = query.get("code"), query.get("state")
        if not code or not state:
            missing = [n for n in ("code", "state") if not query.get(n)]
            raise errors.MissingParameter(
                f"{' and '.join(missing)} missing", missing=missing
            )
        if not STATE_PATTERN.fullmatch(state):
            raise errors.InvalidCallback("state is malformed", parameter="state")
        if not CODE_PATTERN.fullmatch(code):
            raise errors.InvalidCallback("code is malformed", parameter="code")
        return code, state

    def _replay(self, code: str) -> errors.CodeAlreadyClaimed:
        status = self.runtime.flows.claim_status(claim_key(code))
        return errors.CodeAlreadyClaimed(
            "the same callback arrived again", first_outcome=status
        )

    def _exchange_and_store(
        self,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        created_at: float,
        client_secret: str,
        remaining_ms: int | None,
    ) -> Installed:
        age = self.clock() - created_at
        if age >= CODE_LIFETIME_SECONDS:
            raise errors.CodeTooOld(flow_age_s=round(age))

        tokens = self.runtime.miro.exchange_code(
            code=code,
            redirect_uri=redirect_uri,
            client_secret=client_secret,
            code_verifier=code_verifier,
            timeouts=Timeouts.within(remaining_ms),
            flow_age=age,
        )

        now = self.clock()
        version = self.runtime.installations.save_install(tokens, now)
        # Best effort: the installation is stored whether or not the bus took it.
        self.runtime.events.publish(
            events.INSTALLED,
            team_id=tokens.team_id,
            user_id=tokens.user_id,
            reason="installed",
            token_version=version,
            at=now,
        )
        return Installed(
            team_id=tokens.team_id,
            user_id=tokens.user_id,
            scope=tokens.scope,
            token_version=version,
            flow_age=age,
            refreshable=tokens.refresh_token is not None,
        )

    def _finish(self, claim: str, *, succeeded: bool, reason: str) -> None:
        # The outcome is already decided; a failure to record it must not
        # hide it, and the claim itself still blocks the code.
        try:
            self.runtime.flows.finish_claim(claim, succeeded=succeeded, reason=reason)
        except errors.StorageUnavailable as exc:
            log.warning("claim outcome not recorded: %s", exc.fields)
