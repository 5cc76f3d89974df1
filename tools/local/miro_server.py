"""A local stand-in for Miro's OAuth 2.0 authorization server.

It listens on loopback only and answers on Miro's own paths:

    GET  /oauth/authorize            consent page with Allow and Deny
    POST /oauth/authorize/decision   target of the consent form; 302 to the app
    POST /v1/oauth/token             authorization_code and refresh_token grants
    POST /v2/oauth/revoke            revoke an access token and its refresh token
    GET  /v1/oauth-token             describe a bearer token

Where Miro's rules are loose or undocumented it is the stricter of the two, so
that a client which works against it makes none of the usual token-exchange
mistakes: form-encoded bodies only, client credentials in the body only,
single-use codes that expire after ten minutes, redirect URIs compared byte for
byte, S256 PKCE whenever the authorize step carried a challenge, and refresh
tokens that rotate.

Tests drive it in-process: ``approve()`` plays the user clicking Allow,
``inject()`` queues failures for the token endpoint and ``advance()`` moves the
server's clock. Codes, tokens and secrets are never logged; each request is
logged as method, path and status.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html
import ipaddress
import json
import logging
import re
import secrets
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Final, Self
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

REGION_MARKER: Final = "eyJtaXJvLm9yaWdpbiI6ImV1MDEifQ_"
CODE_LIFETIME_SECONDS: Final = 600
REFRESH_TOKEN_LIFETIME_SECONDS: Final = 60 * 24 * 60 * 60
MAX_BODY_BYTES: Final = 64 * 1024

AUTHORIZE_PATH: Final = "/oauth/authorize"
DECISION_PATH: Final = "/oauth/authorize/decision"
TOKEN_PATH: Final = "/v1/oauth/token"  # noqa: S105 (a path, not a secret)
REVOKE_PATH: Final = "/v2/oauth/revoke"
TOKEN_INFO_PATH: Final = "/v1/oauth-token"  # noqa: S105 (a path, not a secret)

_ROUTES: Final[Mapping[str, frozenset[str]]] = {
    AUTHORIZE_PATH: frozenset({"GET"}),
    DECISION_PATH: frozenset({"POST"}),
    TOKEN_PATH: frozenset({"POST"}),
    REVOKE_PATH: frozenset({"POST"}),
    TOKEN_INFO_PATH: frozenset({"GET"}),
}
_RECORDED_PATHS: Final = frozenset({TOKEN_PATH, REVOKE_PATH})
_AUTHORIZE_PARAMETERS: Final = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "team_id",
    "code_challenge",
    "code_challenge_method",
)
_FORM_TYPE: Final = "application/x-www-form-urlencoded"
_ORGANIZATION_ID: Final = "3458764517517819001"
_NUMERIC_ID = re.compile(r"[0-9]+")
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")

_JSON_HEADERS: Final[Mapping[str, str]] = {
    "Content-Type": "application/json;charset=UTF-8",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}
_HTML_HEADERS: Final[Mapping[str, str]] = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}


def _miro_error_body(status: int, message: str, code: str) -> bytes:
    """Miro's error shape: ``{"status", "code", "message", "type": "error"}``."""
    payload = {"status": status, "code": code, "message": message, "type": "error"}
    return json.dumps(payload).encode()


