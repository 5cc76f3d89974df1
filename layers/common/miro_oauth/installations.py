"""The installations table: one item per Miro team and user.

Tokens live only inside ``sealed_tokens`` (KMS, see ``sealing``). Every write
of a new pair adds one to ``token_version``, so a reader can tell which pair
it holds and a writer can refuse to overwrite a newer one.

Miro retires a refresh token the moment it answers a refresh, so only one
caller may spend it. That caller first takes a *lease*: one conditional write
of ``lease_owner`` and ``lease_expires_at`` that succeeds only for the
``token_version`` it read and only while no other lease is live. Every later
write (new pair, failure, deletion) is conditioned on that version, so a
caller holding a stale pair can never overwrite a newer one.

Item attributes besides the keys: ``sealed_tokens`` (B), ``token_version``,
``status`` (``healthy`` or ``reauthorization_required``), ``status_reason``,
``scope``, ``refreshable`` (BOOL), ``access_expires_at``, ``installed_at``,
``refreshed_at``, ``updated_at``, ``lease_owner``, ``lease_expires_at``,
``failure_count``, ``last_failure``, ``last_failure_at``, ``cooldown_until``.
Times are epoch seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from miro_oauth.aws_failures import AWS_FAILURES, condition_failed, storage_failure
from miro_oauth.sealing import TokenSealer
from miro_oauth.tokens import TokenSet

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HEALTHY = "healthy"
REAUTHORIZATION_REQUIRED = "reauthorization_required"


# Everything but the sealed pair: what a sweep reads before it needs tokens.
SUMMARY_ATTRIBUTES = (
    "team_id",
    "user_id",
    "token_version",
    "#status",
    "status_reason",
    "#scope",
    "refreshable",
    "access_expires_at",
    "installed_at",
    "refreshed_at",
    "lease_owner",
    "lease_expires_at",
    "failure_count",
    "last_failure",
    "cooldown_until",
)
# Cleared whenever a new pair is stored: the failures were about the old one.
FAILURE_ATTRIBUTES = (
    "lease_owner",
    "lease_expires_at",
    "failure_count",
    "last_failure",
    "last_failure_at",
    "cooldown_until",
    "status_reason",
)


def _number(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else None


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return str(value) if value is not None else None


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
    refreshable: bool = True
    status_reason: str | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    failure_count: int = 0
    last_failure: str | None = None
    cooldown_until: float | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Installation:
        expires = _number(item, "access_expires_at")
        refreshable = item.get("refreshable", {}).get("BOOL")
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
            refreshable=expires is not None if refreshable is None else refreshable,
            status_reason=_text(item, "status_reason"),
            lease_owner=_text(item, "lease_owner"),
            lease_expires_at=_number(item, "lease_expires_at"),
            failure_count=int(_number(item, "failure_count") or 0),
            last_failure=_text(item, "last_failure"),
            cooldown_until=_number(item, "cooldown_until"),
        )

    def access_valid(self, now: float) -> bool:
        """The access token has not expired (tokens without expiry never do)."""
        return self.access_expires_at is None or self.access_expires_at > now

    def lease_live(self, now: float) -> bool:
        return self.lease_expires_at is not None and self.lease_expires_at > now

    def cooling_down(self, now: float) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now


class InstallationStore:
    def __init__(
        self, dynamodb: DynamoDBClient, table: str, sealer: TokenSealer
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.sealer = sealer

    def _new_pair(
        self, owner: tuple[str, str], tokens: TokenSet, scope: str, now: float
    ) -> tuple[str, dict[str, Any], list[str]]:
        """The SET clause, values and removals that store a new pair.

        Sealed under the installation's own context; a healthy status, and no
        lease or failure left over from the pair it replaces.
        """
        sealed = self.sealer.seal(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
            },
            *owner,
        )
        values: dict[str, Any] = {
            ":sealed": {"B": sealed},
            ":scope": {"S": scope},
            ":now": {"N": f"{now:.3f}"},
            ":healthy": {"S": HEALTHY},
            ":one": {"N": "1"},
            ":refreshable": {"BOOL": tokens.refresh_token is not None},
        }
        update = (
            "SET sealed_tokens = :sealed, #scope = :scope, #status = :healthy, "
            "refreshed_at = :now, updated_at = :now, refreshable = :refreshable"
        )
        remove = list(FAILURE_ATTRIBUTES)
        if tokens.expires_in is not None:
            values[":expires"] = {"N": str(int(now) + tokens.expires_in)}
            update += ", access_expires_at = :expires"
        else:
            remove.append("access_expires_at")
        return update, values, remove

    def save_install(self, tokens: TokenSet, now: float) -> int:
        """Store the pair from a fresh authorization; returns its version.

        A new authorization replaces whatever pair the item held, healthy or
        not, and clears any failure state: the user has just proved consent.
        """
        owner = (tokens.team_id, tokens.user_id)
        update, values, remove = self._new_pair(owner, tokens, tokens.scope, now)
        update += ", installed_at = if_not_exists(installed_at, :now)"
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key={
                    "team_id": {"S": tokens.team_id},
                    "user_id": {"S": tokens.user_id},
                },
                UpdateExpression=f"{update} ADD token_version :one "
                f"REMOVE {', '.join(remove)}",
                ExpressionAttributeNames={"#scope": "scope", "#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except AWS_FAILURES as exc:
            raise storage_failure("DynamoDB save installation failed", exc) from None
        return int(answer["Attributes"]["token_version"]["N"])

    def get(self, team_id: str, user_id: str) -> Installation | None:
        """The item as it is now (a consistent read: leases depend on it)."""
        try:
            answer = self.dynamodb.get_item(
                TableName=self.table,
                Key={"team_id": {"S": team_id}, "user_id": {"S": user_id}},
                ConsistentRead=True,
            )
        except AWS_FAILURES as exc:
            raise storage_failure("DynamoDB get installation failed", exc) from None
        item = answer.get("Item")
        return Installation.from_item(item) if item else None

    def take_lease(
        self,
        read: Installation,
        owner: str,
        now: float,
        *,
        seconds: float,
        for_refresh: bool,
    ) -> Installation | None:
        """Claim the right to spend the pair ``read`` holds; None if another won.

        It succeeds only if the item still has ``read``'s version and no live
        lease. A lease to refresh also needs a healthy item out of cool-down,
        so an installation that just failed is not refreshed again at once.
        The answer is the whole item as leased, sealed pair included.
        """
        condition = (
            "token_version = :version AND (attribute_not_exists(lease_expires_at) "
            "OR lease_expires_at <= :now)"
        )
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":version": {"N": str(read.token_version)},
            ":now": {"N": f"{now:.3f}"},
            ":owner": {"S": owner},
            ":until": {"N": f"{now + seconds:.3f}"},
        }
        if for_refresh:
            condition += (
                " AND #status = :healthy AND (attribute_not_exists(cooldown_until) "
                "OR cooldown_until <= :now)"
            )
            names["#status"] = "status"
            values[":healthy"] = {"S": HEALTHY}
        answer = self._update(
            read,
            "SET lease_owner = :owner, lease_expires_at = :until",
            condition,
            values,
            names,
            return_values="ALL_NEW",
        )
        return Installation.from_item(answer) if answer is not None else None

    def store_refreshed(
        self, held: Installation, tokens: TokenSet, now: float
    ) -> int | None:
        """Store the pair a refresh returned; its version, or None if superseded.

        The write is conditioned on the version the lease was taken for, so a
        reinstall that landed meanwhile is never overwritten. The lease and
        every trace of earlier failures go with the old pair.
        """
        owner = (held.team_id, held.user_id)
        update, values, remove = self._new_pair(
            owner, tokens, tokens.scope or held.scope, now
        )
        values[":version"] = {"N": str(held.token_version)}
        answer = self._update(
            held,
            f"{update} ADD token_version :one REMOVE {', '.join(remove)}",
            "token_version = :version",
            values,
            {"#scope": "scope", "#status": "status"},
            return_values="UPDATED_NEW",
        )
        return int(answer["token_version"]["N"]) if answer is not None else None

    def record_failure(
        self,
        held: Installation,
        now: float,
        *,
        reason: str,
        cooldown_until: float | None,
        counted: bool,
        reauthorization: str | None = None,
    ) -> bool:
        """Note a failed refresh and give the lease back; False if superseded.

        ``reauthorization`` names why the pair is beyond refreshing: the item
        then says ``reauthorization_required`` until the user installs again.
        """
        values: dict[str, Any] = {
            ":version": {"N": str(held.token_version)},
            ":reason": {"S": reason},
            ":now": {"N": f"{now:.3f}"},
        }
        names: dict[str, str] = {}
        update = "SET last_failure = :reason, last_failure_at = :now, updated_at = :now"
        remove = ["lease_owner", "lease_expires_at"]
        if cooldown_until is not None:
            values[":cooldown"] = {"N": f"{cooldown_until:.3f}"}
            update += ", cooldown_until = :cooldown"
        else:
            remove.append("cooldown_until")
        if reauthorization is not None:
            names["#status"] = "status"
            values[":reauthorize"] = {"S": REAUTHORIZATION_REQUIRED}
            values[":why"] = {"S": reauthorization}
            update += ", #status = :reauthorize, status_reason = :why"
        expression = f"{update} REMOVE {', '.join(remove)}"
        if counted:
            values[":one"] = {"N": "1"}
            expression = f"{update} ADD failure_count :one REMOVE {', '.join(remove)}"
        answer = self._update(
            held, expression, "token_version = :version", values, names
        )
        return answer is not None

    def release_lease(self, held: Installation, owner: str) -> None:
        """Give the lease back unused; nothing happens if it is no longer ours."""
        self._update(
            held,
            "REMOVE lease_owner, lease_expires_at",
            "lease_owner = :owner",
            {":owner": {"S": owner}},
            {},
        )

    def delete(self, held: Installation) -> bool:
        """Remove the installation if it still holds ``held``'s pair."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key=_key(held),
                ConditionExpression="token_version = :version",
                ExpressionAttributeValues={":version": {"N": str(held.token_version)}},
            )
        except AWS_FAILURES as exc:
            if condition_failed(exc):
                return False
            raise storage_failure("DynamoDB delete installation failed", exc) from None
        return True

    def scan_page(
        self, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[Installation], dict[str, Any] | None]:
        """One page of installations without their sealed pairs, and where to go on."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "ProjectionExpression": ", ".join(SUMMARY_ATTRIBUTES),
            "ExpressionAttributeNames": {"#status": "status", "#scope": "scope"},
            "Limit": limit,
        }
        if start_key:
            request["ExclusiveStartKey"] = start_key
        try:
            answer = self.dynamodb.scan(**request)
        except AWS_FAILURES as exc:
            raise storage_failure("DynamoDB scan installations failed", exc) from None
        items = [Installation.from_item(item) for item in answer.get("Items", [])]
        return items, answer.get("LastEvaluatedKey")

    def _update(
        self,
        target: Installation,
        expression: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str],
        *,
        return_values: str = "NONE",
    ) -> dict[str, Any] | None:
        """A conditional update: its attributes, or None when the condition failed."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(target),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValues": return_values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            answer = self.dynamodb.update_item(**request)
        except AWS_FAILURES as exc:
            if condition_failed(exc):
                return None
            raise storage_failure("DynamoDB update installation failed", exc) from None
        attributes: dict[str, Any] = answer.get("Attributes", {})
        return attributes


def _key(installation: Installation) -> dict[str, Any]:
    return {
        "team_id": {"S": installation.team_id},
        "user_id": {"S": installation.user_id},
    }
