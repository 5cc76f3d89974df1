"""What a function builds once per container: clients, stores, the secret.

Created on first use and kept for the container's life, so warm invocations
pay for none of it. botocore's standard retry mode handles throttling with
jittered back-off; time-outs stay well inside the function's own.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from miro_oauth import errors
from miro_oauth.config import Settings
from miro_oauth.flows import FlowStore
from miro_oauth.installations import InstallationStore
from miro_oauth.sealing import TokenSealer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient

    from miro_oauth.events import LifecycleEvents
    from miro_oauth.provider import MiroTokenClient

# NOTE: requests, Powertools Parameters and the events module are imported
# where first used: /install needs none of them, and a cold start pays for
# every import (docs/PERFORMANCE.md).

AWS_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 4},
    connect_timeout=2,
    read_timeout=4,
    tcp_keepalive=True,
)
# Powertools Parameters cache: a rotated secret is picked up within this time.
SECRET_MAX_AGE = 300


class Runtime:
    """Clients and stores, each built on first use and kept for the container.

    /install only writes a state, so it never pays for the KMS, Secrets
    Manager or EventBridge clients, nor for the HTTP session to Miro.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session = boto3.session.Session()

    @functools.cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self._session.client("dynamodb", config=AWS_CONFIG)

    @functools.cached_property
    def kms(self) -> KMSClient:
        return self._session.client("kms", config=AWS_CONFIG)

    @functools.cached_property
    def flows(self) -> FlowStore:
        return FlowStore(self.dynamodb, self.settings.flows_table)

    @functools.cached_property
    def installations(self) -> InstallationStore:
        sealer = TokenSealer(self.kms, self.settings.token_key_id)
        return InstallationStore(
            self.dynamodb, self.settings.installations_table, sealer
        )

    @functools.cached_property
    def miro(self) -> MiroTokenClient:
        from miro_oauth.provider import MiroTokenClient

        return MiroTokenClient(
            token_url=self.settings.token_url,
            client_id=self.settings.client_id,
            revoke_url=self.settings.revoke_url,
        )

    @functools.cached_property
    def secrets(self) -> SecretsProvider:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return SecretsProvider(boto_config=AWS_CONFIG)

    @functools.cached_property
    def events(self) -> LifecycleEvents:
        from miro_oauth.events import LifecycleEvents

        client = self._session.client("events", config=AWS_CONFIG)
        return LifecycleEvents(client, self.settings.event_bus_name)

    def client_secret(self) -> str:
        """The Miro client secret from Secrets Manager, cached by Powertools.

        Surrounding white space (the newline ``echo`` adds) is dropped; the
        doctor reports it so the stored value can be fixed too.
        """
        from aws_lambda_powertools.utilities.parameters.exceptions import (
            GetParameterError,
        )

        try:
            value = self.secrets.get(
                self.settings.client_secret_arn, max_age=SECRET_MAX_AGE
            )
        except GetParameterError:
            raise errors.ClientSecretUnavailable("secret could not be read") from None
        secret = value.strip() if isinstance(value, str) else ""
        if not secret:
            raise errors.ClientSecretUnavailable("secret is empty")
        return secret


@functools.cache
def runtime() -> Runtime:
    return Runtime(Settings.from_environment())
