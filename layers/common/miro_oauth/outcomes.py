"""The one place an invocation's outcome is logged and counted.

Each invocation ends in exactly one structured event (``event``, ``outcome``,
``reason``, ``hint`` and the cause's own fields) and one metric, whether the
function answers a browser or an app. Anything unexpected becomes a
``MiroOAuthError`` that names only the exception's type and where it was
raised: its text is never logged, so no value can leak through a message.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from miro_oauth import errors
from miro_oauth.config import ConfigurationError

# Attributes of logging.LogRecord: an extra key with one of these names would
# make the logging call itself fail.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
}


def record_outcome(
    logger: Logger,
    metrics: Metrics,
    *,
    event: str,
    metric: str,
    failure: errors.MiroOAuthError | None = None,
    **fields: Any,
) -> None:
    extra: dict[str, Any] = {"event": event}
    if failure is None:
        extra["outcome"] = "success"
    else:
        extra.update(outcome="failure", **failure.log_fields())
    extra.update(fields)
    safe = {
        (f"field_{key}" if key in _RECORD_ATTRIBUTES else key): value
        for key, value in extra.items()
    }
    if failure is None:
        logger.info(event, extra=safe)
    else:
        level = logger.error if failure.status >= 500 else logger.warning
        level(f"{event}: {failure.reason}", extra=safe)
    # The outcome metric keeps only the service dimension, so one alarm covers
    # every reason; the reason goes on its own metric for per-cause alarms.
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if failure is not None:
        with single_metric(
            name=f"{metric}ByReason",
            unit=MetricUnit.Count,
            value=1,
            namespace=metrics.namespace,
        ) as by_reason:
            by_reason.add_dimension(name="reason", value=failure.reason)


def unexpected(exc: Exception) -> errors.MiroOAuthError:
    """The failure to report for an exception no code path expected."""
    if isinstance(exc, ConfigurationError):
        # The message names the missing setting, never its value.
        return errors.MiroOAuthError(str(exc), error_type="ConfigurationError")
    return errors.MiroOAuthError(
        "unhandled exception", error_type=type(exc).__name__, where=_where(exc)
    )


def _where(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in frames]
