"""Call the real handlers the way Lambda and API Gateway (HTTP API) do.

``http_event`` builds a payload format 2.0 event: cookies in their own list,
repeated query parameters joined with commas in ``queryStringParameters``
while ``rawQueryString`` keeps them as sent, lower-cased headers.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object the handlers and Powertools read."""

    function_name: str
    timeout_s: float = 15.0
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(int((self.timeout_s - elapsed) * 1000), 0)


def load_handler(code_uri: Path, handler: str, name: str) -> Handler:
    """Import ``<code_uri>/<module>.py`` under a unique module name."""
    module_name, _, attribute = handler.rpartition(".")
    path = code_uri / f"{module_name.replace('.', '/')}.py"
    unique = f"function_{name}"
    if unique in sys.modules:
        module: ModuleType = sys.modules[unique]
    else:
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    function: Handler = getattr(module, attribute)
    return function


def http_event(
    method: str,
    path: str,
    *,
    raw_query: str = "",
    headers: dict[str, str] | None = None,
    cookies: Iterable[str] = (),
    domain: str = "abc123.execute-api.us-east-1.amazonaws.com",
    source_ip: str = "127.0.0.1",
    body: str | None = None,
) -> dict[str, Any]:
    joined: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        joined.setdefault(key, []).append(value)
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    lowered.setdefault("host", domain)
    cookie_list = list(cookies)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".", 1)[0],
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if joined:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in joined.items()}
    if cookie_list:
        event["cookies"] = cookie_list
    if body is not None:
        event["body"] = body
    return event
