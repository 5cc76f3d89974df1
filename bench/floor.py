"""The least work the design needs, written directly with boto3 and requests.

Nothing here uses the product's code: the floor is what any implementation of
the same design must send (the same requests to the same servers), without
validation, logging, metrics, pages or error handling. It imports only boto3,
requests and the standard library, so a fresh interpreter can run it too.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import boto3
import requests


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class FloorClients:
    dynamodb: Any
    kms: Any
    secrets: Any
    http: requests.Session
    env: Mapping[str, str]

    @classmethod
    def create(
        cls, env: Mapping[str, str] | None = None, *, callback: bool = True
    ) -> FloorClients:
        """The clients one function needs: /install needs DynamoDB only."""
        session = boto3.session.Session()
        return cls(
            dynamodb=session.client("dynamodb"),
            kms=session.client("kms") if callback else None,
            secrets=session.client("secretsmanager") if callback else None,
            http=requests.Session(),
            env=dict(os.environ if env is None else env),
        )


def install(clients: FloorClients) -> None:
    """/install's one request: store a fresh state."""
    now = time.time()
    clients.dynamodb.put_item(
        TableName=clients.env["FLOWS_TABLE"],
        Item={
            "pk": {"S": "state#" + _sha256(secrets.token_urlsafe(32))},
            "created_at": {"N": f"{now:.3f}"},
            "expires_at": {"N": str(int(now) + 3600)},
            "redirect_uri": {"S": "https://example.invalid/callback"},
            "binding_hash": {"S": _sha256(secrets.token_urlsafe(32))},
        },
        ConditionExpression="attribute_not_exists(pk)",
    )


def read_secret(clients: FloorClients) -> str:
    answer = clients.secrets.get_secret_value(
        SecretId=clients.env["MIRO_CLIENT_SECRET_ARN"]
    )
    return str(answer["SecretString"])


def callback(clients: FloorClients, event: Mapping[str, Any], secret: str) -> int:
    """One callback's requests: read state, claim, exchange, seal, store, finish.

    Returns the token endpoint's status (200 when the flow completed).
    """
    env = clients.env
    query = {k: v[0] for k, v in parse_qs(event["rawQueryString"]).items()}
    cookie = str(event["cookies"][0]).partition("=")[2]
    flows = env["FLOWS_TABLE"]
    now = time.time()

    state_key = "state#" + _sha256(query["state"])
    item = clients.dynamodb.get_item(
        TableName=flows, Key={"pk": {"S": state_key}}, ConsistentRead=True
    )["Item"]

    claim_key = "code#" + _sha256(query["code"])
    clients.dynamodb.transact_write_items(
        ClientRequestToken=uuid.uuid4().hex,
        TransactItems=[
            {
                "Update": {
                    "TableName": flows,
                    "Key": {"pk": {"S": state_key}},
                    "UpdateExpression": "SET consumed_at = :now REMOVE code_verifier",
                    "ConditionExpression": "attribute_not_exists(consumed_at) "
                    "AND binding_hash = :binding",
                    "ExpressionAttributeValues": {
                        ":now": {"N": f"{now:.3f}"},
                        ":binding": {"S": _sha256(cookie)},
                    },
                }
            },
            {
                "Put": {
                    "TableName": flows,
                    "Item": {"pk": {"S": claim_key}, "status": {"S": "claimed"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ],
    )

    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": item["redirect_uri"]["S"],
        "client_id": env["MIRO_CLIENT_ID"],
        "client_secret": secret,
    }
    if "code_verifier" in item:
        form["code_verifier"] = item["code_verifier"]["S"]
    answer = clients.http.post(env["MIRO_TOKEN_URL"], data=form, timeout=10)
    if answer.status_code != 200:
        return answer.status_code
    tokens = answer.json()
    team, user = str(tokens["team_id"]), str(tokens["user_id"])

    sealed = clients.kms.encrypt(
        KeyId=env["TOKEN_KEY_ID"],
        Plaintext=json.dumps(
            {k: tokens.get(k) for k in ("access_token", "refresh_token")}
        ).encode(),
        EncryptionContext={"team_id": team, "user_id": user},
    )["CiphertextBlob"]
    clients.dynamodb.update_item(
        TableName=env["INSTALLATIONS_TABLE"],
        Key={"team_id": {"S": team}, "user_id": {"S": user}},
        UpdateExpression="SET sealed_tokens = :sealed ADD token_version :one",
        ExpressionAttributeValues={":sealed": {"B": sealed}, ":one": {"N": "1"}},
    )
    clients.dynamodb.update_item(
        TableName=flows,
        Key={"pk": {"S": claim_key}},
        UpdateExpression="SET #status = :done",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":done": {"S": "complete"}},
    )
    return 200
