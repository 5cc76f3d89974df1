"""Create the template's tables, key and secret in a moto server.

Only the resource types the functions talk to are created; their properties
come straight from ``template.yaml`` so the local schema cannot drift from
the deployed one.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from tools.local import template

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "miro-oauth-local"
# moto accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # noqa: S105 - not a secret: moto's
    "AWS_SESSION_TOKEN": "local",  # noqa: S105
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Provisioned:
    context: template.Context
    table_names: dict[str, str]
    secret_arn: str
    key_arn: str


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )


def provision(
    endpoint: str,
    client_secret: str,
    parameters: Mapping[str, str],
    document: dict[str, Any] | None = None,
) -> Provisioned:
    """Create every key, secret and table the template declares."""
    document = document or template.load()
    pseudo = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::Partition": "aws",
        "AWS::NoValue": "",
    }
    refs: dict[str, str] = {}
    attributes: dict[str, str] = {}
    context = template.Context(
        parameters={**template.parameter_defaults(document), **parameters},
        refs=refs,
        attributes=attributes,
        pseudo=pseudo,
    )

    kms = _client("kms", endpoint)
    key_arn = ""
    for name, spec in template.resources_of_type(document, "AWS::KMS::Key").items():
        props = spec.get("Properties", {})
        key = kms.create_key(Description=str(props.get("Description", name)))
        metadata = key["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        refs[name] = metadata["KeyId"]
        attributes[f"{name}.Arn"] = key_arn = metadata["Arn"]

    secrets = _client("secretsmanager", endpoint)
    secret_arn = ""
    for name in template.resources_of_type(document, "AWS::SecretsManager::Secret"):
        created = secrets.create_secret(Name=f"{STACK}-{name}")
        secrets.put_secret_value(SecretId=created["ARN"], SecretString=client_secret)
        refs[name] = secret_arn = created["ARN"]

    dynamodb = _client("dynamodb", endpoint)
    tables: dict[str, str] = {}
    for name, spec in template.resources_of_type(
        document, "AWS::DynamoDB::Table"
    ).items():
        props = context.resolve(spec["Properties"])
        table = f"{STACK}-{name}"
        sse = props.get("SSESpecification", {})
        dynamodb.create_table(
            TableName=table,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            SSESpecification={
                "Enabled": bool(sse.get("SSEEnabled", False)),
                "SSEType": "KMS",
                "KMSMasterKeyId": str(sse.get("KMSMasterKeyId", "")),
            }
            if sse.get("SSEEnabled")
            else {"Enabled": False},
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={
                    "Enabled": True,
                    "AttributeName": ttl["AttributeName"],
                },
            )
        refs[name] = tables[name] = table
        attributes[f"{name}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"

    for name in template.resources_of_type(document, "AWS::Serverless::HttpApi"):
        refs[name] = "local"
    for kind in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
        for name in template.resources_of_type(document, kind):
            refs[name] = f"{STACK}-{name}"
            attributes[f"{name}.Arn"] = (
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{name}"
            )
    return Provisioned(context, tables, secret_arn, key_arn)
