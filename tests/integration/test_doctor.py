"""The doctor against stacks created by moto's CloudFormation.

moto's CloudFormation creates the tables and the key but neither Secrets
Manager secrets nor a table's TTL and point-in-time recovery settings; the
fixture creates the secret beside the stack (its ARN reaches the stack as a
parameter and leaves as the ``ClientSecretArn`` output, as in the real
template) and applies TTL and PITR the way CloudFormation would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tools import doctor
from tools.local import aws
from tools.local.stack import MotoServer

CALLBACK_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/callback"
CLIENT_ID = "3458764517517818867"
GOOD_SECRET = "Zq8tXrN2vLk5pW9sYd3Hf6Jb1Mc4Ga7E"
EXPIRY = "expires_at"

TEMPLATE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {
        "MiroClientId": {"Type": "String"},
        "MiroRedirectUri": {"Type": "String", "Default": ""},
        "ClientSecretArn": {"Type": "String"},
    },
    "Resources": {
        "TokenKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": "token key",
                "EnableKeyRotation": True,
                # A JSON string: moto's key policy check cannot read an object.
                "KeyPolicy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                "Action": "kms:*",
                                "Resource": "*",
                            }
                        ],
                    }
                ),
            },
        },
        "FlowsTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            },
        },
        "InstallationsTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "team_id", "AttributeType": "S"},
                    {"AttributeName": "user_id", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "team_id", "KeyType": "HASH"},
                    {"AttributeName": "user_id", "KeyType": "RANGE"},
                ],
            },
        },
    },
    "Outputs": {
        "CallbackUrl": {"Value": CALLBACK_URL},
        "ClientSecretArn": {"Value": {"Ref": "ClientSecretArn"}},
        "FlowsTableName": {"Value": {"Ref": "FlowsTable"}},
        "InstallationsTableName": {"Value": {"Ref": "InstallationsTable"}},
        "TokenKeyArn": {"Value": {"Fn::GetAtt": ["TokenKey", "Arn"]}},
    },
}

Deploy = Callable[..., doctor.DeployedStack]


@pytest.fixture
def clients(moto_server: MotoServer) -> Iterator[doctor.Clients]:
    moto_server.reset()
    yield doctor.Clients(
        cloudformation=aws._client("cloudformation", moto_server.endpoint),
        dynamodb=aws._client("dynamodb", moto_server.endpoint),
        kms=aws._client("kms", moto_server.endpoint),
        secrets=aws._client("secretsmanager", moto_server.endpoint),
    )
    moto_server.reset()


@pytest.fixture
def deploy(clients: doctor.Clients) -> Deploy:
    """Create a stack shaped like template.yaml's, healthy unless told."""

    def create(
        *,
        name: str = "miro-oauth",
        client_id: str = CLIENT_ID,
        redirect_uri: str = CALLBACK_URL,
        secret: str | None = GOOD_SECRET,
        flows_ttl: bool = True,
    ) -> doctor.DeployedStack:
        created = clients.secrets.create_secret(Name=f"{name}-ClientSecret")
        if secret is not None:
            clients.secrets.put_secret_value(
                SecretId=created["ARN"], SecretString=secret
            )
        clients.cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(TEMPLATE),
            Parameters=[
                {"ParameterKey": "MiroClientId", "ParameterValue": client_id},
                {"ParameterKey": "MiroRedirectUri", "ParameterValue": redirect_uri},
                {"ParameterKey": "ClientSecretArn", "ParameterValue": created["ARN"]},
            ],
        )
        stack = doctor.DeployedStack.read(clients.cloudformation, name)
        for table in (
            stack.outputs["FlowsTableName"],
            stack.outputs["InstallationsTableName"],
        ):
            clients.dynamodb.update_continuous_backups(
                TableName=table,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        if flows_ttl:
            clients.dynamodb.update_time_to_live(
                TableName=stack.outputs["FlowsTableName"],
                TimeToLiveSpecification={
                    "Enabled": True,
                    "AttributeName": "expires_at",
                },
            )
        return stack

    return create


def results_by_name(
    stack: doctor.DeployedStack, clients: doctor.Clients
) -> dict[str, doctor.CheckResult]:
    return {r.name: r for r in doctor.run_checks(stack, clients)}


def test_healthy_stack_passes_every_check_and_the_command_exits_zero(
    deploy: Deploy,
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy()
    for name, value in aws.LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)

    code = doctor.main(["--stack", "miro-oauth", "--region", aws.REGION])

    out = capsys.readouterr().out
    assert code == 0, out
    verdicts = [
        line.split()[0] for line in out.splitlines() if line[:4] in ("PASS", "FAIL")
    ]
    assert verdicts == ["PASS"] * 7
    assert "All 7 checks passed." in out
    assert GOOD_SECRET not in out
    assert f"{len(GOOD_SECRET)} characters" in out


def test_empty_redirect_uri_passes_with_a_note_that_the_callback_output_is_used(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    result = results_by_name(deploy(redirect_uri=""), clients)["redirect URI"]

    assert result.passed
    assert CALLBACK_URL in result.detail
    assert "register exactly this URL" in result.hint
    assert "note:" in "\n".join(result.lines())


def test_redirect_uri_with_a_trailing_slash_fails_and_names_the_slash(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    stack = deploy(redirect_uri=CALLBACK_URL + "/")

    result = results_by_name(stack, clients)["redirect URI"]

    assert not result.passed
    assert "trailing slash" in result.detail
    assert CALLBACK_URL in result.hint


@pytest.mark.parametrize(
    ("redirect_uri", "cause"),
    [
        (CALLBACK_URL.replace("https", "http"), "scheme"),
        (CALLBACK_URL.replace("abc123", "ABC123"), "case"),
        (CALLBACK_URL.replace("callback", "oauth/callback"), "path"),
    ],
)
def test_redirect_uri_that_differs_otherwise_fails_with_its_cause(
    deploy: Deploy, clients: doctor.Clients, redirect_uri: str, cause: str
) -> None:
    result = results_by_name(deploy(redirect_uri=redirect_uri), clients)["redirect URI"]

    assert not result.passed
    assert cause in result.detail


def test_a_redirect_uri_on_another_host_fails_and_mentions_custom_domains(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    stack = deploy(redirect_uri="https://auth.example.com/callback")

    result = results_by_name(stack, clients)["redirect URI"]

    assert not result.passed
    assert "host differs" in result.detail
    assert "custom domain" in result.hint


def test_secret_created_without_a_value_fails_with_the_command_to_store_it(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    result = results_by_name(deploy(secret=None), clients)["client secret"]

    assert not result.passed
    assert result.detail == "the secret has no value yet"
    assert "put-secret-value" in result.hint


def test_blank_secret_fails_as_empty(deploy: Deploy, clients: doctor.Clients) -> None:
    result = results_by_name(deploy(secret=" \n"), clients)["client secret"]

    assert not result.passed
    assert result.detail == "the secret's value is empty"


def test_secret_with_a_trailing_newline_fails_without_showing_the_value(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    stack = deploy(secret=GOOD_SECRET + "\n")

    result = results_by_name(stack, clients)["client secret"]

    assert not result.passed
    assert "newline" in result.detail
    assert "quotes" not in result.detail
    shown = "\n".join(result.lines())
    assert GOOD_SECRET not in shown
    assert GOOD_SECRET[:6] not in shown


@pytest.mark.parametrize("quoted", [f'"{GOOD_SECRET}"', f"'{GOOD_SECRET}'"])
def test_secret_wrapped_in_quotes_fails(
    deploy: Deploy, clients: doctor.Clients, quoted: str
) -> None:
    result = results_by_name(deploy(secret=quoted), clients)["client secret"]

    assert not result.passed
    assert "quotes around it" in result.detail
    assert GOOD_SECRET not in "\n".join(result.lines())


@pytest.mark.parametrize(
    "client_id",
    ["my-miro-app", "123456789", "123456789012345678901", " 3458764517517818867"],
)
def test_client_id_that_is_not_10_to_20_digits_fails(
    deploy: Deploy, clients: doctor.Clients, client_id: str
) -> None:
    result = results_by_name(deploy(client_id=client_id), clients)["client id"]

    assert not result.passed
    assert "not 10 to 20 digits" in result.detail


def test_flows_table_without_ttl_fails_and_installations_table_passes(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    results = results_by_name(deploy(flows_ttl=False), clients)

    assert not results["flows table"].passed
    assert "TTL is not enabled on expires_at" in results["flows table"].detail
    assert results["installations table"].passed


def test_ttl_on_the_installations_table_fails_because_items_would_expire(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    stack = deploy()
    clients.dynamodb.update_time_to_live(
        TableName=stack.outputs["InstallationsTableName"],
        TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRY},
    )

    result = results_by_name(stack, clients)["installations table"]

    assert not result.passed
    assert "items expire" in result.detail


def test_token_key_without_rotation_or_disabled_fails(
    deploy: Deploy, clients: doctor.Clients
) -> None:
    stack = deploy()
    key = stack.resources["TokenKey"]
    clients.kms.disable_key_rotation(KeyId=key)
    clients.kms.disable_key(KeyId=key)

    result = results_by_name(stack, clients)["token key"]

    assert not result.passed
    assert "rotation is off" in result.detail
    assert "not Enabled" in result.detail


def test_any_failure_makes_the_command_exit_one(
    deploy: Deploy,
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy(redirect_uri=CALLBACK_URL + "/")
    for name, value in aws.LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)

    code = doctor.main(["--stack", "miro-oauth", "--region", aws.REGION])

    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  redirect URI" in out
    assert "1 of 7 checks failed." in out


def test_unknown_stack_exits_two_with_a_hint(
    clients: doctor.Clients,
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in aws.LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)

    code = doctor.main(["--stack", "no-such-stack", "--region", aws.REGION])

    out = capsys.readouterr().out
    assert code == 2
    assert "FAIL  stack" in out
    assert "--region" in out
