"""GET /install: start a Miro authorization for this browser."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from miro_oauth.install import InstallFlow
from miro_oauth.runtime import runtime
from miro_oauth.web import flow_cookie, guard, record_outcome, redirect

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()
guard(app, logger, metrics, event="install", failure_metric="InstallFailed")


@app.get("/install")
def install() -> Response[str]:
    event = app.current_event
    query = dict(event.query_string_parameters or {})

    started = InstallFlow(runtime()).start(query, event.request_context.domain_name)

    record_outcome(
        logger,
        metrics,
        event="install",
        metric="InstallStarted",
        reason="redirected_to_miro",
        pkce=started.pkce,
        team_id=started.team_id,
    )
    lifetime = runtime().settings.state_lifetime
    cookie = flow_cookie(started.cookie_name, started.binding, lifetime)
    return redirect(started.authorize_url, cookies=[cookie])


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
