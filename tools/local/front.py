"""An HTTP front on loopback that plays API Gateway (HTTP API) for the stack.

Every ``HttpApi`` route of ``template.yaml`` is served by building the payload
format 2.0 event API Gateway would send and calling the real handler through
``LocalStack.invoke``. The handler's answer is written back as API Gateway
writes it: ``statusCode``, ``headers``, ``multiValueHeaders`` and one
``Set-Cookie`` header per entry of ``cookies``.

Lambda runs one invocation per container at a time and the handlers keep
per-invocation state in module globals (the resolver's current event, the
logger's keys), so invocations are serialised here as well.
"""

from __future__ import annotations

import base64
import logging
import socketserver
import threading
import time
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from miro_oauth.pages import SECURITY_HEADERS, error_page
from tools.local.invoke import http_event
from tools.local.stack import LocalStack

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 64 * 1024


class Front:
    """The local API: bound on creation so its address is known before the
    stack is provisioned with a redirect URI that points at it.

    ``public_host`` is the name the browser uses (``127.0.0.1`` or
    ``localhost``); it becomes ``requestContext.domainName`` together with the
    port, as API Gateway reports its own domain.
    """

    def __init__(self, port: int = 0, public_host: str = LOOPBACK) -> None:
        self.public_host = public_host
        self._http = _FrontHTTPServer((LOOPBACK, port), self)
        self._thread: threading.Thread | None = None
        self._stack: LocalStack | None = None
        self._routes: dict[tuple[str, str], str] = {}
        self._invoke_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self._http.socket.getsockname()[1])

    @property
    def domain(self) -> str:
        return f"{self.public_host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    @property
    def install_url(self) -> str:
        return f"{self.base_url}/install"

    @property
    def callback_url(self) -> str:
        return f"{self.base_url}/callback"

    def serve(self, stack: LocalStack) -> Front:
        """Route requests to ``stack``'s handlers and start answering."""
        self._stack = stack
        self._routes = {
            (route.method, route.path): route.function for route in stack.routes()
        }
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-front",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()

    def function_for(self, method: str, path: str) -> str | None:
        return self._routes.get((method, path))

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        assert self._stack is not None, "serve() was not called"
        with self._invoke_lock:
            return self._stack.invoke(function, event)


class _FrontHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], front: Front) -> None:
        self.front = front
        super().__init__(address, _FrontRequestHandler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS look-up ``HTTPServer`` makes."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _FrontRequestHandler(BaseHTTPRequestHandler):
    server: _FrontHTTPServer
    server_version = "LocalFront/1.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30.0

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.monotonic()
        target = urlsplit(self.path)
        front = self.server.front
        body = self._read_body()
        function = front.function_for(self.command, target.path)
        if isinstance(body, HTTPStatus):
            status = self._send_page(body)
        elif function is None:
            status = self._send_page(HTTPStatus.NOT_FOUND)
        else:
            event = http_event(
                self.command,
                target.path,
                raw_query=target.query,
                headers=self._headers(),
                cookies=self._cookies(),
                domain=front.domain,
                source_ip=self.client_address[0],
                body=body.decode("utf-8", errors="replace") if body else None,
            )
            status = self._send_answer(front.invoke(function, event))
        # The query string carries the code and state: only the path is logged.
        log.info(
            "%s %s %d %.0f ms",
            self.command,
            target.path,
            status,
            (time.monotonic() - started) * 1000,
        )

    def _read_body(self) -> bytes | HTTPStatus:
        length = (self.headers.get("Content-Length") or "0").strip()
        if not length.isdigit():
            self.close_connection = True
            return HTTPStatus.BAD_REQUEST
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        return self.rfile.read(int(length)) if int(length) else b""

    def _headers(self) -> dict[str, str]:
        """Lower-cased, repeated names joined with commas, ``cookie`` moved out:
        what API Gateway puts in a 2.0 event."""
        joined: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            if key == "cookie":
                continue
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        return joined

    def _cookies(self) -> list[str]:
        cookies: list[str] = []
        for header in self.headers.get_all("Cookie") or []:
            cookies.extend(c.strip() for c in header.split(";") if c.strip())
        return cookies

    def _send_answer(self, answer: Mapping[str, Any]) -> int:
        status = int(answer.get("statusCode", 200))
        body = answer.get("body") or ""
        payload = (
            base64.b64decode(body)
            if answer.get("isBase64Encoded")
            else str(body).encode("utf-8")
        )
        self.send_response(status)
        for name, value in (answer.get("headers") or {}).items():
            if name.lower() != "content-length":
                self.send_header(name, str(value))
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            if name.lower() != "content-length":
                for value in values:
                    self.send_header(name, str(value))
        for cookie in answer.get("cookies") or []:
            self.send_header("Set-Cookie", str(cookie))
        self._finish(payload)
        return status

    def _send_page(self, status: HTTPStatus) -> int:
        """A page in the product's own look and headers for what API Gateway
        would not route."""
        page = error_page(
            status=status.value,
            title="Page not found" if status == HTTPStatus.NOT_FOUND else status.phrase,
            advice="This address is not part of the Miro connection.",
            reference=uuid.uuid4().hex[:16],
            restart_url="/install",
        )
        self.send_response(status)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self._finish(page.html.encode("utf-8"))
        return status.value

    def _finish(self, payload: bytes) -> None:
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: ``_dispatch`` logs each request without its query."""

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the standard messages quote the full request line."""
