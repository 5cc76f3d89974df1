"""Miro's token and revoke endpoints, called the one way Miro accepts.

Every token request is ``POST`` with an ``application/x-www-form-urlencoded``
body (never JSON, never the query string), client credentials as
``client_id`` and ``client_secret`` body parameters (Miro documents no HTTP
Basic), TLS verified, redirects not followed. ``requests`` encodes the form,
so a secret with ``+``, ``&`` or ``%`` in it arrives intact. The v2 revoke
endpoint is the exception: it takes a JSON body and nothing else.

A connection that fails before the request is sent is retried by urllib3;
once the request may have reached Miro nothing is retried, because a code or
refresh token is spent the moment Miro reads it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from miro_oauth import errors
from miro_oauth.config import DEFAULT_REVOKE_URL
from miro_oauth.diagnosis import diagnose
from miro_oauth.tokens import TokenResponseInvalid, TokenSet

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
# What the handler keeps for itself after the provider call: storing tokens
# and answering the browser.
RESERVED_SECONDS = 2.5


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float

    @classmethod
    def within(cls, remaining_ms: int | None) -> Timeouts:
        """Time-outs that end before the Lambda does, leaving time to record it."""
        if remaining_ms is None:
            return cls(CONNECT_TIMEOUT, READ_TIMEOUT)
        budget = max(remaining_ms / 1000 - RESERVED_SECONDS, 1.0)
        connect = min(CONNECT_TIMEOUT, budget / 3)
        return cls(connect=connect, read=min(READ_TIMEOUT, budget - connect))


def new_session() -> requests.Session:
    """A pooled session that retries only connections that never carried data."""
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
        other=0,
        redirect=0,
        backoff_factor=0.2,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": "application/json"})
    return session


def _was_sent(exc: requests.ConnectionError) -> bool:
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, ProtocolError)


class MiroTokenClient:
    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        revoke_url: str = DEFAULT_REVOKE_URL,
        session: requests.Session | None = None,
    ) -> None:
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.client_id = client_id
        self.session = session or new_session()

    def exchange_code(
        self,
        *,
        code: str,
        redirect_uri: str,
        client_secret: str,
        code_verifier: str | None,
        timeouts: Timeouts,
        flow_age: float | None = None,
    ) -> TokenSet:
        """RFC 6749 4.1.3: trade the authorization code for tokens, once."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "client_secret": client_secret,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token_request(form, timeouts, flow_age)

    def refresh(
        self, *, refresh_token: str, client_secret: str, timeouts: Timeouts
    ) -> TokenSet:
        """RFC 6749 6: Miro answers with a new pair and retires the old one."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
            "client_secret": client_secret,
        }
        return self._token_request(form, timeouts, None)

    def revoke(
        self, *, access_token: str, client_secret: str, timeouts: Timeouts
    ) -> bool:
        """Miro v2 revoke: True when revoked now, False when Miro had no such token.

        Revoking the access token revokes its refresh token too. Miro answers
        204, or 404 for a token it does not know (already revoked, app
        uninstalled), which for a disconnect is the same result.
        """
        body = {
            "accessToken": access_token,
            "clientId": self.client_id,
            "clientSecret": client_secret,
        }
        response = self._post(self.revoke_url, "revoke", timeouts, json_body=body)
        if response.status_code in (200, 204):
            return True
        if response.status_code == 404:
            return False
        failure = diagnose(response.status_code, response.headers, response.content)
        failure.fields["grant"] = "revoke"
        raise failure

    def _token_request(
        self, form: dict[str, str], timeouts: Timeouts, flow_age: float | None
    ) -> TokenSet:
        grant = form["grant_type"]
        response = self._post(self.token_url, grant, timeouts, form=form)
        log.debug("token endpoint answered %s", response.status_code)
        if response.status_code != 200:
            failure = diagnose(
                response.status_code,
                response.headers,
                response.content,
                flow_age=flow_age,
            )
            failure.fields["grant"] = grant
            raise failure
        try:
            return TokenSet.from_response(response.json())
        except (ValueError, TokenResponseInvalid) as exc:
            detail = str(exc) if isinstance(exc, TokenResponseInvalid) else "not JSON"
            raise errors.UnexpectedResponse(
                f"HTTP 200 but {detail}", provider_status=200, grant=grant
            ) from None

    def _post(
        self,
        url: str,
        grant: str,
        timeouts: Timeouts,
        *,
        form: dict[str, str] | None = None,
        json_body: dict[str, str] | None = None,
    ) -> requests.Response:
        try:
            return self.session.post(
                url,
                data=form,
                json=json_body,
                timeout=(timeouts.connect, timeouts.read),
                allow_redirects=False,
            )
        except requests.ConnectionError as exc:
            # A refused or unreachable host never saw the request; a connection
            # dropped mid-answer may have, and either way it is not resent.
            raise errors.ProviderUnavailable(
                "connection to Miro failed",
                grant=grant,
                connection_error=type(exc).__name__,
                request_sent=_was_sent(exc),
            ) from None
        except requests.Timeout:
            raise errors.ProviderTimeout(
                f"no answer within {timeouts.read:.1f}s", grant=grant
            ) from None
        except requests.RequestException as exc:
            raise errors.ProviderUnavailable(
                "request to Miro failed", grant=grant, request_error=type(exc).__name__
            ) from None
