"""One reading of botocore failures for every store that talks to AWS.

Only the AWS error code is ever reported, never the message: a message can
quote a request parameter.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from miro_oauth import errors

# What a boto3 call raises when the service or the connection fails.
AWS_FAILURES = (ClientError, BotoCoreError)


def aws_error_code(exc: Exception) -> str:
    """The AWS error code of a botocore failure, never its message."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def condition_failed(exc: Exception) -> bool:
    """A conditional write DynamoDB refused: an answer, not an outage."""
    return aws_error_code(exc) == "ConditionalCheckFailedException"


def storage_failure(detail: str, exc: Exception) -> errors.StorageUnavailable:
    return errors.StorageUnavailable(detail, aws_error_code=aws_error_code(exc))
