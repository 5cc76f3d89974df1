"""A person installing the app in a real browser, and what the product kept."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Response

from miro_oauth.config import Settings
from miro_oauth.flows import state_key
from miro_oauth.pages import SECURITY_HEADERS
from tests.e2e.conftest import Site

pytestmark = pytest.mark.e2e

CONNECTED = "Your Miro account is connected"
ALREADY_USED = "This link was already used"
REFERENCE = re.compile(r"[0-9a-f]{16}")


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def heading(page: Page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def reference(page: Page) -> str:
    return page.locator(".ref code").inner_text()


def open_consent(page: Page, site: Site) -> None:
    page.goto(site.install_url)
    assert page.url.startswith(site.stack.miro.authorize_url + "?")
    assert heading(page) == "Authorize app"


def choose(page: Page, button: str) -> int:
    """Click Allow or Deny on the consent page; the status of the page shown."""
    with page.expect_navigation(url=re.compile(r"/callback\?")) as landed:
        page.get_by_role("button", name=button).click()
    response = landed.value
    assert response is not None
    return response.status


def flow_cookies(context: BrowserContext) -> list[str]:
    return [c["name"] for c in context.cookies() if "miro-oauth" in c["name"]]


def assert_replay_refused(
    page: Page, response: Response | None, site: Site, code: str
) -> None:
    """The replayed callback shows "already used"; Miro saw the code once."""
    assert response is not None
    assert response.status == 409
    assert heading(page) == ALREADY_USED
    assert REFERENCE.fullmatch(reference(page))
    assert site.stack.miro.requests_for_code(code) == 1
    (item,) = site.installations()
    assert item["token_version"]["N"] == "1"


def test_allow_shows_success_stores_one_installation_and_ends_the_flow_cookie(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()
    open_consent(page, site)
    assert len(flow_cookies(context)) == 1

    status = choose(page, "Allow")

    assert status == 200
    assert heading(page) == CONNECTED
    assert page.title().startswith("Connected")
    code = query_of(page.url)["code"]
    assert site.stack.miro.requests_for_code(code) == 1
    (item,) = site.installations()
    assert item["team_id"]["S"] == site.stack.miro.team_id
    assert item["user_id"]["S"] == site.stack.miro.user_id
    assert item["token_version"]["N"] == "1"
    assert flow_cookies(context) == []


def test_deny_shows_the_cancelled_page_and_stores_nothing(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()
    token_requests = len(site.stack.miro.token_requests)
    open_consent(page, site)

    status = choose(page, "Deny")

    assert status == 403
    assert heading(page) == "Connection cancelled"
    assert REFERENCE.fullmatch(reference(page))
    assert query_of(page.url)["error"] == "access_denied"
    assert site.installations() == []
    assert len(site.stack.miro.token_requests) == token_requests


def test_reloading_the_callback_page_shows_already_used_and_miro_sees_the_code_once(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()
    open_consent(page, site)
    choose(page, "Allow")
    assert heading(page) == CONNECTED
    code = query_of(page.url)["code"]

    response = page.reload()

    assert_replay_refused(page, response, site, code)


def test_back_then_forward_replays_the_callback_and_shows_already_used(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()
    open_consent(page, site)
    choose(page, "Allow")
    code = query_of(page.url)["code"]

    page.go_back()
    assert heading(page) == "Authorize app"
    response = page.go_forward()

    assert_replay_refused(page, response, site, code)


def test_back_then_allow_again_is_refused_and_the_new_code_never_reaches_miro(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()
    open_consent(page, site)
    choose(page, "Allow")
    first_code = query_of(page.url)["code"]

    page.go_back()
    status = choose(page, "Allow")

    second_code = query_of(page.url)["code"]
    assert second_code != first_code
    assert status == 400
    assert heading(page) == ALREADY_USED
    assert REFERENCE.fullmatch(reference(page))
    assert site.stack.miro.requests_for_code(first_code) == 1
    assert site.stack.miro.requests_for_code(second_code) == 0
    (item,) = site.installations()
    assert item["token_version"]["N"] == "1"


def test_two_tabs_started_from_two_install_links_both_finish(
    site: Site, context: BrowserContext
) -> None:
    first, second = context.new_page(), context.new_page()
    open_consent(first, site)
    open_consent(second, site)
    assert len(flow_cookies(context)) == 2

    second_status = choose(second, "Allow")
    first_status = choose(first, "Allow")

    assert (first_status, second_status) == (200, 200)
    assert heading(first) == CONNECTED
    assert heading(second) == CONNECTED
    for page in (first, second):
        assert site.stack.miro.requests_for_code(query_of(page.url)["code"]) == 1
    (item,) = site.installations()
    assert item["token_version"]["N"] == "2"
    assert flow_cookies(context) == []


def test_a_stale_state_shows_the_expired_page_and_the_code_never_reaches_miro(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()
    open_consent(page, site)
    state = query_of(page.url)["state"]
    aged = time.time() - Settings.from_environment().state_lifetime - 60
    site.stack.dynamodb().update_item(
        TableName=site.stack.table("FlowsTable"),
        Key={"pk": {"S": state_key(state)}},
        UpdateExpression="SET created_at = :aged",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":aged": {"N": f"{aged:.3f}"}},
    )

    status = choose(page, "Allow")

    assert status == 400
    assert heading(page) == "This sign-in has expired"
    assert REFERENCE.fullmatch(reference(page))
    assert site.stack.miro.requests_for_code(query_of(page.url)["code"]) == 0
    assert site.installations() == []

    page.get_by_role("link", name="Start again").click()
    page.wait_for_url(re.compile(re.escape(site.stack.miro.authorize_url)))
    assert heading(page) == "Authorize app"


def test_an_unknown_address_gets_a_404_page_with_the_product_security_headers(
    site: Site, context: BrowserContext
) -> None:
    page = context.new_page()

    response = page.goto(site.front.base_url + "/oauth/callback")

    assert response is not None
    assert response.status == 404
    assert heading(page) == "Page not found"
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value
