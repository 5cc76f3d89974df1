"""Tokens at rest: sealed with KMS, bound to the installation they belong to.

The encryption context names the team and user, so a sealed blob copied onto
another installation's item fails to decrypt instead of handing out the wrong
account's tokens. KMS ``Encrypt`` takes up to 4 KiB, far above a Miro pair.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from miro_oauth.aws_failures import AWS_FAILURES, storage_failure

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

PURPOSE = "miro-oauth-tokens"


def encryption_context(team_id: str, user_id: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "team_id": team_id, "user_id": user_id}


class TokenSealer:
    def __init__(self, kms: KMSClient, key_id: str) -> None:
        self.kms = kms
        self.key_id = key_id

    def seal(self, secrets: dict[str, Any], team_id: str, user_id: str) -> bytes:
        plaintext = json.dumps(secrets, separators=(",", ":")).encode("utf-8")
        try:
            answer = self.kms.encrypt(
                KeyId=self.key_id,
                Plaintext=plaintext,
                EncryptionContext=encryption_context(team_id, user_id),
            )
        except AWS_FAILURES as exc:
            raise storage_failure("KMS encrypt failed", exc) from None
        return answer["CiphertextBlob"]

    def unseal(self, blob: bytes, team_id: str, user_id: str) -> dict[str, Any]:
        try:
            answer = self.kms.decrypt(
                KeyId=self.key_id,
                CiphertextBlob=blob,
                EncryptionContext=encryption_context(team_id, user_id),
            )
        except AWS_FAILURES as exc:
            raise storage_failure("KMS decrypt failed", exc) from None
        opened: dict[str, Any] = json.loads(answer["Plaintext"])
        return opened
