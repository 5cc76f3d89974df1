"""The local Miro authorization server behaves as Miro's OAuth endpoints do."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from tools.local.miro_server import (
    REGION_MARKER,
    AuthorizeRequestError,
    Fault,
    MiroServer,
)

CLIENT_ID = "3458764517517852999"
CLIENT_SECRET = "s3cr3t+with/reserved=chars&more"
REDIRECT_URI = "https://oauth.example.test/callback"
TEAM_ID = "3458764517517818867"
USER_ID = "3458764517517852417"
OPAQUE = re.compile(re.escape(REGION_MARKER) + r"[A-Za-z0-9_-]{32,}")
TIMEOUT = 10.0


@pytest.fixture
def miro() -> Iterator[MiroServer]:
    with MiroServer(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT_URI]
    ) as server:
        yield server


def authorize_query(**extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "state-from-the-app",
        **extra,
    }


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def issue_code(miro: MiroServer, **extra: str) -> str:
    return query_of(miro.approve(authorize_query(**extra)))["code"]


def exchange(
    miro: MiroServer, code: str, *, timeout: float = TIMEOUT, **changes: str | None
) -> requests.Response:
    form: dict[str, str] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    for name, value in changes.items():
        if value is None:
            form.pop(name)
        else:
            form[name] = value
    return requests.post(miro.token_url, data=form, timeout=timeout)


def refresh(miro: MiroServer, refresh_token: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return requests.post(miro.token_url, data=form, timeout=TIMEOUT)


def revoke(miro: MiroServer, access_token: str) -> requests.Response:
    body = {
        "accessToken": access_token,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
    }
    return requests.post(miro.revoke_url, json=body, timeout=TIMEOUT)


def token_info(miro: MiroServer, access_token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(miro.token_info_url, headers=headers, timeout=TIMEOUT)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class PageParser(HTMLParser):
    """Collects the tags of a page with their attributes, and its title."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def find(self, tag: str, **attributes: str) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag
            and all(attrs.get(key) == value for key, value in attributes.items())
        ]


