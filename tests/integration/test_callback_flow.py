"""The install and callback handlers against moto and a local Miro."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from miro_oauth.flows import state_key as flow_state_key
from miro_oauth.runtime import runtime
from tests.conftest import CapturedLogs
from tests.integration.lifecycle import environment
from tests.support import Answer, Browser, log_events, query_of
from tools.local.aws import free_port
from tools.local.invoke import http_event
from tools.local.miro_server import Fault
from tools.local.stack import (
    API_DOMAIN,
    CLIENT_ID,
    CLIENT_SECRET,
    LocalStack,
    MotoServer,
    running,
)


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
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=900"):
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
    assert "access_token" not in item
    assert "refresh_token" not in item
    access = stack.miro.live_access_token("3458764517517818867", "3458764517517852417")
    assert access is not None
    assert access.encode() not in bytes(item["sealed_tokens"]["B"])
    (event,) = logs.outcomes("callback")
    assert event["outcome"] == "success"
    assert event["reason"] == "installed"


# Helpers ---------------------------------------------------------------------


def flows(stack: LocalStack) -> list[dict]:
    table = stack.table("FlowsTable")
    return stack.dynamodb().scan(TableName=table, ConsistentRead=True)["Items"]


def claims(stack: LocalStack) -> list[dict]:
    return [i for i in flows(stack) if i["pk"]["S"].startswith("code#")]


def state_item_for(stack: LocalStack, callback_url: str) -> dict:
    key = flow_state_key(query_of(callback_url)["state"])
    answer = stack.dynamodb().get_item(
        TableName=stack.table("FlowsTable"), Key={"pk": {"S": key}}
    )
    return answer["Item"]


def age_state(stack: LocalStack, callback_url: str, seconds: float) -> None:
    """Move the flow's start into the past, as if the user took that long."""
    key = flow_state_key(query_of(callback_url)["state"])
    stack.dynamodb().update_item(
        TableName=stack.table("FlowsTable"),
        Key={"pk": {"S": key}},
        UpdateExpression="SET created_at = :past",
        ExpressionAttributeValues={":past": {"N": str(time.time() - seconds)}},
    )


def tamper_state(stack: LocalStack, callback_url: str, name: str, value: str) -> None:
    key = flow_state_key(query_of(callback_url)["state"])
    stack.dynamodb().update_item(
        TableName=stack.table("FlowsTable"),
        Key={"pk": {"S": key}},
        UpdateExpression="SET #n = :v",
        ExpressionAttributeNames={"#n": name},
        ExpressionAttributeValues={":v": {"S": value}},
    )


def put_secret(stack: LocalStack, value: str) -> None:
    assert stack.provisioned is not None
    stack.secrets().put_secret_value(
        SecretId=stack.provisioned.secret_arn, SecretString=value
    )
    runtime.cache_clear()


def code_of(callback_url: str) -> str:
    return query_of(callback_url)["code"]


def assert_secure_headers(answer: Answer) -> None:
    headers = {k.lower(): v for k, v in answer.headers.items()}
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]


# Step 1: provider errors ------------------------------------------------------


