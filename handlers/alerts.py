"""Alert preferences from the chat: kinds on or off, quiet hours, a low-balance threshold; and, in a
group chat that shares the account (``share channel``), which alerts that chat gets and in which
language (``alerts here``).

Looking at a shared chat's alerts is open to everyone there; a change needs an owner's or admin's
role and a confirmation. What a shared chat is sent is the alerts' shared wording (amounts and
dates, never a pay link, a button or a support reply's text: ``bot.alerts.messages``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from babel import Locale

from bot.core import formatting
from bot.core.context import Context
from bot.core.i18n import current, normalize
from bot.core.i18n import gettext as _
from bot.core.registry import Registry, fold
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import confirmation, keyword
from services import alert_prefs, channel_alerts
from services.audit import Actor
from services.errors import N_
from services.money import Money
from services.records import AlertSettings, ChannelBinding, Customer, UnitOfWork

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
    """``22:00``, ``22.00`` (as Indonesian writes it), ``22h``, ``7`` as a time of day."""
    cleaned = text.lower().replace("h", ":").replace(".", ":").rstrip(":")
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
                start=formatting.time_of_day(dt.time.fromisoformat(prefs.quiet_start)),
                end=formatting.time_of_day(dt.time.fromisoformat(prefs.quiet_end)),
                zone=formatting.zone(customer.timezone),
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
            "To set quiet hours, send /{command} quiet {start} {end} (or /{command} quiet off); "
            "to be warned below a balance, /{command} threshold AMOUNT (or /{command} threshold off)."
        ).format(
            command=name,
            start=formatting.typed_time(dt.time(22, 0)),
            end=formatting.typed_time(dt.time(7, 0)),
        )
    )
    return Reply("\n".join(lines), buttons=buttons)


@router.command(
    "alerts",
    aliases={"en": ("alerts",), "fr": ("alertes",), "id": ("peringatan",), "tr": ("uyarılar",)},
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


# -- alerts here: what a shared chat gets ------------------------------------------------------

SHARED_KIND_NAMES = {
    **KIND_NAMES,
    "payment": N_("Payments received"),
    "lifecycle": N_("Suspensions and terminations of unpaid orders"),
}
SHARED_KIND_WORDS = {
    **KIND_WORDS,
    "payment": frozenset({"payment", "payments", "paiement", "paiements", "pembayaran", "odeme", "odemeler"}),
    "lifecycle": frozenset(
        {"lifecycle", "suspension", "suspensions", "suspend", "penangguhan", "askiya", "askida"}
    ),
}
ALL = frozenset({"all", "tout", "tous", "toutes", "semua", "hepsi", "tumu"})
LANGUAGE = frozenset({"language", "lang", "langue", "bahasa", "dil"})


@dataclass(frozen=True)
class ChannelAlerts:
    """What the shared chat of ``binding`` gets from now on: the kinds (comma-separated, in
    ``channel_alerts.KINDS`` order) and their language ("": the account's)."""

    binding: int
    kinds: str
    language: str


def _kinds_line(kinds: list[str]) -> str:
    if not kinds:
        return _("No alerts are sent here.")
    return _("Alerts sent here: {kinds}.").format(kinds=", ".join(_(SHARED_KIND_NAMES[k]) for k in kinds))


def _language_name(code: str) -> str:
    """A language's name in the current language ("French", "français")."""
    return str(Locale.parse(current()).languages.get(code, code))


def _language_line(language: str | None, customer: Customer, default: str) -> str:
    if language:
        return _("Language of these alerts: {language}.").format(language=_language_name(language))
    return _("Language of these alerts: the account's ({language}).").format(
        language=_language_name(customer.language or default)
    )


def _privacy() -> str:
    return _(
        "Shared chats read amounts and dates; pay links, buttons, login details and support's "
        "replies go only to the private chats of the people linked to the account."
    )


def shared_overview(binding: ChannelBinding, ctx: Context, registry: Registry) -> Reply:
    assert ctx.customer is not None
    chosen = set(binding.alert_kinds or [])
    lines = [_("Alerts for this channel:")]
    lines += [f"{'🔔' if k in chosen else '🔕'} {_(SHARED_KIND_NAMES[k])}" for k in channel_alerts.KINDS]
    lines.append(_language_line(binding.language, ctx.customer, ctx.settings.default_language))
    lines.append(_privacy())
    name = registry.commands["alertshere"].alias_for(current())
    lines.append(
        _(
            "Owners and admins choose here: /{command} renewal on, /{command} overdue off, "
            "/{command} on (everything), /{command} off (nothing), /{command} language fr "
            "(or /{command} language off for the account's)."
        ).format(command=name)
    )
    return Reply("\n".join(lines))


def _wanted(words: list[str], binding: ChannelBinding) -> tuple[list[str], str | None]:
    """The kinds and language the words ask for (what they do not mention stays as it is)."""
    kinds = set(binding.alert_kinds or [])
    language = binding.language
    if words[0] in LANGUAGE:
        if len(words) != 2:
            raise UsageError()
        language = None if words[1] in OFF else normalize(words[1])
        if language is None and words[1] not in OFF:
            raise UsageError()
        return [k for k in channel_alerts.KINDS if k in kinds], language
    switches = [w for w in words if w in ON | OFF]
    named = {k for k, vocabulary in SHARED_KIND_WORDS.items() for w in words if w in vocabulary}
    known = ON | OFF | ALL | frozenset().union(*SHARED_KIND_WORDS.values())
    others = [w for w in words if w not in known]
    if len(switches) != 1 or others:
        raise UsageError()
    on = switches[0] in ON
    targets = named or set(channel_alerts.KINDS)  # "on" / "off" alone, or with "all"
    kinds = kinds | targets if on else kinds - targets
    return [k for k in channel_alerts.KINDS if k in kinds], language


@router.command(
    "alertshere",
    aliases={
        "en": ("alertshere", "alerts here"),
        "fr": ("alertesici", "alertes ici"),
        "id": ("peringatangrup", "peringatan grup"),
        "tr": ("uyarılarburada", "uyarılar burada"),
    },
    summary=N_("the alerts this shared channel gets, and their language"),
    usage=N_("[KIND on|off] [on|off] [language CODE|off]"),
    capability="settings",
    bare="read",
    confirms=ChannelAlerts,
)
async def alerts_here(
    ctx: Context, uow: UnitOfWork, customer: Customer, args: list[str], registry: Registry
) -> Reply:
    incoming = ctx.incoming
    binding = None
    if incoming.is_group and incoming.chat_id:
        binding = await channel_alerts.shared_chat(
            uow, customer.id, incoming.platform, incoming.workspace, incoming.chat_id
        )
    if binding is None:
        return Reply(
            _(
                "Use this command in a channel or group that shares the account "
                "(share it there first with /{command})."
            ).format(command=registry.commands["sharechannel"].alias_for(current()))
        )
    if not args:
        return shared_overview(binding, ctx, registry)
    kinds, language = _wanted([fold(a) for a in args], binding)
    if kinds == list(binding.alert_kinds or []) and language == binding.language:
        return Reply(f"{_('Nothing to change.')}\n{shared_overview(binding, ctx, registry).text}")
    question = [
        _("Change the alerts of this channel?"),
        _kinds_line(kinds),
        _language_line(language, customer, ctx.settings.default_language),
        _privacy(),
    ]
    action = ChannelAlerts(binding.id, ",".join(kinds), language or "")
    return confirmation("\n".join(question), _("Change"), action)


@router.confirmer(ChannelAlerts)
async def confirm_alerts_here(
    ctx: Context, uow: UnitOfWork, actor: Actor, registry: Registry, action: ChannelAlerts
) -> Reply:
    kinds = [k for k in action.kinds.split(",") if k]
    binding = await channel_alerts.configure(uow, actor, action.binding, kinds, action.language or None)
    return Reply(f"{_('Done.')}\n{shared_overview(binding, ctx, registry).text}")
