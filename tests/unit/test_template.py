"""The SAM template: linters accept it, and it keeps its security promises.

The linters check the template's shape; the assertions here check what they
cannot: least-privilege IAM, encryption under the stack's own key, log
retention, and the environment and routes the handlers rely on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.cfn_yaml import load  # type: ignore[import-untyped]

from miro_oauth.sealing import PURPOSE

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

TOKEN_KEY = "TokenKey"
TABLES = ("FlowsTable", "InstallationsTable")

FUNCTION_ENVIRONMENT = {
    "MIRO_CLIENT_ID",
    "MIRO_CLIENT_SECRET_ARN",
    "MIRO_REDIRECT_URI",
    "MIRO_AUTHORIZE_URL",
    "MIRO_TOKEN_URL",
    "SUCCESS_URL",
    "PKCE_ENABLED",
    "FLOWS_TABLE",
    "INSTALLATIONS_TABLE",
    "TOKEN_KEY_ID",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}

LOG_GROUP_ARN_PREFIX = (
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
)

Template = dict[str, Any]


@pytest.fixture(scope="module")
def template() -> Template:
    loaded: Template = load(str(TEMPLATE_PATH))
    return loaded


def resources_of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def points_at(value: Any, logical_id: str) -> bool:
    """True when ``value`` is a ``!Ref`` or ``!GetAtt ... .Arn`` of the resource."""
    return value in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "Arn"]})


def iam_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity-policy statement, wherever the template declares one."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents: list[Any] = []
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        elif resource["Type"] == "AWS::Serverless::Function":
            documents += [
                p for p in properties.get("Policies", []) if isinstance(p, dict)
            ]
        for document in documents:
            for statement in as_list(document.get("Statement", [])):
                yield name, statement


def grants_any_resource(resource: Any) -> bool:
    """A literal or substituted ARN with a wildcard in it.

    ``!GetAtt LogGroup.Arn`` is allowed: CloudFormation returns it with a
    ``:*`` suffix, which names the group's log streams and nothing else.
    """
    if isinstance(resource, str):
        return "*" in resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = as_list(resource["Fn::Sub"])[0]
        return isinstance(text, str) and "*" in text
    return False


def find_executable(name: str) -> str | None:
    """``name`` from this interpreter's venv, then the project's, then PATH."""
    candidates = [
        Path(sys.executable).parent / name,
        REPO_ROOT / ".venv-sam" / "bin" / name,
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def run_tool(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    if not cfn_lint.is_file():
        pytest.fail(
            f"cfn-lint is not installed next to {sys.executable}: run `make venv`"
        )

    result = run_tool([str(cfn_lint), str(TEMPLATE_PATH)])

    assert result.returncode == 0, result.stdout + result.stderr


def test_template_passes_sam_validate_lint() -> None:
    sam = find_executable("sam")
    if sam is None:
        pytest.fail(
            "SAM CLI not found next to the Python running the tests, in "
            ".venv-sam/bin or on PATH: run `make venv`"
        )

    result = run_tool([sam, "validate", "--lint", "--template", str(TEMPLATE_PATH)])

    assert result.returncode == 0, result.stdout + result.stderr


def test_no_iam_statement_grants_a_wildcard_action_or_every_resource(
    template: Template,
) -> None:
    statements = list(iam_statements(template))
    assert statements, "the template declares no IAM statements at all"

    for owner, statement in statements:
        sid = f"{owner}/{statement.get('Sid', '?')}"
        assert "NotAction" not in statement, sid
        assert "NotResource" not in statement, sid
        for action in as_list(statement["Action"]):
            assert isinstance(action, str), sid
            assert "*" not in action, f"{sid} grants {action}"
        for resource in as_list(statement["Resource"]):
            assert not grants_any_resource(resource), f"{sid} grants {resource}"


def test_functions_run_under_explicit_roles_so_sam_attaches_no_broad_policy(
    template: Template,
) -> None:
    # A role generated by SAM always carries AWSLambdaBasicExecutionRole,
    # whose logs actions apply to every log group in the account.
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert functions

    for name, function in functions.items():
        properties = function["Properties"]
        assert "Policies" not in properties, name
        role = properties["Role"]
        assert role == {"Fn::GetAtt": [role["Fn::GetAtt"][0], "Arn"]}, name
        assert template["Resources"][role["Fn::GetAtt"][0]]["Type"] == (
            "AWS::IAM::Role"
        )


def test_install_function_may_only_record_flows(template: Template) -> None:
    role = template["Resources"]["InstallFunctionRole"]
    actions = {
        action
        for statement in role["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"
        ]
        for action in as_list(statement["Action"])
    }

    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:PutItem",
        "kms:Decrypt",
    }


def test_every_kms_decrypt_grant_is_bound_to_a_service_or_a_context(
    template: Template,
) -> None:
    # Table and secret decryption happen inside DynamoDB and Secrets Manager
    # on the function's behalf, so those grants name the service; a direct
    # decrypt must at least be tied to an encryption context.
    decrypt_grants = [
        (owner, statement)
        for owner, statement in iam_statements(template)
        if "kms:Decrypt" in as_list(statement["Action"])
    ]
    assert decrypt_grants

    for owner, statement in decrypt_grants:
        condition = statement["Condition"]["StringEquals"]
        assert any(
            key == "kms:ViaService" or key.startswith("kms:EncryptionContext:")
            for key in condition
        ), owner
        if "kms:ViaService" in condition:
            assert condition["kms:ViaService"]["Fn::Sub"] in (
                "dynamodb.${AWS::Region}.amazonaws.com",
                "secretsmanager.${AWS::Region}.amazonaws.com",
            ), owner


def test_every_table_is_on_demand_with_recovery_and_encrypted_under_token_key(
    template: Template,
) -> None:
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    assert set(tables) == set(TABLES)

    for name, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name
        recovery = properties["PointInTimeRecoverySpecification"]
        assert recovery["PointInTimeRecoveryEnabled"] is True, name
        sse = properties["SSESpecification"]
        assert sse["SSEEnabled"] is True, name
        assert sse["SSEType"] == "KMS", name
        assert points_at(sse["KMSMasterKeyId"], TOKEN_KEY), name


def test_flows_expire_through_ttl_on_expires_at(template: Template) -> None:
    flows = template["Resources"]["FlowsTable"]["Properties"]

    assert flows["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }
    assert flows["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_installations_are_keyed_by_team_and_user_and_never_expire(
    template: Template,
) -> None:
    installations = template["Resources"]["InstallationsTable"]["Properties"]

    assert installations["KeySchema"] == [
        {"AttributeName": "team_id", "KeyType": "HASH"},
        {"AttributeName": "user_id", "KeyType": "RANGE"},
    ]
    assert "TimeToLiveSpecification" not in installations


def test_installations_and_the_key_that_reads_them_outlive_the_stack(
    template: Template,
) -> None:
    for name in ("InstallationsTable", TOKEN_KEY):
        resource = template["Resources"][name]
        assert resource["DeletionPolicy"] == "Retain", name
        assert resource["UpdateReplacePolicy"] == "Retain", name


def test_token_key_rotates(template: Template) -> None:
    key = template["Resources"][TOKEN_KEY]["Properties"]

    assert key["EnableKeyRotation"] is True


def test_key_policy_lets_cloudwatch_logs_in_only_for_this_stacks_log_groups(
    template: Template,
) -> None:
    statements = template["Resources"][TOKEN_KEY]["Properties"]["KeyPolicy"][
        "Statement"
    ]
    logs_statements = [s for s in statements if "Service" in s["Principal"]]
    assert len(logs_statements) == 1
    logs = logs_statements[0]
    allowed = {
        arn["Fn::Sub"]
        for arn in logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    }
    encrypted_groups = {
        LOG_GROUP_ARN_PREFIX + group["Properties"]["LogGroupName"]["Fn::Sub"]
        for group in resources_of_type(template, "AWS::Logs::LogGroup").values()
        if points_at(group["Properties"].get("KmsKeyId"), TOKEN_KEY)
    }

    assert logs["Principal"]["Service"] == {
        "Fn::Sub": "logs.${AWS::Region}.amazonaws.com"
    }
    assert not any("*" in action for action in logs["Action"])
    assert allowed == encrypted_groups


def test_no_parameter_can_carry_the_client_secret(template: Template) -> None:
    names = list(template["Parameters"])

    assert names
    assert not [name for name in names if "secret" in name.lower()]


def test_client_secret_is_created_empty_and_encrypted_under_token_key(
    template: Template,
) -> None:
    secret = template["Resources"]["ClientSecret"]["Properties"]

    assert "SecretString" not in secret
    assert "GenerateSecretString" not in secret
    assert points_at(secret["KmsKeyId"], TOKEN_KEY)
    assert "put-secret-value" in secret["Description"]["Fn::Sub"]


def test_every_function_logs_json_to_its_own_retained_encrypted_log_group(
    template: Template,
) -> None:
    globals_logging = template["Globals"]["Function"]["LoggingConfig"]
    assert globals_logging["LogFormat"] == "JSON"
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert functions

    for name, function in functions.items():
        properties = function["Properties"]
        group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
        group = template["Resources"][group_id]["Properties"]
        function_name = properties["FunctionName"]["Fn::Sub"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert points_at(group["KmsKeyId"], TOKEN_KEY), name


def test_every_function_sees_the_whole_environment(template: Template) -> None:
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert functions

    for name, function in functions.items():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        missing = FUNCTION_ENVIRONMENT - set(shared) - set(own)
        assert not missing, f"{name} lacks {sorted(missing)}"
    assert shared["MIRO_CLIENT_SECRET_ARN"] == {"Ref": "ClientSecret"}
    assert shared["TOKEN_KEY_ID"] == {"Fn::GetAtt": [TOKEN_KEY, "Arn"]}


def test_http_api_routes_are_get_install_and_get_callback_with_payload_2(
    template: Template,
) -> None:
    routes = set()
    for function in resources_of_type(template, "AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            properties = event["Properties"]
            assert properties["ApiId"] == {"Ref": "HttpApi"}
            routes.add(
                (
                    properties["Method"],
                    properties["Path"],
                    properties["PayloadFormatVersion"],
                )
            )

    assert routes == {("GET", "/install", "2.0"), ("GET", "/callback", "2.0")}


def event_types(template: Template, function: str) -> list[str]:
    events = template["Resources"][function]["Properties"].get("Events", {})
    return [event["Type"] for event in events.values()]


def test_only_the_app_invokes_the_tokens_function_and_a_schedule_the_keep_alive(
    template: Template,
) -> None:
    assert event_types(template, "TokensFunction") == []
    assert event_types(template, "KeepAliveFunction") == ["Schedule"]
    (schedule,) = template["Resources"]["KeepAliveFunction"]["Properties"][
        "Events"
    ].values()
    assert schedule["Properties"]["Schedule"] == {"Ref": "KeepAliveSchedule"}
    assert template["Parameters"]["KeepAliveSchedule"]["Default"] == "rate(1 day)"
    # Each run must fit a refresh inside its time (see miro_oauth.keepalive).
    assert template["Resources"]["KeepAliveFunction"]["Properties"]["Timeout"] >= 60


def role_actions(template: Template, role: str) -> dict[str, set[str]]:
    """Each statement's Sid and the actions it grants."""
    policies = template["Resources"][role]["Properties"]["Policies"]
    return {
        statement["Sid"]: set(as_list(statement["Action"]))
        for policy in policies
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    }


