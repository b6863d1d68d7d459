"""Error pages for people and JSON errors for the API, chosen by the request path."""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from booking import connections
from booking.extensions import limiter

API_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}


def _message(code: int) -> str:
    return {
        400: _("The request could not be understood."),
        404: _("This page does not exist. Please check the link."),
        405: _("This action is not possible here."),
        413: _("The request is too large."),
        429: _("Too many requests. Please wait a moment and try again."),
        503: _("The appointment system is not available at the moment. Please try again in a few minutes."),
    }.get(code, _("Something went wrong. Please try again later."))


def api_error(code: int, error: str | None = None, message: str | None = None) -> Response:
    """`{"error": machine_code, "message": text}` with status `code`."""
    response = jsonify(error=error or API_CODES.get(code, "server_error"), message=message or _message(code))
    response.status_code = code
    return response


def _form_page() -> str:
    """Where the refused form can be filled in again: the same address when it also answers GET,
    else the manage page of its booking, the staff calendar, or the start page."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(request.path, method="GET")
        return request.full_path.rstrip("?")
    except HTTPException:
        pass
    if request.view_args and "token" in request.view_args:
        return url_for("public.manage", token=request.view_args["token"])
    if request.path.startswith("/staff/"):
        return url_for("staff.day")
    return url_for("public.home")


def _retry_after() -> int:
    """Seconds until the limit that refused this request lets the next one through."""
    current = limiter.current_limit
    return max(1, int(current.reset_at - time.time())) if current is not None else 60


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def form_expired(error: CSRFError) -> Response:
        """A lost or expired form token (cookies blocked, browser restarted): say so, and lead back
        to the form instead of a bare 400."""
        if request.path.startswith("/api/"):
            return api_error(400)
        if request.endpoint == "public.details" and request.method == "POST":
            from booking.web import public_details

            return app.make_response(public_details.details_expired())
        if request.endpoint == "public.find" and request.method == "POST":
            from booking.web import public_find

            return app.make_response(public_find.find_expired())
        flash(
            _(
                "The form was open too long or your browser did not keep our cookie. "
                "Please check your entries and send the form again."
            ),
            "error",
        )
        return redirect(_form_page())

    def database_away(error: Exception) -> Response:
        """The database cannot be reached (restarting, down): our own 503 page, rendered without
        asking the database again (the signed-in user is not loaded for it)."""
        app.logger.error("database unavailable on %s: %s", request.path, error)
        connections.mark_unavailable()
        if request.path.startswith("/api/"):
            response = api_error(503)
        else:
            page = render_template("error.html", code=503, message=_message(503))
            response = app.make_response((page, 503))
        response.headers["Retry-After"] = str(connections.RETRY_AFTER_SECONDS)
        return response

    for outage in connections.OUTAGE:
        app.register_error_handler(outage, database_away)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code = error.code or 500
        if code == 429 and request.endpoint == "public.details" and request.method == "POST":
            from booking.web import public_details  # the pages import this module's helpers

            response = app.make_response(public_details.details_limited(_retry_after()))
        elif request.path.startswith("/api/"):
            response = api_error(code)
        else:
            response = app.make_response(
                (render_template("error.html", code=code, message=_message(code)), code)
            )
        if code == 429 and error.response is not None and "Retry-After" in error.response.headers:
            response.headers["Retry-After"] = error.response.headers["Retry-After"]
        return response