def parse_page(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    return parser


# Authorize step


def test_authorize_page_is_a_self_contained_accessible_consent_form(
    miro: MiroServer,
) -> None:
    query = authorize_query(team_id="3458764517517818000")
    response = requests.get(miro.authorize_url, params=query, timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = parse_page(response.text)
    assert page.find("html", lang="en")
    assert page.title == "Local Miro — authorize app"
    form = page.find("form", method="post", action="/oauth/authorize/decision")
    assert len(form) == 1
    assert page.find("button", id="allow", type="submit", value="allow")
    assert page.find("button", id="deny", type="submit", value="deny")
    hidden = {
        attrs["name"]: attrs["value"] for attrs in page.find("input", type="hidden")
    }
    assert hidden == query
    labelled = {attrs["for"] for attrs in page.find("label")}
    assert {"client", "team"} <= labelled
    assert page.find("input", id="client", value=CLIENT_ID)
    assert page.find("input", id="team", value="3458764517517818000")
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", response.text)


def test_authorize_with_trailing_slash_redirect_uri_shows_error_page_not_redirect(
    miro: MiroServer,
) -> None:
    query = authorize_query(redirect_uri=REDIRECT_URI + "/")
    response = requests.get(
        miro.authorize_url, params=query, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert "is not registered" in response.text
    assert parse_page(response.text).find("html", lang="en")


def test_authorize_with_unknown_client_shows_error_page(miro: MiroServer) -> None:
    query = authorize_query(client_id="999")
    response = requests.get(
        miro.authorize_url, params=query, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Unknown client_id" in response.text


def test_authorize_with_unsupported_response_type_redirects_with_error(
    miro: MiroServer,
) -> None:
    query = authorize_query(response_type="token")
    response = requests.get(
        miro.authorize_url, params=query, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 302
    answer = query_of(response.headers["Location"])
    assert answer["error"] == "unsupported_response_type"
    assert answer["state"] == "state-from-the-app"
    assert "code" not in answer


def test_allow_button_redirects_with_code_state_client_and_team(
    miro: MiroServer,
) -> None:
    form = {**authorize_query(), "decision": "allow"}
    decision_url = miro.base_url + "/oauth/authorize/decision"
    response = requests.post(
        decision_url, data=form, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?code=")
    answer = query_of(location)
    assert list(answer) == ["code", "state", "client_id", "team_id"]
    assert OPAQUE.fullmatch(answer["code"])
    assert answer["state"] == "state-from-the-app"
    assert answer["client_id"] == CLIENT_ID
    assert answer["team_id"] == TEAM_ID
    assert exchange(miro, answer["code"]).status_code == 200


def test_deny_button_redirects_with_access_denied_and_state(miro: MiroServer) -> None:
    form = {**authorize_query(), "decision": "deny"}
    decision_url = miro.base_url + "/oauth/authorize/decision"
    response = requests.post(
        decision_url, data=form, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 302
    answer = query_of(response.headers["Location"])
    assert answer["error"] == "access_denied"
    assert answer["error_description"]
    assert answer["state"] == "state-from-the-app"
    assert "code" not in answer


def test_approve_refuses_an_unregistered_redirect_uri(miro: MiroServer) -> None:
    with pytest.raises(AuthorizeRequestError, match="not registered"):
        miro.approve(authorize_query(redirect_uri="http://oauth.example.test/callback"))


def test_approve_url_accepts_a_full_authorize_url(miro: MiroServer) -> None:
    url = miro.authorize_url + "?" + urlencode(authorize_query(team_id="42"))

    answer = query_of(miro.approve_url(url))

    assert answer["team_id"] == "42"
    assert exchange(miro, answer["code"]).json()["team_id"] == "42"


# Code exchange


def test_code_flow_issues_an_expiring_token_pair_that_describes_itself(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)

    response = exchange(miro, code)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.json()
    assert OPAQUE.fullmatch(tokens["access_token"])
    assert OPAQUE.fullmatch(tokens["refresh_token"])
    assert tokens["token_type"] == "bearer"
    assert tokens["scope"] == "boards:read boards:write"
    assert tokens["expires_in"] == 3599
    assert tokens["user_id"] == USER_ID
    assert tokens["team_id"] == TEAM_ID
    info = token_info(miro, tokens["access_token"])
    assert info.status_code == 200
    assert info.json()["team"]["id"] == TEAM_ID
    assert info.json()["user"]["id"] == USER_ID
    assert info.json()["scopes"] == ["boards:read", "boards:write"]
    assert miro.live_refresh_token(TEAM_ID, USER_ID) == tokens["refresh_token"]


def test_second_exchange_of_a_code_is_refused_and_revokes_its_tokens(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)
    first = exchange(miro, code).json()

    second = exchange(miro, code)

    assert second.status_code == 401
    assert second.json() == {
        "status": 401,
        "code": "oauthError",
        "message": "Authorization code has already been used.",
        "type": "error",
    }
    assert not miro.is_access_token_valid(first["access_token"])
    assert not miro.is_refresh_token_valid(first["refresh_token"])
    assert token_info(miro, first["access_token"]).status_code == 401
    assert miro.requests_for_code(code) == 2


def test_code_older_than_ten_minutes_is_refused(miro: MiroServer) -> None:
    code = issue_code(miro)
    miro.advance(601)

    response = exchange(miro, code)

    assert response.status_code == 401
    assert response.json()["message"] == "Authorization code has expired."


def test_code_younger_than_ten_minutes_is_accepted(miro: MiroServer) -> None:
    code = issue_code(miro)
    miro.advance(599)

    assert exchange(miro, code).status_code == 200


def test_redirect_uri_with_trailing_slash_gets_mirós_documented_mismatch_error(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)

    response = exchange(miro, code, redirect_uri=REDIRECT_URI + "/")

    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "code": "oauthError",
        "message": "Redirect URI mismatch.",
        "type": "error",
    }


def test_json_body_is_refused_in_mirós_error_shape(miro: MiroServer) -> None:
    form = {
        "grant_type": "authorization_code",
        "code": issue_code(miro),
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }

    response = requests.post(miro.token_url, json=form, timeout=TIMEOUT)

    assert response.status_code == 401
    error = response.json()
    assert error["code"] == "oauthError"
    assert error["type"] == "error"
    assert "content type" in error["message"]


def test_http_basic_client_credentials_are_refused(miro: MiroServer) -> None:
    form = {
        "grant_type": "authorization_code",
        "code": issue_code(miro),
        "redirect_uri": REDIRECT_URI,
    }

    response = requests.post(
        miro.token_url, data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT
    )

    assert response.status_code == 401
    assert response.json()["message"].startswith("Invalid client credentials")
    assert "HTTP Basic" in response.json()["message"]


def test_wrong_client_secret_is_refused(miro: MiroServer) -> None:
    response = exchange(miro, issue_code(miro), client_secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid client credentials."


def test_client_secret_sent_without_url_encoding_is_refused(miro: MiroServer) -> None:
    code = issue_code(miro)
    raw_body = (
        f"grant_type=authorization_code&code={code}"
        f"&redirect_uri={REDIRECT_URI}&client_id={CLIENT_ID}"
        f"&client_secret={CLIENT_SECRET}"
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    response = requests.post(
        miro.token_url, data=raw_body, headers=headers, timeout=TIMEOUT
    )

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid client credentials."


def test_parameters_in_the_query_string_are_refused(miro: MiroServer) -> None:
    parameters = {
        "grant_type": "authorization_code",
        "code": issue_code(miro),
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }

    response = requests.post(miro.token_url, params=parameters, timeout=TIMEOUT)

    assert response.status_code == 400
    assert "query string" in response.json()["message"]


def test_unsupported_grant_type_is_a_bad_request(miro: MiroServer) -> None:
    response = exchange(miro, issue_code(miro), grant_type="password")

    assert response.status_code == 400
    assert response.json()["code"] == "oauthError"


def test_pkce_exchange_needs_the_matching_s256_verifier(miro: MiroServer) -> None:
    verifier = secrets.token_urlsafe(48)
    code = issue_code(miro, code_challenge=s256(verifier), code_challenge_method="S256")

    missing = exchange(miro, code)
    wrong = exchange(miro, code, code_verifier=secrets.token_urlsafe(48))
    right = exchange(miro, code, code_verifier=verifier)

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert wrong.json()["message"] == "Invalid code verifier."
    assert right.status_code == 200


def test_verifier_for_a_code_issued_without_challenge_is_refused(
    miro: MiroServer,
) -> None:
    response = exchange(miro, issue_code(miro), code_verifier=secrets.token_urlsafe(48))

    assert response.status_code == 401
    assert "Invalid code verifier" in response.json()["message"]


def test_plain_pkce_method_is_answered_with_invalid_request(miro: MiroServer) -> None:
    query = authorize_query(code_challenge="a" * 43, code_challenge_method="plain")

    answer = query_of(miro.approve(query))

    assert answer["error"] == "invalid_request"
    assert "code" not in answer


def test_numeric_ids_are_sent_as_bare_json_numbers() -> None:
    with MiroServer(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[REDIRECT_URI],
        numeric_ids=True,
    ) as miro:
        response = exchange(miro, issue_code(miro))

    assert re.search(rf'"user_id": {USER_ID}[,}}]', response.text)
    assert re.search(rf'"team_id": {TEAM_ID}[,}}]', response.text)
    assert response.json()["user_id"] == int(USER_ID)


def test_non_expiring_tokens_have_neither_refresh_token_nor_expiry() -> None:
    with MiroServer(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[REDIRECT_URI],
        expiring_tokens=False,
    ) as miro:
        tokens = exchange(miro, issue_code(miro)).json()
        miro.advance(10 * 365 * 24 * 3600)

        assert "refresh_token" not in tokens
        assert "expires_in" not in tokens
        assert miro.is_access_token_valid(tokens["access_token"])


# Refresh


def test_refresh_rotates_the_pair_and_kills_the_old_access_and_refresh_token(
    miro: MiroServer,
) -> None:
    old = exchange(miro, issue_code(miro)).json()

    response = refresh(miro, old["refresh_token"])

    assert response.status_code == 200
    new = response.json()
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert token_info(miro, old["access_token"]).status_code == 401
    assert token_info(miro, new["access_token"]).status_code == 200
    assert refresh(miro, old["refresh_token"]).status_code == 401
    assert miro.live_refresh_token(TEAM_ID, USER_ID) == new["refresh_token"]
    assert miro.refresh_requests() == 2


def test_access_token_stops_working_after_its_lifetime(miro: MiroServer) -> None:
    tokens = exchange(miro, issue_code(miro)).json()

    miro.advance(3599)

    assert token_info(miro, tokens["access_token"]).status_code == 401
    assert refresh(miro, tokens["refresh_token"]).status_code == 200


def test_expired_refresh_token_is_refused(miro: MiroServer) -> None:
    tokens = exchange(miro, issue_code(miro)).json()
    miro.expire_refresh_tokens_for(TEAM_ID, USER_ID)

    response = refresh(miro, tokens["refresh_token"])

    assert response.status_code == 401
    assert response.json()["message"] == "Refresh token has expired."


# Revoke and token description


def test_revoke_answers_204_then_404_and_kills_the_refresh_token(
    miro: MiroServer,
) -> None:
    tokens = exchange(miro, issue_code(miro)).json()

    first = revoke(miro, tokens["access_token"])
    second = revoke(miro, tokens["access_token"])

    assert first.status_code == 204
    assert first.content == b""
    assert second.status_code == 404
    assert second.json()["type"] == "error"
    assert refresh(miro, tokens["refresh_token"]).status_code == 401
    assert len(miro.revoke_requests) == 2


def test_revoke_refuses_bad_client_credentials_and_non_json_bodies(
    miro: MiroServer,
) -> None:
    tokens = exchange(miro, issue_code(miro)).json()
    wrong_secret = {
        "accessToken": tokens["access_token"],
        "clientId": CLIENT_ID,
        "clientSecret": "not-the-secret",
    }

    unauthorized = requests.post(miro.revoke_url, json=wrong_secret, timeout=TIMEOUT)
    as_form = requests.post(miro.revoke_url, data=wrong_secret, timeout=TIMEOUT)
    not_json = requests.post(
        miro.revoke_url,
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert unauthorized.status_code == 401
    assert (as_form.status_code, not_json.status_code) == (400, 400)
    assert miro.is_access_token_valid(tokens["access_token"])


def test_token_description_needs_a_bearer_token(miro: MiroServer) -> None:
    missing = requests.get(miro.token_info_url, timeout=TIMEOUT)
    unknown = token_info(miro, REGION_MARKER + "x" * 43)

    assert (missing.status_code, unknown.status_code) == (401, 401)
    assert unknown.json()["type"] == "error"


def test_unknown_path_is_a_json_404_and_wrong_method_a_405(miro: MiroServer) -> None:
    unknown = requests.get(miro.base_url + "/v2/boards", timeout=TIMEOUT)
    wrong_method = requests.get(miro.token_url, timeout=TIMEOUT)

    assert unknown.status_code == 404
    assert unknown.json()["code"] == "notFound"
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


# Injected faults


def test_injected_faults_are_answered_in_order_then_the_server_recovers(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)
    miro.inject(Fault(status=503), Fault.error_page(502))

    unavailable = exchange(miro, code)
    bad_gateway = exchange(miro, code)
    recovered = exchange(miro, code)

    assert unavailable.status_code == 503
    assert unavailable.json()["type"] == "error"
    assert bad_gateway.status_code == 502
    assert bad_gateway.headers["Content-Type"].startswith("text/html")
    assert recovered.status_code == 200
    assert miro.pending_faults == 0
    assert miro.requests_for_code(code) == 3


def test_rate_limit_fault_carries_mirós_shape_and_headers(miro: MiroServer) -> None:
    miro.inject(Fault.rate_limited())

    response = exchange(miro, issue_code(miro))

    assert response.status_code == 429
    assert response.json()["code"] == "tooManyRequests"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_delay_fault_makes_the_client_time_out_and_leaves_the_code_unused(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)
    miro.inject(Fault(delay=60))

    with pytest.raises(requests.ReadTimeout):
        exchange(miro, code, timeout=0.2)

    assert exchange(miro, code).status_code == 200


def test_drop_connection_fault_closes_the_socket_without_an_answer(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)
    miro.inject(Fault(drop_connection=True))

    with pytest.raises(requests.ConnectionError):
        exchange(miro, code)

    assert exchange(miro, code).status_code == 200


def test_fault_after_processing_consumes_the_code_the_client_never_got_tokens_for(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)
    miro.inject(Fault(status=502, body=b"<h1>Bad gateway</h1>", after_processing=True))

    lost = exchange(miro, code)
    retry = exchange(miro, code)

    assert lost.status_code == 502
    assert retry.status_code == 401
    assert retry.json()["message"] == "Authorization code has already been used."
    assert miro.live_refresh_token(TEAM_ID, USER_ID) is None


def test_lost_refresh_answer_rotates_tokens_the_client_never_saw(
    miro: MiroServer,
) -> None:
    tokens = exchange(miro, issue_code(miro)).json()
    miro.inject(Fault.answer_lost())

    with pytest.raises(requests.ConnectionError):
        refresh(miro, tokens["refresh_token"])

    live = miro.live_refresh_token(TEAM_ID, USER_ID)
    assert live is not None
    assert live != tokens["refresh_token"]
    assert refresh(miro, tokens["refresh_token"]).status_code == 401


def test_revoke_faults_have_their_own_queue(miro: MiroServer) -> None:
    tokens = exchange(miro, issue_code(miro)).json()
    miro.inject_revoke(Fault(status=500))

    failed = revoke(miro, tokens["access_token"])
    code_exchange = exchange(miro, issue_code(miro))

    assert failed.status_code == 500
    assert code_exchange.status_code == 200
    assert revoke(miro, tokens["access_token"]).status_code == 204


# Concurrency


def test_thirty_two_clients_racing_one_code_get_exactly_one_token_pair(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)
    start = threading.Barrier(32)

    def race() -> requests.Response:
        start.wait()
        return exchange(miro, code)

    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda _: race(), range(32)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 31
    assert miro.requests_for_code(code) == 32
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert not miro.is_access_token_valid(winner["access_token"])


def test_sixty_four_concurrent_code_flows_all_succeed(miro: MiroServer) -> None:
    start = threading.Barrier(64)

    def flow(_: int) -> requests.Response:
        code = issue_code(miro)
        start.wait()
        return exchange(miro, code)

    with ThreadPoolExecutor(max_workers=64) as pool:
        responses = list(pool.map(flow, range(64)))

    assert [response.status_code for response in responses] == [200] * 64
    access_tokens = {response.json()["access_token"] for response in responses}
    assert len(access_tokens) == 64
    assert len(miro.token_requests) == 64


# Confidentiality and safety


def test_codes_tokens_and_secret_stay_out_of_logs_and_request_reprs(
    miro: MiroServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tools.local.miro_server")
    code = issue_code(miro)
    tokens = exchange(miro, code).json()
    rotated = refresh(miro, tokens["refresh_token"]).json()
    revoke(miro, rotated["access_token"])
    requests.get(miro.base_url + f"/leak/{code}", timeout=TIMEOUT)

    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name == "tools.local.miro_server"
    )
    shown = logged + "".join(repr(r) for r in miro.token_requests)

    assert "POST /v1/oauth/token 200" in logged
    assert "POST /v2/oauth/revoke 204" in logged
    secrets_and_tokens = (
        CLIENT_SECRET,
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    )
    for secret in secrets_and_tokens:
        assert secret not in shown


def test_recorded_requests_keep_the_body_and_lower_cased_headers(
    miro: MiroServer,
) -> None:
    code = issue_code(miro)
    exchange(miro, code)

    (recorded,) = miro.token_requests

    assert recorded.method == "POST"
    assert recorded.path == "/v1/oauth/token"
    assert recorded.headers["content-type"] == "application/x-www-form-urlencoded"
    assert recorded.form["code"] == [code]
    assert recorded.form["client_secret"] == [CLIENT_SECRET]


def test_server_refuses_to_bind_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        MiroServer(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=[REDIRECT_URI],
            host="0.0.0.0",  # noqa: S104 (the address being refused)
        )
