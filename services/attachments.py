"""Files attached to tickets: the rules a file must pass (size, type found in its content), keeping
it (bytes in the file store under a random key, a ``TicketAttachment`` row beside the message), and
reading them back for the ticket's owner or the staff.

Every file of a message is checked before anything is written, so a refused one leaves nothing
behind; the rows are written in the caller's transaction (with the message they belong to).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from services.errors import N_, InvalidState, NotFound
from services.ports import FileStore
from storage.models import TicketAttachment
from storage.uow import UnitOfWork

MAX_NAME = 200
TEXT_NAMES = (".txt", ".log")  # a text file some apps send as application/octet-stream
# The magic bytes of each media type taken as something other than text.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:]+")


class Size(int):
    """A number of bytes, shown in the reader's units ("10 MB", "10 Mo")."""


@dataclass(frozen=True)
class Rules:
    """What may be attached: at most ``max_bytes`` a file, of one of ``types`` (media types)."""

    max_bytes: int
    types: frozenset[str]


@dataclass(frozen=True)
class Upload:
    """A file as received: the name the sender gave it (shown only) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Attaching:
    """The files sent with a customer's message, where they are kept and the rules they must pass."""

    store: FileStore
    rules: Rules
    uploads: tuple[Upload, ...]


class Refused(InvalidState):
    """A file the rules do not take; nothing of the message was kept."""


def clean_name(name: str) -> str:
    """The sender's file name as shown: its last path part, without control characters, cut to
    ``MAX_NAME``; never used as a path."""
    last = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    cleaned = _UNSAFE.sub("_", last).strip(" .")
    return cleaned[:MAX_NAME] or "file"


def sniff(data: bytes) -> str | None:
    """The media type the content is, of those the rules may take; None for anything else."""
    for magic, at, media_type in _MAGIC:
        if data[at : at + len(magic)] == magic and (media_type != "image/webp" or data[:4] == b"RIFF"):
            return media_type
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain"


def _check_size(name: str, size: int, rules: Rules) -> None:
    if size > rules.max_bytes:
        raise Refused(
            N_("{name} is too large to attach: at most {limit} per file."),
            name=clean_name(name),
            limit=Size(rules.max_bytes),
        )


def check_offer(name: str, media_type: str, size: int, rules: Rules) -> None:
    """Whether a file as the platform describes it may be downloaded at all (``Refused`` if not)."""
    _check_size(name, size, rules)
    shown = clean_name(name)
    generic = media_type in ("", "application/octet-stream") or media_type.startswith("text/")
    if media_type not in rules.types and not (generic and shown.lower().endswith(TEXT_NAMES)):
        raise Refused(
            N_("{name} cannot be attached: I take pictures, PDF files and text files such as logs."),
            name=shown,
        )


def checked_type(upload: Upload, rules: Rules) -> str:
    """The media type of a downloaded file, found in its content; ``Refused`` when it is too
    large or of a type the rules do not take (whatever the sender claimed)."""
    _check_size(upload.name, len(upload.data), rules)
    found = sniff(upload.data)
    if found is None or found not in rules.types:
        raise Refused(
            N_("{name} cannot be attached: I take pictures, PDF files and text files such as logs."),
            name=clean_name(upload.name),
        )
    return found


async def attach(
    uow: UnitOfWork,
    store: FileStore,
    ticket_id: int,
    message_id: int,
    uploads: Sequence[Upload],
    rules: Rules,
    uploaded_by: str,
    identity_id: int | None = None,
) -> list[TicketAttachment]:
    """Keep the files of one message (all checked first: one refused, none kept) and add their
    rows to the caller's transaction. Files already written are removed if a later one fails."""
    types = [checked_type(upload, rules) for upload in uploads]
    rows: list[TicketAttachment] = []
    try:
        for upload, media_type in zip(uploads, types, strict=True):
            key = await store.put(upload.data)
            row = TicketAttachment(
                ticket_id=ticket_id,
                message_id=message_id,
                original_name=clean_name(upload.name),
                media_type=media_type,
                size=len(upload.data),
                sha256=hashlib.sha256(upload.data).hexdigest(),
                storage_key=key,
                uploaded_by=uploaded_by,
                identity_id=identity_id,
            )
            uow.session.add(row)
            rows.append(row)
        await uow.flush()
    except BaseException:
        for row in rows:
            await store.delete(row.storage_key)
        raise
    return rows


async def of_ticket(uow: UnitOfWork, ticket_id: int) -> dict[int, list[TicketAttachment]]:
    """The ticket's attachments by the id of the message they came with, in the order sent.
    The caller has checked that the ticket is the reader's (or the reader is staff)."""
    rows = await uow.session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id == ticket_id).order_by(TicketAttachment.id)
    )
    found: dict[int, list[TicketAttachment]] = {}
    for row in rows:
        found.setdefault(row.message_id, []).append(row)
    return found


async def content(
    uow: UnitOfWork, store: FileStore, ticket_id: int, attachment_id: int
) -> tuple[TicketAttachment, bytes]:
    """One attachment of the ticket and its bytes (for staff: the caller has checked who reads).
    ``NotFound`` when the ticket has no such attachment or its file is gone."""
    row = await uow.session.scalar(
        select(TicketAttachment).where(
            TicketAttachment.id == attachment_id, TicketAttachment.ticket_id == ticket_id
        )
    )
    if row is None:
        raise NotFound()
    try:
        return row, await store.get(row.storage_key)
    except KeyError:
        raise NotFound() from None


ORPHAN_AGE = dt.timedelta(hours=1)
_SWEEP_CHUNK = 500  # keys looked up per statement


async def sweep(uow: UnitOfWork, store: FileStore, older_than: dt.timedelta = ORPHAN_AGE) -> int:
    """Remove the files no attachment row names: written for a ticket message whose transaction then
    failed (``attach`` removes them only when the failure happens inside it). Only files older than
    ``older_than`` are considered, so one being attached right now is never taken; their age is the
    file system's, so it is measured on the wall clock, not the business clock. Returns how many."""
    removed = 0
    async for found in store.kept_before(dt.datetime.now(dt.UTC) - older_than):
        for start in range(0, len(found), _SWEEP_CHUNK):
            keys = found[start : start + _SWEEP_CHUNK]
            known = set(
                await uow.session.scalars(
                    select(TicketAttachment.storage_key).where(TicketAttachment.storage_key.in_(keys))
                )
            )
            removed += await _remove(store, [key for key in keys if key not in known])
    return removed


async def _remove(store: FileStore, keys: list[str]) -> int:
    for key in keys:
        await store.delete(key)
    return len(keys)
