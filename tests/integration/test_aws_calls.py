"""How many AWS requests each invocation sends, per operation.

Counted with botocore's ``before-send`` hook on every client a function's
runtime holds, so a new request, or a retry, shows up here first.
"""

from __future__ import annotations

from bench.calls import counting
from miro_oauth.runtime import runtime
from tests.support import Browser
from tools.local.stack import LocalStack

WARM_CALLBACK = {
    "dynamodb.GetItem": 1,
    "dynamodb.TransactWriteItems": 1,
    "dynamodb.UpdateItem": 2,
    "kms.Encrypt": 1,
    "eventbridge.PutEvents": 1,
}
# Read, lease (UpdateItem), open the old pair, seal the new, store it with the
# lease released (UpdateItem). Miro's refresh is the one HTTP call besides.
EXPIRING_VEND = {
    "dynamodb.GetItem": 1,
    "dynamodb.UpdateItem": 2,
    "kms.Decrypt": 1,
    "kms.Encrypt": 1,
}


def test_install_sends_one_put_item_and_nothing_else(stack: LocalStack) -> None:
    browser = Browser(stack)

    with counting(runtime()) as counted:
        answer = browser.install()

    assert answer.status == 302
    assert counted.by_operation() == {"dynamodb.PutItem": 1}


def test_the_first_callback_of_an_environment_also_reads_the_secret_once(
    stack: LocalStack,
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()

    with counting(runtime()) as counted:
        answer = browser.callback(callback_url)

    assert answer.status == 200, answer.body
    assert counted.by_operation() == {
        **WARM_CALLBACK,
        "secrets-manager.GetSecretValue": 1,
    }


def test_a_warm_callback_sends_six_requests_with_the_secret_cached(
    stack: LocalStack,
) -> None:
    first = Browser(stack)
    assert first.callback(first.consent()).status == 200
    browser = Browser(stack)
    callback_url = browser.consent()

    with counting(runtime()) as counted:
        answer = browser.callback(callback_url)

    assert answer.status == 200, answer.body
    assert counted.by_operation() == WARM_CALLBACK


def test_a_replayed_callback_reads_state_and_claim_and_never_writes(
    stack: LocalStack,
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    assert browser.callback(callback_url).status == 200

    with counting(runtime()) as counted:
        answer = browser.callback(callback_url)

    assert answer.status == 409
    assert counted.by_operation() == {"dynamodb.GetItem": 2}


def test_vending_a_fresh_token_reads_the_item_and_decrypts_once(
    stack: LocalStack,
) -> None:
    browser = Browser(stack)
    assert browser.callback(browser.consent()).status == 200
    ids = {"team_id": stack.miro.team_id, "user_id": stack.miro.user_id}
    assert "access_token" in stack.invoke("TokensFunction", ids)

    with counting(runtime()) as counted:
        answer = stack.invoke("TokensFunction", ids)

    assert "access_token" in answer
    assert counted.by_operation() == {"dynamodb.GetItem": 1, "kms.Decrypt": 1}


def test_vending_an_expiring_token_takes_a_lease_and_stores_the_new_pair(
    stack: LocalStack,
) -> None:
    browser = Browser(stack)
    assert browser.callback(browser.consent()).status == 200
    ids = {"team_id": stack.miro.team_id, "user_id": stack.miro.user_id}
    stack.dynamodb().update_item(
        TableName=stack.table("InstallationsTable"),
        Key={"team_id": {"S": ids["team_id"]}, "user_id": {"S": ids["user_id"]}},
        UpdateExpression="SET access_expires_at = :soon",
        ExpressionAttributeValues={":soon": {"N": "1"}},
    )
    runtime().client_secret()

    with counting(runtime()) as counted:
        answer = stack.invoke("TokensFunction", ids)

    assert "access_token" in answer
    assert stack.miro.refresh_requests() == 1
    assert counted.by_operation() == EXPIRING_VEND