@dataclass(frozen=True)
class Fault:
    """One answer the token endpoint gives instead of its own.

    ``after_processing`` models Miro doing the work while its answer is lost:
    the code is consumed or the refresh token rotated, then the client sees
    this fault. When ``headers`` has no ``Content-Type`` the body is sent as
    JSON if it parses as JSON and as HTML otherwise.
    """

    status: int = 500
    body: bytes = _miro_error_body(500, "Internal server error.", "internalError")
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop_connection: bool = False
    after_processing: bool = False

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status code")
        if self.delay < 0:
            raise ValueError("delay must not be negative")

    @classmethod
    def rate_limited(cls, *, limit: int = 100_000, reset_in: int = 60) -> Fault:
        """Miro's 429 with its ``X-RateLimit-*`` headers."""
        body = _miro_error_body(429, "Too many requests.", "tooManyRequests")
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + reset_in),
        }
        return cls(status=429, body=body, headers=headers)

    @classmethod
    def error_page(cls, status: int = 502) -> Fault:
        """A non-JSON page, as a proxy in front of the provider sends."""
        phrase = HTTPStatus(status).phrase
        body = f"<html><body><h1>{status} {phrase}</h1></body></html>"
        return cls(status=status, body=body.encode())

    @classmethod
    def oauth_error(cls, error: str, description: str, status: int = 400) -> Fault:
        """An RFC 6749 section 5.2 error body, as other OAuth servers send."""
        body = json.dumps({"error": error, "error_description": description})
        return cls(status=status, body=body.encode())

    @classmethod
    def answer_lost(cls) -> Fault:
        """Process the request for real, then close the socket unanswered."""
        return cls(drop_connection=True, after_processing=True)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the token or revoke endpoint received.

    Header names are lower-cased; ``form`` is the parsed body when it was
    form-encoded; ``at`` is read from the server clock. Only path, method and
    time appear in ``repr`` because the rest carries credentials.
    """

    path: str
    method: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    form: dict[str, list[str]] = field(repr=False)
    query: dict[str, list[str]] = field(repr=False)
    at: float


class AuthorizeRequestError(ValueError):
    """The authorize request names an unknown client or an unregistered
    redirect URI, so there is nowhere safe to redirect to (RFC 6749 4.1.2.1).
    """


@dataclass
class _Grant:
    """An authorization code and what the authorize step bound to it."""

    grant_id: str
    redirect_uri: str
    team_id: str
    user_id: str
    scope: str
    code_challenge: str | None
    issued_at: float
    used: bool = False


@dataclass
class _TokenPair:
    """One issued access token and its refresh token.

    ``grant_id`` follows every rotation back to the code the pair came from,
    so reusing that code can revoke the whole line (RFC 6749 4.1.2).
    """

    access_token: str
    refresh_token: str | None
    grant_id: str
    team_id: str
    user_id: str
    scope: str
    access_expires_at: float | None
    refresh_expires_at: float | None
    alive: bool = True


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class _OAuthError(Exception):
    """A refusal the token or revoke endpoint answers in Miro's error shape."""

    def __init__(self, status: int, message: str, code: str = "oauthError") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def reply(self) -> _Reply:
        return _miro_error(self.status, self.message, self.code)


def _json_reply(status: int, payload: object) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), _JSON_HEADERS)


def _miro_error(status: int, message: str, code: str = "oauthError") -> _Reply:
    return _Reply(status, _miro_error_body(status, message, code), _JSON_HEADERS)


