"""Check a deployed stack for the known causes of a failed Miro install.

    python -m tools.doctor --stack NAME [--region REGION]

Reads the stack with CloudFormation (parameters, outputs, resources) and
looks at what the functions depend on: the redirect URI Miro compares byte
for byte, the client id, the client secret as stored, the two tables and the
token key. Each check prints one PASS or FAIL line, with a hint on a FAIL.
The exit code is 1 when any check fails, 2 when the stack cannot be read.

The client secret is read to be checked and never printed: only its length
and which of the known mistakes it has (surrounding white space, quotes).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4})
CLIENT_ID_PATTERN = re.compile(r"[0-9]{10,20}")
QUOTES = ("'", '"', "\u2018", "\u2019", "\u201c", "\u201d")
# The flows table's items carry their own expiry (template.yaml, FlowsTable).
FLOWS_TTL_ATTRIBUTE = "expires_at"
HEALTHY_STACK_STATES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
)
PUT_VALUE_HINT = (
    "store the client secret from the Miro app's settings with: aws "
    "secretsmanager put-secret-value --secret-id <ClientSecretArn output> "
    "--secret-string 'the secret'"
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    hint: str = ""

    def lines(self) -> list[str]:
        shown = [f"{'PASS' if self.passed else 'FAIL'}  {self.name:<20} {self.detail}"]
        if self.hint:
            label = "note" if self.passed else "hint"
            shown.append(f"      {label}: {self.hint}")
        return shown


def passed(name: str, detail: str, note: str = "") -> CheckResult:
    return CheckResult(name, True, detail, note)


def failed(name: str, detail: str, hint: str) -> CheckResult:
    return CheckResult(name, False, detail, hint)


class StackUnreadable(RuntimeError):
    """CloudFormation cannot describe the stack; nothing else can be checked."""


@dataclass(frozen=True)
class DeployedStack:
    name: str
    status: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    resources: dict[str, str]

    @classmethod
    def read(cls, cloudformation: Any, name: str) -> DeployedStack:
        try:
            (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
            described = cloudformation.describe_stack_resources(StackName=name)
        except (ClientError, BotoCoreError) as exc:
            raise StackUnreadable(_aws_problem(exc)) from None
        return cls(
            name=name,
            status=str(stack["StackStatus"]),
            parameters={
                p["ParameterKey"]: str(p.get("ParameterValue", ""))
                for p in stack.get("Parameters", [])
            },
            outputs={
                o["OutputKey"]: str(o["OutputValue"]) for o in stack.get("Outputs", [])
            },
            resources={
                r["LogicalResourceId"]: str(r.get("PhysicalResourceId", ""))
                for r in described["StackResources"]
            },
        )

    def physical_id(self, logical_id: str, output: str) -> str:
        return self.resources.get(logical_id) or self.outputs.get(output, "")


@dataclass(frozen=True)
class Clients:
    cloudformation: Any
    dynamodb: DynamoDBClient
    kms: KMSClient
    secrets: SecretsManagerClient

    @classmethod
    def for_region(cls, region: str | None) -> Clients:
        session = boto3.session.Session(region_name=region)
        return cls(
            cloudformation=session.client("cloudformation", config=AWS_CONFIG),
            dynamodb=session.client("dynamodb", config=AWS_CONFIG),
            kms=session.client("kms", config=AWS_CONFIG),
            secrets=session.client("secretsmanager", config=AWS_CONFIG),
        )


# Checks: each looks at one thing and says what to do about it.


def check_stack_status(stack: DeployedStack) -> CheckResult:
    name = "stack status"
    if stack.status in HEALTHY_STACK_STATES:
        return passed(name, stack.status)
    if stack.status == "UPDATE_ROLLBACK_COMPLETE":
        return passed(
            name,
            stack.status,
            "the last update was rolled back; the version before it is running",
        )
    return failed(
        name,
        stack.status,
        "wait for the operation to finish, or read the stack events for the "
        "resource that failed",
    )


def check_redirect_uri(stack: DeployedStack) -> CheckResult:
    """Miro compares the redirect URI byte for byte, at authorize and token."""
    name = "redirect URI"
    callback = stack.outputs.get("CallbackUrl", "")
    configured = stack.parameters.get("MiroRedirectUri", "")
    if not callback:
        return failed(
            name,
            "the stack has no CallbackUrl output",
            "deploy the template of this repository",
        )
    if not configured:
        return passed(
            name,
            f"MiroRedirectUri is empty, so the functions use {callback}",
            "register exactly this URL as a redirect URI in the Miro app",
        )
    if configured == callback:
        return passed(name, f"MiroRedirectUri equals CallbackUrl {callback}")
    difference = redirect_difference(configured, callback)
    hint = (
        f"set MiroRedirectUri to {callback} (or leave it empty) and register "
        "the same URL in the Miro app; Miro compares them byte for byte"
    )
    if difference == "the host differs":
        hint += (
            "; if that host is a custom domain mapped to this API, check the "
            "mapping sends its /callback here (domain mappings are not checked)"
        )
    return failed(
        name,
        f"MiroRedirectUri {configured!r} differs from CallbackUrl {callback!r}: "
        f"{difference}",
        hint,
    )


def redirect_difference(configured: str, expected: str) -> str:
    if configured.strip() != configured:
        return "white space around the value"
    if configured.rstrip("/") == expected.rstrip("/"):
        return "a trailing slash differs"
    given, wanted = urlsplit(configured), urlsplit(expected)
    if given.scheme != wanted.scheme:
        return f"the scheme differs ({given.scheme or 'none'} vs {wanted.scheme})"
    if given.netloc.lower() == wanted.netloc.lower() and given.netloc != wanted.netloc:
        return "the host name differs in case"
    if given.netloc != wanted.netloc:
        return "the host differs"
    if given.path != wanted.path:
        return "the path differs"
    return "the query or fragment differs"


def check_client_id(stack: DeployedStack) -> CheckResult:
    name = "client id"
    client_id = stack.parameters.get("MiroClientId", "")
    if CLIENT_ID_PATTERN.fullmatch(client_id):
        return passed(name, f"MiroClientId {client_id} looks like a Miro client id")
    return failed(
        name,
        f"MiroClientId {client_id!r} is not 10 to 20 digits",
        "copy the Client ID from the app's page in Miro (App Credentials); "
        "it is a number, not the app's name or secret",
    )


def check_client_secret(
    stack: DeployedStack, secrets: SecretsManagerClient
) -> CheckResult:
    """The mistakes people make storing it: no value, a newline, quotes."""
    name = "client secret"
    secret_id = stack.physical_id("ClientSecret", "ClientSecretArn")
    if not secret_id:
        return failed(name, "the stack has no ClientSecret", "deploy this template")
    try:
        secrets.describe_secret(SecretId=secret_id)
    except (ClientError, BotoCoreError) as exc:
        return failed(
            name,
            f"the secret cannot be described ({_aws_problem(exc)})",
            "check that the stack's ClientSecret exists and that you may read it",
        )
    try:
        value = secrets.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as exc:
        if _aws_code(exc) == "ResourceNotFoundException":
            return failed(name, "the secret has no value yet", PUT_VALUE_HINT)
        return failed(
            name,
            f"the value cannot be read ({_aws_problem(exc)})",
            "reading it needs secretsmanager:GetSecretValue and kms:Decrypt on "
            "the stack's TokenKey",
        )
    except BotoCoreError as exc:
        return failed(name, f"the value cannot be read ({_aws_problem(exc)})", "")

    if value is None:
        return failed(name, "the secret holds binary data, not text", PUT_VALUE_HINT)
    if not value.strip():
        return failed(name, "the secret's value is empty", PUT_VALUE_HINT)
    problems = secret_problems(value)
    if problems:
        return failed(
            name,
            f"the stored value ({len(value)} characters) has {' and '.join(problems)}",
            "store it again without them, e.g. aws secretsmanager "
            "put-secret-value --secret-id <ClientSecretArn output> "
            "--secret-string 'the secret' (not `echo`, not a JSON-quoted value)",
        )
    return passed(name, f"set, {len(value)} characters, no white space or quotes")


def secret_problems(value: str) -> list[str]:
    problems = []
    if value != value.strip():
        problems.append("white space or a newline around it")
    inner = value.strip()
    if inner[:1] in QUOTES or inner[-1:] in QUOTES:
        problems.append("quotes around it")
    return problems


def check_flows_table(stack: DeployedStack, dynamodb: DynamoDBClient) -> CheckResult:
    """States and code claims expire through TTL; PITR guards against mistakes."""
    return _check_table(
        "flows table",
        stack.physical_id("FlowsTable", "FlowsTableName"),
        dynamodb,
        ttl_attribute=FLOWS_TTL_ATTRIBUTE,
    )


def check_installations_table(
    stack: DeployedStack, dynamodb: DynamoDBClient
) -> CheckResult:
    """Installations must never expire: a TTL here would delete tokens."""
    return _check_table(
        "installations table",
        stack.physical_id("InstallationsTable", "InstallationsTableName"),
        dynamodb,
        ttl_attribute=None,
    )


def _check_table(
    name: str, table: str, dynamodb: DynamoDBClient, *, ttl_attribute: str | None
) -> CheckResult:
    if not table:
        return failed(name, "the stack has no such table", "deploy this template")
    try:
        status = dynamodb.describe_table(TableName=table)["Table"].get("TableStatus")
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        backups = dynamodb.describe_continuous_backups(TableName=table)[
            "ContinuousBackupsDescription"
        ]
    except (ClientError, BotoCoreError) as exc:
        return failed(
            name,
            f"{table} cannot be described ({_aws_problem(exc)})",
            "check that the table exists in this region",
        )

    problems = []
    if status != "ACTIVE":
        problems.append(f"status {status}, not ACTIVE")
    ttl_on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    if ttl_attribute is None and ttl_on:
        problems.append(f"TTL is on ({ttl.get('AttributeName')}), so items expire")
    if ttl_attribute is not None and not (
        ttl_on and ttl.get("AttributeName") == ttl_attribute
    ):
        problems.append(f"TTL is not enabled on {ttl_attribute}")
    recovery = backups.get("PointInTimeRecoveryDescription", {})
    if recovery.get("PointInTimeRecoveryStatus") != "ENABLED":
        problems.append("point-in-time recovery is off")
    if problems:
        return failed(
            name,
            f"{table}: {'; '.join(problems)}",
            "redeploy the template, or fix the setting the template declares",
        )
    expiry = f"TTL on {ttl_attribute}" if ttl_attribute else "no TTL"
    return passed(name, f"{table}: ACTIVE, {expiry}, point-in-time recovery on")


def check_token_key(stack: DeployedStack, kms: KMSClient) -> CheckResult:
    """Tokens, tables and the secret are unreadable without this key."""
    name = "token key"
    key_id = stack.physical_id("TokenKey", "TokenKeyArn")
    if not key_id:
        return failed(name, "the stack has no TokenKey", "deploy this template")
    try:
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        rotation = kms.get_key_rotation_status(KeyId=key_id)
    except (ClientError, BotoCoreError) as exc:
        return failed(
            name,
            f"the key cannot be described ({_aws_problem(exc)})",
            "reading it needs kms:DescribeKey and kms:GetKeyRotationStatus",
        )
    problems = []
    if not metadata.get("Enabled") or metadata.get("KeyState") != "Enabled":
        problems.append(f"state {metadata.get('KeyState')}, not Enabled")
    if not rotation.get("KeyRotationEnabled"):
        problems.append("automatic rotation is off")
    if problems:
        return failed(
            name,
            f"{metadata.get('KeyId', key_id)}: {'; '.join(problems)}",
            "enable the key (aws kms enable-key) and its rotation "
            "(aws kms enable-key-rotation); a disabled key stops every install",
        )
    return passed(name, f"{metadata.get('KeyId', key_id)}: enabled, rotates")


def run_checks(stack: DeployedStack, clients: Clients) -> list[CheckResult]:
    checks: list[Callable[[], CheckResult]] = [
        lambda: check_stack_status(stack),
        lambda: check_redirect_uri(stack),
        lambda: check_client_id(stack),
        lambda: check_client_secret(stack, clients.secrets),
        lambda: check_flows_table(stack, clients.dynamodb),
        lambda: check_installations_table(stack, clients.dynamodb),
        lambda: check_token_key(stack, clients.kms),
    ]
    return [check() for check in checks]


def _aws_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _aws_problem(exc: Exception) -> str:
    """The AWS error code or botocore failure type; never a message that could
    quote a value."""
    if isinstance(exc, ClientError):
        return _aws_code(exc)
    return type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.doctor",
        description="Check a deployed Miro OAuth callback stack for the known "
        "causes of a failed install.",
    )
    parser.add_argument("--stack", required=True, help="CloudFormation stack name")
    parser.add_argument("--region", help="AWS region (default: from your profile)")
    arguments = parser.parse_args(argv)

    try:
        clients = Clients.for_region(arguments.region)
    except BotoCoreError as exc:
        print(f"error: {_aws_problem(exc)}: pass --region or set AWS_REGION")
        return 2
    region = clients.dynamodb.meta.region_name
    print(f"Stack {arguments.stack} in {region}")
    try:
        stack = DeployedStack.read(clients.cloudformation, arguments.stack)
    except StackUnreadable as problem:
        print(
            f"FAIL  {'stack':<20} cannot be read ({problem})\n"
            "      hint: check the stack name, the region (--region) and your "
            "AWS credentials"
        )
        return 2

    results = run_checks(stack, clients)
    for result in results:
        print("\n".join(result.lines()))
    failures = sum(not result.passed for result in results)
    print(
        f"\n{failures} of {len(results)} checks failed."
        if failures
        else f"\nAll {len(results)} checks passed."
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
