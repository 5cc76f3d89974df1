"""Property-based fuzzing of the HTTP handlers' events.

Whatever arrives (hostile query strings, cookies, headers, encodings,
oversized and repeated values), the answer is a well-formed HTTP response
below 500, Miro is never called without a valid browser-bound state, and no
secret of a real flow shows up in a page or a log line.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import quote, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CapturedLogs
from tests.support import Browser, answer_of, query_of
from tools.local.invoke import http_event
from tools.local.stack import API_DOMAIN, CLIENT_SECRET, LocalStack

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

hostile_text = st.one_of(
    st.text(max_size=64),
    st.text(alphabet=string.printable, max_size=300),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "'\"><img src=x onerror=alert(1)>",
            "%00",
            "%ff%fe",
            "../../etc/passwd",
            "\r\nSet-Cookie: x=1",
            "a" * 10_000,
            "eyJtaXJvLm9yaWdpbiI6ImV1MDEifQ_" + "A" * 60,
            "",
            "😀" * 20,
        ]
    ),
)
names = st.sampled_from(
    ["code", "state", "error", "error_description", "team_id", "client_id", "x"]
)
raw_queries = st.one_of(
    st.lists(st.tuples(names, hostile_text), max_size=8).map(
        lambda pairs: "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in pairs)
    ),
    st.text(alphabet=string.printable, max_size=400),
    st.sampled_from(["%", "%%%", "&&&", "=&=", "code", "state=&code=", "a=%E0%A4%A"]),
)
cookie_lists = st.lists(
    st.tuples(
        st.one_of(
            st.text(string.ascii_letters + "-_", min_size=1, max_size=40),
            st.just("__Host-miro-oauth-0123456789abcdef"),
        ),
        hostile_text,
    ).map(lambda pair: f"{pair[0]}={pair[1]}"),
    max_size=6,
)
headers = st.dictionaries(
    st.text(string.ascii_lowercase + "-", min_size=1, max_size=20),
    st.text(string.printable, max_size=100),
    max_size=6,
)


def assert_well_formed(result: dict[str, Any]) -> None:
    assert isinstance(result["statusCode"], int)
    assert 200 <= result["statusCode"] < 500, result.get("body", "")[:500]
    assert isinstance(result.get("body", ""), str)
    assert all(isinstance(v, str) for v in result.get("headers", {}).values())
    for header_value in result.get("headers", {}).values():
        assert "\n" not in header_value
        assert "\r" not in header_value
    assert "Traceback" not in result.get("body", "")


@FUZZ
@given(raw_query=raw_queries, cookies=cookie_lists, extra_headers=headers)
def test_any_callback_event_gets_a_well_formed_answer_and_never_reaches_miro(
    stack: LocalStack, raw_query: str, cookies: list[str], extra_headers: dict[str, str]
) -> None:
    event = http_event(
        "GET",
        "/callback",
        raw_query=raw_query,
        cookies=cookies,
        headers=extra_headers,
        domain=API_DOMAIN,
    )

    result = stack.invoke("CallbackFunction", event)

    assert_well_formed(result)
    assert result["statusCode"] in (400, 403, 409)
    assert stack.miro.token_requests == []


@FUZZ
@given(raw_query=raw_queries, cookies=cookie_lists, extra_headers=headers)
def test_any_install_event_redirects_to_miro_or_is_refused_cleanly(
    stack: LocalStack, raw_query: str, cookies: list[str], extra_headers: dict[str, str]
) -> None:
    event = http_event(
        "GET",
        "/install",
        raw_query=raw_query,
        cookies=cookies,
        headers=extra_headers,
        domain=API_DOMAIN,
    )

    result = stack.invoke("InstallFunction", event)

    assert_well_formed(result)
    assert result["statusCode"] in (302, 400)
    if result["statusCode"] == 302:
        location = result["headers"]["Location"]
        assert location.startswith(stack.miro.authorize_url + "?")


mutations = st.lists(
    st.sampled_from(
        [
            "drop_state",
            "drop_code",
            "repeat_state",
            "repeat_code",
            "flip_state",
            "flip_code",
            "drop_cookie",
            "flip_cookie",
            "foreign_cookie",
            "append_junk",
        ]
    ),
    min_size=1,
    max_size=3,
    unique=True,
)


@FUZZ
@given(changes=mutations)
def test_a_tampered_real_callback_reaches_miro_only_with_its_state_and_cookie(
    stack: LocalStack, logs: CapturedLogs, changes: list[str]
) -> None:
    browser = Browser(stack)
    callback_url = browser.consent()
    query = query_of(callback_url)
    jar = dict(browser.jar)
    (cookie_name,) = jar
    secrets = [query["code"], jar[cookie_name], CLIENT_SECRET]
    before = len(stack.miro.token_requests)

    pairs = list(query.items())
    for change in changes:
        target = change.split("_", 1)[1]
        if change.startswith("drop_") and target in ("state", "code"):
            pairs = [(k, v) for k, v in pairs if k != target]
        elif change.startswith("repeat_"):
            pairs += [(k, v) for k, v in pairs if k == target]
        elif change.startswith("flip_") and target in ("state", "code"):
            pairs = [
                (k, v[:-1] + ("A" if v[-1] != "A" else "B")) if k == target else (k, v)
                for k, v in pairs
            ]
        elif change == "drop_cookie":
            jar = {}
        elif change == "flip_cookie":
            jar = {k: v[:-1] + ("A" if v[-1] != "A" else "B") for k, v in jar.items()}
        elif change == "foreign_cookie":
            jar = {"__Host-miro-oauth-0000000000000000": "x" * 43}
        elif change == "append_junk":
            pairs.append(("junk", "<script>"))
    raw = "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs)
    event = http_event(
        "GET",
        "/callback",
        raw_query=raw,
        cookies=[f"{k}={v}" for k, v in jar.items()],
        domain=API_DOMAIN,
    )

    result = stack.invoke("CallbackFunction", event)

    intact = (
        dict(pairs).get("state") == query["state"]
        and sum(1 for k, _ in pairs if k == "state") == 1
        and sum(1 for k, _ in pairs if k == "code") == 1
        and jar.get(cookie_name) == browser.jar[cookie_name]
    )
    reached_miro = len(stack.miro.token_requests) > before
    if reached_miro:
        assert intact
    if result["statusCode"] >= 500:
        # Only a dependency may fail: here Miro refusing a tampered code.
        assert reached_miro
        assert result["statusCode"] in (502, 503, 504)
    else:
        assert_well_formed(result)
    page = answer_of(result).body + json.dumps(result.get("headers", {}))
    for secret in secrets:
        assert secret not in page
        assert secret not in logs.text
    assert urlsplit(callback_url).query not in logs.text
