"""Roles are enforced by the server on every staff page and action: this walks every staff URL the
app has, with every role, and expects 403 exactly where the contract says the role may not go
("Counsellors and staff roles"); a refused request changes nothing. A new staff route must be
added to the table below, or this test fails."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from flask import Flask
from werkzeug.routing import Rule

from booking import absences, closures
from booking.extensions import db
from booking.models import Staff
from tests.conftest import snapshot
from tests.integration.staff_support import PASSWORD, book_at, create_counsellor, create_staff, sign_in

ADMIN, RECEPTION, COUNSELLOR = "admin", "reception", "counsellor"
EVERYONE = {ADMIN, RECEPTION, COUNSELLOR}
DESK = {ADMIN, RECEPTION}  # calendar, bookings, closures, absences, exports, no-show blocks
# Who may use each staff endpoint, written from the contract, not read from the code.
ALLOWED: dict[str, set[str]] = {
    "staff.day": EVERYONE,
    "staff.week": EVERYONE,
    "staff.booking_detail": EVERYONE,  # a counsellor: their own appointments only
    "staff.staff_printable": EVERYONE,  # the printed confirmation of an appointment one may see
    "staff.attendance": EVERYONE,  # a counsellor: their own appointments only
    "staff.own_password": EVERYONE,
    "staff.search": EVERYONE,  # a page of the calendar: a counsellor opens only their own appointments
    "staff.logout": EVERYONE,
    "staff.book": DESK,
    "staff.cancel": DESK,
    "staff.move": DESK,
    "staff.reassign": DESK,
    "staff.assign": DESK,
    "staff.assign_all": DESK,
    "staff.close": DESK,
    "staff.closure": DESK,
    "staff.reopen": DESK,
    "staff.cancel_inside": DESK,
    "staff.absences": DESK,
    "staff.absence": DESK,
    "staff.reassign_absence": DESK,
    "staff.remove_absence": DESK,
    "staff.undelivered_emails": DESK,
    "staff.export": DESK,
    "staff.feed_settings": DESK,
    "staff.rotate_feed": DESK,
    "staff.no_show_blocks": DESK,
    "staff.lift_no_show_block": DESK,
    "staff.stats": DESK,
    "staff.stats_csv": DESK,
    "staff.accounts": {ADMIN},
    "staff.account": {ADMIN},
    "staff.account_new": {ADMIN},
    "staff.account_update": {ADMIN},
    "staff.account_hours": {ADMIN},
    "staff.account_disable": {ADMIN},
    "staff.account_enable": {ADMIN},
    "staff.account_reset_link": {ADMIN},
}
OPEN = {"staff.login", "staff.reset_password"}  # signing in, a password link from an email


def staff_rules(app: Flask) -> list[Rule]:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")),
        key=lambda rule: (rule.endpoint == "staff.logout", rule.rule),  # signing out last
    )


@pytest.fixture
def world(app: Flask) -> dict[str, int]:
    """An account of each role, another counsellor to act on, and one of everything a URL names."""
    ids = {
        COUNSELLOR: create_counsellor(app, "berater@ki.example", "Berater", ("de", "ar")),
        RECEPTION: create_staff(app, "empfang@ki.example", "Empfang", role=RECEPTION),
        ADMIN: create_staff(app, "leitung@ki.example", "Leitung", role=ADMIN),
        "target": create_counsellor(app, "ziel@ki.example", "Ziel", ("de",)),
    }
    ids["booking"] = book_at(app, "2027-03-30T08:30", counselling_language="ar")  # the counsellor's own
    with app.test_request_context():
        office = app.extensions["office"]
        staff = db.session.get(Staff, ids[ADMIN])
        day = datetime(2027, 4, 6).date()
        start = absences.local(office, day, time(8))
        ids["closure"] = closures.close(office, start, start + timedelta(hours=1), "Team", staff, start).id
        ids["absence"] = absences.add(
            office, ids["target"], start, start + timedelta(hours=4), "", staff, start
        ).id
    return ids


def url_of(rule: Rule, ids: dict[str, int]) -> str:
    values = {
        "booking_id": ids["booking"],
        "closure_id": ids["closure"],
        "absence_id": ids["absence"],
        "staff_id": ids["target"],
    }
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<int:{name}>", str(values[name]))
    return path


def test_every_staff_route_is_in_the_table_of_roles(app: Flask):
    missing = {rule.endpoint for rule in staff_rules(app)} - set(ALLOWED) - OPEN
    assert not missing, f"decide who may use {sorted(missing)} and add it to ALLOWED"


@pytest.mark.parametrize("role", [COUNSELLOR, RECEPTION, ADMIN])
def test_every_staff_url_answers_403_exactly_where_the_role_may_not_go(app: Flask, world, role: str):
    client = app.test_client()
    email = {COUNSELLOR: "berater@ki.example", RECEPTION: "empfang@ki.example", ADMIN: "leitung@ki.example"}[
        role
    ]
    assert sign_in(client, email, PASSWORD).status_code == 302
    walked = 0
    for rule in staff_rules(app):
        if rule.endpoint in OPEN:
            continue
        path = url_of(rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            before = snapshot(app)
            response = client.open(path, method=method, data={})
            walked += 1
            if role in ALLOWED[rule.endpoint]:
                assert response.status_code != 403, f"{role} refused {method} {path}"
                assert response.status_code < 500, f"{method} {path}: {response.status_code}"
            else:
                assert response.status_code == 403, f"{role} was let in to {method} {path}"
                assert snapshot(app) == before, f"a refused {method} {path} changed something"
    assert walked >= len(ALLOWED)