def test_denied_consent_shows_cancelled_page_and_never_calls_the_token_endpoint(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent(allow=False)

    answer = browser.callback(callback_url)

    assert answer.status == 403
    assert "Connection cancelled" in answer.body
    assert_secure_headers(answer)
    assert stack.miro.token_requests == []
    assert installation_items(stack) == []
    (event,) = logs.outcomes("callback")
    assert event["reason"] == "access_denied"
    assert event["provider_error"] == "access_denied"


def test_other_provider_errors_get_a_page_and_hostile_values_are_not_echoed(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    browser.install()
    hostile = "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_description=%3Cb%3Ex"

    answer = browser.get("CallbackFunction", "/callback", hostile)

    assert answer.status == 400
    assert "<script>" not in answer.body
    assert "alert(1)" not in answer.body
    (event,) = logs.outcomes("callback")
    assert event["reason"] == "provider_error"
    assert event["provider_error"] == "unrecognised"


# Step 2: malformed input and states -----------------------------------------


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "missing_parameter"),
        ("state=" + "a" * 43, "missing_parameter"),
        ("code=" + "c" * 40, "missing_parameter"),
        ("code=" + "c" * 40 + "&state=short", "malformed_parameter"),
        ("code=%00%01&state=" + "a" * 43, "malformed_parameter"),
        (
            "code=" + "c" * 40 + "&code=" + "d" * 40 + "&state=" + "a" * 43,
            "repeated_parameter",
        ),
        ("code=" + "c" * 40 + "&state=" + "a" * 43, "state_unknown"),
        ("code=" + "c" * 9000 + "&state=" + "a" * 43, "malformed_parameter"),
    ],
)
def test_bad_callback_queries_get_400_and_nothing_is_claimed_or_exchanged(
    stack: LocalStack, logs: CapturedLogs, query: str, reason: str
) -> None:
    browser = Browser(stack)
    browser.install()

    answer = browser.get("CallbackFunction", "/callback", query)

    assert answer.status == 400
    assert_secure_headers(answer)
    assert "Start again" in answer.body
    assert claims(stack) == []
    assert stack.miro.token_requests == []
    (event,) = logs.outcomes("callback")
    assert event["reason"] == reason
    assert event["hint"]