def _redirect(location: str) -> _Reply:
    headers = {
        "Location": location,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    return _Reply(HTTPStatus.FOUND, b"", headers)


def _fault_reply(fault: Fault) -> _Reply:
    headers = dict(fault.headers)
    if fault.body and not any(name.lower() == "content-type" for name in headers):
        try:
            json.loads(fault.body)
        except ValueError:
            headers["Content-Type"] = "text/html; charset=utf-8"
        else:
            headers["Content-Type"] = "application/json;charset=UTF-8"
    return _Reply(fault.status, fault.body, headers)


def _new_secret() -> str:
    """An opaque code or token in Miro's format: region marker, then randomness."""
    return REGION_MARKER + secrets.token_urlsafe(32)


def _single_values(pairs: Mapping[str, list[str]]) -> dict[str, str]:
    """Reject repeated parameters (RFC 6749 3.1 and 3.2)."""
    for name, values in pairs.items():
        if len(values) > 1:
            raise AuthorizeRequestError(f"Parameter {name!r} is repeated.")
    return {name: values[0] for name, values in pairs.items()}


def _with_query(url: str, parameters: Sequence[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    added = urlencode(parameters)
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


def _lower_case_headers(message: Message) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in message:
        key = name.lower()
        if key not in headers:
            headers[key] = ", ".join(message.get_all(name, []))
    return headers


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _s256(verifier: str) -> str:
    """RFC 7636 4.2: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _loggable_path(path: str) -> str:
    """Known paths carry no secrets; anything else might, so it is not logged."""
    return path if path in _ROUTES else "(unknown path)"


def _page(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; color: #1f2937; margin: 0; }}
main {{ max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }}
label {{ display: block; font-weight: 600; margin-top: 1rem; }}
input[readonly] {{ width: 100%; font: inherit; padding: .25rem;
  border: 1px solid #6b7280; background: #f3f4f6; color: inherit; }}
.actions {{ display: flex; gap: 1rem; margin-top: 2rem; }}
button {{ font: inherit; padding: .5rem 1.5rem; border-radius: .25rem;
  border: 2px solid #1d4ed8; cursor: pointer; }}
#allow {{ background: #1d4ed8; color: #fff; }}
#deny {{ background: #fff; color: #1d4ed8; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #f59e0b;
  outline-offset: 2px; }}
</style>
</head>
<body>
<main>
{content}
</main>
</body>
</html>
"""


def _consent_page(parameters: Mapping[str, str], team_id: str, scope: str) -> bytes:
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in parameters.items()
        if name in _AUTHORIZE_PARAMETERS
    )
    client_id = html.escape(parameters["client_id"])
    content = f"""<h1 id="heading">Authorize app</h1>
<p>An app asks to access your boards on this local Miro server.</p>
<label for="client">App (client id)</label>
<input id="client" value="{client_id}" readonly>
<label for="team">Team</label>
<input id="team" value="{html.escape(team_id)}" readonly>
<label for="scope">Permissions</label>
<input id="scope" value="{html.escape(scope)}" readonly>
<form method="post" action="{DECISION_PATH}" aria-labelledby="heading">
{hidden}
<div class="actions">
<button type="submit" id="allow" name="decision" value="allow">Allow</button>
<button type="submit" id="deny" name="decision" value="deny">Deny</button>
</div>
</form>"""
    return _page("Local Miro — authorize app", content).encode()


def _error_page(status: int, message: str) -> _Reply:
    content = f"""<h1>Authorization request rejected</h1>
<p role="alert">{html.escape(message)}</p>
<p>The app sent an authorization request this server cannot accept, so it
does not redirect back to the app.</p>"""
    body = _page("Local Miro — authorization error", content).encode()
    return _Reply(status, body, _HTML_HEADERS)


class MiroServer:
    """Miro's OAuth endpoints on ``127.0.0.1``, for tests and the local stack.

    One app (``client_id``, ``client_secret``, ``redirect_uris``) and one user
    are known. ``team_id`` is the team codes are issued for unless the
    authorize request names another numeric team. ``clock`` plus whatever
    ``advance()`` added is the server's notion of now. With ``numeric_ids``
    the token response carries ``user_id``/``team_id`` as bare JSON numbers,
    as one of Miro's documentation examples does.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: Sequence[str],
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        access_token_ttl: int = 3599,
        expiring_tokens: bool = True,
        numeric_ids: bool = False,
        team_id: str = "3458764517517818867",
        user_id: str = "3458764517517852417",
        scope: str = "boards:read boards:write",
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"host {host!r} is not a loopback address")
        if not redirect_uris:
            raise ValueError("at least one redirect URI must be registered")
        if access_token_ttl <= 0:
            raise ValueError("access_token_ttl must be positive")
        for name, value in (("team_id", team_id), ("user_id", user_id)):
            if not _NUMERIC_ID.fullmatch(value):
                raise ValueError(f"{name} must be a numeric Miro id")

        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uris: tuple[str, ...] = tuple(redirect_uris)
        self.team_id = team_id
        self.user_id = user_id
        self.scope = scope
        self._host = host
        self._port = port
        self._clock = clock
        self._access_token_ttl = access_token_ttl
        self._expiring_tokens = expiring_tokens
        self._numeric_ids = numeric_ids

        self._lock = threading.Lock()
        self._offset = 0.0
        self._grants: dict[str, _Grant] = {}
        self._pairs: list[_TokenPair] = []
        self._by_access: dict[str, _TokenPair] = {}
        self._by_refresh: dict[str, _TokenPair] = {}
        self._recorded: dict[str, list[RecordedRequest]] = {
            path: [] for path in _RECORDED_PATHS
        }
        self._faults: dict[str, deque[Fault]] = {
            path: deque() for path in _RECORDED_PATHS
        }
        self._stopping = threading.Event()
        self._http: _MiroHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> Self:
        """Bind and serve in a daemon thread; port 0 picks a free port."""
        if self._http is not None:
            raise RuntimeError("the server is already running")
        self._stopping.clear()
        self._http = _MiroHTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-miro",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests held by a ``delay`` fault are released."""
        http, thread = self._http, self._thread
        if http is None:
            return
        self._stopping.set()
        http.shutdown()
        http.server_close()
        if thread is not None:
            thread.join()
        self._http = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Addresses

    @property
    def base_url(self) -> str:
        if self._http is None:
            raise RuntimeError("the server is not running")
        port = self._http.socket.getsockname()[1]
        return f"http://{self._host}:{port}"

    @property
    def authorize_url(self) -> str:
        return self.base_url + AUTHORIZE_PATH

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def revoke_url(self) -> str:
        return self.base_url + REVOKE_PATH

    @property
    def token_info_url(self) -> str:
        return self.base_url + TOKEN_INFO_PATH

    # The user at the consent page

    def approve(self, authorize_query: Mapping[str, str]) -> str:
        """Click Allow: issue a code and return the URL Miro redirects to.

        The URL is ``redirect_uri?code=..&state=..&client_id=..&team_id=..``.
        A request that can be answered by redirect but not granted (wrong
        ``response_type``, unsupported PKCE method) gives the RFC 6749
        4.1.2.1 error redirect instead. Raises ``AuthorizeRequestError``
        for an unknown client or unregistered redirect URI.
        """
        parameters = dict(authorize_query)
        redirect_uri = self._check_client(parameters)
        state = [("state", parameters["state"])] if "state" in parameters else []

        problem = _authorize_problem(parameters)
        if problem is not None:
            error, description = problem
            details = [("error", error), ("error_description", description)]
            return _with_query(redirect_uri, details + state)

        code = _new_secret()
        team_id = parameters.get("team_id") or self.team_id
        grant = _Grant(
            grant_id=uuid.uuid4().hex,
            redirect_uri=redirect_uri,
            team_id=team_id,
            user_id=self.user_id,
            scope=self.scope,
            code_challenge=parameters.get("code_challenge"),
            issued_at=self._now(),
        )
        with self._lock:
            self._grants[code] = grant

        answer = [("code", code), *state]
        answer += [("client_id", self.client_id), ("team_id", team_id)]
        return _with_query(redirect_uri, answer)

    def deny(self, authorize_query: Mapping[str, str]) -> str:
        """Click Deny: the ``error=access_denied`` redirect (RFC 6749 4.1.2.1)."""
        parameters = dict(authorize_query)
        redirect_uri = self._check_client(parameters)
        answer = [
            ("error", "access_denied"),
            ("error_description", "The user denied the authorization request."),
        ]
        if "state" in parameters:
            answer.append(("state", parameters["state"]))
        return _with_query(redirect_uri, answer)

    def approve_url(self, authorize_url: str) -> str:
        """``approve()`` for a full authorize URL, such as an install redirect."""
        return self.approve(self._authorize_parameters(authorize_url))

    def deny_url(self, authorize_url: str) -> str:
        """``deny()`` for a full authorize URL."""
        return self.deny(self._authorize_parameters(authorize_url))

    # Test controls

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each token-endpoint request takes the next one."""
        with self._lock:
            self._faults[TOKEN_PATH].extend(faults)

    def inject_revoke(self, *faults: Fault) -> None:
        """Queue faults for the revoke endpoint, apart from the token queue."""
        with self._lock:
            self._faults[REVOKE_PATH].extend(faults)

    @property
    def pending_faults(self) -> int:
        """Faults queued for the token endpoint and not yet used."""
        with self._lock:
            return len(self._faults[TOKEN_PATH])

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward; codes and tokens age with it."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def expire_refresh_tokens_for(self, team_id: str, user_id: str) -> None:
        """Make the live refresh tokens of one installation expire now."""
        now = self._now()
        with self._lock:
            for pair in self._pairs:
                if pair.alive and (pair.team_id, pair.user_id) == (team_id, user_id):
                    pair.refresh_expires_at = now

    def revoke_all(self) -> None:
        """Kill every issued token, as uninstalling the app does."""
        with self._lock:
            for pair in self._pairs:
                pair.alive = False

    # Introspection

    @property
    def token_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._recorded[TOKEN_PATH])

    @property
    def revoke_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._recorded[REVOKE_PATH])

    def requests_for_code(self, code: str) -> int:
        """How many token requests carried ``code``, in the body or the query."""
        return sum(
            code in request.form.get("code", [])
            or code in request.query.get("code", [])
            for request in self.token_requests
        )

    def refresh_requests(self) -> int:
        """How many token requests asked for ``grant_type=refresh_token``."""
        return sum(
            "refresh_token" in request.form.get("grant_type", [])
            or "refresh_token" in request.query.get("grant_type", [])
            for request in self.token_requests
        )

    def live_access_token(self, team_id: str, user_id: str) -> str | None:
        """The newest access token of an installation that still works."""
        now = self._now()
        with self._lock:
            for pair in reversed(self._pairs):
                if (pair.team_id, pair.user_id) == (team_id, user_id) and (
                    _access_works(pair, now)
                ):
                    return pair.access_token
        return None

    def live_refresh_token(self, team_id: str, user_id: str) -> str | None:
        """The newest refresh token of an installation that still works."""
        now = self._now()
        with self._lock:
            for pair in reversed(self._pairs):
                if (pair.team_id, pair.user_id) == (team_id, user_id) and (
                    _refresh_works(pair, now)
                ):
                    return pair.refresh_token
        return None

    def is_access_token_valid(self, token: str) -> bool:
        now = self._now()
        with self._lock:
            pair = self._by_access.get(token)
            return pair is not None and _access_works(pair, now)

    def is_refresh_token_valid(self, token: str) -> bool:
        now = self._now()
        with self._lock:
            pair = self._by_refresh.get(token)
            return pair is not None and _refresh_works(pair, now)

    # Authorize step

    def _now(self) -> float:
        return self._clock() + self._offset

    def _authorize_parameters(self, authorize_url: str) -> dict[str, str]:
        parts = urlsplit(authorize_url)
        if parts.path != AUTHORIZE_PATH:
            raise AuthorizeRequestError(f"Not an authorize URL: {parts.path!r}.")
        return _single_values(parse_qs(parts.query, keep_blank_values=True))

    def _check_client(self, parameters: Mapping[str, str]) -> str:
        """The client must be known and ``redirect_uri`` registered exactly."""
        client_id = parameters.get("client_id")
        if client_id is None:
            raise AuthorizeRequestError("client_id is missing.")
        if client_id != self.client_id:
            raise AuthorizeRequestError(f"Unknown client_id {client_id!r}.")
        redirect_uri = parameters.get("redirect_uri")
        if redirect_uri is None:
            raise AuthorizeRequestError("redirect_uri is missing.")
        if redirect_uri not in self.redirect_uris:
            raise AuthorizeRequestError(
                f"redirect_uri {redirect_uri!r} is not registered for this app."
            )
        return redirect_uri

    def _authorize_page(self, query: str) -> _Reply:
        try:
            parameters = _single_values(parse_qs(query, keep_blank_values=True))
            self._check_client(parameters)
        except AuthorizeRequestError as rejection:
            return _error_page(HTTPStatus.BAD_REQUEST, str(rejection))

        if _authorize_problem(parameters) is not None:
            return _redirect(self.approve(parameters))

        team_id = parameters.get("team_id") or self.team_id
        page = _consent_page(parameters, team_id, self.scope)
        return _Reply(HTTPStatus.OK, page, _HTML_HEADERS)

    def _decision(self, body: bytes) -> _Reply:
        try:
            form = parse_qs(body.decode(), keep_blank_values=True)
            parameters = _single_values(form)
            decision = parameters.pop("decision", "")
            authorize = {
                name: value
                for name, value in parameters.items()
                if name in _AUTHORIZE_PARAMETERS
            }
            if decision == "allow":
                return _redirect(self.approve(authorize))
            if decision == "deny":
                return _redirect(self.deny(authorize))
            raise AuthorizeRequestError("Choose Allow or Deny.")
        except UnicodeDecodeError:
            return _error_page(HTTPStatus.BAD_REQUEST, "The form is not UTF-8.")
        except AuthorizeRequestError as rejection:
            return _error_page(HTTPStatus.BAD_REQUEST, str(rejection))

    # Token endpoint

    def _record(
        self, path: str, method: str, message: Message, body: bytes, query: str
    ) -> RecordedRequest:
        headers = _lower_case_headers(message)
        form: dict[str, list[str]] = {}
        if _media_type(headers) == _FORM_TYPE:
            text = body.decode("utf-8", errors="replace")
            form = parse_qs(text, keep_blank_values=True)
        request = RecordedRequest(
            path=path,
            method=method,
            headers=headers,
            body=body,
            form=form,
            query=parse_qs(query, keep_blank_values=True),
            at=self._now(),
        )
        with self._lock:
            self._recorded[path].append(request)
        return request

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults[path]
            return queue.popleft() if queue else None

    def _pause(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _answer(self, request: RecordedRequest) -> _Reply:
        try:
            if request.path == REVOKE_PATH:
                return self._revoke(request)
            return self._grant(request)
        except _OAuthError as refusal:
            return refusal.reply()

    def _grant(self, request: RecordedRequest) -> _Reply:
        form = _token_form(request)
        self._authenticate(form, request.headers)

        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            pair = self._exchange_code(form)
        elif grant_type == "refresh_token":
            pair = self._rotate(form)
        elif not grant_type:
            raise _OAuthError(400, "Invalid request: grant_type is missing.")
        else:
            raise _OAuthError(400, f"Unsupported grant type {grant_type!r}.")

        return _json_reply(HTTPStatus.OK, self._token_body(pair))

    def _authenticate(
        self, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> None:
        """Client credentials as ``client_id``/``client_secret`` body parameters,
        the only way Miro documents; HTTP Basic is refused.
        """
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        if client_id is None or client_secret is None:
            if headers.get("authorization", "").lower().startswith("basic "):
                raise _OAuthError(
                    401,
                    "Invalid client credentials: send client_id and client_secret "
                    "in the request body; HTTP Basic is not supported.",
                )
            raise _OAuthError(
                401, "Invalid client credentials: client_id and client_secret missing."
            )
        if not (
            _same(client_id, self.client_id) & _same(client_secret, self._client_secret)
        ):
            raise _OAuthError(401, "Invalid client credentials.")

    def _exchange_code(self, form: Mapping[str, str]) -> _TokenPair:
        """Codes are single use and live ten minutes; a second use revokes the
        tokens already issued from the code (RFC 6749 4.1.2). A refused
        exchange (wrong redirect URI or verifier) leaves the code unused.
        """
        code = form.get("code")
        if not code:
            raise _OAuthError(400, "Invalid request: code is missing.")

        with self._lock:
            grant = self._grants.get(code)
            if grant is None:
                raise _OAuthError(401, "Invalid authorization code.")
            if grant.used:
                self._revoke_grant(grant.grant_id)
                raise _OAuthError(401, "Authorization code has already been used.")
            if self._now() - grant.issued_at > CODE_LIFETIME_SECONDS:
                raise _OAuthError(401, "Authorization code has expired.")
            if form.get("redirect_uri") != grant.redirect_uri:
                raise _OAuthError(401, "Redirect URI mismatch.")
            _verify_pkce(grant.code_challenge, form.get("code_verifier"))

            grant.used = True
            return self._issue(grant.grant_id, grant.team_id, grant.user_id)

    def _rotate(self, form: Mapping[str, str]) -> _TokenPair:
        """Each refresh returns a new pair and kills the old one."""
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise _OAuthError(400, "Invalid request: refresh_token is missing.")

        with self._lock:
            pair = self._by_refresh.get(refresh_token)
            if pair is None or not pair.alive:
                raise _OAuthError(401, "Invalid refresh token.")
            if not _refresh_works(pair, self._now()):
                raise _OAuthError(401, "Refresh token has expired.")

            pair.alive = False
            return self._issue(pair.grant_id, pair.team_id, pair.user_id)

    def _issue(self, grant_id: str, team_id: str, user_id: str) -> _TokenPair:
        """Create a token pair; the caller holds the lock."""
        now = self._now()
        expiring = self._expiring_tokens
        pair = _TokenPair(
            access_token=_new_secret(),
            refresh_token=_new_secret() if expiring else None,
            grant_id=grant_id,
            team_id=team_id,
            user_id=user_id,
            scope=self.scope,
            access_expires_at=now + self._access_token_ttl if expiring else None,
            refresh_expires_at=now + REFRESH_TOKEN_LIFETIME_SECONDS
            if expiring
            else None,
        )
        self._pairs.append(pair)
        self._by_access[pair.access_token] = pair
        if pair.refresh_token is not None:
            self._by_refresh[pair.refresh_token] = pair
        return pair

    def _revoke_grant(self, grant_id: str) -> None:
        """Kill every token descended from one code; the caller holds the lock."""
        for pair in self._pairs:
            if pair.grant_id == grant_id:
                pair.alive = False

    def _token_body(self, pair: _TokenPair) -> dict[str, object]:
        user_id: object = int(pair.user_id) if self._numeric_ids else pair.user_id
        team_id: object = int(pair.team_id) if self._numeric_ids else pair.team_id
        body: dict[str, object] = {
            "user_id": user_id,
            "access_token": pair.access_token,
            "team_id": team_id,
            "scope": pair.scope,
            "token_type": "bearer",
        }
        if pair.refresh_token is not None:
            body["refresh_token"] = pair.refresh_token
            body["expires_in"] = self._access_token_ttl
        return body

    # Revoke and token description

    def _revoke(self, request: RecordedRequest) -> _Reply:
        """Revoking an access token also revokes its refresh token."""
        if _media_type(request.headers) != "application/json":
            raise _OAuthError(
                400, "Invalid request: unsupported content type; send JSON."
            )
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise _OAuthError(400, "Invalid request: body is not JSON.") from None
        if not isinstance(payload, dict):
            raise _OAuthError(400, "Invalid request: body must be a JSON object.")
        fields = {
            name: payload.get(name)
            for name in ("accessToken", "clientId", "clientSecret")
        }
        for name, value in fields.items():
            if not isinstance(value, str):
                raise _OAuthError(400, f"Invalid request: {name} is missing.")
        access_token = str(fields["accessToken"])
        if not (
            _same(str(fields["clientId"]), self.client_id)
            & _same(str(fields["clientSecret"]), self._client_secret)
        ):
            raise _OAuthError(401, "Invalid client credentials.")

        with self._lock:
            pair = self._by_access.get(access_token)
            if pair is None or not pair.alive:
                raise _OAuthError(404, "Token not found.", "tokenNotFound")
            pair.alive = False
        return _Reply(HTTPStatus.NO_CONTENT)

    def _token_info(self, authorization: str | None) -> _Reply:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _miro_error(401, "No access token was provided.", "tokenNotProvided")
        if not self.is_access_token_valid(token.strip()):
            return _miro_error(
                401, "Access token is invalid or expired.", "tokenNotFound"
            )

        with self._lock:
            pair = self._by_access[token.strip()]
        user = {"type": "user", "id": pair.user_id, "name": "Local User"}
        description = {
            "type": "token",
            "scopes": pair.scope.split(),
            "team": {"type": "team", "id": pair.team_id, "name": "Local Team"},
            "user": user,
            "createdBy": user,
            "organization": {
                "type": "organization",
                "id": _ORGANIZATION_ID,
                "name": "Local Organization",
            },
        }
        return _json_reply(HTTPStatus.OK, description)


def _authorize_problem(parameters: Mapping[str, str]) -> tuple[str, str] | None:
    """An RFC 6749 4.1.2.1 error that can be reported by redirect, if any."""
    if parameters.get("response_type") != "code":
        return "unsupported_response_type", "Only response_type=code is supported."
    team_id = parameters.get("team_id")
    if team_id and not _NUMERIC_ID.fullmatch(team_id):
        return "invalid_request", "team_id must be a numeric Miro team id."

    challenge = parameters.get("code_challenge")
    method = parameters.get("code_challenge_method")
    if challenge is None and method is None:
        return None
    if challenge is None:
        return "invalid_request", "code_challenge_method without code_challenge."
    if method != "S256":
        return "invalid_request", "Only code_challenge_method=S256 is supported."
    if not _S256_CHALLENGE.fullmatch(challenge):
        return "invalid_request", "code_challenge is not a base64url SHA-256 digest."
    return None


def _token_form(request: RecordedRequest) -> dict[str, str]:
    """The token request's parameters, from a form-encoded body only."""
    if request.query:
        raise _OAuthError(
            400,
            "Invalid request: send parameters in the request body, "
            "not in the query string.",
        )
    if _media_type(request.headers) != _FORM_TYPE:
        raise _OAuthError(
            401,
            f"Invalid request: unsupported content type; send {_FORM_TYPE}.",
        )
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise _OAuthError(400, "Invalid request: body is not UTF-8.") from None
    pairs = parse_qsl(text, keep_blank_values=True)
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _OAuthError(400, f"Invalid request: {name} is repeated.")
        form[name] = value
    return form


def _verify_pkce(challenge: str | None, verifier: str | None) -> None:
    """RFC 7636 4.6, and RFC 9700 2.1.1: a verifier without a challenge at the
    authorize step is refused, so PKCE cannot be silently downgraded.
    """
    if challenge is None:
        if verifier is not None:
            raise _OAuthError(
                401, "Invalid code verifier: the authorize step sent no challenge."
            )
        return
    if verifier is None:
        raise _OAuthError(401, "Code verifier is missing.")
    if not _CODE_VERIFIER.fullmatch(verifier) or not _same(_s256(verifier), challenge):
        raise _OAuthError(401, "Invalid code verifier.")


def _access_works(pair: _TokenPair, now: float) -> bool:
    expires_at = pair.access_expires_at
    return pair.alive and (expires_at is None or now < expires_at)


def _refresh_works(pair: _TokenPair, now: float) -> bool:
    expires_at = pair.refresh_expires_at
    return (
        pair.alive
        and pair.refresh_token is not None
        and (expires_at is None or now < expires_at)
    )


class _MiroRequestHandler(BaseHTTPRequestHandler):
    """HTTP plumbing; every decision is made by ``MiroServer``."""

    server: _MiroHTTPServer
    server_version = "LocalMiro/1.0"
    sys_version = ""
    timeout = 30.0

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        target = urlsplit(self.path)
        try:
            self._route(target.path, target.query)
        except ConnectionError:
            self.close_connection = True
        except Exception:
            reference = uuid.uuid4().hex[:12]
            logger.exception(
                "unexpected failure on %s %s, reference %s",
                self.command,
                _loggable_path(target.path),
                reference,
            )
            message = f"Internal error, reference {reference}."
            self._send(_miro_error(500, message, "internalError"))

    def _route(self, path: str, query: str) -> None:
        methods = _ROUTES.get(path)
        if methods is None:
            self._send(_miro_error(404, "Not found.", "notFound"))
            return
        body = self._read_body()
        if isinstance(body, _Reply):
            self._send(body)
            return

        miro = self.server.miro
        if path in _RECORDED_PATHS:
            recorded = miro._record(path, self.command, self.headers, body, query)
            if self.command in methods:
                self._answer_with_faults(recorded)
            else:
                self._send(_method_not_allowed(methods))
        elif self.command not in methods:
            self._send(_method_not_allowed(methods))
        elif path == AUTHORIZE_PATH:
            self._send(miro._authorize_page(query))
        elif path == DECISION_PATH:
            self._send(miro._decision(body))
        else:
            self._send(miro._token_info(self.headers.get("Authorization")))

    def _answer_with_faults(self, request: RecordedRequest) -> None:
        miro = self.server.miro
        fault = miro._next_fault(request.path)
        if fault is None:
            self._send(miro._answer(request))
            return

        if fault.after_processing:
            miro._answer(request)
        if fault.delay:
            miro._pause(fault.delay)
        if fault.drop_connection:
            self._drop_connection()
            return
        self._send(_fault_reply(fault))

    def _read_body(self) -> bytes | _Reply:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return _miro_error(411, "Content-Length is required.", "lengthRequired")
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not _NUMERIC_ID.fullmatch(length.strip()):
            self.close_connection = True
            return _miro_error(400, "Invalid Content-Length.", "invalidRequest")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            return _miro_error(413, "Request body is too large.", "payloadTooLarge")
        return self.rfile.read(int(length))

    def _drop_connection(self) -> None:
        """Close the socket without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: _Reply) -> None:
        bodiless = reply.status in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        if not bodiless:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.body and not bodiless and self.command != "HEAD":
            self.wfile.write(reply.body)

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Protocol errors in JSON, never echoing the request line."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self._send(_miro_error(code, f"{phrase}.", "httpError"))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(getattr(self, "path", "")).path
        command = getattr(self, "command", None) or "-"
        logger.info("%s %s %s", command, _loggable_path(path), code)

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the standard messages can quote the full request line."""


def _method_not_allowed(methods: frozenset[str]) -> _Reply:
    reply = _miro_error(405, "Method not allowed.", "methodNotAllowed")
    headers = {**reply.headers, "Allow": ", ".join(sorted(methods))}
    return _Reply(reply.status, reply.body, headers)


class _MiroHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], miro: MiroServer) -> None:
        self.miro = miro
        super().__init__(address, _MiroRequestHandler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS look-up ``HTTPServer`` makes."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = host
        self.server_port = port

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that vanished mid-request is logged by kind, not traced."""
        error = sys.exc_info()[1]
        logger.warning("connection ended early: %s", type(error).__name__)
