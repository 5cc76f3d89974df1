"""GET /callback: Miro's redirect with a code, turned into stored tokens."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from miro_oauth.callback import CallbackFlow, read_query
from miro_oauth.flow import cookie_name
from miro_oauth.pages import success_page
from miro_oauth.runtime import runtime
from miro_oauth.web import flow_cookie, guard, html_response, record_outcome, redirect

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()
guard(app, logger, metrics, event="callback", failure_metric="CallbackFailed")


@app.get("/callback")
def callback() -> Response[str]:
    event = app.current_event
    query = read_query(event.raw_query_string or "")
    cookies = _cookies(event.cookies or [])
    remaining = app.lambda_context.get_remaining_time_in_millis()
    deps = runtime()

    installed = CallbackFlow(deps).complete(query, cookies, remaining)

    record_outcome(
        logger,
        metrics,
        event="callback",
        metric="CallbackSucceeded",
        reason="installed",
        team_id=installed.team_id,
        user_id=installed.user_id,
        scope=installed.scope,
        token_version=installed.token_version,
        refreshable=installed.refreshable,
        flow_age_ms=round(installed.flow_age * 1000),
    )
    # The flow is over: the browser can forget its binding cookie.
    spent = [flow_cookie(cookie_name(query["state"]), "", 0)]
    if deps.settings.success_url:
        return redirect(deps.settings.success_url, cookies=spent)
    return html_response(success_page(), cookies=spent)


def _cookies(header_values: list[str]) -> dict[str, str]:
    """Payload v2 cookies: ``name=value`` strings, first value of a name wins."""
    jar: dict[str, str] = {}
    for entry in header_values[:64]:
        name, sep, value = entry.strip().partition("=")
        if sep and name and name not in jar:
            jar[name] = value
    return jar


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
