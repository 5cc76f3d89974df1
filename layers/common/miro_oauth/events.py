"""Lifecycle events on EventBridge, for the app to react to.

Every change in an installation's life is one event with source
``miro-oauth``: installed, a refresh that failed, reauthorization required,
recovered after failures, disconnected. The detail names the installation and
the reason, never a token. Publishing is best effort: the change it reports
has already happened, so a failure to publish is logged and swallowed.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from miro_oauth.aws_failures import aws_error_code

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

log = logging.getLogger(__name__)

SOURCE = "miro-oauth"
INSTALLED = "Installation Installed"
REFRESH_FAILED = "Installation Refresh Failed"
REAUTHORIZATION_REQUIRED = "Installation Reauthorization Required"
RECOVERED = "Installation Recovered"
DISCONNECTED = "Installation Disconnected"
DETAIL_TYPES = frozenset(
    {INSTALLED, REFRESH_FAILED, REAUTHORIZATION_REQUIRED, RECOVERED, DISCONNECTED}
)


class LifecycleEvents:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    def publish(
        self,
        detail_type: str,
        *,
        team_id: str,
        user_id: str,
        reason: str,
        token_version: int | None,
        at: float,
    ) -> bool:
        """Put one event on the bus; False (and a log line) when it was not taken."""
        if detail_type not in DETAIL_TYPES:
            raise ValueError(f"unknown detail type {detail_type!r}")
        detail = {
            "team_id": team_id,
            "user_id": user_id,
            "reason": reason,
            "token_version": token_version,
            "time": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
        }
        where = {"detail_type": detail_type, "team_id": team_id, "user_id": user_id}
        try:
            answer = self.client.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail, separators=(",", ":")),
                        "EventBusName": self.bus_name,
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "lifecycle event not published",
                extra={**where, "aws_error_code": aws_error_code(exc)},
            )
            return False
        if answer.get("FailedEntryCount", 0):
            entry = answer["Entries"][0] if answer.get("Entries") else {}
            log.warning(
                "lifecycle event not published",
                extra={**where, "aws_error_code": entry.get("ErrorCode", "Unknown")},
            )
            return False
        return True
