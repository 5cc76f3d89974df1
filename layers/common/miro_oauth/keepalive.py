"""Refresh installations nobody asked a token for lately.

A Miro refresh token dies 60 days after it was issued unless it is used. The
sweep reads the table page by page without the sealed pairs, and refreshes
each healthy, refreshable installation last refreshed more than
``KEEPALIVE_AGE_DAYS`` ago through the same lease as ``get_token``: the lease
is conditioned on the version the scan saw, so two sweeps at once (or a sweep
and an app call) refresh each installation once. It stops before the
function's time runs out; the next run picks up what is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from miro_oauth import errors
from miro_oauth.deadline import Deadline
from miro_oauth.installations import HEALTHY, Installation
from miro_oauth.refresh import CALL_BUDGET_MS, LEASE_SECONDS, Refresher
from miro_oauth.runtime import Runtime

log = logging.getLogger(__name__)

PAGE_SIZE = 100
# Time one more refresh may need: the call itself and the writes around it.
REFRESH_RESERVE_MS = CALL_BUDGET_MS + 3_000
MAX_LISTED_FAILURES = 20


@dataclass
class SweepReport:
    scanned: int = 0
    refreshed: int = 0
    skipped: int = 0
    failed: int = 0
    complete: bool = True
    failures: list[dict[str, str]] = field(default_factory=list)

    def log_fields(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "refreshed": self.refreshed,
            "skipped": self.skipped,
            "failed": self.failed,
            "complete": self.complete,
            "failures": self.failures,
        }


class KeepAlive:
    def __init__(
        self,
        runtime: Runtime,
        *,
        owner: str,
        clock: Callable[[], float] = time.time,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.store = runtime.installations
        self.settings = runtime.settings
        self.refresher = Refresher(runtime, clock=clock)
        self.owner = owner
        self.clock = clock
        self.page_size = page_size

    def due(self, item: Installation, now: float) -> bool:
        """Healthy, refreshable, idle past the age, and nobody else on it."""
        age = self.settings.keepalive_age_days * 86_400
        return (
            item.status == HEALTHY
            and item.refreshable
            and item.refreshed_at <= now - age
            and not item.lease_live(now)
            and not item.cooling_down(now)
        )

    def run(self, deadline: Deadline, report: SweepReport | None = None) -> SweepReport:
        """Sweep the table; ``report`` keeps its counts even if the sweep fails."""
        report = report if report is not None else SweepReport()
        start_key: dict[str, Any] | None = None
        while True:
            if not deadline.allows(REFRESH_RESERVE_MS):
                return self._stopped(report)
            page, start_key = self.store.scan_page(start_key, self.page_size)
            for item in page:
                if not self._visit(item, deadline, report):
                    return self._stopped(report)
            if start_key is None:
                return report

    def _visit(
        self, item: Installation, deadline: Deadline, report: SweepReport
    ) -> bool:
        """Refresh ``item`` if it is due; False when there is no time left to."""
        now = self.clock()
        if not self.due(item, now):
            report.scanned += 1
            report.skipped += 1
            return True
        if not deadline.allows(REFRESH_RESERVE_MS):
            return False
        report.scanned += 1
        held = self.store.take_lease(
            item, self.owner, now, seconds=LEASE_SECONDS, for_refresh=True
        )
        if held is None:
            report.skipped += 1  # refreshed, leased or changed since the scan
            return True
        try:
            refreshed = self.refresher.refresh(held, self.owner, deadline)
        except errors.MiroOAuthError as failure:
            report.failed += 1
            if len(report.failures) < MAX_LISTED_FAILURES:
                report.failures.append(
                    {
                        "team_id": item.team_id,
                        "user_id": item.user_id,
                        "reason": failure.reason,
                    }
                )
            return True
        if refreshed is None:
            report.skipped += 1
        else:
            report.refreshed += 1
        return True

    def _stopped(self, report: SweepReport) -> SweepReport:
        report.complete = False
        log.warning(
            "keep-alive stopped before the end of the table",
            extra={
                "event": "keepalive_deadline",
                "scanned": report.scanned,
                "hint": "The next run continues; raise the function's timeout "
                "if this happens every time.",
            },
        )
        return report
