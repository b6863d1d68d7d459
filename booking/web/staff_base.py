"""The staff blueprint and who may use which of its pages. The staff pages live in modules by
page family (`staff`, `staff_closures`, `staff_absences`, `staff_accounts`, `staff_exports`,
`staff_no_shows`, `staff_search`, `staff_stats`), all on this blueprint. Every route names the
permission it needs (`@requires`); the check sits on the blueprint, so a route without one
answers 403 to everyone and a new route cannot forget it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from booking import staff_sessions
from booking.extensions import login as login_manager
from booking.models import Booking, Staff
from booking.web.history_words import history_details

bp = Blueprint("staff", __name__, url_prefix="/staff")
feed_bp = Blueprint("feed", __name__)

DATE_REACH = timedelta(days=3650)
# Pages anyone may open: signing in, and choosing a password from a reset link.
OPEN = {"staff.login", "staff.reset_password"}

# What each role may do (contract: "Counsellors and staff roles").
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "calendar",
            "appointments",
            "attendance",
            "book",
            "closures",
            "absences",
            "export",
            "feed",
            "emails",
            "no_shows",
            "statistics",
            "accounts",
            "own_account",
        }
    ),  # fmt: skip
    "reception": frozenset(
        {
            "calendar",
            "appointments",
            "attendance",
            "book",
            "closures",
            "absences",
            "export",
            "feed",
            "emails",
            "no_shows",
            "statistics",
            "own_account",
        }
    ),  # fmt: skip
    # Counsellors: the calendar, their own appointments and their attendance, their password.
    "counsellor": frozenset({"calendar", "appointments", "attendance", "own_account"}),
}

F = TypeVar("F", bound=Callable[..., Any])

login_manager.user_loader(staff_sessions.load)


def requires(permission: str) -> Callable[[F], F]:
    """Name the permission a view needs (put it under the route decorator)."""

    def mark(view: F) -> F:
        view.staff_permission = permission  # type: ignore[attr-defined]
        return view

    return mark


def can(permission: str, staff: Staff | None = None) -> bool:
    """Whether the signed-in account (or `staff`) has the permission."""
    staff = staff if staff is not None else (current_user if current_user.is_authenticated else None)
    return staff is not None and permission in PERMISSIONS.get(staff.role, frozenset())


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Anyone not signed in goes to the login page (back to the page they wanted after it)."""
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("staff.login", next=target))


@bp.before_request
def require_permission() -> Response | None:
    if request.endpoint in OPEN or request.endpoint is None:
        return None
    if not current_user.is_authenticated:
        return unauthorized()
    view = current_app.view_functions.get(request.endpoint)
    permission = getattr(view, "staff_permission", None)
    if permission is None or not can(permission):
        abort(403)
    return None


def me() -> Staff:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def own_or_403(booking: Booking) -> Booking:
    """Counsellors see and mark only their own appointments."""
    staff = me()
    if staff.role == "counsellor" and booking.counsellor_id != staff.id:
        abort(403)
    return booking


def safe_next(target: str | None) -> str:
    """Only paths of the staff pages, never another site."""
    if target and target.startswith("/staff/") and "\\" not in target and "//" not in target:
        return target
    return url_for("staff.day")


def date_arg(name: str, default: date) -> date:
    """A date from the query string, `default` when missing or invalid; kept within ten years of
    `default` so the calendar arithmetic of the pages cannot run off the end of time."""
    try:
        value = date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return default
    return min(max(value, default - DATE_REACH), default + DATE_REACH)


def _audit_action(action: str) -> str:
    return {
        "booked": _("Booked"),
        "confirmed": _("Confirmed by the resident (email link)"),
        "withdrawn": _("Offer given back (left the waitlist)"),
        "cancelled": _("Cancelled"),
        "moved": _("Moved"),
        "reassigned": _("Given to another counsellor"),
        "attended": _("Marked as attended"),
        "no_show": _("Marked as no-show"),
        "attendance_cleared": _("Attendance reset"),
        "no_show_lifted": _("No-show block lifted"),
        "link_sent": _("Link sent again (lost link)"),
    }.get(action, action)


def _email_kind(kind: str) -> str:
    return {
        "verify": _("Request to confirm"),
        "offer": _("Waitlist offer"),
        "waitlist": _("Waitlist: request to confirm"),
        "confirm": _("Confirmation"),
        "cancel": _("Cancellation"),
        "move": _("New time"),
        "reminder": _("Reminder"),
        "link": _("Link sent again"),
        "password_reset": _("Password link"),
    }.get(kind, kind)


def counsellor_problem(problem: str) -> str:
    """Why an appointment needs a counsellor (see `places.assignment_problem`), in words."""
    return {
        "none": _("Needs a counsellor"),
        "away": _("Counsellor is away"),
        "off_duty": _("Outside the counsellor's hours"),
        "inactive": _("Counsellor's account is disabled"),
        "cannot": _("Counsellor no longer gives this service or language"),
    }.get(problem, problem)


def role_label(role: str) -> str:
    return {"admin": _("Admin"), "reception": _("Reception"), "counsellor": _("Counsellor")}.get(role, role)


@bp.context_processor
def labels() -> dict[str, Any]:
    return {
        "audit_action": _audit_action,
        "history_details": history_details,
        "email_kind": _email_kind,
        "role_label": role_label,
        "counsellor_problem": counsellor_problem,
        "can": can,
    }
