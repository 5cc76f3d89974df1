"""The whole product on loopback: moto, a local Miro, the real handlers.

Used by ``make dev``, ``make demo`` and the integration and browser tests, so
all of them exercise exactly the same wiring.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from moto.server import ThreadedMotoServer

from tools.local import aws, template
from tools.local.invoke import Handler, LambdaContext, load_handler
from tools.local.miro_server import MiroServer

CLIENT_ID = "3458764517517818867"
# Local only: the secret the local Miro expects. It contains characters that
# break a hand-built form body, so the stack proves they are encoded.
CLIENT_SECRET = "local+secret/with=special&chars%"  # noqa: S105
API_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"


class MotoServer:
    """moto's server in a thread on 127.0.0.1, reset between uses."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or aws.free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)


@dataclass
class LocalStack:
    moto: MotoServer
    miro: MiroServer
    redirect_uri: str = ""
    success_url: str = ""
    pkce: bool = True
    environment: dict[str, str] = field(default_factory=dict)
    provisioned: aws.Provisioned | None = None
    _handlers: dict[str, Handler] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def provision(self) -> LocalStack:
        """Create the template's resources and the functions' environment."""
        document = template.load()
        parameters = {
            "MiroClientId": CLIENT_ID,
            "MiroRedirectUri": self.redirect_uri,
            "MiroAuthorizeUrl": self.miro.authorize_url,
            "MiroTokenUrl": self.miro.token_url,
            "SuccessUrl": self.success_url,
            "PkceEnabled": "true" if self.pkce else "false",
        }
        self.provisioned = aws.provision(
            self.moto.endpoint, CLIENT_SECRET, parameters, document
        )
        env: dict[str, str] = {}
        for route in template.http_routes(document):
            env.update(
                template.function_environment(
                    document, route.function, self.provisioned.context
                )
            )
        for name in template.resources_of_type(document, "AWS::Serverless::Function"):
            env.update(
                template.function_environment(
                    document, name, self.provisioned.context
                )
            )
        env.update(aws.LOCAL_CREDENTIALS)
        env["AWS_ENDPOINT_URL"] = self.moto.endpoint
        env["MIRO_REVOKE_URL"] = self.miro.revoke_url
        env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MiroOAuth")
        self.environment = env
        os.environ.update(env)
        self._refresh_runtime()
        return self

    def _refresh_runtime(self) -> None:
        from miro_oauth import runtime

        runtime.runtime.cache_clear()

    def handler(self, function: str) -> Handler:
        with self._lock:
            if function not in self._handlers:
                document = template.load()
                props = document["Resources"][function]["Properties"]
                self._handlers[function] = load_handler(
                    template.ROOT / str(props["CodeUri"]),
                    str(props["Handler"]),
                    function,
                )
            return self._handlers[function]

    def invoke(
        self, function: str, event: dict[str, Any], timeout_s: float = 15.0
    ) -> dict[str, Any]:
        context = LambdaContext(function_name=function, timeout_s=timeout_s)
        return self.handler(function)(event, context)

    def routes(self) -> list[template.Route]:
        return template.http_routes(template.load())

    def dynamodb(self) -> Any:
        return aws._client("dynamodb", self.moto.endpoint)

    def kms(self) -> Any:
        return aws._client("kms", self.moto.endpoint)

    def secrets(self) -> Any:
        return aws._client("secretsmanager", self.moto.endpoint)

    def table(self, logical_name: str) -> str:
        assert self.provisioned is not None
        return self.provisioned.table_names[logical_name]


@contextmanager
def running(
    *,
    redirect_uri: str = "",
    success_url: str = "",
    pkce: bool = True,
    moto: MotoServer | None = None,
    miro_port: int = 0,
) -> Iterator[LocalStack]:
    """Start moto (unless given) and a local Miro, provision, yield the stack."""
    own_moto = moto is None
    server = moto or MotoServer().start()
    registered = redirect_uri or f"https://{API_DOMAIN}/callback"
    miro = MiroServer(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[registered],
        port=miro_port,
    ).start()
    try:
        stack = LocalStack(
            moto=server,
            miro=miro,
            redirect_uri=redirect_uri,
            success_url=success_url,
            pkce=pkce,
        )
        yield stack.provision()
    finally:
        miro.stop()
        if own_moto:
            server.stop()
