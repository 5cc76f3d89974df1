"""Failing dependencies: each leaves a clear answer, a reasoned log event and
consistent data, and a code is never sent to Miro twice."""

from __future__ import annotations

import json

import pytest

from miro_oauth.runtime import runtime
from tests.conftest import CapturedLogs
from tests.support import AwsFault, Browser, inject_aws_fault, query_of
from tools.local.stack import CLIENT_SECRET, LocalStack


@pytest.fixture
def warm(stack: LocalStack) -> LocalStack:
    """The functions' clients exist, as after the first invocation."""
    runtime()
    return stack


def claims(stack: LocalStack) -> list[dict]:
    items = stack.dynamodb().scan(
        TableName=stack.table("FlowsTable"), ConsistentRead=True
    )["Items"]
    return [i for i in items if i["pk"]["S"].startswith("code#")]


def installations(stack: LocalStack) -> list[dict]:
    table = stack.table("InstallationsTable")
    return stack.dynamodb().scan(TableName=table, ConsistentRead=True)["Items"]


def test_brief_dynamodb_throttling_is_absorbed_by_botocore_retries(
    warm: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(warm)
    callback_url = browser.consent()
    fault = AwsFault("ThrottlingException", times=2)
    inject_aws_fault(runtime().dynamodb, "GetItem", fault)

    answer = browser.callback(callback_url)

    assert answer.status == 200
    assert fault.calls == 2
    assert logs.outcomes("callback")[0]["reason"] == "installed"


def test_throttled_claim_answers_503_and_leaves_the_link_usable(
    warm: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(warm)
    callback_url = browser.consent()
    fault = AwsFault("ProvisionedThroughputExceededException")
    undo = inject_aws_fault(runtime().dynamodb, "TransactWriteItems", fault)

    refused = browser.callback(callback_url)
    undo()
    retried = browser.callback(callback_url)

    assert refused.status == 503
    assert fault.calls == 4  # botocore standard mode: 1 try + 3 retries
    event = logs.outcomes("callback")[0]
    assert event["reason"] == "storage_unavailable"
    assert event["aws_error_code"] == "ProvisionedThroughputExceededException"
    assert retried.status == 200
    assert warm.miro.requests_for_code(query_of(callback_url)["code"]) == 1


def test_storage_failing_after_the_exchange_loses_no_secret_and_never_resends(
    warm: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(warm)
    callback_url = browser.consent()
    code = query_of(callback_url)["code"]
    fault = AwsFault("ThrottlingException", match=warm.table("InstallationsTable"))
    undo = inject_aws_fault(runtime().dynamodb, "UpdateItem", fault)

    failed = browser.callback(callback_url)
    undo()
    replay = Browser(warm, dict(browser.jar)).callback(callback_url)

    assert failed.status == 503
    assert "reference" in failed.body
    assert replay.status == 409
    assert warm.miro.requests_for_code(code) == 1
    assert installations(warm) == []
    (claim,) = claims(warm)
    assert claim["status"]["S"] == "failed"
    assert claim["reason"]["S"] == "storage_unavailable"
    assert code not in logs.text
    assert CLIENT_SECRET not in logs.text


def test_a_disabled_kms_key_fails_the_install_cleanly(
    warm: LocalStack, logs: CapturedLogs
) -> None:
    # moto's KMS keeps encrypting with a disabled key; the real one answers
    # DisabledException, injected here at botocore's HTTP boundary.
    browser = Browser(warm)
    callback_url = browser.consent()
    inject_aws_fault(runtime().kms, "Encrypt", AwsFault("DisabledException"))

    answer = browser.callback(callback_url)

    assert answer.status == 503
    event = logs.outcomes("callback")[0]
    assert event["reason"] == "storage_unavailable"
    assert event["detail"] == "KMS encrypt failed"
    assert event["aws_error_code"] == "DisabledException"
    assert installations(warm) == []
    (claim,) = claims(warm)
    assert claim["status"]["S"] == "failed"


def test_secrets_manager_refusing_at_cold_start_does_not_claim_the_code(
    warm: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(warm)
    callback_url = browser.consent()
    fault = AwsFault("AccessDeniedException")
    undo = inject_aws_fault(runtime().secrets.client, "GetSecretValue", fault)

    refused = browser.callback(callback_url)
    undo()
    fixed = browser.callback(callback_url)

    assert refused.status == 500
    assert logs.outcomes("callback")[0]["reason"] == "client_secret_unavailable"
    assert fixed.status == 200
    assert warm.miro.requests_for_code(query_of(callback_url)["code"]) == 1


def test_a_secrets_manager_outage_after_warm_up_is_served_from_the_cache(
    warm: LocalStack,
) -> None:
    first = Browser(warm)
    assert first.callback(first.consent()).status == 200
    fault = AwsFault("InternalServiceError", status=500)
    inject_aws_fault(runtime().secrets.client, "GetSecretValue", fault)

    second = Browser(warm)
    answer = second.callback(second.consent())

    assert answer.status == 200
    assert fault.calls == 0


def test_install_answers_503_when_the_state_cannot_be_stored(
    warm: LocalStack, logs: CapturedLogs
) -> None:
    inject_aws_fault(runtime().dynamodb, "PutItem", AwsFault("ThrottlingException"))

    answer = Browser(warm).install()

    assert answer.status == 503
    assert answer.cookies == []
    assert "Location" not in answer.headers
    event = logs.outcomes("install")[0]
    assert event["reason"] == "storage_unavailable"
    assert json.dumps(event).count("ThrottlingException") == 1


def test_a_retried_state_write_whose_first_attempt_landed_still_redirects(
    warm: LocalStack,
) -> None:
    # The first PutItem reaches DynamoDB but its answer is lost; botocore
    # retries and the create-only condition then finds the item.
    dynamodb = runtime().dynamodb
    landed: list[bool] = []

    def lose_first_answer(**kwargs: object) -> None:
        if not landed:
            landed.append(True)
            params = kwargs["params"]
            assert isinstance(params, dict)
            warm.dynamodb().put_item(**{k: params[k] for k in ("TableName", "Item")})

    dynamodb.meta.events.register(
        "before-parameter-build.dynamodb.PutItem", lose_first_answer
    )
    try:
        answer = Browser(warm).install()
    finally:
        dynamodb.meta.events.unregister(
            "before-parameter-build.dynamodb.PutItem", lose_first_answer
        )

    assert landed == [True]
    assert answer.status == 302
