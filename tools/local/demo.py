"""One scripted install over real HTTP: ``python -m tools.local.demo``.

Starts the local stack (moto, local Miro, HTTP front, all on ephemeral
loopback ports), then plays a browser with ``requests``: /install, the
consent page, Allow, the callback with the flow's cookie, the success page.
It shows the stored installation with its tokens redacted and proves a
replayed callback is refused. Exits 1 when any step does not go as described.
"""

from __future__ import annotations

import tools.local.layer_path  # noqa: F401 - before anything imports miro_oauth

# isort: split
import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from html.parser import HTMLParser
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests

from miro_oauth.sealing import TokenSealer
from tools.local.front import Front
from tools.local.stack import LocalStack, running

SECRET_PARAMETERS = frozenset({"code", "state"})
SHOWN_PREFIX = 8


class DemoError(RuntimeError):
    """A step did not answer as the product promises."""


class Browser:
    """``requests`` with a cookie jar that behaves like a browser's on loopback.

    Browsers treat 127.0.0.1 as a secure context, so the flow's ``__Host-``
    cookie (``Secure``) travels over plain http there; ``http.cookiejar``
    would hold it back. Cookies are kept per host name, ignoring the port,
    as browsers do.
    """

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.jar: dict[str, dict[str, str]] = {}

    def cookie_names(self, host: str) -> list[str]:
        return list(self.jar.get(host, {}))

    def request(self, method: str, url: str, **options: Any) -> requests.Response:
        host = urlsplit(url).hostname or ""
        headers = dict(options.pop("headers", {}))
        stored = self.jar.get(host, {})
        if stored:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in stored.items())
        answer = self.session.request(
            method, url, headers=headers, allow_redirects=False, timeout=30, **options
        )
        for header in answer.raw.headers.getlist("Set-Cookie"):
            self._store(host, header)
        return answer

    def _store(self, host: str, header: str) -> None:
        pair, *attributes = header.split(";")
        name, _, value = pair.strip().partition("=")
        cookies = self.jar.setdefault(host, {})
        if any(a.strip().lower() == "max-age=0" for a in attributes):
            cookies.pop(name, None)
        else:
            cookies[name] = value


class ConsentForm(HTMLParser):
    """The consent page's form: its action and hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input" and found.get("type") == "hidden" and "name" in found:
            self.fields[found["name"]] = found.get("value", "")


def shown(url: str) -> str:
    """The URL with the code and state replaced: they never go to a terminal."""
    parts = urlsplit(url)
    query = "&".join(
        f"{quote(name)}={'…' if name in SECRET_PARAMETERS else quote(value, ':/')}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(query=query))


def heading(html: str) -> str:
    start = html.find(">", html.find("<h1")) + 1
    return html[start : html.find("</h1>", start)] if start > 0 else ""


def redacted(token: Any) -> str:
    if not isinstance(token, str) or not token:
        return "(none)"
    return token[:SHOWN_PREFIX] + "…"


class Demo:
    def __init__(self, stack: LocalStack, front: Front) -> None:
        self.stack = stack
        self.front = front
        self.browser = Browser()
        self.step = 0

    def expect(
        self, title: str, answer: requests.Response, status: int
    ) -> requests.Response:
        self.step += 1
        location = answer.headers.get("Location")
        print(f"{self.step}. {title}")
        print(f"   {answer.request.method} {shown(answer.url)} -> {answer.status_code}")
        if location:
            print(f"   Location: {shown(location)}")
        if answer.status_code != status:
            raise DemoError(
                f"step {self.step}: expected HTTP {status}, got "
                f"{answer.status_code} ({heading(answer.text) or 'no heading'})"
            )
        return answer

    def run(self) -> None:
        started = self.expect(
            "Start the install",
            self.browser.request("GET", self.front.install_url),
            302,
        )
        cookies = self.browser.cookie_names(
            urlsplit(self.front.base_url).hostname or ""
        )
        print(f"   cookie set: {', '.join(cookies) or '(none)'}")
        if not any(name.startswith("__Host-miro-oauth-") for name in cookies):
            raise DemoError("the install did not set the flow's cookie")

        consent = self.expect(
            "Open Miro's consent page (local Miro)",
            self.browser.request("GET", started.headers["Location"]),
            200,
        )
        form = ConsentForm()
        form.feed(consent.text)
        print(f"   page heading: {heading(consent.text)!r}")

        decision = self.expect(
            "Click Allow",
            self.browser.request(
                "POST",
                self.stack.miro.base_url + form.action,
                data={**form.fields, "decision": "allow"},
            ),
            302,
        )
        callback_url = decision.headers["Location"]

        finished = self.expect(
            "Follow Miro's redirect to /callback with the flow's cookie",
            self.browser.request("GET", callback_url),
            200,
        )
        print(f"   page heading: {heading(finished.text)!r}")
        if "connected" not in heading(finished.text):
            raise DemoError("the callback did not show the success page")

        self.show_installation()

        replay = self.expect(
            "Replay the same callback URL (a refresh, a back button, a retry)",
            self.browser.request("GET", callback_url),
            409,
        )
        print(f"   page heading: {heading(replay.text)!r}")
        code = dict(parse_qsl(urlsplit(callback_url).query))["code"]
        sent = self.stack.miro.requests_for_code(code)
        print(f"   the local Miro received this code {sent} time(s)")
        if sent != 1:
            raise DemoError(f"the code reached Miro {sent} times, not once")

    def show_installation(self) -> None:
        assert self.stack.provisioned is not None
        table = self.stack.table("InstallationsTable")
        items = self.stack.dynamodb().scan(TableName=table, ConsistentRead=True)
        if len(items["Items"]) != 1:
            raise DemoError(f"expected one installation, found {items['Count']}")
        item = items["Items"][0]
        team, user = item["team_id"]["S"], item["user_id"]["S"]
        blob = bytes(item["sealed_tokens"]["B"])
        sealer = TokenSealer(self.stack.kms(), self.stack.provisioned.key_arn)
        tokens = sealer.unseal(blob, team, user)
        expires = item.get("access_expires_at", {}).get("N")
        print(f"\n   Stored installation in {table}:")
        print(f"     team_id        {team}")
        print(f"     user_id        {user}")
        print(f"     scope          {item['scope']['S']}")
        print(f"     status         {item['status']['S']}")
        print(f"     token_version  {item['token_version']['N']}")
        if expires is not None:
            left = int(expires) - int(time.time())
            print(f"     access token expires in {left} s")
        print(f"     sealed_tokens  {len(blob)} bytes of KMS ciphertext, opening to")
        print(f"       access_token   {redacted(tokens.get('access_token'))}")
        print(f"       refresh_token  {redacted(tokens.get('refresh_token'))}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local.demo",
        description="One scripted install flow through the local stack.",
    )
    parser.add_argument(
        "--logs", action="store_true", help="also print the handlers' JSON logs"
    )
    arguments = parser.parse_args(argv)
    # moto's server logs each AWS call; the steps below are the story.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.monotonic()
    front = Front()
    try:
        with running(redirect_uri=front.callback_url) as stack:
            if not arguments.logs:
                # Read when the handlers load, on the first request below.
                os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"
                os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
            front.serve(stack)
            print(
                f"Local stack: API {front.base_url}, local Miro "
                f"{stack.miro.base_url}, moto {stack.moto.endpoint}\n"
            )
            Demo(stack, front).run()
    except DemoError as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        front.stop()
    print(f"All steps passed in {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
