"""What the callback accepts in its query string and cookies."""

from __future__ import annotations

import pytest

from miro_oauth import errors
from miro_oauth.callback import provider_refusal, read_query
from miro_oauth.flow import (
    FlowSecrets,
    binding_matches,
    cookie_name,
    digest,
    pkce_challenge,
)
from miro_oauth.provider import Timeouts


def test_a_repeated_code_or_state_is_tampering() -> None:
    with pytest.raises(errors.RepeatedParameter):
        read_query("code=a&code=b&state=s")
    with pytest.raises(errors.RepeatedParameter):
        read_query("state=a&state=a")


def test_an_oversized_query_is_refused_before_parsing() -> None:
    with pytest.raises(errors.InvalidCallback):
        read_query("code=" + "a" * 9000)


def test_too_many_fields_are_refused() -> None:
    with pytest.raises(errors.InvalidCallback):
        read_query("&".join(f"f{i}=1" for i in range(40)))


def test_miro_extra_parameters_are_accepted() -> None:
    query = read_query("code=abc&state=xyz&client_id=1&team_id=2")

    assert query == {"code": "abc", "state": "xyz", "client_id": "1", "team_id": "2"}


def test_access_denied_is_its_own_outcome_and_unknown_errors_are_not_echoed() -> None:
    denied = provider_refusal({"error": "access_denied"})
    other = provider_refusal({"error": "<script>alert(1)</script>"})

    assert isinstance(denied, errors.AccessDenied)
    assert denied.status == 403
    assert other.fields["provider_error"] == "unrecognised"


def test_pkce_challenge_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # noqa: S105

    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_new_flow_values_carry_at_least_128_bits_and_differ_each_time() -> None:
    first, second = FlowSecrets.new(pkce=True), FlowSecrets.new(pkce=True)

    assert len(first.state) == 43  # 256 bits, base64url
    assert first.state != second.state
    assert first.binding != second.binding
    assert first.code_verifier is not None
    assert 43 <= len(first.code_verifier) <= 128
    assert FlowSecrets.new(pkce=False).code_verifier is None


def test_the_binding_cookie_is_compared_by_hash_and_named_per_flow() -> None:
    flow = FlowSecrets.new(pkce=False)

    assert binding_matches(flow.binding, digest(flow.binding))
    assert not binding_matches("other", digest(flow.binding))
    assert not binding_matches(None, digest(flow.binding))
    assert cookie_name(flow.state) != cookie_name(FlowSecrets.new(pkce=False).state)
    assert cookie_name(flow.state).startswith("__Host-")


def test_provider_time_outs_end_before_the_lambda_does() -> None:
    tight = Timeouts.within(5_000)
    roomy = Timeouts.within(20_000)
    unknown = Timeouts.within(None)

    assert tight.connect + tight.read <= 5.0 - 2.5
    assert roomy.read == 10.0
    assert unknown.read == 10.0
    assert Timeouts.within(100).read >= 0.5
