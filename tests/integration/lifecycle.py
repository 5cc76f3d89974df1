"""Installations made through the real install flow, then aged or broken.

The token lifecycle depends on time (an access token an hour old, a refresh
a month old) and on what Miro did with a request whose answer was lost. Tests
install through ``/install`` and ``/callback`` as a browser would, then move
the item's timestamps in DynamoDB instead of waiting. Lifecycle events are
read back the way an app would receive them: an EventBridge rule on the bus
that copies every ``miro-oauth`` event into an SQS queue.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from miro_oauth.runtime import runtime
from tests.support import Browser
from tools.local.stack import LocalStack

TEAM = "3458764517517818867"
USER = "3458764517517852417"


def install(stack: LocalStack, team_id: str = TEAM) -> None:
    browser = Browser(stack)
    answer = browser.callback(browser.consent(raw_query=f"team_id={team_id}"))
    assert answer.status == 200, answer.body


def get_token(
    stack: LocalStack, team_id: str = TEAM, timeout_s: float = 15.0, **extra: Any
) -> dict[str, Any]:
    event = {"team_id": team_id, "user_id": USER, **extra}
    return stack.invoke("TokensFunction", event, timeout_s=timeout_s)


def status(stack: LocalStack, team_id: str = TEAM) -> dict[str, Any]:
    return get_token(stack, team_id, operation="status")


def disconnect(stack: LocalStack, team_id: str = TEAM) -> dict[str, Any]:
    return get_token(stack, team_id, operation="disconnect")


def keep_alive(stack: LocalStack, timeout_s: float = 120.0) -> dict[str, Any]:
    return stack.invoke("KeepAliveFunction", {}, timeout_s=timeout_s)


def item(stack: LocalStack, team_id: str = TEAM) -> dict[str, Any]:
    """The stored item, read consistently; it must exist."""
    answer = stack.dynamodb().get_item(
        TableName=stack.table("InstallationsTable"),
        Key={"team_id": {"S": team_id}, "user_id": {"S": USER}},
        ConsistentRead=True,
    )
    found: dict[str, Any] = answer["Item"]
    return found


def all_items(stack: LocalStack) -> list[dict[str, Any]]:
    table = stack.table("InstallationsTable")
    items: list[dict[str, Any]] = stack.dynamodb().scan(
        TableName=table, ConsistentRead=True
    )["Items"]
    return items


def version(stack: LocalStack, team_id: str = TEAM) -> int:
    return int(item(stack, team_id)["token_version"]["N"])


def set_numbers(stack: LocalStack, team_id: str = TEAM, **values: float) -> None:
    """Rewrite timestamps on the item, as if that much time had passed."""
    names = {f"#{name}": name for name in values}
    stack.dynamodb().update_item(
        TableName=stack.table("InstallationsTable"),
        Key={"team_id": {"S": team_id}, "user_id": {"S": USER}},
        UpdateExpression="SET " + ", ".join(f"#{n} = :{n}" for n in values),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={
            f":{name}": {"N": f"{value:.3f}"} for name, value in values.items()
        },
    )


def expire_soon(stack: LocalStack, team_id: str = TEAM, seconds: int = 60) -> None:
    """The access token enters the refresh margin (Miro still accepts it)."""
    set_numbers(stack, team_id, access_expires_at=int(time.time()) + seconds)


def expire_now(stack: LocalStack, team_id: str = TEAM) -> None:
    """The stored access token is past its end as far as the item knows."""
    set_numbers(stack, team_id, access_expires_at=int(time.time()) - 1)


def end_cooldown(stack: LocalStack, team_id: str = TEAM) -> None:
    set_numbers(stack, team_id, cooldown_until=time.time() - 1)


def age_refresh(stack: LocalStack, days: float, team_id: str = TEAM) -> None:
    set_numbers(stack, team_id, refreshed_at=time.time() - days * 86_400)


def sealed_pair(stack: LocalStack, team_id: str = TEAM) -> dict[str, Any]:
    opened = stack.kms().decrypt(
        CiphertextBlob=bytes(item(stack, team_id)["sealed_tokens"]["B"]),
        EncryptionContext={
            "purpose": "miro-oauth-tokens",
            "team_id": team_id,
            "user_id": USER,
        },
    )
    pair: dict[str, Any] = json.loads(opened["Plaintext"])
    return pair


class EventTap:
    """Every ``miro-oauth`` event on the default bus, through an SQS queue."""

    def __init__(self, stack: LocalStack) -> None:
        self.sqs = stack.aws("sqs")
        events = stack.aws("events")
        self.queue = self.sqs.create_queue(QueueName="lifecycle-tap")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        events.put_rule(
            Name="lifecycle-tap",
            EventBusName="default",
            EventPattern=json.dumps({"source": ["miro-oauth"]}),
        )
        events.put_targets(
            Rule="lifecycle-tap",
            EventBusName="default",
            Targets=[{"Id": "queue", "Arn": arn}],
        )
        self.seen: list[dict[str, Any]] = []
        self.raw: list[str] = []

    def events(self) -> list[dict[str, Any]]:
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = answer.get("Messages", [])
            if not messages:
                return list(self.seen)
            for message in messages:
                self.raw.append(message["Body"])
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"]
                )

    def detail_types(self, team_id: str | None = None) -> list[str]:
        return [
            event["detail-type"]
            for event in self.events()
            if team_id is None or event["detail"]["team_id"] == team_id
        ]


@contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Redeploy with other settings: the functions read them on a cold start."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    runtime.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        runtime.cache_clear()
