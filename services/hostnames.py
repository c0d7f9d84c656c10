"""Host names as a PTR record may hold them: checked, and in the ASCII form DNS stores.

A customer may type an internationalised name ("mail.exämple.com"); it is stored in its IDNA
form ("mail.xn--exmple-cua.com", UTS #46 mapping, so case and full-width letters fold too) and
shown back in Unicode.
"""

from __future__ import annotations

import re

import idna

from services.errors import N_, DomainError

MAX_NAME = 253  # characters of a name without its final dot (RFC 1035: 255 octets on the wire)
# A label: letters, digits and inner hyphens, 1 to 63 characters (RFC 1123).
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
SHOWN = 80  # characters of a refused input quoted back


class InvalidHostname(DomainError):
    message = N_(
        "“{hostname}” is not a host name a reverse DNS record can hold. Give a full name such as "
        "mail.example.com: letters, digits and hyphens, with dots between parts of at most 63 characters "
        "and 253 characters in all."
    )


def parse(text: str) -> str:
    """``text`` as a fully qualified host name in lower-case ASCII without the final dot;
    ``InvalidHostname`` when it is not one (a bare word, an address, an underscore, a label too
    long or hyphenated at an end, anything after the name)."""
    name = text.strip().removesuffix(".")
    refused = InvalidHostname(hostname=_quoted(text))
    if not name or len(name) > 4 * MAX_NAME:
        raise refused
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise refused from None
    labels = ascii_name.split(".")
    if (
        len(ascii_name) > MAX_NAME
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise refused
    return ascii_name


def shown(name: str) -> str:
    """A stored (ASCII) name as people read it: its Unicode form when it is an IDN."""
    if "xn--" not in name:
        return name
    try:
        return str(idna.decode(name))
    except (idna.IDNAError, UnicodeError):
        return name


def _quoted(text: str) -> str:
    text = text.strip()
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