def test_a_state_older_than_its_lifetime_is_refused_before_any_claim(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    age_state(stack, callback_url, 901)

    answer = browser.callback(callback_url)

    assert answer.status == 400
    assert "expired" in answer.body
    assert claims(stack) == []
    assert stack.miro.token_requests == []
    assert logs.outcomes("callback")[0]["reason"] == "state_expired"


def test_a_callback_from_another_browser_is_refused_and_does_not_spoil_the_flow(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    victim = Browser(stack)
    callback_url = victim.consent()

    forged = Browser(stack).callback(callback_url)
    genuine = victim.callback(callback_url)

    assert forged.status == 400
    assert "same browser" in forged.body
    assert genuine.status == 200
    assert stack.miro.requests_for_code(code_of(callback_url)) == 1
    reasons = [e["reason"] for e in logs.outcomes("callback")]
    assert reasons == ["state_not_bound", "installed"]


def test_a_state_already_used_with_another_code_is_refused(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    started = browser.install()
    authorize = query_of(started.location)
    first = stack.miro.approve(authorize)
    second = stack.miro.approve(authorize)

    assert browser.callback(first).status == 200
    answer = browser.callback(second)

    assert answer.status == 400
    assert stack.miro.requests_for_code(code_of(second)) == 0
    assert logs.outcomes("callback")[-1]["reason"] == "state_already_used"


# Step 3: the claim -------------------------------------------------------------


def test_the_same_callback_twice_reaches_miro_once_and_the_second_gets_409(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    jar = dict(browser.jar)

    first = browser.callback(callback_url)
    browser.jar.update(jar)  # the back button: the old cookie is offered again
    replay = browser.callback(callback_url)

    assert first.status == 200
    assert replay.status == 409
    assert "already used" in replay.body
    assert stack.miro.requests_for_code(code_of(callback_url)) == 1
    (item,) = installation_items(stack)
    assert item["token_version"]["N"] == "1"
    last = logs.outcomes("callback")[-1]
    assert last["reason"] == "code_already_claimed"
    assert last["first_outcome"] == "complete"


def test_many_concurrent_callbacks_with_one_code_send_it_to_miro_exactly_once(
    stack: LocalStack,
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    barrier = threading.Barrier(24)

    def attempt(_: int) -> int:
        clone = Browser(stack, dict(browser.jar))
        barrier.wait()
        return clone.callback(callback_url).status

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(attempt, range(24)))

    assert statuses.count(200) == 1
    assert sorted(set(statuses)) == [200, 409]
    assert stack.miro.requests_for_code(code_of(callback_url)) == 1
    (claim,) = claims(stack)
    assert claim["status"]["S"] == "complete"


def test_a_failed_exchange_still_blocks_the_code_for_good(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    stack.miro.inject(Fault.error_page(502))

    failed = browser.callback(callback_url)
    browser.jar.update(dict(browser.jar))
    retried = Browser(stack, dict(browser.jar)).callback(callback_url)

    assert failed.status == 503
    assert retried.status == 409
    assert stack.miro.requests_for_code(code_of(callback_url)) == 1
    (claim,) = claims(stack)
    assert claim["status"]["S"] == "failed"
    assert claim["reason"]["S"] == "provider_unavailable"


# Step 4: too old to exchange --------------------------------------------------


def test_a_flow_older_than_the_code_lifetime_is_claimed_but_never_sent(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    age_state(stack, callback_url, 700)

    answer = browser.callback(callback_url)

    assert answer.status == 400
    assert "expired" in answer.body
    assert stack.miro.token_requests == []
    (claim,) = claims(stack)
    assert claim["status"]["S"] == "failed"
    assert logs.outcomes("callback")[0]["reason"] == "code_expired_before_exchange"


# Step 5: the exchange request ---------------------------------------------------


def test_the_token_request_is_a_form_body_with_encoded_secret_and_pkce(
    stack: LocalStack,
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()

    browser.callback(callback_url)

    (request,) = stack.miro.token_requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert "authorization" not in request.headers
    assert request.query == {}
    assert request.form["grant_type"] == ["authorization_code"]
    assert request.form["client_secret"] == [CLIENT_SECRET]
    assert request.form["client_id"] == [CLIENT_ID]
    assert request.form["redirect_uri"] == [
        query_of(callback_url)
        and state_item_for(stack, callback_url)["redirect_uri"]["S"]
    ]
    assert len(request.form["code_verifier"][0]) >= 43


def test_with_pkce_off_no_challenge_is_sent_and_the_exchange_still_works(
    stack: LocalStack,
) -> None:
    with environment(PKCE_ENABLED="false"):
        browser = Browser(stack)
        started = browser.install()
        callback_url = stack.miro.approve(query_of(started.location))
        answer = browser.callback(callback_url)

    assert "code_challenge" not in query_of(started.location)
    assert answer.status == 200
    (request,) = stack.miro.token_requests
    assert "code_verifier" not in request.form


def test_a_read_time_out_is_reported_and_the_code_is_not_sent_again(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    stack.miro.inject(Fault(status=200, delay=4.0))
    event = http_event(
        "GET",
        "/callback",
        raw_query=urlsplit(callback_url).query,
        cookies=[f"{k}={v}" for k, v in browser.jar.items()],
        domain=API_DOMAIN,
    )

    answer = stack.invoke("CallbackFunction", event, timeout_s=4.5)

    assert answer["statusCode"] == 504
    assert logs.outcomes("callback")[0]["reason"] == "provider_timeout"
    assert Browser(stack, dict(browser.jar)).callback(callback_url).status == 409
    assert stack.miro.requests_for_code(code_of(callback_url)) == 1


def test_an_unreachable_token_endpoint_is_provider_unavailable(
    stack: LocalStack, logs: CapturedLogs
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1/oauth/token"
    browser = Browser(stack)
    callback_url = browser.consent()

    with environment(MIRO_TOKEN_URL=closed):
        answer = browser.callback(callback_url)

    assert answer.status == 503
    event = logs.outcomes("callback")[0]
    assert event["reason"] == "provider_unavailable"
    assert event["request_sent"] is False


# Step 6: success --------------------------------------------------------------


def test_success_can_redirect_to_the_configured_success_url(stack: LocalStack) -> None:
    with environment(SUCCESS_URL="https://app.example.com/connected"):
        browser = Browser(stack)
        answer = browser.callback(browser.consent())

    assert answer.status == 302
    assert answer.location == "https://app.example.com/connected"


def test_tokens_are_sealed_with_kms_bound_to_team_and_user(stack: LocalStack) -> None:
    browser = Browser(stack)
    browser.callback(browser.consent())
    (item,) = installation_items(stack)
    blob = bytes(item["sealed_tokens"]["B"])
    team, user = item["team_id"]["S"], item["user_id"]["S"]

    opened = stack.kms().decrypt(
        CiphertextBlob=blob,
        EncryptionContext={
            "purpose": "miro-oauth-tokens",
            "team_id": team,
            "user_id": user,
        },
    )
    with pytest.raises(ClientError):
        stack.kms().decrypt(
            CiphertextBlob=blob,
            EncryptionContext={
                "purpose": "miro-oauth-tokens",
                "team_id": "1",
                "user_id": user,
            },
        )

    sealed = json.loads(opened["Plaintext"])
    assert sealed["access_token"] == stack.miro.live_access_token(team, user)
    assert sealed["refresh_token"] == stack.miro.live_refresh_token(team, user)
    assert int(item["access_expires_at"]["N"]) > time.time() + 3500
    assert item["scope"]["S"] == "boards:read boards:write"


def test_installing_again_replaces_the_pair_and_bumps_the_version(
    stack: LocalStack,
) -> None:
    for _ in range(2):
        browser = Browser(stack)
        assert browser.callback(browser.consent()).status == 200

    (item,) = installation_items(stack)
    assert item["token_version"]["N"] == "2"


def test_numeric_ids_and_non_expiring_tokens_are_stored_exactly(
    moto_server: MotoServer,
) -> None:
    moto_server.reset()
    with running(moto=moto_server, numeric_ids=True, expiring_tokens=False) as stack:
        browser = Browser(stack)
        assert browser.callback(browser.consent()).status == 200
        (item,) = installation_items(stack)

    assert item["team_id"]["S"] == "3458764517517818867"
    assert item["user_id"]["S"] == "3458764517517852417"
    assert "access_expires_at" not in item
    assert item["refreshable"]["BOOL"] is False


# Step 7 and diagnosis: each cause ----------------------------------------------


def spend_code_elsewhere(stack: LocalStack, callback_url: str) -> None:
    """Another client (a second deployment, a test) redeems the code first."""
    browser_state = state_item_for(stack, callback_url)
    requests.post(
        stack.miro.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code_of(callback_url),
            "redirect_uri": browser_state["redirect_uri"]["S"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code_verifier": browser_state["code_verifier"]["S"],
        },
        timeout=5,
    )


@pytest.mark.parametrize(
    ("arrange", "status", "reason"),
    [
        (
            lambda s, u: put_secret(s, "wrong-secret"),
            502,
            "client_credentials_rejected",
        ),
        (
            lambda s, u: tamper_state(
                s,
                u,
                "redirect_uri",
                "https://abc123.execute-api.us-east-1.amazonaws.com/callback/",
            ),
            502,
            "redirect_uri_mismatch",
        ),
        (lambda s, u: s.miro.advance(601), 502, "code_expired"),
        (spend_code_elsewhere, 502, "code_already_used"),
        (
            lambda s, u: tamper_state(s, u, "code_verifier", "x" * 64),
            502,
            "pkce_rejected",
        ),
        (
            lambda s, u: s.miro.inject(Fault.rate_limited()),
            503,
            "provider_rate_limited",
        ),
        (lambda s, u: s.miro.inject(Fault()), 503, "provider_unavailable"),
        (
            lambda s, u: s.miro.inject(Fault.error_page(502)),
            503,
            "provider_unavailable",
        ),
        (
            lambda s, u: s.miro.inject(
                Fault(status=200, body=b'{"token_type":"bearer"}')
            ),
            502,
            "unexpected_response",
        ),
        (
            lambda s, u: s.miro.inject(Fault(status=200, body=b"<html>ok</html>")),
            502,
            "unexpected_response",
        ),
        (
            lambda s, u: s.miro.inject(Fault(drop_connection=True)),
            503,
            "provider_unavailable",
        ),
        (
            lambda s, u: s.miro.inject(Fault.oauth_error("invalid_client", "bad", 401)),
            502,
            "client_credentials_rejected",
        ),
    ],
)
def test_each_failure_cause_gets_its_reason_a_page_and_a_failed_claim(
    stack: LocalStack,
    logs: CapturedLogs,
    arrange: Callable[[LocalStack, str], object],
    status: int,
    reason: str,
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    arrange(stack, callback_url)

    answer = browser.callback(callback_url)

    assert answer.status == status
    assert_secure_headers(answer)
    assert "reference" in answer.body
    (event,) = logs.outcomes("callback")
    assert event["reason"] == reason
    assert event["hint"]
    assert event["correlation_id"] in answer.body
    (claim,) = claims(stack)
    assert claim["status"]["S"] == "failed"
    assert claim["reason"]["S"] == reason
    assert installation_items(stack) == []


@pytest.mark.parametrize("stored", ["", "   \n"])
def test_a_missing_client_secret_does_not_burn_the_code(
    stack: LocalStack, logs: CapturedLogs, stored: str
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    put_secret(stack, stored or " ")

    refused = browser.callback(callback_url)
    put_secret(stack, CLIENT_SECRET + "\n")
    fixed = browser.callback(callback_url)

    assert refused.status == 500
    assert "not set up" in refused.body
    assert logs.outcomes("callback")[0]["reason"] == "client_secret_unavailable"
    assert fixed.status == 200


# What is logged, stored and shown ------------------------------------------


def test_no_code_token_secret_or_cookie_appears_in_logs_storage_or_pages(
    stack: LocalStack, logs: CapturedLogs, capsys: pytest.CaptureFixture[str]
) -> None:
    pages: list[str] = []
    secrets: list[str] = [CLIENT_SECRET]
    arrangements: list[Callable[[str], object]] = [
        lambda u: None,
        lambda u: stack.miro.inject(Fault.rate_limited()),
        lambda u: spend_code_elsewhere(stack, u),
        lambda u: stack.miro.inject(
            Fault(
                status=400,
                body=(
                    b'{"status":400,"code":"oauthError","message":"code '
                    + code_of(u).encode()
                    + b' invalid","type":"error"}'
                ),
            )
        ),
    ]
    for arrange in arrangements:
        browser = Browser(stack)
        callback_url = browser.consent()
        secrets.append(code_of(callback_url))
        secrets.extend(browser.jar.values())
        arrange(callback_url)
        answer = browser.callback(callback_url)
        pages.append(answer.body + json.dumps(answer.headers))
        pages.append(Browser(stack, dict(browser.jar)).callback(callback_url).body)
    team, user = "3458764517517818867", "3458764517517852417"
    secrets.extend(
        t
        for t in (
            stack.miro.live_access_token(team, user),
            stack.miro.live_refresh_token(team, user),
        )
        if t
    )
    for request in stack.miro.token_requests:
        secrets.extend(request.form.get("code_verifier", []))

    haystacks = {
        "logs": logs.text,
        "stdout": capsys.readouterr().out,
        "stored": json.dumps(flows(stack) + installation_items(stack), default=str),
        "pages": "\n".join(pages),
    }
    assert len(secrets) >= 12
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret value leaked into {where}"
        assert "Traceback" not in text


def test_each_outcome_is_counted_once_and_failures_also_by_reason(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    browser.callback(callback_url)
    Browser(stack, dict(browser.jar)).callback(callback_url)

    emitted = [line for line in log_events(capsys.readouterr().out) if "_aws" in line]
    names = {
        metric["Name"]: directive["Dimensions"]
        for line in emitted
        for directive in line["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert names["CallbackSucceeded"] == [["service"]]
    assert names["CallbackFailed"] == [["service"]]
    assert names["CallbackFailedByReason"] == [["reason", "service"]]
    (by_reason,) = [e for e in emitted if "CallbackFailedByReason" in e]
    assert by_reason["reason"] == "code_already_claimed"
    namespace = by_reason["_aws"]["CloudWatchMetrics"][0]["Namespace"]
    assert namespace == "MiroOAuth/miro-oauth-local"
