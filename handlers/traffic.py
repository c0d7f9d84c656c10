"""``traffic SERVER [day|week|month|year]``: a chart of a server's traffic and its total."""

from __future__ import annotations

import asyncio

from bot.core import formatting
from bot.core.documents import DocumentRenderer
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Attachment, Button, Reply, UsageError
from handlers.server_views import named_server
from services import traffic
from services.audit import Actor
from services.errors import N_
from services.records import Customer, UnitOfWork

router = Router()

DEFAULT_PERIOD = "week"
PERIOD_WORDS = {
    "day": frozenset({"day", "24h", "jour", "hari", "gun"}),
    "week": frozenset({"week", "semaine", "minggu", "pekan", "hafta"}),
    "month": frozenset({"month", "mois", "bulan", "ay"}),
    "year": frozenset({"year", "an", "annee", "tahun", "yil"}),
}
PERIOD_BUTTONS = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month"), "year": N_("Year")}


def period_word(word: str) -> str | None:
    return next((name for name, vocabulary in PERIOD_WORDS.items() if fold(word) in vocabulary), None)


def period_of(words: list[str]) -> traffic.Period:
    """The period among the words (none: a week); two periods are a usage error."""
    named = [p for p in map(period_word, words) if p is not None]
    if len(named) > 1:
        raise UsageError()
    return traffic.PERIODS[named[0] if named else DEFAULT_PERIOD]


@router.command(
    "traffic",
    aliases={
        "en": ("traffic", "bandwidth"),
        "fr": ("trafic",),
        "id": ("trafik",),
        "tr": ("trafik",),
    },
    summary=N_("a chart of a server's traffic over a day, a week, a month or a year"),
    # TRANSLATORS: the words in brackets are typed by the user; translate them as the words they type.
    usage=N_("[SERVER] [day|week|month|year]"),
)
async def traffic_chart(
    uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], documents: DocumentRenderer
) -> Reply:
    period = period_of(args)
    rest = [a for a in args if period_word(a) is None]
    if len(rest) > 1:
        raise UsageError()
    server = await named_server(uow, actor, rest, f"traffic {period.name}")
    if isinstance(server, Reply):
        return server  # none, or which one?
    found = await traffic.history(uow, server, period)
    others = [
        Button(_(label), command=f"traffic {server.hostname} {name}")
        for name, label in PERIOD_BUTTONS.items()
        if name != period.name
    ]
    when = _(period.label)
    if not found.recorded:
        return Reply(
            _("No traffic was recorded for {server} in the {period}.").format(
                server=server.hostname, period=when
            ),
            buttons=[others],
        )
    title = _("Traffic of {server}, {period}").format(server=server.hostname, period=when)
    # Drawing takes a tenth of a second or more: in a thread, with this request's language.
    png = await asyncio.to_thread(documents.traffic_png, found, title, customer.timezone)
    text = _("{server}, {period}: {incoming} in, {outgoing} out, {total} in all.").format(
        server=server.hostname,
        period=when,
        incoming=formatting.data_size(found.bytes_in),
        outgoing=formatting.data_size(found.bytes_out),
        total=formatting.data_size(found.bytes_in + found.bytes_out),
    )
    chart = Attachment(f"traffic-{server.hostname}-{period.name}.png", "image/png", png, title=title)
    return Reply(text, attachments=[chart], buttons=[others])