def test_tokens_and_keep_alive_roles_grant_only_the_table_actions_they_use(
    template: Template,
) -> None:
    tokens = role_actions(template, "TokensFunctionRole")
    keepalive = role_actions(template, "KeepAliveFunctionRole")

    assert tokens["ReadRefreshAndDeleteInstallations"] == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert keepalive["SweepAndRefreshInstallations"] == {
        "dynamodb:Scan",
        "dynamodb:UpdateItem",
    }
    for actions in (tokens, keepalive):
        everything = set().union(*actions.values())
        assert not [a for a in everything if a.startswith("dynamodb:Put")]
        assert "secretsmanager:GetSecretValue" in everything
        assert actions["SealAndOpenTokens"] == {"kms:Encrypt", "kms:Decrypt"}


def test_direct_token_sealing_is_bound_to_the_sealing_purpose(
    template: Template,
) -> None:
    for role in ("TokensFunctionRole", "KeepAliveFunctionRole"):
        (statement,) = [
            s
            for s in iam_statements(template)
            if s[0] == role and s[1]["Sid"] == "SealAndOpenTokens"
        ]
        condition = statement[1]["Condition"]["StringEquals"]
        assert condition == {"kms:EncryptionContext:purpose": "miro-oauth-tokens"}


def test_lifecycle_events_may_go_only_to_the_configured_bus(
    template: Template,
) -> None:
    grants = [
        (owner, statement)
        for owner, statement in iam_statements(template)
        if "events:PutEvents" in as_list(statement["Action"])
    ]
    bus = (
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
        "event-bus/${EventBusName}"
    )

    assert {owner for owner, _ in grants} == {
        "CallbackFunctionRole",
        "TokensFunctionRole",
        "KeepAliveFunctionRole",
    }
    for _, statement in grants:
        assert statement["Action"] == ["events:PutEvents"]
        assert statement["Resource"] == {"Fn::Sub": bus}
    assert template["Parameters"]["EventBusName"]["Default"] == "default"
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["EVENT_BUS_NAME"] == {"Ref": "EventBusName"}


