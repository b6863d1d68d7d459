"""Whatever a caller's detail turns into when typed (any script, NUL and control characters from a
pasted line, a URL of any bytes), the staff search answers a page, never a server error; the
statistics take any text as their dates and grouping and answer a page or the reason why not.
Runs on PostgreSQL too (TEST_DATABASE_URL): its driver refuses NUL in text that SQLite takes."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.test_crafted_input import SETTINGS, admin  # noqa: F401 (a fixture)
from tests.integration.staff_support import book_at

# Any code point a URL can carry (it is bytes: werkzeug decodes them with replacement, so no lone
# surrogate arrives), NUL and the other control characters among them.
TEXT = st.lists(st.one_of(st.characters(codec="utf-8"), st.just("\x00")), max_size=40).map("".join)


@SETTINGS
@given(query=TEXT)
@example(query="\x00")
@example(query="Ay\x00şe")
@example(query="%_\\")
@example(query="0" * 101)
def test_any_search_is_a_page(app: Flask, admin: FlaskClient, query: str) -> None:  # noqa: F811
    response = admin.get("/staff/search", query_string={"q": query})
    assert response.status_code in (200, 400), response.status_code


def test_a_nul_in_the_query_counts_as_a_space(app: Flask, admin: FlaskClient) -> None:  # noqa: F811
    booking = book_at(app, "2027-03-30T09:00", name="Ayşe Yılmaz")
    page = admin.get("/staff/search", query_string={"q": "Ay\x00şe"})
    assert page.status_code == 200 and f'data-booking="{booking}"' in page.text


@SETTINGS
@given(first=TEXT, last=TEXT, by=TEXT)
@example(first="2027-03-01\x00", last="2027-03-31", by="week")
def test_any_statistics_arguments_are_figures_or_a_reason(
    app: Flask,
    admin: FlaskClient,  # noqa: F811
    first: str,
    last: str,
    by: str,
) -> None:
    for path in ("/staff/stats", "/staff/stats.csv"):
        response = admin.get(path, query_string={"from": first, "to": last, "by": by})
        assert response.status_code in (200, 400), (path, response.status_code)
