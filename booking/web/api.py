"""The JSON API under /api/v1 (contract: README "JSON API"). Thin: the rules live in bookings."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _

from booking import bookings, clock, current_office, languages, microcache, places, roster, waitlist
from booking.errors import api_error
from booking.models import Booking
from booking.refusals import InvalidBooking, SlotFull, TooLate
from booking.schedule import local_today, window
from booking.web import challenges, limits
from booking.web.openapi import SPEC

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_RANGE_DAYS = 92


def booking_json(booking: Booking) -> dict[str, Any]:
    """The booking as the API shows it. A pending one carries no key to it (`token`,
    `manage_url`): only the link in its email confirms it, and only then is it the resident's."""
    tz = current_office().timezone
    if booking.status == "pending":
        return {
            "reference": booking.reference,
            "service": booking.service_id,
            "start": booking.start_at.astimezone(tz).isoformat(),
            "end": booking.end_at.astimezone(tz).isoformat(),
            "status": "pending" if booking.holding(clock.now()) else "expired",
            "hold_until": booking.hold_until.astimezone(tz).isoformat() if booking.hold_until else None,
            "language": booking.language,
            "counselling_language": booking.counselling_language,
            "interpreter": booking.interpreter,
        }
    return {
        "reference": booking.reference,
        "token": booking.token,
        "service": booking.service_id,
        "start": booking.start_at.astimezone(tz).isoformat(),
        "end": booking.end_at.astimezone(tz).isoformat(),
        "status": booking.status,
        "name": booking.name,
        "email": booking.email,
        "phone": booking.phone,
        "note": booking.note,
        "language": booking.language,
        "counselling_language": booking.counselling_language,
        "interpreter": booking.interpreter,
        "manage_url": url_for("public.manage", token=booking.token, _external=True),
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(SPEC)


@bp.get("/services")
def services() -> Response:
    language = str(get_locale())
    return jsonify(
        [
            {
                "id": s.id,
                "name": s.name(language),
                "duration_minutes": s.duration_minutes,
                "capacity": roster.capacity(s),
                "languages": list(roster.languages(s)),
            }
            for s in current_office().services
        ]
    )


@bp.get("/slots")
@limits.slot_lookups
def slots() -> Response:
    office = current_office()
    service = office.service(request.args.get("service", ""))
    if service is None:
        return api_error(400, "unknown_service", _("Unknown service."))
    try:
        first = date.fromisoformat(request.args["from"])
        last = date.fromisoformat(request.args["to"])
    except (KeyError, ValueError):
        return api_error(400, "bad_range", _("Give from and to as YYYY-MM-DD."))
    if last < first or (last - first) > timedelta(days=MAX_RANGE_DAYS - 1):
        return api_error(
            400,
            "bad_range",
            ngettext(
                "The range must run forwards and span at most %(num)d day.",
                "The range must run forwards and span at most %(num)d days.",
                MAX_RANGE_DAYS,
            ),
        )
    language = request.args.get("language")
    if language is not None and not languages.is_known(language):
        return api_error(
            400,
            "bad_language",
            _(
                "The parameter %(name)s must be a language code, for example %(example)s.",
                name="language",
                example="de",
            ),
        )
    now = clock.now()

    def body() -> str:
        found = places.availability(office, service, first, last, now, language=language)
        return current_app.json.dumps(
            {
                "service": service.id,
                "timezone": office.timezone.key,
                "slots": [
                    {"start": slot.start_iso, "end": slot.end_iso, "available": free} for slot, free in found
                ],
            }
        )

    # Slots start on whole minutes, so the answer is the same for every `now` whose earliest bookable
    # moment rounds up to the same minute (on the same local day): those requests share one body.
    earliest = window(office, now)[0]
    minute = earliest.replace(second=0, microsecond=0)
    if minute < earliest:
        minute += timedelta(minutes=1)
    key = ("slots", service.id, first, last, minute, local_today(office, now), language)
    return current_app.response_class(microcache.cached(key, body), mimetype="application/json")


@bp.get("/challenge")
def challenge() -> Response:
    """A new ALTCHA challenge (solved, it goes with a booking as the field `altcha`)."""
    response = jsonify(challenges.new())
    response.headers["Cache-Control"] = "no-store"  # each one is good for one booking only
    return response


@bp.post("/bookings")
@limits.bookings
def create_booking() -> Response | tuple[Response, int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(400, "bad_request", _("The body must be a JSON object."))
    languages = current_app.config["LANGUAGES"]
    language = body.get("language")
    if language not in languages:
        language = str(get_locale())
    fields = {"service_id": body.get("service"), "start": body.get("start")}
    text_fields = {
        name: body.get(name)
        for name in ("name", "email", "phone", "note", "counselling_language", "interpreter")
    }
    errors = {
        name: [_("Must be a string.")]
        for name, value in {**fields, **text_fields}.items()
        if value is not None and not isinstance(value, str)
    }
    if errors:
        return jsonify(errors={"service" if k == "service_id" else k: v for k, v in errors.items()}), 422
    with force_locale(language):
        if (refused := challenges.refusal(body.get("altcha"))) is not None:
            return jsonify(errors={"altcha": refused}), 422
        try:
            booking = bookings.book(
                current_office(),
                bookings.BookingRequest(
                    service_id=fields["service_id"] or "",
                    start=fields["start"] or "",
                    name=text_fields["name"] or "",
                    email=text_fields["email"],
                    phone=text_fields["phone"],
                    note=text_fields["note"],
                    language=language,
                    counselling_language=text_fields["counselling_language"],
                    interpreter=text_fields["interpreter"],
                ),
                clock.now(),
                languages=languages,
            )
        except InvalidBooking as invalid:
            return jsonify(errors=invalid.errors), 422
        except SlotFull:
            if text_fields["counselling_language"] is not None:
                message = _("No counsellor who speaks this language is free at this time.")
            else:
                message = _("Every place at this time is taken.")
            return api_error(409, "slot_full", message)
    limits.made(booking)
    response = jsonify(booking_json(booking))
    response.status_code = 201
    if booking.status != "pending":
        response.headers["Location"] = url_for("api.get_booking", token=booking.token)
    return response


@bp.get("/bookings/<token>")
def get_booking(token: str) -> Response:
    booking = bookings.get_by_token(token)
    if booking is None:
        return api_error(404)
    return jsonify(booking_json(booking))


@bp.delete("/bookings/<token>")
def cancel_booking(token: str) -> Response:
    booking = bookings.get_by_token(token)
    if booking is None:
        return api_error(404)
    try:
        bookings.cancel(booking, clock.now(), release_after=bookings.release_delay(current_office()))
    except TooLate:
        return api_error(409, "already_begun", _("The appointment has already begun."))
    return jsonify(status="cancelled")


@bp.post("/waitlist")
@limits.bookings
def join_waitlist() -> Response | tuple[Response, int]:
    """Join the waitlist of a service between two days (`from`, `to`); `201 {"status":
    "waiting", "token"}`, the token being the key to leave it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(400, "bad_request", _("The body must be a JSON object."))
    names = ("service", "from", "to", "name", "email", "language", "counselling_language")
    errors = {
        name: [_("Must be a string.")]
        for name in names
        if body.get(name) is not None and not isinstance(body.get(name), str)
    }
    if errors:
        return jsonify(errors=errors), 422
    languages = current_app.config["LANGUAGES"]
    language = body.get("language") if body.get("language") in languages else str(get_locale())
    with force_locale(language):
        if (refused := challenges.refusal(body.get("altcha"))) is not None:
            return jsonify(errors={"altcha": refused}), 422
        try:
            entry = waitlist.join(
                current_office(),
                waitlist.WaitlistRequest(
                    body.get("service") or "",
                    body.get("from") or "",
                    body.get("to") or "",
                    body.get("name") or "",
                    body.get("email") or "",
                    language=language,
                    counselling_language=body.get("counselling_language"),
                ),
                clock.now(),
                languages,
            )
        except InvalidBooking as invalid:
            return jsonify(errors=invalid.errors), 422
    return jsonify(status="waiting", token=entry.token), 201


@bp.delete("/waitlist/<token>")
def leave_waitlist(token: str) -> Response:
    entry = waitlist.by_token(token)
    if entry is None:
        return api_error(404)
    waitlist.leave(entry, clock.now())
    return jsonify(status="left")
