"""Spend a refresh token once, however many callers need a new pair at once.

Miro answers a refresh with a new pair and retires the old one (RFC 6749 6,
with rotation), so two callers refreshing with the same refresh token lose
the installation. Here a caller first takes the item's lease (see
``installations``); only the lease holder calls Miro, and it ends by storing
the new pair or recording what went wrong, both conditioned on the version it
leased. A holder that dies leaves a lease that expires after
``LEASE_SECONDS``, longer than any refresh call may take, and the next caller
proceeds with the stored refresh token: Miro either never processed the lost
request (the token works) or did (it is refused, and the installation says
``reauthorization_required``).

What a failure means for the installation:

    kind           cause                               effect
    rejected       Miro refused the refresh token      reauthorization_required
    configuration  Miro refused the client credentials cool-down, not counted
    transient      429, 5xx, request never sent        cool-down, counted
    unknown        sent, no answer (time-out, drop)    short cool-down, counted

Cool-downs double from 30 s to 15 minutes. Once ``max_refresh_failures``
counted failures follow one another and the access token has expired, the
installation needs reauthorization too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from miro_oauth import errors, events
from miro_oauth.deadline import Deadline
from miro_oauth.installations import Installation
from miro_oauth.provider import Timeouts
from miro_oauth.runtime import Runtime

log = logging.getLogger(__name__)

# Longer than the slowest refresh call (CALL_BUDGET_MS) plus the writes after
# it, so a live holder never loses its lease.
LEASE_SECONDS = 30
CALL_BUDGET_MS = 22_000
FIRST_COOLDOWN_SECONDS = 30
MAX_COOLDOWN_SECONDS = 900
# After a lost answer the next attempt settles the question, so it comes soon.
UNKNOWN_OUTCOME_COOLDOWN_SECONDS = 5


class FailureKind(StrEnum):
    REJECTED = "rejected"
    CONFIGURATION = "configuration"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


def classify(failure: errors.MiroOAuthError) -> FailureKind:
    """What a failed refresh call says about the refresh token it carried."""
    if isinstance(failure, errors.ProviderTimeout | errors.UnexpectedResponse):
        return FailureKind.UNKNOWN
    if isinstance(failure, errors.ProviderUnavailable):
        # A 5xx carries provider_status; a connection dropped after sending
        # says request_sent; a body that broke off mid-read says request_error.
        if failure.fields.get("request_sent") or "request_error" in failure.fields:
            return FailureKind.UNKNOWN
        return FailureKind.TRANSIENT
    if isinstance(failure, errors.ProviderRateLimited):
        return FailureKind.TRANSIENT
    if isinstance(failure, errors.ClientCredentialsRejected):
        return FailureKind.CONFIGURATION
    if isinstance(failure, errors.ExchangeFailed):
        return FailureKind.REJECTED
    return FailureKind.TRANSIENT


def cooldown_seconds(failures: int) -> int:
    """30 s after the first failure, doubling with each one, at most 15 minutes."""
    if failures < 1:
        return 0
    doubled = FIRST_COOLDOWN_SECONDS << min(failures - 1, 16)
    return min(doubled, MAX_COOLDOWN_SECONDS)


def needs_refresh(item: Installation, now: float, margin: int) -> bool:
    """An expiring access token within ``margin`` seconds of its end."""
    return (
        item.refreshable
        and item.access_expires_at is not None
        and item.access_expires_at - now <= margin
    )


@dataclass(frozen=True)
class Refreshed:
    access_token: str = field(repr=False)
    expires_at: int | None
    scope: str
    token_version: int
    recovered: bool


class Refresher:
    def __init__(
        self, runtime: Runtime, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.runtime = runtime
        self.store = runtime.installations
        self.clock = clock

    def refresh(
        self, held: Installation, owner: str, deadline: Deadline
    ) -> Refreshed | None:
        """Spend the refresh token of ``held``, whose lease ``owner`` holds.

        Returns the new pair, or None when a newer pair was stored meanwhile
        (a reinstall): the caller reads the item again. Raises the failure,
        after recording it on the item.
        """
        try:
            pair = self.store.sealer.unseal(
                held.sealed_tokens, held.team_id, held.user_id
            )
            client_secret = self.runtime.client_secret()
        except errors.MiroOAuthError:
            self.release(held, owner)
            raise
        refresh_token = pair.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            self.store.record_failure(
                held,
                self.clock(),
                reason="refresh_token_missing",
                cooldown_until=None,
                counted=False,
                reauthorization="refresh_token_missing",
            )
            raise errors.ReauthorizationRequired("no refresh token is stored")

        timeouts = Timeouts.within(min(deadline.remaining(), CALL_BUDGET_MS))
        try:
            tokens = self.runtime.miro.refresh(
                refresh_token=refresh_token,
                client_secret=client_secret,
                timeouts=timeouts,
            )
        except errors.ExchangeFailed as failure:
            outcome = self._failed(held, failure)
            if outcome is None:
                return None
            raise outcome from None

        now = self.clock()
        try:
            version = self.store.store_refreshed(held, tokens, now)
        except errors.StorageUnavailable:
            self._pair_lost(held, now)
            raise
        if version is None:
            log.info(
                "refreshed pair superseded by a newer one",
                extra={"team_id": held.team_id, "user_id": held.user_id},
            )
            return None
        recovered = held.failure_count > 0 or held.last_failure is not None
        if recovered:
            self._publish(events.RECOVERED, held, "refreshed", version, now)
        return Refreshed(
            access_token=tokens.access_token,
            expires_at=int(now) + tokens.expires_in if tokens.expires_in else None,
            scope=tokens.scope or held.scope,
            token_version=version,
            recovered=recovered,
        )

    def _failed(
        self, held: Installation, failure: errors.ExchangeFailed
    ) -> errors.MiroOAuthError | None:
        """Record the failure on the item; the error to raise, or None if superseded."""
        now = self.clock()
        kind = classify(failure)
        provider = {"provider_reason": failure.reason, **failure.fields}
        count = held.failure_count + 1
        limit = self.runtime.settings.max_refresh_failures

        if kind is FailureKind.REJECTED:
            rejected = errors.RefreshTokenRejected(failure.detail, **provider)
            return self._reauthorize(held, now, rejected, count)
        if kind is FailureKind.CONFIGURATION:
            until = now + FIRST_COOLDOWN_SECONDS
            if not self.store.record_failure(
                held, now, reason=failure.reason, cooldown_until=until, counted=False
            ):
                return None
            self._publish(events.REFRESH_FAILED, held, failure.reason, None, now)
            return failure
        if count >= limit and not held.access_valid(now):
            exhausted = errors.RefreshFailuresExhausted(
                failure.detail, failure_count=count, **provider
            )
            return self._reauthorize(held, now, exhausted, count)

        if kind is FailureKind.UNKNOWN:
            reason = errors.RefreshOutcomeUnknown.reason
            wait = UNKNOWN_OUTCOME_COOLDOWN_SECONDS
        else:
            reason = failure.reason
            wait = max(cooldown_seconds(count), _rate_limit_wait(failure, now))
        if not self.store.record_failure(
            held, now, reason=reason, cooldown_until=now + wait, counted=True
        ):
            return None
        self._publish(events.REFRESH_FAILED, held, reason, None, now)
        if kind is FailureKind.UNKNOWN:
            return errors.RefreshOutcomeUnknown(
                failure.detail, retry_after=wait, failure_count=count, **provider
            )
        failure.fields.update(retry_after=wait, failure_count=count)
        return failure

    def _reauthorize(
        self,
        held: Installation,
        now: float,
        cause: errors.ReauthorizationRequired,
        count: int,
    ) -> errors.MiroOAuthError | None:
        if not self.store.record_failure(
            held,
            now,
            reason=cause.reason,
            cooldown_until=None,
            counted=True,
            reauthorization=cause.reason,
        ):
            return None
        self._publish(events.REAUTHORIZATION_REQUIRED, held, cause.reason, None, now)
        cause.fields["failure_count"] = count
        return cause

    def _pair_lost(self, held: Installation, now: float) -> None:
        """Miro rotated the pair but it could not be stored: the old one is dead."""
        reason = "refreshed_pair_not_stored"
        try:
            marked = self.store.record_failure(
                held,
                now,
                reason=reason,
                cooldown_until=None,
                counted=True,
                reauthorization=reason,
            )
        except errors.StorageUnavailable:
            return
        if marked:
            self._publish(events.REAUTHORIZATION_REQUIRED, held, reason, None, now)

    def release(self, held: Installation, owner: str) -> None:
        """Give an unused lease back, so the next caller need not wait it out."""
        try:
            self.store.release_lease(held, owner)
        except errors.StorageUnavailable as exc:
            # The lease expires by itself; the original failure matters more.
            log.warning("lease not released", extra=exc.fields)

    def _publish(
        self,
        detail_type: str,
        held: Installation,
        reason: str,
        version: int | None,
        now: float,
    ) -> None:
        self.runtime.events.publish(
            detail_type,
            team_id=held.team_id,
            user_id=held.user_id,
            reason=reason,
            token_version=version if version is not None else held.token_version,
            at=now,
        )


def _rate_limit_wait(failure: errors.MiroOAuthError, now: float) -> int:
    """Seconds until Miro's rate-limit window resets, when it said so."""
    reset = str(failure.fields.get("rate_limit_reset", ""))
    if not reset.isdigit():
        return 0
    return max(0, min(int(reset) - int(now), MAX_COOLDOWN_SECONDS))
