"""Parsing Miro's token answer."""

from __future__ import annotations

import json

import pytest

from miro_oauth.tokens import TokenResponseInvalid, TokenSet

ANSWER = {
    "access_token": "eyJtaXJvLm9yaWdpbiI6ImV1MDEifQ_access",
    "token_type": "bearer",
    "scope": "boards:read boards:write",
    "user_id": "3458764517517852417",
    "team_id": "3458764517517818867",
    "refresh_token": "eyJtaXJvLm9yaWdpbiI6ImV1MDEifQ_refresh",
    "expires_in": 3599,
}


def test_ids_sent_as_bare_numbers_above_2_53_keep_every_digit() -> None:
    body = json.dumps(ANSWER).replace('"3458764517517818867"', "3458764517517818867")

    tokens = TokenSet.from_response(json.loads(body))

    assert tokens.team_id == "3458764517517818867"
    assert tokens.user_id == "3458764517517852417"


def test_a_non_expiring_app_has_no_refresh_token_and_no_expiry() -> None:
    answer = {
        k: v for k, v in ANSWER.items() if k not in ("refresh_token", "expires_in")
    }

    tokens = TokenSet.from_response(answer)

    assert tokens.refresh_token is None
    assert tokens.expires_in is None


def test_the_repr_never_shows_a_token() -> None:
    text = repr(TokenSet.from_response(ANSWER))

    assert str(ANSWER["access_token"]) not in text
    assert str(ANSWER["refresh_token"]) not in text


@pytest.mark.parametrize(
    "change",
    [
        {"access_token": None},
        {"access_token": ""},
        {"token_type": "mac"},
        {"expires_in": "3599"},
        {"expires_in": -1},
        {"team_id": None},
        {"user_id": True},
        {"refresh_token": 7},
    ],
)
def test_an_answer_that_is_not_a_usable_token_set_is_refused(
    change: dict[str, object],
) -> None:
    answer = {**ANSWER, **change}
    answer = {k: v for k, v in answer.items() if v is not None}

    with pytest.raises(TokenResponseInvalid):
        TokenSet.from_response(answer)
