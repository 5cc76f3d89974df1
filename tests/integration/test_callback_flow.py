"""The install and callback handlers against moto and a local Miro."""

from __future__ import annotations

from tests.conftest import CapturedLogs
from tests.support import Browser, query_of
from tools.local.stack import CLIENT_ID, LocalStack


def installation_items(stack: LocalStack) -> list[dict]:
    table = stack.table("InstallationsTable")
    return stack.dynamodb().scan(TableName=table, ConsistentRead=True)["Items"]


def test_install_redirects_to_miro_with_state_pkce_and_exact_redirect_uri(
    stack: LocalStack,
) -> None:
    answer = Browser(stack).install("team_id=3458764517517818867")

    assert answer.status == 302
    assert answer.location.startswith(stack.miro.authorize_url + "?")
    params = query_of(answer.location)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == (
        "https://abc123.execute-api.us-east-1.amazonaws.com/callback"
    )
    assert len(params["state"]) == 43
    assert params["team_id"] == "3458764517517818867"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    (cookie,) = answer.cookies
    assert cookie.startswith("__Host-miro-oauth-")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=600"):
        assert attribute in cookie
    assert "Domain" not in cookie


def test_allowed_consent_stores_encrypted_tokens_and_shows_success(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()

    answer = browser.callback(callback_url)

    assert answer.status == 200, answer.body
    assert "Your Miro account is connected" in answer.body
    (item,) = installation_items(stack)
    assert item["team_id"]["S"] == "3458764517517818867"
    assert item["token_version"]["N"] == "1"
    assert item["status"]["S"] == "healthy"
    assert "access_token" not in item and "refresh_token" not in item
    access = stack.miro.live_access_token("3458764517517818867", "3458764517517852417")
    assert access is not None
    assert access.encode() not in bytes(item["sealed_tokens"]["B"])
    (event,) = logs.outcomes("callback")
    assert event["outcome"] == "success"
    assert event["reason"] == "installed"
