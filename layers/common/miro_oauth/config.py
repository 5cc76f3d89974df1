"""Settings read once from the function's environment.

Every name here is set by ``template.yaml``; the local stack sets the same
names, so the handlers never know where they run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_AUTHORIZE_URL = "https://miro.com/oauth/authorize"
DEFAULT_TOKEN_URL = "https://api.miro.com/v1/oauth/token"  # noqa: S105
DEFAULT_REVOKE_URL = "https://api.miro.com/v2/oauth/revoke"

# Miro: an authorization code expires 10 minutes after it is issued.
CODE_LIFETIME_SECONDS = 600
# How long a started install may take to come back. A little longer than a
# code lives, so a late callback still finds its state, claims the code (which
# can then never be sent) and gets the precise "expired, start again" answer.
STATE_LIFETIME_SECONDS = 900
# Token lifecycle defaults; each has an environment variable of the same name.
REFRESH_MARGIN_SECONDS = 300
# Miro's refresh tokens live 60 days; refreshing at half that leaves a month
# of failed keep-alive runs before one is lost.
KEEPALIVE_AGE_DAYS = 30
MAX_REFRESH_FAILURES = 5
DEFAULT_EVENT_BUS = "default"


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed; the deployer must fix it."""


@dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret_arn: str
    redirect_uri: str
    authorize_url: str
    token_url: str
    revoke_url: str
    success_url: str
    pkce_enabled: bool
    flows_table: str
    installations_table: str
    token_key_id: str
    state_lifetime: int = STATE_LIFETIME_SECONDS
    install_url: str = ""
    event_bus_name: str = DEFAULT_EVENT_BUS
    refresh_margin_seconds: int = REFRESH_MARGIN_SECONDS
    keepalive_age_days: int = KEEPALIVE_AGE_DAYS
    max_refresh_failures: int = MAX_REFRESH_FAILURES

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set")
            return value

        def whole_number(name: str, default: int, low: int, high: int) -> int:
            text = env.get(name, "").strip()
            if not text:
                return default
            if not text.isdigit() or not low <= int(text) <= high:
                raise ConfigurationError(
                    f"{name} must be a whole number from {low} to {high}"
                )
            return int(text)

        pkce = env.get("PKCE_ENABLED", "true").strip().lower()
        if pkce not in ("true", "false"):
            raise ConfigurationError("PKCE_ENABLED must be 'true' or 'false'")

        return cls(
            client_id=required("MIRO_CLIENT_ID"),
            client_secret_arn=required("MIRO_CLIENT_SECRET_ARN"),
            redirect_uri=env.get("MIRO_REDIRECT_URI", "").strip(),
            authorize_url=env.get("MIRO_AUTHORIZE_URL", "").strip()
            or DEFAULT_AUTHORIZE_URL,
            token_url=env.get("MIRO_TOKEN_URL", "").strip() or DEFAULT_TOKEN_URL,
            revoke_url=env.get("MIRO_REVOKE_URL", "").strip() or DEFAULT_REVOKE_URL,
            success_url=env.get("SUCCESS_URL", "").strip(),
            pkce_enabled=pkce == "true",
            flows_table=required("FLOWS_TABLE"),
            installations_table=required("INSTALLATIONS_TABLE"),
            token_key_id=required("TOKEN_KEY_ID"),
            install_url=env.get("INSTALL_URL", "").strip(),
            event_bus_name=env.get("EVENT_BUS_NAME", "").strip() or DEFAULT_EVENT_BUS,
            # Miro's access tokens live an hour.
            refresh_margin_seconds=whole_number(
                "REFRESH_MARGIN_SECONDS", REFRESH_MARGIN_SECONDS, 0, 3000
            ),
            # Past 59 days a refresh token may die before the next daily run.
            keepalive_age_days=whole_number(
                "KEEPALIVE_AGE_DAYS", KEEPALIVE_AGE_DAYS, 1, 59
            ),
            max_refresh_failures=whole_number(
                "MAX_REFRESH_FAILURES", MAX_REFRESH_FAILURES, 1, 100
            ),
        )

    def redirect_uri_for(self, domain_name: str) -> str:
        """The redirect URI to send to Miro.

        An empty ``MIRO_REDIRECT_URI`` means this API's own ``/callback``; the
        domain comes from API Gateway's request context, never from a header
        the browser controls.
        """
        if self.redirect_uri:
            return self.redirect_uri
        return f"https://{domain_name}/callback"
