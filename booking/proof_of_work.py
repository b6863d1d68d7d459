"""ALTCHA proof of work (its open v1 format), pure: challenges signed with an HMAC, so checking a
solution is a few hashes and no database round trip. No Flask, no clock: `now` and the key come in.

A challenge is `{"algorithm", "challenge", "salt", "signature", "maxnumber"}`: the client finds the
number with `sha256(salt + number) == challenge`; the signature (HMAC of `challenge`) shows that we
made it, and the salt carries its expiry (`?expires=<unix time>&`), so the salt, and with it the
expiry, cannot be changed without the work being redone and the signature failing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from altcha import create_challenge_v1, extract_params_v1, verify_solution_v1

ALGORITHM = "SHA-256"
# A phone-class CPU (Chromium, 4x CPU throttling) solves the worst case of this in well under a
# second (README, "Proof of work"); a bot pays the same for every booking it tries.
MAX_NUMBER = 20_000
LIFETIME = timedelta(minutes=15)
MAX_PAYLOAD_CHARS = 2_000  # a real payload has ~350; anything longer is not worth decoding
MAX_SOLUTION = 2**53  # the widget counts in JavaScript numbers; larger ones are not solutions
FIELDS = ("algorithm", "challenge", "number", "salt", "signature")


def hmac_key(secret_key: str | bytes) -> bytes:
    """The key that signs challenges, derived from the app's SECRET_KEY: never the secret itself,
    which also signs sessions and CSRF tokens."""
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, b"termine proof-of-work challenge", hashlib.sha256).digest()


def create(
    key: bytes,
    now: datetime,
    *,
    max_number: int = MAX_NUMBER,
    lifetime: timedelta = LIFETIME,
    number: int | None = None,
) -> dict[str, object]:
    """A new challenge (random salt; the number to find random up to `max_number` unless given,
    e.g. the worst case for a measurement) that expires `lifetime` after `now` (aware)."""
    challenge = create_challenge_v1(
        algorithm=ALGORITHM,
        max_number=max_number,
        salt_length=12,
        hmac_key=key,
        salt="",
        number=number,
        expires=now + lifetime,
        params=None,
    )
    return {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "salt": challenge.salt,
        "signature": challenge.signature,
        "maxnumber": challenge.max_number,
    }


@dataclass(frozen=True)
class Solved:
    """A valid solution: which challenge it solved, and until when it would be accepted (a spent
    challenge needs to be remembered only that long)."""

    challenge: str
    expires: datetime

    def seconds_left(self, now: datetime) -> int:
        return max(1, math.ceil((self.expires - now).total_seconds()))


def verify(payload: object, key: bytes, now: datetime) -> Solved | None:
    """The solved challenge in `payload` (base64 of the JSON the widget sends), or None for
    anything else: not a string, not base64, not JSON, wrong types, an unknown algorithm, a wrong
    number or signature, expired. Never raises."""
    try:
        fields = _decode(payload)
        if fields is None:
            return None
        expires = _expiry(fields["salt"])
        if expires is None or expires <= now:
            return None
        ok, _error = verify_solution_v1(fields, key, check_expires=False)  # type: ignore[call-overload]
        return Solved(fields["challenge"], expires) if ok is True else None
    except Exception:  # garbage in must never become a 500, whatever the library makes of it
        return None


def _decode(payload: object) -> dict[str, object] | None:
    """The five fields, each of its type, or None. Strict before the library sees them: it
    trusts types (a number as text, a list as salt) and would raise on some."""
    if not isinstance(payload, str) or not payload or len(payload) > MAX_PAYLOAD_CHARS:
        return None
    try:
        value = json.loads(base64.b64decode(payload, validate=True))
    except (ValueError, binascii.Error):  # also not UTF-8, and integers over Python's digit limit
        return None
    if not isinstance(value, dict):
        return None
    fields = {name: value.get(name) for name in FIELDS}
    number = fields["number"]
    if fields["algorithm"] != ALGORITHM or type(number) is not int or not 0 <= number < MAX_SOLUTION:
        return None
    if not all(isinstance(fields[name], str) and fields[name] for name in ("challenge", "salt", "signature")):
        return None
    return fields


def _expiry(salt: object) -> datetime | None:
    """The expiry the salt carries (`…?expires=1790000000&`), None without a readable one."""
    if not isinstance(salt, str) or salt.count("?") != 1:
        return None
    values = extract_params_v1({"salt": salt}).get("expires") or []
    if len(values) != 1 or not values[0].isascii() or not values[0].isdigit() or len(values[0]) > 12:
        return None
    return datetime.fromtimestamp(int(values[0]), UTC)
