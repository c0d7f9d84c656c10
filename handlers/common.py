"""Small helpers shared by handlers: argument parsing and translated labels for stored codes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from babel import Locale

from bot.core import formatting, localized
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.types import Button, Confirmable, Reply, UsageError
from services import ids
from services.breakdown import Totals
from services.errors import N_, NotFound
from services.invoices import LineSpec
from services.money import Money
from services.records import Plan
from services.wording import Localized

LABELS = {
    "unpaid": N_("unpaid"),
    "paid": N_("paid"),
    "cancelled": N_("cancelled"),
    # TRANSLATORS: a credit note's status: its amount went to the customer's balance
    "credited": N_("credited to the balance"),
    "draft": N_("quote"),
    "accepted": N_("accepted"),
    "active": N_("active"),
    "new": N_("new"),
    "suspended": N_("suspended"),
    "terminated": N_("terminated"),
    "running": N_("running"),
    "rebooting": N_("rebooting"),
    "stopped": N_("stopped"),
    "disabled": N_("disabled"),
    "blocked": N_("blocked"),
    "open": N_("open"),
    "closed": N_("closed"),
    "technical": N_("Technical"),
    "financial": N_("Financial"),
    "regular": N_("Regular"),
    "high": N_("High"),
    "monthly": N_("monthly"),
    "yearly": N_("yearly"),
}


def country_name(code: str) -> str:
    """A country's name in the current language (its ISO 3166 code when Babel has none)."""
    return str(Locale.parse(current()).territories.get(code, code))


def label(code: str) -> str:
    """The translated word for a status or category code stored in the database."""
    return _(LABELS[code]) if code in LABELS else code


def confirmation(text: str, label: str, action: Confirmable) -> Reply:
    """A question with the confirm button (carries out ``action`` once) and a Cancel button beside it."""
    return Reply(text, buttons=[[Button(label, confirm=action), Button(_("Cancel"), cancel=True)]])


def filter_row(names: dict[str, str], current: str, command: str) -> list[Button]:
    """Buttons for the other filters of a list; pressing one redraws the list in place."""
    return [
        Button(_(names[code]), command=f"{command} {code}", edit=True) for code in names if code != current
    ]


def price_line(plan: Plan) -> str:
    """A plan with its monthly and yearly price, as the option lists show it, and its description
    (the provider's) on the next line when it has one."""
    line = _("{plan}: {monthly} monthly or {yearly} yearly").format(
        plan=localized.name(plan),
        monthly=formatting.amount(plan.monthly_minor, plan.currency),
        yearly=formatting.amount(plan.yearly_minor, plan.currency),
    )
    about = localized.description(plan)
    return f"{line}\n  {about}" if about else line


# What a user may type around a reference: "#14", "(HB2026-00014)", "HB2026-00014.", Slack's `code`.
_LEADING = "#([{<\"'`*_«“‘"
_TRAILING = ")]}>\"'`*_»”’.,;:!?"
# A document number as printed: the series (letters, year, maybe a separator of its own), a hyphen
# and the sequence ("HB2026-00014", "QHB2026-00002").
_DOCUMENT_NUMBER = re.compile(r"[A-Za-z][A-Za-z0-9_/-]*-[0-9]+")


def bare(arg: str) -> str:
    """The argument without the punctuation a user may type around a reference."""
    return arg.lstrip(_LEADING).rstrip(_TRAILING)


def is_id(arg: str) -> bool:
    """Whether the argument is a short id: ASCII digits only ("²" and "١٢" are not), maybe "#12"."""
    return ids.is_digits(bare(arg))


def _id(text: str) -> int:
    """An id that a record can have; a longer or zero one names nothing (answered as not found)."""
    found = ids.parse_id(text)
    if found is None:
        raise NotFound()
    return found


def first_number(args: list[str]) -> int:
    """The first id among the arguments ("12", "#12"), skipping words ("order web 12"); none is a
    usage error."""
    for arg in args:
        if is_id(arg):
            return _id(bare(arg))
    raise UsageError()


def document_ref(args: list[str]) -> int | str | None:
    """The invoice or quote the arguments name, if any: its number as printed, in any case
    ("HB2026-00014", "hb2026-00014", "#QHB2026-00002"), or its short id ("14", "#14")."""
    for arg in args:
        text = bare(arg)
        if _DOCUMENT_NUMBER.fullmatch(text):
            return text
        if is_id(text):
            return _id(text)
    return None


def keyword(args: list[str], vocabulary: dict[str, frozenset[str]], default: str) -> str:
    """Which vocabulary entry the arguments name, in any of the four languages."""
    folded = {fold(a) for a in args}
    for code, words in vocabulary.items():
        if folded & words:
            return code
    return default


def page_of(args: list[str]) -> int:
    """The page a list was asked for: the first short ASCII number among the arguments."""
    for arg in args:
        if arg.isascii() and arg.isdigit() and len(arg) < 6:
            return max(int(arg), 1)
    return 1


def line_text(
    description: str | Localized,
    quantity: int,
    amount: Money,
    start: dt.date | None,
    end: dt.date | None,
) -> str:
    """ "• Extra storage (1 Dec 2026 – 1 Jan 2027): 2 × €3.00" in the current language; an issued
    line reads as it was written on the invoice."""
    period = f" ({formatting.date(start)} – {formatting.date(end)})" if start and end else ""
    qty = f"{quantity} × " if quantity != 1 else ""
    return f"• {localized.text(description)}{period}: {qty}{formatting.money(amount)}"


def breakdown_text(lines: Sequence[LineSpec], totals: Totals) -> str:
    """The lines, VAT and total of an invoice about to be created (a preview)."""
    cur = totals.total.currency
    out = [
        line_text(
            spec.description,
            spec.quantity,
            Money(spec.unit_minor, cur),
            spec.period_start,
            spec.period_end,
        )
        for spec in lines
    ]
    out.append(_("Subtotal: {amount}").format(amount=formatting.money(totals.subtotal)))
    if totals.reverse_charge:
        out.append(_("VAT: reverse charge (0 %)"))
    else:
        out.append(
            _("VAT {rate}: {amount}").format(
                rate=formatting.percent(totals.rate), amount=formatting.money(totals.vat)
            )
        )
    out.append(_("Total: {amount}").format(amount=formatting.money(totals.total)))
    return "\n".join(out)


def iso_date(args: list[str]) -> dt.date | None:
    """The first YYYY-MM-DD argument, if any; a malformed one is a usage error."""
    for arg in args:
        if len(arg) == 10 and arg[4] == "-" and arg[7] == "-":
            try:
                return dt.date.fromisoformat(arg)
            except ValueError:
                raise UsageError() from None
    return None


# A billing cycle as customers write it (plans and billing both take one).
CYCLE_WORDS = {
    "monthly": frozenset({"monthly", "month", "mensuel", "mois", "bulanan", "aylik"}),
    "yearly": frozenset({"yearly", "annual", "year", "annuel", "an", "tahunan", "yillik"}),
}
