"""The staff pages for counsellors' absences and appointments that need a counsellor (being built)."""

from __future__ import annotations

from booking.web.staff_base import bp, requires


@bp.get("/absences")
@requires("absences")
def absences() -> str:
    return "absences"


@bp.get("/assign")
@requires("book")
def assign() -> str:
    return "assign"
