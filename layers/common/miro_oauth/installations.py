"""The installations table: one item per Miro team and user.

Tokens live only inside ``sealed_tokens`` (KMS, see ``sealing``). Every write
of a new pair adds one to ``token_version``, so a reader can tell which pair
it holds and a writer can refuse to overwrite a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from miro_oauth import errors
from miro_oauth.sealing import TokenSealer, aws_error_code
from miro_oauth.tokens import TokenSet

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HEALTHY = "healthy"
REAUTHORIZATION_REQUIRED = "reauthorization_required"


@dataclass(frozen=True)
class Installation:
    team_id: str
    user_id: str
    token_version: int
    status: str
    scope: str
    access_expires_at: int | None
    refreshed_at: float
    installed_at: float
    sealed_tokens: bytes = b""

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Installation:
        expires = item.get("access_expires_at", {}).get("N")
        return cls(
            team_id=item["team_id"]["S"],
            user_id=item["user_id"]["S"],
            token_version=int(item["token_version"]["N"]),
            status=item.get("status", {}).get("S", HEALTHY),
            scope=item.get("scope", {}).get("S", ""),
            access_expires_at=int(expires) if expires is not None else None,
            refreshed_at=float(item["refreshed_at"]["N"]),
            installed_at=float(item["installed_at"]["N"]),
            sealed_tokens=bytes(item.get("sealed_tokens", {}).get("B", b"")),
        )


class InstallationStore:
    def __init__(
        self, dynamodb: DynamoDBClient, table: str, sealer: TokenSealer
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.sealer = sealer

    def save_install(self, tokens: TokenSet, now: float) -> int:
        """Store the pair from a fresh authorization; returns its version.

        A new authorization replaces whatever pair the item held, healthy or
        not, and clears any failure state: the user has just proved consent.
        """
        sealed = self.sealer.seal(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
            },
            tokens.team_id,
            tokens.user_id,
        )
        values: dict[str, Any] = {
            ":sealed": {"B": sealed},
            ":scope": {"S": tokens.scope},
            ":now": {"N": f"{now:.3f}"},
            ":healthy": {"S": HEALTHY},
            ":one": {"N": "1"},
            ":refreshable": {"BOOL": tokens.refresh_token is not None},
        }
        set_clause = (
            "SET sealed_tokens = :sealed, #scope = :scope, #status = :healthy, "
            "refreshed_at = :now, updated_at = :now, refreshable = :refreshable, "
            "installed_at = if_not_exists(installed_at, :now)"
        )
        remove = ["lease_owner", "lease_expires_at", "failure_count", "last_failure"]
        if tokens.expires_in is not None:
            values[":expires"] = {"N": str(int(now) + tokens.expires_in)}
            set_clause += ", access_expires_at = :expires"
        else:
            remove.append("access_expires_at")
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key={
                    "team_id": {"S": tokens.team_id},
                    "user_id": {"S": tokens.user_id},
                },
                UpdateExpression=f"{set_clause} ADD token_version :one "
                f"REMOVE {', '.join(remove)}",
                ExpressionAttributeNames={"#scope": "scope", "#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except (ClientError, BotoCoreError) as exc:
            raise errors.StorageUnavailable(
                "DynamoDB save installation failed", aws_error_code=aws_error_code(exc)
            ) from None
        return int(answer["Attributes"]["token_version"]["N"])

    def get(self, team_id: str, user_id: str) -> Installation | None:
        try:
            answer = self.dynamodb.get_item(
                TableName=self.table,
                Key={"team_id": {"S": team_id}, "user_id": {"S": user_id}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise errors.StorageUnavailable(
                "DynamoDB get installation failed", aws_error_code=aws_error_code(exc)
            ) from None
        item = answer.get("Item")
        return Installation.from_item(item) if item else None
