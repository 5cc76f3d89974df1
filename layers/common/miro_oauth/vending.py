"""What the app asks about an installation: a token, its status, disconnect.

The app invokes the tokens function directly with
``{"operation": ..., "team_id": ..., "user_id": ...}``. A token is served as
stored while it has more than the refresh margin to live; otherwise one
caller refreshes it under the item's lease (see ``refresh``) and every other
caller waits for the new version, so fifty concurrent calls cost Miro one
refresh and all get the same token.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from miro_oauth import errors, events
from miro_oauth.config import Settings
from miro_oauth.deadline import Deadline
from miro_oauth.installations import HEALTHY, REAUTHORIZATION_REQUIRED, Installation
from miro_oauth.provider import Timeouts
from miro_oauth.refresh import (
    CALL_BUDGET_MS,
    LEASE_SECONDS,
    Refresher,
    needs_refresh,
)
from miro_oauth.runtime import Runtime

log = logging.getLogger(__name__)

GET_TOKEN = "get_token"  # noqa: S105 - an operation name, not a secret
STATUS = "status"
DISCONNECT = "disconnect"
OPERATIONS = (GET_TOKEN, STATUS, DISCONNECT)
# Miro ids are 64-bit numbers sent as strings; a generous bound on digits.
ID_PATTERN = re.compile(r"[0-9]{1,32}")
_OPERATION_NAME = re.compile(r"[A-Za-z_]{1,40}")
# Waiting for another caller's refresh: short, growing, jittered pauses.
FIRST_PAUSE_SECONDS = 0.05
MAX_PAUSE_SECONDS = 0.4
DEFAULT_RETRY_AFTER = 5
# Stored reasons that name their own error class.
_REAUTHORIZATION_CAUSES: Mapping[str, type[errors.ReauthorizationRequired]] = {
    errors.RefreshTokenRejected.reason: errors.RefreshTokenRejected,
    errors.RefreshFailuresExhausted.reason: errors.RefreshFailuresExhausted,
}


@dataclass(frozen=True)
class TokenRequest:
    operation: str
    team_id: str
    user_id: str

    @classmethod
    def parse(cls, event: object) -> TokenRequest:
        """The invocation payload, refused unless every part is what it should be."""
        if not isinstance(event, dict):
            raise errors.InvalidRequest("the payload is not a JSON object")
        operation = event.get("operation", GET_TOKEN)
        if operation not in OPERATIONS:
            named = operation if isinstance(operation, str) else ""
            raise errors.InvalidRequest(
                "unknown operation",
                operation=named if _OPERATION_NAME.fullmatch(named) else None,
            )
        ids = {}
        for name in ("team_id", "user_id"):
            value = event.get(name)
            if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
                raise errors.InvalidRequest(
                    f"{name} must be a string of 1 to 32 digits", parameter=name
                )
            ids[name] = value
        return cls(str(operation), ids["team_id"], ids["user_id"])


@dataclass(frozen=True)
class Served:
    access_token: str = field(repr=False)
    expires_at: int | None
    scope: str
    token_version: int
    refreshed: bool = False
    recovered: bool = False
    waited_ms: int = 0
    note: str | None = None

    def answer(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "scope": self.scope,
        }

    def log_fields(self) -> dict[str, Any]:
        """Everything about the answer except the token itself."""
        fields: dict[str, Any] = {
            "reason": "refreshed" if self.refreshed else "served",
            "token_version": self.token_version,
            "refreshed": self.refreshed,
            "waited_ms": self.waited_ms,
            "expires_at": self.expires_at,
        }
        if self.recovered:
            fields["recovered"] = True
        if self.note:
            fields["note"] = self.note
        return fields


class TokenVending:
    def __init__(
        self,
        runtime: Runtime,
        *,
        owner: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.store = runtime.installations
        self.owner = owner
        self.clock = clock
        self.sleep = sleep
        self.refresher = Refresher(runtime, clock=clock)

    # get_token ---------------------------------------------------------------

    def get_token(self, request: TokenRequest, deadline: Deadline) -> Served:
        started = time.monotonic()
        pauses = 0
        while True:
            item = self._read(request)
            now = self.clock()
            if not needs_refresh(item, now, self.settings.refresh_margin_seconds):
                return self._serve(item, started)
            if item.cooling_down(now):
                return self._during_cooldown(item, now, started)
            if item.lease_live(now):
                self._pause(deadline, pauses)
                pauses += 1
                continue
            if not deadline.allows(0):
                raise errors.RefreshInProgress(retry_after=1)

            held = self.store.take_lease(
                item, self.owner, now, seconds=LEASE_SECONDS, for_refresh=True
            )
            if held is None:
                continue  # another caller moved first: read what it did

            try:
                refreshed = self.refresher.refresh(held, self.owner, deadline)
            except errors.MiroOAuthError as failure:
                if _retryable(failure) and held.access_valid(self.clock()):
                    # The pair is still good: the cool-down protects Miro, the
                    # app keeps working until the token really expires.
                    return self._serve(held, started, note=failure.reason)
                raise
            if refreshed is None:
                continue  # a newer pair was stored meanwhile: serve that
            return Served(
                access_token=refreshed.access_token,
                expires_at=refreshed.expires_at,
                scope=refreshed.scope,
                token_version=refreshed.token_version,
                refreshed=True,
                recovered=refreshed.recovered,
                waited_ms=_since(started),
            )

    def _read(self, request: TokenRequest) -> Installation:
        item = self.store.get(request.team_id, request.user_id)
        if item is None:
            raise errors.NotInstalled()
        if item.status == REAUTHORIZATION_REQUIRED:
            raise reauthorization_error(item)
        return item

    def _serve(
        self, item: Installation, started: float, note: str | None = None
    ) -> Served:
        pair = self.store.sealer.unseal(item.sealed_tokens, item.team_id, item.user_id)
        return Served(
            access_token=str(pair["access_token"]),
            expires_at=item.access_expires_at,
            scope=item.scope,
            token_version=item.token_version,
            waited_ms=_since(started),
            note=note,
        )

    def _during_cooldown(
        self, item: Installation, now: float, started: float
    ) -> Served:
        """No refresh until ``cooldown_until``: the current token if it still works."""
        lost_answer = item.last_failure == errors.RefreshOutcomeUnknown.reason
        if item.access_valid(now) and not lost_answer:
            return self._serve(item, started, note="cooling_down")
        raise errors.RefreshCoolingDown(
            retry_after=_seconds_until(item.cooldown_until, now),
            last_failure=item.last_failure,
            failure_count=item.failure_count,
        )

    def _pause(self, deadline: Deadline, pauses: int) -> None:
        """Wait a little for the lease holder, or give up before time runs out."""
        pause = min(FIRST_PAUSE_SECONDS * 2**pauses, MAX_PAUSE_SECONDS)
        pause *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
        if not deadline.allows(pause * 1000):
            raise errors.RefreshInProgress(retry_after=1)
        self.sleep(pause)

    # status ------------------------------------------------------------------

    def status(self, request: TokenRequest) -> dict[str, Any]:
        item = self.store.get(request.team_id, request.user_id)
        answer: dict[str, Any] = {
            "status": "not_installed",
            "reason": None,
            "refreshed_at": None,
            "next_refresh_due": None,
            "access_expires_at": None,
            "failure_count": 0,
            "cooldown_until": None,
            "last_failure": None,
        }
        if item is None:
            return answer
        answer.update(
            status=item.status,
            reason=item.status_reason,
            refreshed_at=int(item.refreshed_at),
            next_refresh_due=next_refresh_due(item, self.settings),
            access_expires_at=item.access_expires_at,
            failure_count=item.failure_count,
            cooldown_until=_whole(item.cooldown_until),
            last_failure=item.last_failure,
        )
        return answer

    # disconnect --------------------------------------------------------------

    def disconnect(self, request: TokenRequest, deadline: Deadline) -> str:
        """Revoke at Miro, then forget; the reason, or ``not_installed``.

        Revoking the access token revokes its refresh token too. The lease
        keeps a refresh from rotating the pair between revoke and delete.
        """
        pauses = 0
        while True:
            item = self.store.get(request.team_id, request.user_id)
            if item is None:
                return "not_installed"
            now = self.clock()
            if item.lease_live(now):
                self._pause(deadline, pauses)
                pauses += 1
                continue
            if not deadline.allows(0):
                raise errors.RefreshInProgress(retry_after=1)
            held = self.store.take_lease(
                item, self.owner, now, seconds=LEASE_SECONDS, for_refresh=False
            )
            if held is None:
                continue

            revoked = self._revoke(held, deadline)

            if not self.store.delete(held):
                continue  # reinstalled meanwhile: disconnect that one too
            reason = "revoked" if revoked else "already_revoked"
            self.runtime.events.publish(
                events.DISCONNECTED,
                team_id=held.team_id,
                user_id=held.user_id,
                reason=reason,
                token_version=held.token_version,
                at=self.clock(),
            )
            return reason

    def _revoke(self, held: Installation, deadline: Deadline) -> bool:
        try:
            pair = self.store.sealer.unseal(
                held.sealed_tokens, held.team_id, held.user_id
            )
            return self.runtime.miro.revoke(
                access_token=str(pair["access_token"]),
                client_secret=self.runtime.client_secret(),
                timeouts=Timeouts.within(min(deadline.remaining(), CALL_BUDGET_MS)),
            )
        except errors.MiroOAuthError:
            self.refresher.release(held, self.owner)
            raise


def reauthorization_error(item: Installation) -> errors.ReauthorizationRequired:
    cause = _REAUTHORIZATION_CAUSES.get(
        item.status_reason or "", errors.ReauthorizationRequired
    )
    return cause(
        "the installation was marked earlier",
        status_reason=item.status_reason,
        last_failure=item.last_failure,
    )


def next_refresh_due(item: Installation, settings: Settings) -> int | None:
    """When this installation is refreshed next, at the latest.

    The earlier of the access token entering the refresh margin (the next
    ``get_token`` after it refreshes) and the keep-alive age, never inside a
    cool-down. None when nothing will ever refresh it.
    """
    if item.status != HEALTHY or not item.refreshable:
        return None
    due = item.refreshed_at + settings.keepalive_age_days * 86_400
    if item.access_expires_at is not None:
        due = min(due, item.access_expires_at - settings.refresh_margin_seconds)
    if item.cooldown_until is not None:
        due = max(due, item.cooldown_until)
    return int(due)


def error_answer(
    failure: errors.MiroOAuthError,
    settings: Settings | None,
    request: TokenRequest | None,
    reference: str,
) -> dict[str, Any]:
    """The error object the app receives: a stable ``error`` code and what to do."""
    answer: dict[str, Any] = {
        "error": failure.error,
        "reason": failure.reason,
        "message": failure.hint,
        "reference": reference,
    }
    if failure.error == "invalid_request" and failure.detail:
        answer["detail"] = failure.detail
    needs_consent = failure.error in ("not_installed", "reauthorization_required")
    if needs_consent and settings is not None and settings.install_url:
        answer["install_url"] = install_url(settings.install_url, request)
    if failure.error in ("provider_unavailable", "storage_unavailable"):
        retry_after = failure.fields.get("retry_after")
        answer["retry_after"] = (
            retry_after
            if isinstance(retry_after, int) and retry_after > 0
            else DEFAULT_RETRY_AFTER
        )
    return answer


def install_url(base: str, request: TokenRequest | None) -> str:
    """The install address, with the team pre-selected on Miro's consent page."""
    if request is None:
        return base
    joiner = "&" if "?" in base else "?"
    return base + joiner + urlencode({"team_id": request.team_id})


def _retryable(failure: errors.MiroOAuthError) -> bool:
    """A failed refresh that left the stored pair as good as it was."""
    if isinstance(failure, errors.RefreshOutcomeUnknown):
        return False  # Miro may have retired the pair with the lost answer
    return failure.error in ("provider_unavailable", "internal_error")


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _seconds_until(moment: float | None, now: float) -> int:
    if moment is None:
        return 1
    return max(1, math.ceil(moment - now))


def _whole(value: float | None) -> int | None:
    return int(value) if value is not None else None
