"""The challenge verifier (pure): a solution of our own, unexpired, verifies; anything else is
None, whatever the payload, and nothing raises."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from altcha import solve_challenge_v1
from hypothesis import given, settings
from hypothesis import strategies as st

from booking import proof_of_work
from booking.proof_of_work import FIELDS, LIFETIME, create, hmac_key, verify

NOW = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)
KEY = hmac_key("test")


def encode(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def solution_of(challenge: dict[str, Any]) -> dict[str, Any]:
    found = solve_challenge_v1(challenge["challenge"], challenge["salt"], "SHA-256", challenge["maxnumber"])
    assert found is not None
    return {**{k: challenge[k] for k in FIELDS if k != "number"}, "number": found.number}


# One solved challenge for all examples: solving costs a few milliseconds, checking microseconds.
SOLVED = solution_of(create(KEY, NOW))


def test_a_solution_verifies_until_its_challenge_expires():
    solved = verify(encode(SOLVED), KEY, NOW)
    assert solved is not None and solved.challenge == SOLVED["challenge"]
    assert solved.expires == NOW + LIFETIME
    assert verify(encode(SOLVED), KEY, NOW + LIFETIME - timedelta(seconds=1)) is not None
    assert verify(encode(SOLVED), KEY, NOW + LIFETIME) is None


def test_a_spent_challenge_is_remembered_as_long_as_it_would_verify():
    solved = verify(encode(SOLVED), KEY, NOW)
    assert solved is not None
    assert solved.seconds_left(NOW) == LIFETIME.total_seconds()
    assert solved.seconds_left(NOW + LIFETIME - timedelta(milliseconds=1)) == 1
    assert solved.seconds_left(NOW + LIFETIME * 2) == 1  # never zero: some storages read 0 as "keep"


def test_the_key_is_derived_from_the_secret_and_is_not_the_secret():
    assert hmac_key("test") == hmac_key(b"test") != hmac_key("other")
    assert b"test" not in hmac_key("test")
    assert verify(encode(SOLVED), hmac_key("other"), NOW) is None


def test_a_challenge_hides_a_number_up_to_its_maximum_and_expires_in_its_salt():
    challenge = create(KEY, NOW, max_number=10, number=7)
    assert challenge["maxnumber"] == 10
    assert challenge["salt"].endswith(f"?expires={int((NOW + LIFETIME).timestamp())}&")  # type: ignore[union-attr]
    assert solution_of(challenge)["number"] == 7
    assert create(KEY, NOW)["salt"] != create(KEY, NOW)["salt"]


def test_the_widget_payload_with_its_extra_fields_verifies():
    assert verify(encode({**SOLVED, "took": 86.3}), KEY, NOW) is not None


def test_salts_the_library_would_trip_on_are_refused_quietly():
    for salt in (
        "a?b?expires=9999999999&",
        "no-expiry&",
        "a?expires=x&",
        "a?expires=1&expires=9999999999&",
        "",
    ):
        assert verify(encode({**SOLVED, "salt": salt}), KEY, NOW) is None


def test_an_over_long_payload_is_not_even_decoded():
    assert verify(encode({**SOLVED, "padding": "x" * proof_of_work.MAX_PAYLOAD_CHARS}), KEY, NOW) is None


# --- any payload ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
ANY_FIELD = JSON | st.integers(min_value=2**53 - 2, max_value=2**80) | st.just(-1)
RIGHT_KEYS_WRONG_VALUES = st.fixed_dictionaries({name: ANY_FIELD for name in FIELDS})


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.binary().map(lambda raw: base64.b64encode(raw).decode()),
        JSON.map(encode),
        RIGHT_KEYS_WRONG_VALUES.map(encode),
        JSON,
        st.binary(),
    )
)
def test_any_payload_is_refused_and_nothing_raises(payload: Any):
    assert verify(payload, KEY, NOW) is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIELDS), ANY_FIELD)
def test_a_solution_with_any_field_changed_is_refused(field: str, value: Any):
    changed = {**SOLVED, field: value}
    if changed == SOLVED:
        return
    assert verify(encode(changed), KEY, NOW) is None
