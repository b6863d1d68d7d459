"""The admin pages for staff accounts, and every account's own password (being built)."""

from __future__ import annotations

from booking.web.staff_base import bp, requires


@bp.get("/accounts")
@requires("accounts")
def accounts() -> str:
    return "accounts"


@bp.route("/password", methods=["GET", "POST"])
@requires("own_account")
def own_password() -> str:
    return "password"
