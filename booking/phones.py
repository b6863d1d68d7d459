"""A phone number as residents type it: Latin, Arabic-Indic (٠–٩) or Persian (۰–۹) digits.

Phones on Arabic and Persian keyboards type their own digits; staff dial from a German phone, so
the number is kept with 0–9. Only the digits are rewritten: spaces, "+", "/" and "-" stay as typed.
"""

from __future__ import annotations

import re

# The digits of other scripts a keyboard for one of our languages types, mapped to 0-9.
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
PHONE = re.compile(r"[0-9+()/.\- ]{3,40}")


def normal_phone(text: str) -> str | None:
    """The number with 0–9 digits, or None when it is no phone number (letters, too long)."""
    number = text.strip().translate(DIGITS)
    return number if PHONE.fullmatch(number) else None
