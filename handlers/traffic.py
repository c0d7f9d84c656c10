"""``traffic SERVER [day|week|month|year]``: a chart of a server's traffic and its total."""

from __future__ import annotations

import asyncio

from bot.core import formatting
from bot.core.documents import DocumentRenderer
from bot.core.i18n import gettext as _
from bot.core.registry import fold
from bot.core.router import Router
from bot.core.types import Attachment, Button, Reply, UsageError
from services import orders, traffic
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


def period_of(words: list[str]) -> traffic.Period:
    """The period the words after the server name (none: a week); anything else is a usage error."""
    if not words:
        return traffic.PERIODS[DEFAULT_PERIOD]
    if len(words) == 1:
        for name, vocabulary in PERIOD_WORDS.items():
            if fold(words[0]) in vocabulary:
                return traffic.PERIODS[name]
    raise UsageError()


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
    usage=N_("SERVER [day|week|month|year]"),
)
async def traffic_chart(
    uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str], documents: DocumentRenderer
) -> Reply:
    if not args:
        raise UsageError()
    period = period_of(args[1:])
    server = await orders.find_server(uow, args[0], actor)
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
