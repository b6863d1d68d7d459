"""The names of Germany's public holidays in our catalogues. The `holidays` package names them
only in German, English and Ukrainian, so a page in Arabic said "مغلق: Erster Weihnachtstag".
Here are the English names it gives (country DE, language en_US, every subdivision, the
one-off anniversaries included), marked for extraction so that `make messages` puts them into
every catalogue; `translated` looks a name up (pure: the caller passes its gettext)."""

from __future__ import annotations

from collections.abc import Callable

SEPARATOR = "; "  # how the holidays package joins two holidays on one day


def N_(text: str) -> str:  # noqa: N802 (the marker Babel extracts by default)
    """Marks a text for the catalogues; it is translated where it is shown."""
    return text


ENGLISH = frozenset(
    {
        N_("New Year's Day"),
        N_("Epiphany"),
        N_("Women's Day"),
        N_("Good Friday"),
        N_("Easter Sunday"),
        N_("Easter Monday"),
        N_("Labor Day"),
        N_("Ascension Day"),
        N_("Pentecost"),
        N_("Pentecost Monday"),
        N_("Corpus Christi"),
        N_("Augsburg Peace Festival"),
        N_("Assumption Day"),
        N_("World Children's Day"),
        N_("German Unity Day"),
        N_("Reformation Day"),
        N_("All Saints' Day"),
        N_("Repentance and Prayer Day"),
        N_("Christmas Day"),
        N_("Second Day of Christmas"),
        N_("75th anniversary of the liberation from Nazism and the end of the Second World War in Europe"),
        N_("80th anniversary of the liberation from Nazism and the end of the Second World War in Europe"),
        N_("75th anniversary of the East German uprising of 1953"),
    }
)


def translated(english: str, translate: Callable[[str], str]) -> str | None:
    """The English name of a day's holidays through `translate` (the reader's gettext); None
    when any of them is not one of ours (another country, a name a newer package brought)."""
    parts = english.split(SEPARATOR)
    if not all(part in ENGLISH for part in parts):
        return None
    return SEPARATOR.join(translate(part) for part in parts)
