"""Files attached to tickets through the neutral dispatcher: the new-ticket form and replies take
them, the rules refuse with nothing written (nor downloaded), someone else's ticket takes none, and
the ticket view lists them; the folder store keeps them under random names only."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import bootstrap
from bot.adapters.shell import link_local_user
from bot.config import Settings
from bot.core import formatting
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import use_locale
from bot.core.types import Incoming, IncomingFile, Reply
from services import attachments
from services.drivers.folder_files import FolderFiles
from storage.models import Ticket, TicketAttachment, TicketMessage
from tests.support.chat import Chat

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 100
EXE = b"MZ\x90\x00" + b"\x00" * 60


class Sent:
    """A file a platform describes; remembers whether it was downloaded."""

    def __init__(self, name: str, data: bytes, media_type: str, size: int | None = None) -> None:
        self.data = data
        self.fetched = 0
        self.file = IncomingFile(name, media_type, len(data) if size is None else size, self.fetch)

    async def fetch(self, limit: int) -> bytes:
        self.fetched += 1
        return self.data


async def send(chat: Chat, text: str | None, *files: Sent, reply_to: str | None = None) -> Reply:
    incoming = Incoming(
        "test",
        chat.user_id,
        text=text,
        language=chat.language,
        files=tuple(f.file for f in files),
        reply_to=reply_to,
    )
    [reply] = await chat.dispatcher.handle(incoming)
    return reply


async def _rows(dispatcher: Dispatcher) -> list[TicketAttachment]:
    async with dispatcher.db.uow() as uow:
        return list((await uow.session.scalars(select(TicketAttachment).order_by(TicketAttachment.id))).all())


async def _count(dispatcher: Dispatcher, model: type[Ticket] | type[TicketMessage]) -> int:
    async with dispatcher.db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


def _stored(settings: Settings) -> list[Path]:
    root = Path(settings.attachments_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def _to_message_step(chat: Chat) -> None:
    await chat.say("newticket")
    for answer in ("technical", "regular", "none", "Mail bounces"):
        await chat.say(answer)


async def test_a_file_with_the_new_ticket_message_is_attached_and_listed(
    dispatcher: Dispatcher, alice: Chat, settings: Settings
) -> None:
    await _to_message_step(alice)
    shot = Sent("../../etc/screen shot.png", PNG, "image/png")
    opened = await send(alice, "See the screenshot", shot)
    assert "is open" in opened.text
    [row] = await _rows(dispatcher)
    assert (row.original_name, row.media_type, row.size, row.uploaded_by) == (
        "screen shot.png",
        "image/png",
        len(PNG),
        "customer",
    )
    assert row.sha256 == hashlib.sha256(PNG).hexdigest() and row.identity_id is not None
    [path] = _stored(settings)
    assert path.name == row.storage_key and path.read_bytes() == PNG and "screen" not in str(path)
    shown = await alice.say(f"ticket {row.ticket_id}")
    with use_locale("en"):
        size = formatting.data_size(len(PNG))
    assert f"See the screenshot\n📎 screen shot.png ({size})" in shown.text


async def test_a_reply_takes_files_and_the_answer_to_a_support_reply_too(
    dispatcher: Dispatcher, alice: Chat, settings: Settings
) -> None:
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == 1).limit(1))
    log = Sent("server.log", b"kernel: oops\n", "application/octet-stream")
    added = await send(alice, f"reply {ticket} here is the log", log)
    assert "was added to ticket" in added.text
    only_file = await send(alice, f"reply {ticket}", Sent("invoice.pdf", PDF, "application/pdf"))
    assert "was added to ticket" in only_file.text
    rows = await _rows(dispatcher)
    assert [(r.original_name, r.media_type) for r in rows] == [
        ("server.log", "text/plain"),
        ("invoice.pdf", "application/pdf"),
    ]
    assert rows[0].message_id != rows[1].message_id and len(_stored(settings)) == 2
    async with dispatcher.db.uow() as uow:
        message = await uow.session.get(TicketMessage, rows[1].message_id)
        assert message is not None and message.body == ""


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (Sent("big.png", PNG, "image/png", size=10_000_001), "big.png is too large to attach: at most 10 MB"),
        (Sent("setup.exe", EXE, "application/x-msdownload"), "setup.exe cannot be attached"),
    ],
)
async def test_refused_files_leave_nothing_and_are_not_downloaded(
    dispatcher: Dispatcher, alice: Chat, settings: Settings, sent: Sent, reason: str
) -> None:
    tickets, messages = await _count(dispatcher, Ticket), await _count(dispatcher, TicketMessage)
    await _to_message_step(alice)
    refused = await send(alice, "Look", sent)
    assert reason in refused.text
    assert sent.fetched == 0
    assert (await _count(dispatcher, Ticket), await _count(dispatcher, TicketMessage)) == (tickets, messages)
    assert await _rows(dispatcher) == [] and _stored(settings) == []
    assert "is open" in (await alice.say("Look again, without the file")).text  # still at the message


async def test_content_that_is_not_what_it_claims_is_refused(
    dispatcher: Dispatcher, alice: Chat, settings: Settings
) -> None:
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == 1).limit(1))
    messages = await _count(dispatcher, TicketMessage)
    fake_png = Sent("photo.png", EXE, "image/png")
    refused = await send(alice, f"reply {ticket} photo", fake_png)
    assert "photo.png cannot be attached" in refused.text and fake_png.fetched == 1
    assert await _count(dispatcher, TicketMessage) == messages
    assert await _rows(dispatcher) == [] and _stored(settings) == []


async def test_refusal_in_the_customers_language(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("langue fr")
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == 1).limit(1))
    refused = await send(
        alice, f"repondre {ticket} voir", Sent("big.pdf", PDF, "application/pdf", 20_000_000)
    )
    with use_locale("fr"):
        limit = formatting.data_size(10_000_000)
    assert "big.pdf est trop volumineux" in refused.text and limit in refused.text


async def test_someone_elses_ticket_takes_no_file(
    dispatcher: Dispatcher, alice: Chat, budi: Chat, settings: Settings
) -> None:
    async with dispatcher.db.uow() as uow:
        theirs = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == 2).limit(1))
    assert theirs is not None
    shot = Sent("shot.png", PNG, "image/png")
    refused = await send(alice, f"reply {theirs} mine now", shot)
    assert "Not found" in refused.text and shot.fetched == 0
    assert await _rows(dispatcher) == [] and _stored(settings) == []


async def test_files_anywhere_else_are_refused(
    dispatcher: Dispatcher, alice: Chat, settings: Settings
) -> None:
    shot = Sent("shot.png", PNG, "image/png")
    assert "only for a support ticket" in (await send(alice, None, shot)).text
    assert "only for a support ticket" in (await send(alice, "balance", shot)).text
    await alice.say("newticket")
    early = await send(alice, "technical", shot)
    assert "only for a support ticket" in early.text and "Which department" in early.text
    for answer in ("technical", "regular", "none", "Subject"):
        await alice.say(answer)
    bare = await send(alice, None, shot)
    assert "caption" in bare.text
    assert shot.fetched == 0 and await _rows(dispatcher) == [] and _stored(settings) == []


async def test_folder_store_keys_are_random_and_never_paths(tmp_path: Path) -> None:
    store = FolderFiles(tmp_path / "files")
    first, second = await store.put(b"one"), await store.put(b"one")
    assert first != second and await store.get(first) == b"one"
    for bad in ("../../etc/passwd", first.upper(), "x" * 32):
        with pytest.raises(KeyError):
            await store.get(bad)
    await store.delete(first)
    with pytest.raises(KeyError):
        await store.get(first)
    assert [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()] == [second]


async def test_the_sweep_removes_only_old_files_no_attachment_names(
    dispatcher: Dispatcher, alice: Chat, settings: Settings
) -> None:
    """A file whose ticket never committed (written, then the transaction failed) goes once it is an
    hour old; an attached file, and an orphan younger than an hour, stay; a crash's ``.part`` goes."""
    await _to_message_step(alice)
    await send(alice, "See the screenshot", Sent("shot.png", PNG, "image/png"))
    [row] = await _rows(dispatcher)
    store = FolderFiles(settings.attachments_dir)
    orphan, young = await store.put(b"lost"), await store.put(b"just written")
    part = Path(settings.attachments_dir) / orphan[:2] / f"{'0' * 32}.part"
    part.write_bytes(b"half")
    hours_ago = time.time() - 2 * 3600
    for path in _stored(settings):
        if path.name != young:
            os.utime(path, (hours_ago, hours_ago))
    async with dispatcher.db.uow() as uow:
        assert await attachments.sweep(uow, store) == 1
    assert sorted(p.name for p in _stored(settings)) == sorted([row.storage_key, young])
    assert await store.get(row.storage_key) == PNG


async def test_the_shell_sends_a_local_file_named_with_at(
    dispatcher: Dispatcher, settings: Settings, tmp_path: Path
) -> None:
    await link_local_user(dispatcher, "operator", 1)
    shell = bootstrap.shell(bootstrap.assemble(settings, dispatcher.db, dispatcher), "operator", "en")
    shell.out = io.StringIO()
    async with dispatcher.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == 1).limit(1))
    log = tmp_path / "app.log"
    log.write_bytes(b"worker crashed\n")
    await shell.send(f"reply {ticket} the log @{log}")
    assert "was added to ticket" in shell.out.getvalue()
    [row] = await _rows(dispatcher)
    assert (row.ticket_id, row.original_name, row.media_type) == (ticket, "app.log", "text/plain")
    await shell.send("reply 1 no such file @/nonexistent/file.png")  # not a file: stays in the text
    async with dispatcher.db.uow() as uow:
        last = await uow.session.scalar(select(TicketMessage).order_by(TicketMessage.id.desc()).limit(1))
    assert last is not None and last.body == "no such file @/nonexistent/file.png"