def test_lifecycle_settings_come_from_parameters(template: Template) -> None:
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    tokens = template["Resources"]["TokensFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    keepalive = template["Resources"]["KeepAliveFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    lifecycle = {
        "REFRESH_MARGIN_SECONDS": "RefreshMarginSeconds",
        "KEEPALIVE_AGE_DAYS": "KeepAliveAgeDays",
        "MAX_REFRESH_FAILURES": "MaxRefreshFailures",
    }

    assert shared["MIRO_REVOKE_URL"] == {"Ref": "MiroRevokeUrl"}
    for variable, parameter in lifecycle.items():
        assert tokens[variable] == {"Ref": parameter}
        assert keepalive[variable] == {"Ref": parameter}
    assert tokens["INSTALL_URL"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        "/install"
    }
    defaults = {
        name: template["Parameters"][name]["Default"] for name in lifecycle.values()
    }
    assert defaults == {
        "RefreshMarginSeconds": 300,
        "KeepAliveAgeDays": 30,
        "MaxRefreshFailures": 5,
    }


def test_http_api_is_throttled_and_access_logged_without_the_query(
    template: Template,
) -> None:
    api = template["Resources"]["HttpApi"]["Properties"]
    access_log = api["AccessLogSettings"]
    fields = json.loads(access_log["Format"])

    assert api["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 50,
        "ThrottlingRateLimit": 20,
    }
    assert "${HttpApiAccessLogGroup}" in access_log["DestinationArn"]["Fn::Sub"]
    # The query string carries the code and the state.
    assert "$context.routeKey" in fields.values()
    assert not [value for value in fields.values() if "path" in value.lower()]


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("MiroClientId", "3458764517517818867", True),
        ("MiroClientId", "345876451", False),
        ("MiroClientId", "client-id", False),
        ("MiroRedirectUri", "", True),
        ("MiroRedirectUri", "https://example.com/callback", True),
        ("MiroRedirectUri", "http://example.com/callback", False),
        ("MiroRedirectUri", "https://example.com/call back", False),
        ("SuccessUrl", "", True),
        ("SuccessUrl", "javascript:alert(1)", False),
    ],
)
def test_parameters_reject_values_the_flow_cannot_use(
    template: Template, parameter: str, value: str, accepted: bool
) -> None:
    # CloudFormation requires the pattern to match the whole value.
    pattern = template["Parameters"][parameter]["AllowedPattern"]

    assert (re.fullmatch(pattern, value) is not None) is accepted


