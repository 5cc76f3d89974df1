"""Run the whole product on this machine: ``python -m tools.local.dev``.

moto's server stands in for DynamoDB, KMS and Secrets Manager, a local Miro
shows a consent page with Allow and Deny, and an HTTP front on 127.0.0.1
plays API Gateway for the real handlers. The handlers' JSON log lines go to
stdout as Lambda writes them. Ctrl-C stops everything.

With ``--real-miro`` the browser goes to miro.com instead: the Miro app's
client id and secret come from ``MIRO_CLIENT_ID`` and ``MIRO_CLIENT_SECRET``,
and the app must list ``http://localhost:<port>/callback`` as a redirect URI.
"""

from __future__ import annotations

import tools.local.layer_path  # noqa: F401 - before anything imports miro_oauth

# isort: split
import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from miro_oauth import runtime
from miro_oauth.config import DEFAULT_AUTHORIZE_URL, DEFAULT_TOKEN_URL
from tools.local.front import LOOPBACK, Front
from tools.local.stack import LocalStack, running

DEFAULT_PORT = 8000
PORT_VARIABLE = "MIRO_OAUTH_DEV_PORT"


class StartupError(RuntimeError):
    """The local stack cannot start as asked; the message says what to change."""


@dataclass(frozen=True)
class RealMiro:
    client_id: str
    client_secret: str

    @classmethod
    def from_environment(cls) -> RealMiro:
        client_id = os.environ.get("MIRO_CLIENT_ID", "").strip()
        client_secret = os.environ.get("MIRO_CLIENT_SECRET", "").strip()
        missing = [
            name
            for name, value in (
                ("MIRO_CLIENT_ID", client_id),
                ("MIRO_CLIENT_SECRET", client_secret),
            )
            if not value
        ]
        if missing:
            raise StartupError(
                f"--real-miro needs {' and '.join(missing)} in the environment "
                "(the Miro app's client id and secret)"
            )
        return cls(client_id, client_secret)


def use_real_miro(stack: LocalStack, miro: RealMiro, redirect_uri: str) -> None:
    """Point the provisioned stack at miro.com with the app's own credentials.

    The secret goes into the local Secrets Manager, where the handlers read
    it, exactly as a deployment stores it.
    """
    assert stack.provisioned is not None
    stack.secrets().put_secret_value(
        SecretId=stack.provisioned.secret_arn, SecretString=miro.client_secret
    )
    overrides = {
        "MIRO_CLIENT_ID": miro.client_id,
        "MIRO_AUTHORIZE_URL": DEFAULT_AUTHORIZE_URL,
        "MIRO_TOKEN_URL": DEFAULT_TOKEN_URL,
        "MIRO_REDIRECT_URI": redirect_uri,
    }
    stack.environment.update(overrides)
    os.environ.update(overrides)
    runtime.runtime.cache_clear()


def configure_logging() -> None:
    """Library log lines as JSON on stdout, like Lambda's JSON log format; the
    local servers' own lines in plain text."""
    to_stdout = logging.StreamHandler(sys.stdout)
    to_stdout.setFormatter(LambdaPowertoolsFormatter(service="miro-oauth"))
    root = logging.getLogger()
    root.addHandler(to_stdout)
    root.setLevel(logging.WARNING)
    logging.getLogger("miro_oauth").setLevel(logging.INFO)

    plain = logging.StreamHandler(sys.stdout)
    plain.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    for name in ("tools.local.front", "tools.local.miro_server"):
        local = logging.getLogger(name)
        local.addHandler(plain)
        local.setLevel(logging.INFO)
        local.propagate = False
    # moto's werkzeug server logs every AWS call; only problems are of interest.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local.dev",
        description="Run the Miro OAuth callback locally (moto, local Miro, "
        "HTTP front on 127.0.0.1).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(PORT_VARIABLE) or DEFAULT_PORT),
        help=f"port of the local API (default {DEFAULT_PORT}, or ${PORT_VARIABLE})",
    )
    parser.add_argument(
        "--real-miro",
        action="store_true",
        help="authorize against miro.com with MIRO_CLIENT_ID and "
        "MIRO_CLIENT_SECRET; register http://localhost:<port>/callback in the app",
    )
    return parser.parse_args(argv)


def bind_front(port: int, public_host: str) -> Front:
    try:
        return Front(port=port, public_host=public_host)
    except OSError as exc:
        raise StartupError(
            f"cannot listen on {LOOPBACK}:{port} ({exc.strerror}); "
            f"choose another port with --port or ${PORT_VARIABLE}"
        ) from None


def wait_for_interrupt() -> None:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        real_miro = RealMiro.from_environment() if arguments.real_miro else None
        # Miro accepts plain http only for localhost; the local Miro is happy
        # with the loopback address the front listens on.
        front = bind_front(
            arguments.port, "localhost" if real_miro is not None else LOOPBACK
        )
    except StartupError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    configure_logging()
    print("starting moto and the local Miro, provisioning template.yaml ...")
    try:
        with running(redirect_uri=front.callback_url) as stack:
            if real_miro is not None:
                use_real_miro(stack, real_miro, front.callback_url)
            front.serve(stack)
            print_addresses(stack, front, real_miro)
            wait_for_interrupt()
            print("\nstopping ...")
    finally:
        front.stop()
    print("stopped")
    return 0


def print_addresses(
    stack: LocalStack, front: Front, real_miro: RealMiro | None
) -> None:
    if real_miro is not None:
        miro = (
            f"  Miro:        {DEFAULT_AUTHORIZE_URL} (client id {real_miro.client_id})"
            f"\n               register {front.callback_url} in the Miro app"
        )
    else:
        miro = f"  local Miro:  {stack.miro.base_url} (consent page with Allow/Deny)"
    print(
        "\nMiro OAuth callback running locally\n"
        f"  install:     {front.install_url}\n"
        f"  callback:    {front.callback_url}\n"
        f"{miro}\n"
        f"  moto (AWS):  {stack.moto.endpoint}\n"
        "Open the install address in a browser. Handler logs follow; "
        "Ctrl-C stops.\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
