"""``alerts here``: which alerts a shared chat gets, and in which language, chosen in that chat.

Used in a group chat that shares the account (``share channel``). Looking is open to everyone
there; a change needs an owner's or admin's role and a confirmation. What a shared chat is sent is
the alerts' shared wording (amounts and dates, never a pay link, a button or a support reply's
text: ``bot.alerts.messages``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context
from bot.core.i18n import current, normalize
from bot.core.i18n import gettext as _
from bot.core.registry import Registry, fold
from bot.core.router import Router
from bot.core.types import Reply, UsageError
from handlers.account import LANGUAGE_NAMES
from handlers.alerts import KIND_NAMES as PERSONAL_KIND_NAMES
from handlers.alerts import KIND_WORDS as PERSONAL_KIND_WORDS
from handlers.alerts import OFF, ON
from handlers.common import confirmation
from services import channel_alerts
from services.audit import Actor
from services.errors import N_
from services.records import ChannelBinding, Customer, UnitOfWork

router = Router()

KIND_NAMES = {
    **PERSONAL_KIND_NAMES,
    "payment": N_("Payments received"),
    "lifecycle": N_("Suspensions and terminations of unpaid orders"),
}
KIND_WORDS = {
    **PERSONAL_KIND_WORDS,
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
    return _("Alerts sent here: {kinds}.").format(kinds=", ".join(_(KIND_NAMES[k]) for k in kinds))


def _language_line(language: str | None, customer: Customer, default: str) -> str:
    if language:
        return _("Language of these alerts: {language}.").format(language=LANGUAGE_NAMES[language])
    account = customer.language if customer.language in LANGUAGE_NAMES else default
    return _("Language of these alerts: the account's ({language}).").format(
        language=LANGUAGE_NAMES.get(account or "", account)
    )


def _privacy() -> str:
    return _(
        "Shared chats read amounts and dates; pay links, buttons, login details and support's "
        "replies go only to the private chats of the people linked to the account."
    )


def overview(binding: ChannelBinding, ctx: Context, registry: Registry) -> Reply:
    assert ctx.customer is not None
    chosen = set(binding.alert_kinds or [])
    lines = [_("Alerts for this channel:")]
    lines += [f"{'🔔' if k in chosen else '🔕'} {_(KIND_NAMES[k])}" for k in channel_alerts.KINDS]
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
    named = {k for k, vocabulary in KIND_WORDS.items() for w in words if w in vocabulary}
    others = [w for w in words if w not in ON | OFF | ALL and not any(w in v for v in KIND_WORDS.values())]
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
        "tr": ("uyarilarburada", "uyarilar burada"),
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
        return overview(binding, ctx, registry)
    kinds, language = _wanted([fold(a) for a in args], binding)
    if kinds == list(binding.alert_kinds or []) and language == binding.language:
        return Reply(f"{_('Nothing to change.')}\n{overview(binding, ctx, registry).text}")
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
    return Reply(f"{_('Done.')}\n{overview(binding, ctx, registry).text}")
