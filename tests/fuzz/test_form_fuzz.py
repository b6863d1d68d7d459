"""Whatever a resident or a client sends, the answer is a success or a clear 4xx, never a 500,
and a refused request changes nothing in the database."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Booking, Outbox, SlotClaim

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=120)
STARTS = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "2027-03-30T08:30",
            "2027-03-30T08:30:00+02:00",
            "2027-03-30T08:31",
            "9999-12-31T10:00",
            "2027-03-28T10:00",
            "",
            "2027-13-40T99:99",
            "2027-03-30T08:30:00+14:00",
        ]
    ),
)
FIELDS = st.fixed_dictionaries(
    {
        "name": TEXT,
        "email": st.one_of(TEXT, st.emails().map(str)),
        "phone": TEXT,
        "note": TEXT,
    }
)
JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(TEXT, TEXT, max_size=2),
)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzz_app(app_with):  # type: ignore[no-untyped-def]
    return app_with(SERVER_NAME=None)


def rows(app) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        counts = tuple(db.session.scalar(select(func.count(m.id))) for m in (Booking, SlotClaim, Outbox))
        db.session.remove()
        return counts


@SETTINGS
@given(start=STARTS, fields=FIELDS, consent=st.booleans())
def test_the_booking_form_answers_every_input_without_a_server_error(fuzz_app, start, fields, consent):
    before = rows(fuzz_app)
    data = {**fields, **({"consent": "y"} if consent else {})}
    response = fuzz_app.test_client().post(f"/book/beratung/details?start={quote(start)}", data=data)
    assert response.status_code < 500
    if response.status_code != 302 or "/b/" not in response.headers.get("Location", ""):
        assert rows(fuzz_app) == before


@SETTINGS
@given(
    body=st.dictionaries(
        st.sampled_from(["service", "start", "name", "email", "phone", "note", "language", "other"]),
        JSON_VALUES,
        max_size=8,
    )
)
def test_the_api_answers_every_body_without_a_server_error(fuzz_app, body):
    before = rows(fuzz_app)
    response = fuzz_app.test_client().post("/api/v1/bookings", json=body)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code != 201:
        assert rows(fuzz_app) == before