def test_outputs_give_the_operator_the_urls_and_names_to_configure(
    template: Template,
) -> None:
    outputs = template["Outputs"]
    base = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"

    assert outputs["InstallUrl"]["Value"] == {"Fn::Sub": base + "/install"}
    assert outputs["CallbackUrl"]["Value"] == {"Fn::Sub": base + "/callback"}
    assert "redirect URI" in outputs["CallbackUrl"]["Description"]
    assert outputs["ClientSecretArn"]["Value"] == {"Ref": "ClientSecret"}
    assert outputs["FlowsTableName"]["Value"] == {"Ref": "FlowsTable"}
    assert outputs["InstallationsTableName"]["Value"] == {"Ref": "InstallationsTable"}
    assert outputs["TokenKeyArn"]["Value"] == {"Fn::GetAtt": [TOKEN_KEY, "Arn"]}
    assert outputs["TokensFunctionArn"]["Value"] == {
        "Fn::GetAtt": ["TokensFunction", "Arn"]
    }
    assert outputs["TokensFunctionName"]["Value"] == {"Ref": "TokensFunction"}


def test_template_passes_checkov_with_every_skip_justified(template: Template) -> None:
    checkov = find_executable("checkov")
    assert checkov, "checkov not found: run `make venv`"

    result = run_tool(
        [
            checkov,
            "-f",
            str(TEMPLATE_PATH),
            "--framework",
            "cloudformation",
            "--compact",
            "--quiet",
            "--skip-download",
        ]
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 40, (
                f"{name}: {skip['id']} unjustified"
            )


def test_failure_metrics_raise_alarms_that_notify_the_topic_parameter(
    template: Template,
) -> None:
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    watched = json.dumps(alarms)

    for metric in (
        "CallbackFailed",
        "CallbackFailedByReason",
        "TokenFailed",
        "TokenFailedByReason",
        "KeepAliveFailed",
        "Errors",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert f'"{metric}"' in watched, f"no alarm watches {metric}"
    for reason in (
        "client_credentials_rejected",
        "redirect_uri_mismatch",
        "client_secret_unavailable",
        "provider_unavailable",
    ):
        assert f'"{reason}"' in watched
    for name, alarm in alarms.items():
        actions = alarm["Properties"]["AlarmActions"]
        assert actions["Fn::If"][0] == "HasAlarmTopic", name
        assert actions["Fn::If"][1] == [{"Ref": "AlarmTopicArn"}], name
    assert "AlarmTopicArn" in template["Parameters"]


def test_the_metrics_namespace_is_the_stacks_own(template: Template) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {
        "Fn::Sub": "MiroOAuth/${AWS::StackName}"
    }
    assert variables["POWERTOOLS_SERVICE_NAME"] == "miro-oauth"


def test_the_scheduled_keep_alive_has_a_dead_letter_queue_on_both_paths(
    template: Template,
) -> None:
    function = template["Resources"]["KeepAliveFunction"]["Properties"]
    schedule = function["Events"]["KeepAlive"]["Properties"]

    assert points_at(
        function["DeadLetterQueue"]["TargetArn"], "KeepAliveDeadLetterQueue"
    )
    assert points_at(schedule["DeadLetterConfig"]["Arn"], "KeepAliveDeadLetterQueue")
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    policy = template["Resources"]["KeepAliveDeadLetterQueuePolicy"]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert "aws:SourceArn" in statement["Condition"]["ArnEquals"]


def test_reserved_concurrency_is_opt_in_and_caps_every_function_it_names(
    template: Template,
) -> None:
    reserved = {
        name: resource["Properties"].get("ReservedConcurrentExecutions")
        for name, resource in resources_of_type(
            template, "AWS::Serverless::Function"
        ).items()
    }

    for name in ("InstallFunction", "CallbackFunction", "KeepAliveFunction"):
        assert reserved[name]["Fn::If"][0] == "ReservesConcurrency", name
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == 0


def test_direct_token_sealing_grants_require_the_token_encryption_context(
    template: Template,
) -> None:
    sealing = [
        (name, statement)
        for name, statement in iam_statements(template)
        if set(as_list(statement["Action"])) & {"kms:Encrypt"}
    ]

    assert len(sealing) >= 3
    for name, statement in sealing:
        condition = statement.get("Condition", {}).get("StringEquals", {})
        # The code seals with this purpose: renaming one breaks the other.
        assert condition.get("kms:EncryptionContext:purpose") == PURPOSE, name
