"""HTTP answers, and the guard that gives every request one logged outcome.

Each request ends in exactly one structured event and one metric (see
``outcomes``). The top-level guard turns anything unexpected into a logged
500 page carrying a reference id.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from miro_oauth import errors
from miro_oauth.outcomes import record_outcome, unexpected
from miro_oauth.pages import SECURITY_HEADERS, Page, error_page

__all__ = [
    "failure_page",
    "flow_cookie",
    "guard",
    "html_response",
    "record_outcome",
    "redirect",
    "reference",
]

RESTART_URL = "install"


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
    def unexpected_failure(exc: Exception) -> Response[str]:
        failure = unexpected(exc)
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
