"""The whole product on loopback: moto, a local Miro, the real handlers.

Used by ``make dev``, ``make demo`` and the integration and browser tests, so
all of them exercise exactly the same wiring.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from tools.local import aws, template
from tools.local.invoke import Handler, LambdaContext, load_handler
from tools.local.miro_server import MiroServer

CLIENT_ID = "3458764517517818867"
# Local only: the secret the local Miro expects. It contains characters that
# break a hand-built form body, so the stack proves they are encoded.
CLIENT_SECRET = "local+secret/with=special&chars%"  # noqa: S105
API_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"


class MotoServer:
    """moto's server on 127.0.0.1, one request at a time.

    DynamoDB applies each write, and each transaction, atomically. moto's own
    threaded server checks a condition and writes without a lock, so two
    racing transactions can both pass; serving requests one by one restores
    the guarantee the product relies on (and that DynamoDB gives).
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or aws.free_port()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1",
            self.port,
            app,
            threaded=False,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)


class MotoProcess(MotoServer):
    """The same serial moto server, in a child process of its own.

    Many handler threads in this process would otherwise share one
    interpreter lock with moto, and moto's answers would slow down with
    every thread waiting on them; a separate process behaves like a remote
    service.
    """

    _SERVE = (
        "import logging, sys, threading\n"
        "logging.getLogger('werkzeug').setLevel(logging.WARNING)\n"
        "from tools.local.stack import MotoServer\n"
        "MotoServer(int(sys.argv[1])).start()\n"
        "threading.Event().wait()\n"
    )

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoProcess:
        root = str(template.ROOT)
        self._child = subprocess.Popen(
            [sys.executable, "-c", self._SERVE, str(self.port)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": root},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.endpoint}/moto-api/", timeout=2)
                return self
            except requests.ConnectionError:
                if time.monotonic() > deadline or self._child.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._child is not None:
            self._child.terminate()
            self._child.wait(timeout=10)
            self._child = None


@dataclass
class LocalStack:
    moto: MotoServer
    miro: MiroServer
    redirect_uri: str = ""
    success_url: str = ""
    pkce: bool = True
    # Where the tokens function sends users to install again; by default the
    # API domain the integration tests use.
    install_url: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    provisioned: aws.Provisioned | None = None
    _idle: dict[str, list[Handler]] = field(default_factory=dict)
    _containers: dict[str, int] = field(default_factory=dict)
    _memory: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def provision(self) -> LocalStack:
        """Create the template's resources and the functions' environment."""
        document = template.load()
        parameters = {
            "MiroClientId": CLIENT_ID,
            "MiroRedirectUri": self.redirect_uri,
            "MiroAuthorizeUrl": self.miro.authorize_url,
            "MiroTokenUrl": self.miro.token_url,
            "MiroRevokeUrl": self.miro.revoke_url,
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
                template.function_environment(document, name, self.provisioned.context)
            )
        env.update(aws.LOCAL_CREDENTIALS)
        env["AWS_ENDPOINT_URL"] = self.moto.endpoint
        # The template names the API by its id, which only exists once deployed;
        # locally /install sits beside the callback.
        base = self.redirect_uri.rsplit("/", 1)[0] if self.redirect_uri else ""
        env["INSTALL_URL"] = self.install_url or (
            f"{base}/install" if base else f"https://{API_DOMAIN}/install"
        )
        env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MiroOAuth")
        self.environment = env
        os.environ.update(env)
        self._refresh_runtime()
        return self

    def _refresh_runtime(self) -> None:
        from miro_oauth import runtime

        runtime.runtime.cache_clear()

    def handler(self, function: str) -> Handler:
        """A warm container's handler: a module copy no other call is using.

        Lambda runs one invocation per container at a time, and the handler
        modules keep per-invocation state (the resolver's current event); so
        concurrent local calls each get their own copy of the module, created
        on demand and reused, as Lambda reuses warm containers.
        """
        with self._lock:
            idle = self._idle.setdefault(function, [])
            if idle:
                return idle.pop()
            self._containers[function] = self._containers.get(function, 0) + 1
            number = self._containers[function]
        document = template.load()
        props = document["Resources"][function]["Properties"]
        return load_handler(
            template.ROOT / str(props["CodeUri"]),
            str(props["Handler"]),
            f"{function}_{number}",
        )

    def invoke(
        self, function: str, event: dict[str, Any], timeout_s: float = 15.0
    ) -> dict[str, Any]:
        context = LambdaContext(
            function_name=function,
            timeout_s=timeout_s,
            memory_limit_in_mb=self.memory_size(function),
        )
        handler = self.handler(function)
        try:
            return handler(event, context)
        finally:
            with self._lock:
                self._idle[function].append(handler)

    def memory_size(self, function: str) -> int:
        """The function's MemorySize, as the template sets it."""
        if function not in self._memory:
            document = template.load()
            props = document["Resources"][function]["Properties"]
            shared = document.get("Globals", {}).get("Function", {})
            self._memory[function] = int(
                props.get("MemorySize") or shared.get("MemorySize") or 128
            )
        return self._memory[function]

    def routes(self) -> list[template.Route]:
        return template.http_routes(template.load())

    def dynamodb(self) -> Any:
        return aws._client("dynamodb", self.moto.endpoint)

    def kms(self) -> Any:
        return aws._client("kms", self.moto.endpoint)

    def secrets(self) -> Any:
        return aws._client("secretsmanager", self.moto.endpoint)

    def aws(self, service: str) -> Any:
        """A client of any service the local moto server plays."""
        return aws._client(service, self.moto.endpoint)

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
    **miro_options: Any,
) -> Iterator[LocalStack]:
    """Start moto (unless given) and a local Miro, provision, yield the stack."""
    own_moto = moto is None
    server = moto or MotoProcess().start()
    # moto keeps its backends per process, not per server: start empty.
    server.reset()
    registered = redirect_uri or f"https://{API_DOMAIN}/callback"
    miro = MiroServer(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[registered],
        port=miro_port,
        **miro_options,
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
