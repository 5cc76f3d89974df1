"""The start of the flow: a fresh state, bound to this browser, then Miro.

RFC 6749 4.1.1 with RFC 7636 (S256). The state record keeps the exact
redirect URI sent here, so the token request repeats it byte for byte.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from miro_oauth import errors
from miro_oauth.flow import FlowSecrets, cookie_name, pkce_challenge
from miro_oauth.runtime import Runtime

TEAM_ID_PATTERN = re.compile(r"[0-9]{1,32}")


@dataclass(frozen=True)
class InstallStart:
    authorize_url: str
    cookie_name: str
    binding: str
    pkce: bool
    team_id: str | None


class InstallFlow:
    def __init__(
        self, runtime: Runtime, clock: Callable[[], float] = time.time
    ) -> None:
        self.runtime = runtime
        self.clock = clock

    def start(self, query: Mapping[str, str], domain_name: str) -> InstallStart:
        settings = self.runtime.settings
        team_id = query.get("team_id") or None
        if team_id is not None and not TEAM_ID_PATTERN.fullmatch(team_id):
            raise errors.InvalidCallback(
                "team_id is not a Miro team id", parameter="team_id"
            )

        flow = FlowSecrets.new(pkce=settings.pkce_enabled)
        redirect_uri = settings.redirect_uri_for(domain_name)
        self.runtime.flows.put_state(
            state=flow.state,
            binding=flow.binding,
            redirect_uri=redirect_uri,
            code_verifier=flow.code_verifier,
            team_id=team_id,
            now=self.clock(),
        )

        params = {
            "response_type": "code",
            "client_id": settings.client_id,
            "redirect_uri": redirect_uri,
            "state": flow.state,
        }
        if team_id:
            params["team_id"] = team_id
        if flow.code_verifier:
            params["code_challenge"] = pkce_challenge(flow.code_verifier)
            params["code_challenge_method"] = "S256"
        return InstallStart(
            authorize_url=f"{settings.authorize_url}?{urlencode(params)}",
            cookie_name=cookie_name(flow.state),
            binding=flow.binding,
            pkce=flow.code_verifier is not None,
            team_id=team_id,
        )
