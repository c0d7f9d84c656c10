"""Files on Slack: a file shared in a DM reaches the ticket through ``files.info`` and a download of
``url_private`` with the bot token of the workspace it was shared in (slack-bolt against the fake
Web API, on SQLite and PostgreSQL); refused files are never downloaded and leave nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.adapters.slack import SLACK_KEY, SlackAdapter
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import chat_records, linking
from storage.models import Ticket, TicketAttachment
from storage.uow import Database
from tests.adapters.test_slack_install import TOKENS, install, installable
from tests.adapters.test_slack_install import link as link_in
from tests.fakes.slack_api import FakeSlackAPI
from tests.support.slack_client import TEAM, SlackUser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 100
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


async def _serve(db: Database, dispatcher: Dispatcher, settings: Settings) -> TestServer:
    dispatcher.settings = settings
    return TestServer(bootstrap.web_app(bootstrap.assemble(settings, db, dispatcher)))


async def linked(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database, uid: str
) -> SlackUser:
    async with db.uow() as uow:
        ident = await chat_records.identity(uow, "slack", TEAM, uid)
        await linking.redeem(uow, ident, await linking.issue_code(uow, 1, "slack", "owner"))
    return SlackUser(web[0], web[1], api, uid)


async def share(user: SlackUser, text: str, *files: dict[str, Any]) -> None:
    event = {"type": "message", "subtype": "file_share", "channel_type": "im", "channel": "D_DM"}
    await user.event({**event, "text": text, "files": list(files)})


def said(api: FakeSlackAPI) -> str:
    return api.of("chat.postMessage")[-1].text


async def _rows(db: Database) -> list[TicketAttachment]:
    async with db.uow() as uow:
        return list((await uow.session.scalars(select(TicketAttachment).order_by(TicketAttachment.id))).all())


async def _ticket_of(db: Database, customer_id: int) -> int:
    async with db.uow() as uow:
        found = await uow.session.scalar(select(Ticket.id).where(Ticket.customer_id == customer_id).limit(1))
    assert found is not None
    return found


def _stored(settings: Settings) -> list[Path]:
    root = Path(settings.attachments_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_file_with_the_new_ticket_message_in_a_dm(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database, settings: Settings
) -> None:
    ana = await linked(web, api, db, "UANA")
    for answer in ("newticket", "technical", "regular", "none", "Backup failed"):
        await ana.dm(answer)
    await share(ana, "Screenshot of the error", api.share(PNG, "error.png", "image/png"))
    assert "is open" in said(api)
    assert [c.args["file"] for c in api.of("files.info")] == ["F0001"]
    assert api.downloads == [("F0001", "xoxb-test")]
    [row] = await _rows(db)
    assert (row.original_name, row.media_type, row.size) == ("error.png", "image/png", len(PNG))
    assert [p.read_bytes() for p in _stored(settings)] == [PNG]
    await ana.dm(f"ticket {row.ticket_id}")
    assert "Screenshot of the error\n📎 error.png (" in said(api)


@pytest.mark.parametrize(
    ("name", "mimetype", "size", "reason"),
    [
        ("huge.png", "image/png", 11_000_000, "huge.png is too large to attach"),
        ("tool.sh", "application/x-sh", None, "tool.sh cannot be attached"),
    ],
)
async def test_refused_files_are_not_downloaded(
    web: tuple[TestClient, SlackAdapter],
    api: FakeSlackAPI,
    db: Database,
    settings: Settings,
    name: str,
    mimetype: str,
    size: int | None,
    reason: str,
) -> None:
    ana = await linked(web, api, db, "UANA")
    ticket = await _ticket_of(db, 1)
    await share(ana, f"reply {ticket} look", api.share(PNG, name, mimetype, size=size))
    assert reason in said(api)
    assert api.of("files.info") == [] and api.downloads == []
    assert await _rows(db) == [] and _stored(settings) == []


async def test_a_file_for_someone_elses_ticket_is_not_taken(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database, settings: Settings
) -> None:
    ana = await linked(web, api, db, "UANA")
    theirs = await _ticket_of(db, 2)
    await share(ana, f"reply {theirs} mine", api.share(PNG, "a.png", "image/png"))
    assert "Not found" in said(api)
    assert api.downloads == [] and await _rows(db) == [] and _stored(settings) == []


async def test_each_workspace_downloads_with_its_own_token(
    db: Database, settings: Settings, dispatcher: Dispatcher, api: FakeSlackAPI
) -> None:
    async with TestClient(await _serve(db, dispatcher, installable(settings, api))) as client:
        adapter = client.server.app[SLACK_KEY]
        for team in TOKENS:
            await install(client, api, team)
        await link_in(db, "TAAA", "UAAA", 1)
        await link_in(db, "TBBB", "UBBB", 2)
        ticket_a, ticket_b = await _ticket_of(db, 1), await _ticket_of(db, 2)
        in_a = SlackUser(client, adapter, api, "UAAA", team="TAAA")
        in_b = SlackUser(client, adapter, api, "UBBB", team="TBBB")
        await share(in_a, f"reply {ticket_a} a", api.share(PNG, "a.png", "image/png", token=TOKENS["TAAA"]))
        await share(in_b, f"reply {ticket_b} b", api.share(PNG, "b.png", "image/png", token=TOKENS["TBBB"]))
    assert api.downloads == [("F0001", TOKENS["TAAA"]), ("F0002", TOKENS["TBBB"])]
    assert [(r.ticket_id, r.original_name) for r in await _rows(db)] == [
        (ticket_a, "a.png"),
        (ticket_b, "b.png"),
    ]
