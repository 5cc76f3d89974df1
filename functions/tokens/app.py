"""Direct invocation by the app: get_token, status and disconnect.

Every answer is a JSON object: the token, the status, ``{"disconnected":
true}``, or an error object with a stable ``error`` code. Expected failures
never raise, so the app reads one shape whatever happened.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from miro_oauth import errors
from miro_oauth.config import Settings
from miro_oauth.deadline import Deadline
from miro_oauth.outcomes import record_outcome, unexpected
from miro_oauth.runtime import Runtime, runtime
from miro_oauth.vending import (
    DISCONNECT,
    GET_TOKEN,
    STATUS,
    TokenRequest,
    TokenVending,
    error_answer,
)

logger = Logger()
metrics = Metrics()

# operation: (metric on success, metric on failure)
METRICS = {
    GET_TOKEN: ("TokenServed", "TokenFailed"),
    STATUS: ("StatusAnswered", "StatusFailed"),
    DISCONNECT: ("Disconnected", "DisconnectFailed"),
}
UNPARSED = "tokens"


def answer(
    request: TokenRequest, deps: Runtime, context: LambdaContext
) -> dict[str, Any]:
    vending = TokenVending(deps, owner=context.aws_request_id)
    ids: dict[str, Any] = {"team_id": request.team_id, "user_id": request.user_id}
    succeeded = METRICS[request.operation][0]

    if request.operation == GET_TOKEN:
        served = vending.get_token(request, Deadline.of(context))
        record_outcome(
            logger,
            metrics,
            event=GET_TOKEN,
            metric=succeeded,
            **ids,
            **served.log_fields(),
        )
        return served.answer()

    if request.operation == STATUS:
        status = vending.status(request)
        record_outcome(
            logger,
            metrics,
            event=STATUS,
            metric=succeeded,
            reason=status["status"],
            **ids,
        )
        return status

    reason = vending.disconnect(request, Deadline.of(context))
    record_outcome(
        logger, metrics, event=DISCONNECT, metric=succeeded, reason=reason, **ids
    )
    return {"disconnected": True}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(context.aws_request_id)
    request: TokenRequest | None = None
    settings: Settings | None = None
    try:
        request = TokenRequest.parse(event)
        deps = runtime()
        settings = deps.settings
        return answer(request, deps, context)
    except errors.MiroOAuthError as failure:
        return failed(failure, request, settings, context)
    except Exception as exc:  # noqa: BLE001 - the one guard for the unexpected
        return failed(unexpected(exc), request, settings, context)


def failed(
    failure: errors.MiroOAuthError,
    request: TokenRequest | None,
    settings: Settings | None,
    context: LambdaContext,
) -> dict[str, Any]:
    event = request.operation if request else UNPARSED
    metric = METRICS[event][1] if request else "InvalidRequest"
    ids: dict[str, Any] = (
        {"team_id": request.team_id, "user_id": request.user_id} if request else {}
    )
    record_outcome(logger, metrics, event=event, metric=metric, failure=failure, **ids)
    return error_answer(failure, settings, request, context.aws_request_id)
