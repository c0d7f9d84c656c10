"""Reading a record id that a user (or a payment provider) typed.

``str.isdigit()`` accepts "²" and "١٢", which ``int()`` refuses or reads as another number, and
an id above PostgreSQL's ``integer`` range fails the query itself: only ASCII digits naming a
possible id are ids.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1  # the largest value of an ``integer`` column


def is_digits(text: str) -> bool:
    """ASCII digits only (what ``int()`` reads as the number a user sees)."""
    return text.isascii() and text.isdigit()


def parse_id(text: str) -> int | None:
    """The id ``text`` names (``1..MAX_ID``), or None when it is not one."""
    if not is_digits(text) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
