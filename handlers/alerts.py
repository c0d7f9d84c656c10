"""Alert preferences from the chat: kinds on or off, quiet hours, a low-balance threshold."""

from __future__ import annotations

import datetime as dt

from bot.core import formatting
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.registry import Registry, fold
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import keyword
from services import alert_prefs
from services.audit import Actor
from services.errors import N_
from services.money import Money
from services.records import AlertSettings, Customer, UnitOfWork

router = Router()

KIND_NAMES = {
    "renewal": N_("Renewal reminders"),
    "autorenew": N_("Auto-renewals the balance will not cover"),
    "lowbalance": N_("Low balance"),
    "overdue": N_("Overdue invoices"),
    "ticket": N_("Support replies"),
}
KIND_WORDS = {
    "autorenew": frozenset({"autorenew", "auto", "automatique", "otomatis", "otomatik"}),
    "renewal": frozenset(
        {"renewal", "renewals", "renouvellement", "renouvellements", "perpanjangan", "yenileme"}
    ),
    "lowbalance": frozenset({"lowbalance", "balance", "solde", "saldo", "bakiye"}),
    "overdue": frozenset({"overdue", "retard", "retards", "terlambat", "gecikme", "gecikmis"}),
    "ticket": frozenset({"ticket", "tickets", "support", "tiket", "destek", "talep"}),
}
ON = frozenset({"on", "oui", "activer", "nyala", "aktif", "ac"})
OFF = frozenset({"off", "non", "desactiver", "mati", "nonaktif", "kapat"})
QUIET = frozenset({"quiet", "silence", "calme", "tenang", "senyap", "sessiz"})
THRESHOLD = frozenset({"threshold", "seuil", "batas", "esik"})


def _time(text: str) -> dt.time:
    """``22:00``, ``22h``, ``7`` as a time of day."""
    cleaned = text.lower().replace("h", ":").rstrip(":")
    if cleaned.isdigit():
        cleaned += ":00"
    try:
        hour, minute = (int(part) for part in cleaned.split(":"))
        return dt.time(hour, minute)
    except ValueError as err:
        raise UsageError() from err


def overview(prefs: AlertSettings, customer: Customer, commands: Registry) -> Reply:
    muted = set(prefs.muted or [])
    lines = [_("Alerts I send you:")]
    buttons = []
    for kind, name in KIND_NAMES.items():
        on = kind not in muted
        lines.append(f"{'🔔' if on else '🔕'} {_(name)}")
        label = _("Turn off: {kind}") if on else _("Turn on: {kind}")
        buttons.append(
            [Button(label.format(kind=_(name)), command=f"alerts {'off' if on else 'on'} {kind}", edit=True)]
        )
    if prefs.quiet_start and prefs.quiet_end:
        lines.append(
            _("Quiet hours: {start}–{end} ({zone}); alerts wait until they end.").format(
                start=prefs.quiet_start, end=prefs.quiet_end, zone=customer.timezone
            )
        )
    else:
        lines.append(_("Quiet hours: none."))
    if prefs.low_balance_minor is not None:
        lines.append(
            _("Warn me when the balance falls below {amount}.").format(
                amount=formatting.amount(prefs.low_balance_minor, customer.currency)
            )
        )
    name = commands.commands["alerts"].alias_for(current())
    lines.append(
        _(
            "To set quiet hours, send /{command} quiet 22:00 07:00 (or /{command} quiet off); "
            "to be warned below a balance, /{command} threshold AMOUNT (or /{command} threshold off)."
        ).format(command=name)
    )
    return Reply("\n".join(lines), buttons=buttons)


@router.command(
    "alerts",
    aliases={"en": ("alerts",), "fr": ("alertes",), "id": ("peringatan",), "tr": ("uyarilar",)},
    summary=N_("the alerts I send you: on or off, quiet hours, low-balance threshold"),
    usage=N_("[on|off KIND] [quiet START END|off] [threshold AMOUNT|off]"),
    capability="settings",
    bare="read",
)
async def alerts(
    uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], registry: Registry
) -> Reply:
    words = [fold(a) for a in args]
    if not words:
        prefs = await alert_prefs.get(uow, customer.id)
    elif words[0] in ON | OFF:
        kind = keyword(words[1:], KIND_WORDS, "")
        if not kind:
            raise UsageError()
        prefs = await alert_prefs.set_kind(uow, actor, kind, words[0] in ON)
    elif words[0] in QUIET:
        if len(words) == 2 and words[1] in OFF:
            prefs = await alert_prefs.set_quiet(uow, actor, None, None)
        elif len(words) == 3:
            prefs = await alert_prefs.set_quiet(uow, actor, _time(words[1]), _time(words[2]))
        else:
            raise UsageError()
    elif words[0] in THRESHOLD and len(words) >= 2:
        minor = None
        if not (len(words) == 2 and words[1] in OFF):
            # The rest of the line is the amount: French writes "1 000,50" with a space.
            amount = Money.parse(" ".join(args[1:]), customer.currency, current())
            if amount.minor < 0 or amount.minor > 10**15:
                raise UsageError()
            minor = amount.minor
        prefs = await alert_prefs.set_threshold(uow, actor, minor)
    else:
        raise UsageError()
    return overview(prefs, customer, registry)
