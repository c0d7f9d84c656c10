"""``traffic SERVER [day|week|month|year]`` through the dispatcher, on the demo's year of traffic."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from bot import demo
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from services import traffic
from storage.models import AuditEntry, Server
from tests.support.chat import Chat


async def _with_traffic(dispatcher: Dispatcher) -> None:
    async with dispatcher.db.uow() as uow:
        await demo.seed_traffic(uow)
        await uow.commit()


async def _history(dispatcher: Dispatcher, server_id: int, period: str) -> traffic.History:
    async with dispatcher.db.uow() as uow:
        server = await uow.session.get(Server, server_id)
        assert server is not None
        return await traffic.history(uow, server, traffic.PERIODS[period])


async def test_a_chart_and_the_total(dispatcher: Dispatcher, alice: Chat) -> None:
    await _with_traffic(dispatcher)
    reply = await alice.say("traffic web-1")  # a week unless told
    found = await _history(dispatcher, 1, "week")
    assert found.recorded and 0 < found.bytes_in < found.bytes_out  # a web server sends more
    size = formatting.data_size
    assert reply.text == (
        f"web-1, last 7 days: {size(found.bytes_in)} in, {size(found.bytes_out)} out, "
        f"{size(found.bytes_in + found.bytes_out)} in all."
    )
    [chart] = reply.attachments
    assert (chart.filename, chart.content_type, chart.title) == (
        "traffic-web-1-week.png",
        "image/png",
        "Traffic of web-1, last 7 days",
    )
    image = Image.open(io.BytesIO(chart.data))
    assert image.format == "PNG" and image.size == (1200, 600) and image.info["Title"] == chart.title
    assert [b.label for b in reply.all_buttons()] == ["Day", "Month", "Year"]
    year = await alice.press("Year")
    assert year.text.startswith("web-1, last 12 months: ") and year.attachments[0].filename.endswith(
        "-year.png"
    )


async def test_in_french_by_number(dispatcher: Dispatcher, alice: Chat) -> None:
    await _with_traffic(dispatcher)
    alice.language = "fr"
    await alice.say("langue fr")
    reply = await alice.say("trafic 2 jour")
    found = await _history(dispatcher, 2, "day")
    with use_locale("fr"):
        total = formatting.data_size(found.bytes_in + found.bytes_out)
    assert reply.text.startswith("db-1, dernières 24 heures\u00a0: ")
    assert reply.text.endswith(f"{total} au total.") and "Go" in reply.text
    assert reply.attachments[0].title == "Trafic de db-1, dernières 24 heures"


async def test_nothing_recorded_yet(alice: Chat) -> None:
    reply = await alice.say("traffic web-1 month")
    assert reply.text == "No traffic was recorded for web-1 in the last 30 days."
    assert reply.attachments == [] and [b.label for b in reply.all_buttons()] == ["Day", "Week", "Year"]


async def test_only_ones_own_servers_and_known_periods(
    dispatcher: Dispatcher, alice: Chat, budi: Chat
) -> None:
    await _with_traffic(dispatcher)
    refused = await budi.say("traffic 1 week")  # Alice's web-1
    assert refused.attachments == [] and "Not found" in refused.text
    async with dispatcher.db.uow() as uow:
        denied = await uow.session.scalar(select(AuditEntry).where(AuditEntry.outcome == "denied"))
    assert denied is not None and denied.customer_id == 2
    for line in ("traffic web-1 decade", "traffic web-1 week month"):
        usage = await alice.say(line)
        assert usage.attachments == [] and "traffic [SERVER] [day|week|month|year]" in usage.text, line
    which = await alice.say("traffic day")  # Alice has two servers: which one?
    assert [b.command for b in which.all_buttons()] == ["traffic day db-1", "traffic day web-1"]
    assert "Not found" in (await alice.say("traffic web-9")).text
