"""Every way an install can fail, each named for a cause someone can act on.

The tree::

    MiroOAuthError                      reason             status
    ├── ProviderDenied                  access_denied /     403/400
    │                                   provider_error
    ├── InvalidCallback                 missing_parameter,  400
    │                                   repeated_parameter,
    │                                   malformed_parameter
    ├── StateRejected                   state_unknown,      400
    │                                   state_expired,
    │                                   state_already_used,
    │                                   state_not_bound
    ├── CodeAlreadyClaimed              code_already_claimed 409
    ├── CodeTooOld                      code_expired_before_exchange 400
    ├── ExchangeFailed                  (provider refused or failed) 502/503/504
    │   ├── CodeExpired, CodeAlreadyUsed, RedirectUriMismatch,
    │   ├── ClientCredentialsRejected, PkceRejected, MalformedRequest,
    │   ├── ExchangeRejected, ProviderRateLimited, ProviderUnavailable,
    │   └── ProviderTimeout, UnexpectedResponse
    ├── ClientSecretUnavailable         client_secret_unavailable 500
    ├── StorageUnavailable              storage_unavailable 503
    │
    │   token lifecycle (the tokens function's answers)
    ├── InvalidRequest                  invalid_request     400
    ├── NotInstalled                    not_installed       404
    ├── ReauthorizationRequired         reauthorization_required 401
    │   ├── RefreshTokenRejected        refresh_token_rejected
    │   └── RefreshFailuresExhausted    refresh_failures_exhausted
    └── RefreshDeferred                 (no refresh now, retry later) 503
        ├── RefreshCoolingDown          refresh_cooling_down
        ├── RefreshInProgress           refresh_in_progress
        └── RefreshOutcomeUnknown       refresh_outcome_unknown

``reason`` is the stable wire name that appears in logs, metrics and pages;
``hint`` tells a developer what to do; ``advice`` tells the person in the
browser. ``error`` is the coarser code the tokens function answers the app
with (``not_installed``, ``reauthorization_required``, ``provider_unavailable``,
``invalid_request``, ``storage_unavailable``, ``internal_error``). Nothing here
ever holds a code, token or secret.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MiroOAuthError(Exception):
    """Base of every failure this package reports on purpose."""

    reason: ClassVar[str] = "internal_error"
    error: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Something went wrong"
    advice: ClassVar[str] = "Please start the connection again."
    hint: ClassVar[str] = "Look up the reference id in the function's logs."

    def __init__(self, detail: str = "", **fields: Any) -> None:
        super().__init__(detail or self.reason)
        self.detail = detail
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def log_fields(self) -> dict[str, Any]:
        """The keys of the one structured event that reports this failure."""
        fields: dict[str, Any] = {"reason": self.reason, "hint": self.hint}
        if self.detail:
            fields["detail"] = self.detail
        fields.update(self.fields)
        return fields


class ProviderDenied(MiroOAuthError):
    """Miro came back with ``error=...`` instead of a code (RFC 6749 4.1.2.1)."""

    reason = "provider_error"
    status = 400
    title = "Miro did not authorize the app"
    advice = "Miro returned an error instead of an authorization. Start again."
    hint = (
        "Miro redirected with an OAuth error; see provider_error and "
        "provider_error_description."
    )


class AccessDenied(ProviderDenied):
    reason = "access_denied"
    status = 403
    title = "Connection cancelled"
    advice = (
        "You chose not to give the app access to Miro. Nothing was stored. "
        "You can start again whenever you like."
    )
    hint = "The user pressed Deny on Miro's consent screen; nothing to fix."


class InvalidCallback(MiroOAuthError):
    reason = "malformed_parameter"
    status = 400
    title = "This link is not valid"
    advice = (
        "The address that brought you here is incomplete or has been changed. "
        "Start the connection again from the beginning."
    )
    hint = "The callback query string is not what Miro sends; check the link."


class MissingParameter(InvalidCallback):
    reason = "missing_parameter"


class RepeatedParameter(InvalidCallback):
    reason = "repeated_parameter"
    hint = "A callback parameter appears more than once; the link was tampered with."


class StateRejected(MiroOAuthError):
    reason = "state_unknown"
    status = 400
    title = "This link is not valid"
    advice = (
        "We could not match this sign-in to one you started. "
        "Start the connection again from the beginning."
    )
    hint = (
        "The state was never issued by /install, or its record is gone "
        "(RFC 6749 10.12: a callback without a known state is refused)."
    )


class StateExpired(StateRejected):
    reason = "state_expired"
    title = "This sign-in has expired"
    advice = (
        "Connecting to Miro has to finish within 10 minutes. Start again and "
        "complete it in one go."
    )
    hint = (
        "More than 10 minutes passed between /install and the callback; Miro's "
        "code would be expired too."
    )


class StateAlreadyUsed(StateRejected):
    reason = "state_already_used"
    title = "This link was already used"
    advice = (
        "Each sign-in link works once. If you refreshed the page or went back, "
        "start the connection again."
    )
    hint = "The state was consumed by an earlier callback (refresh, back button)."


class StateNotBound(StateRejected):
    reason = "state_not_bound"
    title = "Please finish in the same browser"
    advice = (
        "This sign-in was started in another browser or tab that has since "
        "closed, or your browser blocked our cookie. Start again here."
    )
    hint = (
        "The browser-binding cookie is missing or does not match the state "
        "(CSRF protection, RFC 9700 4.7). Check that cookies reach the API's "
        "domain and that /install and /callback share a host."
    )


class CodeAlreadyClaimed(MiroOAuthError):
    reason = "code_already_claimed"
    status = 409
    title = "This link was already used"
    advice = (
        "This sign-in link has already been used, so it cannot be used again. "
        "If your Miro account is not connected yet, start again."
    )
    hint = (
        "The same authorization code reached the callback again (refresh, back "
        "button, second tab, replayed link); it was not sent to Miro twice."
    )


class CodeTooOld(MiroOAuthError):
    reason = "code_expired_before_exchange"
    status = 400
    title = "This sign-in has expired"
    advice = (
        "Connecting to Miro has to finish within 10 minutes. Start again and "
        "complete it in one go."
    )
    hint = (
        "The flow is older than Miro's 10-minute code lifetime, so the code was "
        "not sent to Miro."
    )


class ExchangeFailed(MiroOAuthError):
    """Miro refused the token request or could not be reached."""

    reason = "unexpected_response"
    status = 502
    title = "Miro did not accept the connection"
    advice = (
        "Miro could not complete the connection. Start again; if it keeps "
        "happening, contact the app's support with the reference below."
    )
    hint = "Miro answered in a way this client does not recognise."


class CodeExpired(ExchangeFailed):
    reason = "code_expired"
    hint = (
        "Miro says the code expired: codes live 10 minutes. Check the Lambda's "
        "clock and that nothing delays the callback."
    )


class CodeAlreadyUsed(ExchangeFailed):
    reason = "code_already_used"
    hint = (
        "Miro says the code was already used. This service sends each code at "
        "most once, so another client spent it: check for a second deployment "
        "or a test replaying codes against the same Miro app."
    )


class RedirectUriMismatch(ExchangeFailed):
    reason = "redirect_uri_mismatch"
    hint = (
        "The redirect_uri must equal, byte for byte, the one registered in the "
        "Miro app and used at /install (trailing slash, http/https, host, path). "
        "Compare the stack's CallbackUrl output with the app settings."
    )


class ClientCredentialsRejected(ExchangeFailed):
    reason = "client_credentials_rejected"
    hint = (
        "Miro rejected client_id/client_secret. Put the app's current client "
        "secret in the ClientSecret secret (exactly, no quotes or newline) and "
        "check MIRO_CLIENT_ID."
    )


class PkceRejected(ExchangeFailed):
    reason = "pkce_rejected"
    hint = (
        "Miro rejected the PKCE code_verifier. Deploy with PkceEnabled=false "
        "if this Miro app does not accept PKCE."
    )


class MalformedRequest(ExchangeFailed):
    reason = "malformed_request"
    hint = (
        "Miro says the token request is malformed. This client sends a "
        "form-encoded body; check MIRO_TOKEN_URL points at Miro's token endpoint."
    )


class ExchangeRejected(ExchangeFailed):
    reason = "exchange_rejected"
    hint = (
        "Miro refused the code without naming a cause. The body is form-encoded "
        "and the code was sent once, so check in order: the client secret in "
        "the ClientSecret secret, MIRO_CLIENT_ID, and that the registered "
        "redirect URI equals the stack's CallbackUrl."
    )


class ProviderRateLimited(ExchangeFailed):
    reason = "provider_rate_limited"
    error = "provider_unavailable"
    status = 503
    title = "Miro is busy"
    advice = (
        "Miro is receiving too many requests right now. Wait a minute, then "
        "start again."
    )
    hint = "Miro answered 429; see rate_limit_reset for when the window resets."


class ProviderUnavailable(ExchangeFailed):
    reason = "provider_unavailable"
    error = "provider_unavailable"
    status = 503
    title = "Miro is not reachable"
    advice = "We could not reach Miro. Wait a moment, then start again."
    hint = "Miro answered 5xx or the connection failed before the request was sent."


class ProviderTimeout(ExchangeFailed):
    reason = "provider_timeout"
    error = "provider_unavailable"
    status = 504
    title = "Miro did not answer in time"
    advice = "Miro took too long to answer. Start the connection again."
    hint = (
        "Miro did not answer before the read time-out. The code may have been "
        "spent, so it is not sent again; the user must start again."
    )


class UnexpectedResponse(ExchangeFailed):
    reason = "unexpected_response"


class ClientSecretUnavailable(MiroOAuthError):
    reason = "client_secret_unavailable"
    status = 500
    title = "The app is not set up yet"
    advice = (
        "The app's connection to Miro is not configured yet. Please tell the "
        "app's support, quoting the reference below."
    )
    hint = (
        "The ClientSecret secret is missing, empty or unreadable. Put the Miro "
        "client secret in it with `aws secretsmanager put-secret-value`."
    )


class StorageUnavailable(MiroOAuthError):
    reason = "storage_unavailable"
    error = "storage_unavailable"
    status = 503
    title = "Please try again"
    advice = "We could not save your sign-in just now. Wait a moment, then start again."
    hint = (
        "DynamoDB or KMS failed after botocore's retries (throttling or an "
        "outage); see aws_error_code."
    )


# Token lifecycle ---------------------------------------------------------------


class InvalidRequest(MiroOAuthError):
    reason = "invalid_request"
    error = "invalid_request"
    status = 400
    hint = (
        'Invoke with {"operation": "get_token" | "status" | "disconnect", '
        '"team_id": "<digits>", "user_id": "<digits>"}; see detail.'
    )


class NotInstalled(MiroOAuthError):
    reason = "not_installed"
    error = "not_installed"
    status = 404
    hint = (
        "No installation is stored for this team and user: send the user to "
        "install_url."
    )


class ReauthorizationRequired(MiroOAuthError):
    """The stored pair can never be refreshed again; only a new consent helps."""

    reason = "reauthorization_required"
    error = "reauthorization_required"
    status = 401
    hint = (
        "The installation can no longer be refreshed; the user must install "
        "again from install_url."
    )


class RefreshTokenRejected(ReauthorizationRequired):
    reason = "refresh_token_rejected"
    hint = (
        "Miro refused the refresh token: it was revoked (app uninstalled), "
        "expired after 60 days unused, or spent by a refresh whose answer was "
        "lost. The user must install again from install_url."
    )


class RefreshFailuresExhausted(ReauthorizationRequired):
    reason = "refresh_failures_exhausted"
    hint = (
        "The access token has expired and MAX_REFRESH_FAILURES refreshes in a "
        "row failed (see last_failure). The user must install again from "
        "install_url; check Miro's status if many installations show this."
    )


class RefreshDeferred(MiroOAuthError):
    """No usable token right now; ``retry_after`` says when to ask again."""

    reason = "refresh_deferred"
    error = "provider_unavailable"
    status = 503
    hint = "Ask again after retry_after seconds."


class RefreshCoolingDown(RefreshDeferred):
    reason = "refresh_cooling_down"
    hint = (
        "A recent refresh failed (see last_failure), so refreshes of this "
        "installation pause until cooldown_until and the access token has "
        "expired meanwhile. Ask again after retry_after seconds."
    )


class RefreshInProgress(RefreshDeferred):
    reason = "refresh_in_progress"
    hint = (
        "Another invocation holds the refresh lease and did not finish within "
        "this invocation's time. Ask again after retry_after seconds."
    )


class RefreshOutcomeUnknown(RefreshDeferred):
    reason = "refresh_outcome_unknown"
    hint = (
        "The refresh request reached Miro but no answer came back (time-out or "
        "connection lost), so Miro may have rotated the pair. The next attempt "
        "with the stored refresh token either works or ends in "
        "reauthorization_required."
    )
