"""The flows table: issued states and claimed codes.

A state item is written by ``/install``. The callback consumes it and claims
the code in one transaction, so a code reaches Miro at most once (RFC 6749
4.1.2) whatever the browser does: refresh, back button, a second tab, a
replayed link. Codes are stored only as their SHA-256; states too.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from miro_oauth import errors
from miro_oauth.aws_failures import (
    AWS_FAILURES,
    aws_error_code,
    condition_failed,
    storage_failure,
)
from miro_oauth.flow import binding_matches, digest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A claim outlives the code it guards (10 minutes) by a wide margin; after a
# day the code is long dead at Miro and the record is only noise.
CLAIM_RETENTION_SECONDS = 86_400
# DynamoDB deletes expired items lazily; readers check expiry themselves.
STATE_RETENTION_SECONDS = 3_600


def state_key(state: str) -> str:
    return "state#" + digest(state)


def claim_key(code: str) -> str:
    return "code#" + digest(code)


@dataclass(frozen=True)
class StateRecord:
    key: str
    created_at: float
    redirect_uri: str
    binding_hash: str
    code_verifier: str | None
    team_id: str | None
    consumed_at: float | None = None
    code_hash: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StateRecord:
        def optional(name: str) -> str | None:
            value = item.get(name, {}).get("S")
            return str(value) if value is not None else None

        consumed = item.get("consumed_at", {}).get("N")
        return cls(
            key=item["pk"]["S"],
            created_at=float(item["created_at"]["N"]),
            redirect_uri=item["redirect_uri"]["S"],
            binding_hash=item["binding_hash"]["S"],
            code_verifier=optional("code_verifier"),
            team_id=optional("team_id"),
            consumed_at=float(consumed) if consumed is not None else None,
            code_hash=optional("code_hash"),
        )

    def age(self, now: float) -> float:
        return now - self.created_at


class FlowStore:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table

    def put_state(
        self,
        *,
        state: str,
        binding: str,
        redirect_uri: str,
        code_verifier: str | None,
        team_id: str | None,
        now: float,
    ) -> None:
        item: dict[str, Any] = {
            "pk": {"S": state_key(state)},
            "created_at": {"N": f"{now:.3f}"},
            "expires_at": {"N": str(int(now) + STATE_RETENTION_SECONDS)},
            "redirect_uri": {"S": redirect_uri},
            "binding_hash": {"S": digest(binding)},
        }
        if code_verifier:
            item["code_verifier"] = {"S": code_verifier}
        if team_id:
            item["team_id"] = {"S": team_id}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except AWS_FAILURES as exc:
            # 256 random bits never collide: the item exists because a retry
            # of this very request found the first attempt already stored.
            if condition_failed(exc):
                return
            raise _storage_failure("put state", exc) from None

    def get_state(self, state: str) -> StateRecord | None:
        try:
            answer = self.dynamodb.get_item(
                TableName=self.table,
                Key={"pk": {"S": state_key(state)}},
                ConsistentRead=True,
            )
        except AWS_FAILURES as exc:
            raise _storage_failure("get state", exc) from None
        item = answer.get("Item")
        return StateRecord.from_item(item) if item else None

    def claim(self, record: StateRecord, code: str, cookie: str, now: float) -> str:
        """Consume the state and claim the code in one atomic write.

        Returns the claim key. Raises ``CodeAlreadyClaimed`` when any earlier
        callback claimed this code, ``StateAlreadyUsed`` or ``StateNotBound``
        when the state no longer allows it. The request token makes botocore's
        own retries idempotent, so a throttled attempt that did land is not
        mistaken for a rival.
        """
        code_hash = digest(code)
        claim = claim_key(code)
        try:
            self.dynamodb.transact_write_items(
                ClientRequestToken=uuid.uuid4().hex,
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": record.key}},
                            # The verifier has done its job once read; it
                            # is not kept beside a consumed state.
                            "UpdateExpression": "SET consumed_at = :now, "
                            "code_hash = :code REMOVE code_verifier",
                            "ConditionExpression": "attribute_exists(pk) AND "
                            "attribute_not_exists(consumed_at) AND "
                            "binding_hash = :binding",
                            "ExpressionAttributeValues": {
                                ":now": {"N": f"{now:.3f}"},
                                ":code": {"S": code_hash},
                                ":binding": {"S": digest(cookie)},
                            },
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": {"S": claim},
                                "status": {"S": "claimed"},
                                "claimed_at": {"N": f"{now:.3f}"},
                                "state_key": {"S": record.key},
                                "expires_at": {
                                    "N": str(int(now) + CLAIM_RETENTION_SECONDS)
                                },
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except ClientError as exc:
            if aws_error_code(exc) != "TransactionCanceledException":
                raise _storage_failure("claim code", exc) from None
            raise self._why_cancelled(exc, code_hash, cookie) from None
        except AWS_FAILURES as exc:
            raise _storage_failure("claim code", exc) from None
        return claim

    def _why_cancelled(
        self, exc: ClientError, code_hash: str, cookie: str
    ) -> errors.MiroOAuthError:
        reasons: list[Any] = list(exc.response.get("CancellationReasons", []))
        state_reason = reasons[0] if reasons else {}
        claim_reason = reasons[1] if len(reasons) > 1 else {}
        codes = {state_reason.get("Code"), claim_reason.get("Code")}

        if claim_reason.get("Code") == "ConditionalCheckFailed":
            return errors.CodeAlreadyClaimed("the code was claimed before")
        if "TransactionConflict" in codes:
            return errors.CodeAlreadyClaimed("a concurrent callback holds this code")
        if state_reason.get("Code") != "ConditionalCheckFailed":
            return _storage_failure("claim code", exc)

        old = state_reason.get("Item")
        if not old:
            return errors.StateRejected("state vanished before the claim")
        record = StateRecord.from_item(old)
        if record.consumed_at is not None:
            if record.code_hash == code_hash:
                return errors.CodeAlreadyClaimed("this callback already ran")
            return errors.StateAlreadyUsed("state consumed with another code")
        if not binding_matches(cookie, record.binding_hash):
            return errors.StateNotBound("binding changed before the claim")
        return _storage_failure("claim code", exc)

    def claim_status(self, claim: str) -> str | None:
        try:
            answer = self.dynamodb.get_item(
                TableName=self.table, Key={"pk": {"S": claim}}, ConsistentRead=True
            )
        except AWS_FAILURES as exc:
            raise _storage_failure("get claim", exc) from None
        item = answer.get("Item")
        return str(item["status"]["S"]) if item else None

    def finish_claim(self, claim: str, *, succeeded: bool, reason: str) -> None:
        """Record how the one exchange of this code ended; it is never retried."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": claim}},
                UpdateExpression="SET #status = :status, reason = :reason, "
                "finished_at = :now",
                ConditionExpression="#status = :claimed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": "complete" if succeeded else "failed"},
                    ":reason": {"S": reason},
                    ":now": {"N": f"{time.time():.3f}"},
                    ":claimed": {"S": "claimed"},
                },
            )
        except AWS_FAILURES as exc:
            # The claim is no longer "claimed": a retry of this request found
            # the first attempt already recorded the outcome.
            if condition_failed(exc):
                return
            raise _storage_failure("finish claim", exc) from None


def _storage_failure(operation: str, exc: Exception) -> errors.StorageUnavailable:
    return storage_failure(f"DynamoDB {operation} failed", exc)
