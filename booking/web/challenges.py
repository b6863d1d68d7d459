"""Proof of work in the app: challenges signed with the app's key, solutions accepted once.

Spent challenges are remembered in a `limits` storage on RATELIMIT_STORAGE_URI (memory:// for
`make run`, Redis shared by every web worker in production), each only until it would have
expired anyway. The signature is checked first, so garbage never reaches the storage."""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import gettext as _
from limits.storage import Storage, storage_from_string

from booking import clock, current_office, proof_of_work

SPENT_PREFIX = "altcha-spent:"


def init_app(app: Flask) -> None:
    """Bind the spent-challenge storage (independent of RATELIMIT_ENABLED: a challenge stays
    single use when rate limits are off)."""
    app.extensions["spent_challenges"] = storage_from_string(
        app.config["RATELIMIT_STORAGE_URI"], **app.config.get("RATELIMIT_STORAGE_OPTIONS", {})
    )


def required() -> bool:
    """Whether this office asks bookings for a solved challenge."""
    return current_office().rules.proof_of_work


def _key() -> bytes:
    return proof_of_work.hmac_key(current_app.config["SECRET_KEY"])


def new() -> dict[str, object]:
    """A new challenge, of the difficulty PROOF_OF_WORK_MAX_NUMBER (unset: the default)."""
    max_number = current_app.config.get("PROOF_OF_WORK_MAX_NUMBER") or proof_of_work.MAX_NUMBER
    return proof_of_work.create(_key(), clock.now(), max_number=max_number)


def spend(payload: object) -> bool:
    """Whether `payload` solves one of our challenges, unexpired and not used before; using it
    here spends it (an atomic increment: of two requests racing with one solution, one wins)."""
    now = clock.now()
    solved = proof_of_work.verify(payload, _key(), now)
    if solved is None:
        return False
    storage: Storage = current_app.extensions["spent_challenges"]
    return storage.incr(SPENT_PREFIX + solved.challenge, solved.seconds_left(now)) == 1


def missing_message() -> str:
    return _("A solved challenge is needed (field altcha): get one from GET /api/v1/challenge.")


def refused_message() -> str:
    return _("The challenge is wrong, has expired or was already used. Please solve a new one.")


def form_message() -> str:
    return _(
        "The automatic security check did not succeed or ran out of time. It has been done again: "
        "please send the form once more."
    )


def widget_strings() -> dict[str, str]:
    """The texts of the ALTCHA widget (its i18n keys; the rest keep the widget's own, never shown
    here: no code challenges, footer and logo hidden) in the reader's language."""
    return {
        "label": _("Automatic security check"),
        "verifying": _("Checking, one moment…"),
        "verified": _("Checked: you can send the form."),
        "waitAlert": _("The check is still running. One moment, please."),
        "error": _("The check did not work. You can still send the form: we then ask you by email."),
        "expired": _("The check has expired. Please tick the box to check again."),
        "footer": "",
    }


def refusal(solution: object) -> list[str] | None:
    """Why a request that needs a solved challenge is refused (the field `altcha`), or None
    when the office asks for none or `solution` is a fresh one (then it is spent)."""
    if not required() or spend(solution):
        return None
    return [missing_message() if solution is None or solution == "" else refused_message()]
