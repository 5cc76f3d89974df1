"""Scheduled: refresh installations idle for longer than the keep-alive age.

One summary event per run (``scanned``, ``refreshed``, ``skipped``,
``failed``) and one metric per count. Nothing is raised: a run that failed is
reported, and the next scheduled run starts over.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from miro_oauth import errors
from miro_oauth.deadline import Deadline
from miro_oauth.keepalive import KeepAlive, SweepReport
from miro_oauth.outcomes import record_outcome, unexpected
from miro_oauth.runtime import runtime

logger = Logger()
metrics = Metrics()

EVENT = "keepalive"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(context.aws_request_id)
    report = SweepReport()
    failure: errors.MiroOAuthError | None = None
    try:
        sweep = KeepAlive(runtime(), owner=context.aws_request_id)
        sweep.run(Deadline.of(context), report)
    except errors.MiroOAuthError as known:
        failure = known
    except Exception as exc:  # noqa: BLE001 - the one guard for the unexpected
        failure = unexpected(exc)

    for name, value in (
        ("KeepAliveScanned", report.scanned),
        ("KeepAliveRefreshed", report.refreshed),
        ("KeepAliveSkipped", report.skipped),
        ("KeepAliveFailed", report.failed),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    reason = "sweep_complete" if report.complete else "deadline_reached"
    fields = report.log_fields()
    if failure is None:
        fields["reason"] = reason
    record_outcome(
        logger, metrics, event=EVENT, metric="KeepAliveRuns", failure=failure, **fields
    )
    return report.log_fields()
