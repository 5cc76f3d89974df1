"""A scripted browser for the integration tier: cookies, redirects, logs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from tools.local.invoke import http_event
from tools.local.stack import API_DOMAIN, LocalStack


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str]

    @property
    def location(self) -> str:
        return self.headers.get("Location", self.headers.get("location", ""))


def answer_of(result: dict[str, Any]) -> Answer:
    return Answer(
        status=int(result["statusCode"]),
        headers=dict(result.get("headers", {})),
        body=str(result.get("body", "")),
        cookies=list(result.get("cookies", [])),
    )


@dataclass
class Browser:
    """One browser profile: keeps the cookies the API sets, like a real one."""

    stack: LocalStack
    jar: dict[str, str] = field(default_factory=dict)

    def get(self, function: str, path: str, raw_query: str = "") -> Answer:
        event = http_event(
            "GET",
            path,
            raw_query=raw_query,
            cookies=[f"{k}={v}" for k, v in self.jar.items()],
            domain=API_DOMAIN,
        )
        answer = answer_of(self.stack.invoke(function, event))
        self._store(answer.cookies)
        return answer

    def _store(self, set_cookies: Iterable[str]) -> None:
        for header in set_cookies:
            pair, *attributes = header.split(";")
            name, _, value = pair.strip().partition("=")
            expired = any(a.strip().lower() == "max-age=0" for a in attributes)
            if expired:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    def install(self, raw_query: str = "") -> Answer:
        return self.get("InstallFunction", "/install", raw_query)

    def callback(self, url: str) -> Answer:
        return self.get("CallbackFunction", "/callback", urlsplit(url).query)

    def consent(self, allow: bool = True, raw_query: str = "") -> str:
        """Start an install and answer Miro's consent: the callback URL."""
        started = self.install(raw_query)
        assert started.status == 302, started.body
        query = dict(parse_qsl(urlsplit(started.location).query))
        if allow:
            return self.stack.miro.approve(query)
        return self.stack.miro.deny(query)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def log_events(text: str) -> list[dict[str, Any]]:
    """The JSON objects among captured output lines (logs and EMF metrics)."""
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def outcome_events(text: str) -> list[dict[str, Any]]:
    return [e for e in log_events(text) if "event" in e and "outcome" in e]


class _Body:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.payload


@dataclass
class AwsFault:
    """Answer an AWS operation with an error, at botocore's HTTP boundary.

    Registered on ``before-send``, so botocore parses the answer, applies its
    retry mode and raises exactly as it would for the real service.
    """

    code: str
    status: int = 400
    times: int | None = None  # None: every call
    match: str | None = None  # only requests whose body names this (a table)
    calls: int = 0

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if self.times is not None and self.calls >= self.times:
            return None
        body = request.body if isinstance(request.body, bytes) else b""
        if self.match is not None and self.match.encode() not in body:
            return None
        self.calls += 1
        payload = json.dumps({"__type": self.code, "message": "injected"}).encode()
        headers = HTTPHeaders()
        headers["x-amzn-ErrorType"] = self.code
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, self.status, headers, _Body(payload))


def inject_aws_fault(
    client: Any, operation: str, fault: AwsFault
) -> Callable[[], None]:
    """Make ``client``'s ``operation`` fail; returns the function that undoes it."""
    service = client.meta.service_model.service_id.hyphenize()
    event = f"before-send.{service}.{operation}"
    client.meta.events.register(event, fault)
    return lambda: client.meta.events.unregister(event, fault)
