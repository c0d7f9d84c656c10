"""Files on Telegram: a photo or a document sent to a ticket reaches it through python-telegram-bot's
getFile and download against the fake Bot API, on SQLite and PostgreSQL; refused files are never
downloaded and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from storage.models import Ticket, TicketAttachment, TicketMessage
from tests.support.telegram_driver import Telegram, texts

ALICE = 111
JPEG = b"\xff\xd8\xff\xe0" + b"\x10" * 200
LOG = b"2026-12-01 kernel: eth0 link down\n"
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def _rows(dispatcher: Dispatcher) -> list[TicketAttachment]:
    async with dispatcher.db.uow() as uow:
        return list((await uow.session.scalars(select(TicketAttachment).order_by(TicketAttachment.id))).all())


async def _ticket_of(dispatcher: Dispatcher, customer_id: int) -> int:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == customer_id).limit(1))
    assert found is not None
    return found


def _stored(settings: Settings) -> list[Path]:
    root = Path(settings.attachments_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_photo_with_the_new_ticket_message_is_downloaded_and_attached(
    tg: Telegram, dispatcher: Dispatcher, settings: Settings
) -> None:
    await tg.link(dispatcher.db, ALICE)
    for answer in ("/newticket", "technical", "high", "none", "Site down"):
        await tg.say(ALICE, answer)
    calls = await tg.deliver(tg.fake.file_update(ALICE, JPEG, "The error page"))
    assert "is open" in texts(calls)
    assert [c.params["file_id"] for c in tg.fake.of("getFile")] == ["file1"]
    assert tg.fake.downloads == ["documents/file1"]
    [row] = await _rows(dispatcher)
    assert (row.original_name, row.media_type, row.size) == ("photo.jpg", "image/jpeg", len(JPEG))
    assert [p.read_bytes() for p in _stored(settings)] == [JPEG]
    shown = texts(await tg.say(ALICE, f"/ticket {row.ticket_id}"))
    assert "The error page\n📎 photo.jpg (" in shown


async def test_a_document_as_a_reply_to_a_ticket(tg: Telegram, dispatcher: Dispatcher) -> None:
    await tg.link(dispatcher.db, ALICE)
    ticket = await _ticket_of(dispatcher, 1)
    update = tg.fake.file_update(
        ALICE, LOG, f"/reply {ticket} the log", name="syslog.log", mime_type="text/x-log"
    )
    assert "was added to ticket" in texts(await tg.deliver(update))
    [row] = await _rows(dispatcher)
    assert (row.ticket_id, row.original_name, row.media_type) == (ticket, "syslog.log", "text/plain")


@pytest.mark.parametrize(
    ("name", "mime", "data", "size", "reason"),
    [
        ("dump.pdf", "application/pdf", b"%PDF-1.4 x", 30_000_000, "dump.pdf is too large to attach"),
        ("setup.exe", "application/x-msdownload", b"MZ\x90\x00", None, "setup.exe cannot be attached"),
    ],
)
async def test_refused_documents_are_not_downloaded_and_leave_nothing(
    tg: Telegram,
    dispatcher: Dispatcher,
    settings: Settings,
    name: str,
    mime: str,
    data: bytes,
    size: int | None,
    reason: str,
) -> None:
    await tg.link(dispatcher.db, ALICE)
    ticket = await _ticket_of(dispatcher, 1)
    async with dispatcher.db.uow() as uow:
        messages = await uow.session.scalar(select(func.count()).select_from(TicketMessage))
    update = tg.fake.file_update(ALICE, data, f"/reply {ticket} see", name=name, mime_type=mime, size=size)
    assert reason in texts(await tg.deliver(update))
    assert tg.fake.of("getFile") == [] and tg.fake.downloads == []
    async with dispatcher.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(TicketMessage)) == messages
    assert await _rows(dispatcher) == [] and _stored(settings) == []


async def test_a_file_for_someone_elses_ticket_is_not_taken(
    tg: Telegram, dispatcher: Dispatcher, settings: Settings
) -> None:
    await tg.link(dispatcher.db, ALICE)
    theirs = await _ticket_of(dispatcher, 2)
    answer = texts(await tg.deliver(tg.fake.file_update(ALICE, JPEG, f"/reply {theirs} mine")))
    assert "Not found" in answer
    assert tg.fake.of("getFile") == [] and await _rows(dispatcher) == [] and _stored(settings) == []
