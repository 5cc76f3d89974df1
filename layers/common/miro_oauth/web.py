"""HTTP answers and the one place outcomes are logged and counted.

Each request ends in exactly one structured event (``event``, ``reason``,
``hint`` and the cause's own fields) and one metric. The top-level guard turns
anything unexpected into a logged 500 page carrying a reference id; the
exception's text is not logged, only its type and where it was raised, so no
value can leak through a message.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from miro_oauth import errors
from miro_oauth.config import ConfigurationError
from miro_oauth.pages import SECURITY_HEADERS, Page, error_page

RESTART_URL = "install"
# Attributes of logging.LogRecord: an extra key with one of these names would
# make the logging call itself fail.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
}


def reference(logger: Logger) -> str:
    """The id a user quotes: API Gateway's request id, also on every log line."""
    return str(logger.get_correlation_id() or "unknown")


def html_response(
    page: Page, cookies: list[Cookie] | None = None, **headers: str
) -> Response[str]:
    return Response(
        status_code=page.status,
        content_type="text/html; charset=utf-8",
        body=page.html,
        headers={**SECURITY_HEADERS, **headers},
        cookies=cookies or [],
    )


def redirect(location: str, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(
        status_code=302,
        content_type="text/plain; charset=utf-8",
        body="",
        headers={**SECURITY_HEADERS, "Location": location},
        cookies=cookies or [],
    )


def flow_cookie(name: str, value: str, max_age: int) -> Cookie:
    """``__Host-``: Secure, Path=/, no Domain, so no sibling host can set it."""
    return Cookie(
        name=name,
        value=value,
        path="/",
        secure=True,
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=max_age,
    )


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
        metrics.add_dimension(name="reason", value=failure.reason)
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def guard(
    app: APIGatewayHttpResolver,
    logger: Logger,
    metrics: Metrics,
    *,
    event: str,
    failure_metric: str,
) -> None:
    """Register the handlers that turn every exception into a page and an event."""

    @app.exception_handler(errors.MiroOAuthError)  # type: ignore[untyped-decorator]
    def known_failure(failure: errors.MiroOAuthError) -> Response[str]:
        record_outcome(
            logger, metrics, event=event, metric=failure_metric, failure=failure
        )
        return failure_page(failure, logger)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[str]:
        failure: errors.MiroOAuthError = errors.MiroOAuthError(
            "unhandled exception", error_type=type(exc).__name__, where=_where(exc)
        )
        if isinstance(exc, ConfigurationError):
            # The message names the missing setting, never its value.
            failure = errors.MiroOAuthError(str(exc), error_type="ConfigurationError")
        record_outcome(
            logger, metrics, event=event, metric=failure_metric, failure=failure
        )
        return failure_page(failure, logger)


def failure_page(failure: errors.MiroOAuthError, logger: Logger) -> Response[str]:
    page = error_page(
        status=failure.status,
        title=failure.title,
        advice=failure.advice,
        reference=reference(logger),
        restart_url=RESTART_URL,
    )
    return html_response(page)


def _where(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in frames]
