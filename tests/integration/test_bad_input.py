"""Unknown commands, wrong arguments, oversized or non-text input: a short answer, nothing written."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from bot import bootstrap
from bot.core import chat_state
from bot.core.dispatcher import Dispatcher
from bot.core.types import Incoming
from storage.models import AuditEntry, Invoice, LedgerEntry, Ticket
from tests.support.chat import Chat


async def _counts(dispatcher: Dispatcher) -> tuple[int, ...]:
    async with dispatcher.db.uow() as uow:
        return tuple(
            [
                int(await uow.session.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Invoice, LedgerEntry, Ticket, AuditEntry)
            ]
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate", "I don't know that command"),
        ("balanzse", "Did you mean /balance?"),
        ("invoice abc", "Usage: /invoice NUMBER"),
        ("order", "Usage: /order NUMBER"),
        ("reboot", "Which server?"),  # without a name: the account's servers as buttons
        ("pay -3", "Usage: /pay NUMBER"),
        ("pay 99999999999999999999", "Not found"),
        ("invoice ²", "Usage: /invoice NUMBER"),
        ("language klingon", "Usage: /language [en|fr|id|tr]"),
        ("   ", "Type help"),
        ("x" * 5000, "too long"),
        ("\x00\x01 ☃ 🤖", "not text"),  # PostgreSQL text holds no NUL: refused, never half-stored
    ],
)
async def test_short_localised_answer_and_nothing_written(
    dispatcher: Dispatcher, alice: Chat, text: str, expected: str
) -> None:
    before = await _counts(dispatcher)
    reply = await alice.say(text)
    assert expected in reply.text
    assert len(reply.text) < 300
    assert await _counts(dispatcher) == before


async def test_non_text_message(alice: Chat) -> None:
    assert "only read text" in (await alice.say(None)).text


async def test_errors_are_localised(alice: Chat) -> None:
    await alice.say("language tr")
    assert "Kullanım" in (await alice.say("invoice abc")).text
    assert "Bulunamadı" in (await alice.say("invoice 424242")).text


async def test_rate_limit(db: object, settings: object, dispatcher: Dispatcher) -> None:
    strict = bootstrap.dispatcher(
        dispatcher.db, dispatcher.settings.model_copy(update={"rate_limit": "3/minute"})
    )
    chat = await Chat.linked(strict, "flood", customer_id=1)
    answers = [(await chat.say("balance")).text for _ in range(5)]
    assert all("Your balance" in a for a in answers[:3])
    assert all("too fast" in a for a in answers[3:])


async def test_redelivered_update_is_processed_once(dispatcher: Dispatcher, alice: Chat) -> None:
    first = await dispatcher.handle(Incoming("test", "alice", text="balance", update_id="42"))
    again = await dispatcher.handle(Incoming("test", "alice", text="balance", update_id="42"))
    assert len(first) == 1 and again == []


@pytest.mark.parametrize(
    "line",
    [
        "invoice 999",  # missing: the handler's transaction is rolled back, claim included
        "invoice 5",  # another customer's: the denial is audited in its own commit, claim included
    ],
)
async def test_an_update_whose_handler_fails_is_answered_once(
    dispatcher: Dispatcher, alice: Chat, line: str
) -> None:
    first = await dispatcher.handle(Incoming("test", "alice", text=line, update_id="43"))
    again = await dispatcher.handle(Incoming("test", "alice", text=line, update_id="43"))
    assert "Not found" in first[0].text and again == []


async def test_an_update_whose_handler_crashes_is_answered_once(
    dispatcher: Dispatcher, alice: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(ctx: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(dispatcher, "_route", crash)
    first = await dispatcher.handle(Incoming("test", "alice", text="balance", update_id="44"))
    again = await dispatcher.handle(Incoming("test", "alice", text="balance", update_id="44"))
    assert "Something went wrong" in first[0].text and again == []


async def _someone_waits_on_a_lock(dispatcher: Dispatcher) -> None:
    """Until a session of this database waits for a lock (the time limit only guards a hang)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(30):
        while True:
            async with dispatcher.db.uow() as uow:
                if await uow.session.scalar(query):
                    return


async def test_chat_state_leaves_every_commit_to_the_dispatcher(dispatcher: Dispatcher) -> None:
    """A first contact, a claim, a refused press and an expired form are kept only when the
    dispatcher, the one owner of an update's bookkeeping, commits them."""
    async with dispatcher.db.uow() as uow:
        who = await chat_state.who(uow, "test", "", "newcomer", key="no-such-key")
        assert who.new
        assert await chat_state.claim_update(uow, "test", "newcomer-1")
        press = await chat_state.press(uow, "no-such-key", who.identity, who.pressed)
        assert press.status == "unknown" and press.keep
        await chat_state.save_conversation(uow, who.identity.id, "newticket", "subject", {}, ttl=-1)
        opened = await chat_state.conversation(uow, who.identity.id)
        assert opened.form is None and opened.closed
        assert uow.commits == 0
        if uow.dialect != "postgresql":
            return  # pysqlite commits a savepoint opened outside a transaction when releasing it
        await uow.rollback()
        assert (await chat_state.who(uow, "test", "", "newcomer")).new
        assert await chat_state.claim_update(uow, "test", "newcomer-1")


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("other_replica", ["commits", "dies"])
async def test_a_delivery_waits_for_the_replica_that_holds_the_claim(
    dispatcher: Dispatcher, alice: Chat, other_replica: str
) -> None:
    """The claim is committed with the update's work: a second delivery waits on it, then drops the
    update if the first replica finished, or handles it if the first died before committing."""
    async with dispatcher.db.uow() as other:
        assert await chat_state.claim_update(other, "test", "45")
        second = asyncio.create_task(
            dispatcher.handle(Incoming("test", "alice", text="balance", update_id="45"))
        )
        await _someone_waits_on_a_lock(dispatcher)
        if other_replica == "commits":
            await other.commit()
    replies = await second
    if other_replica == "commits":
        assert replies == []
    else:
        assert "Your balance" in replies[0].text


async def test_turkish_dotless_i_and_french_two_word_filters(alice: Chat) -> None:
    await alice.say("dil tr")
    assert "/bakiye" in (await alice.say("yardım")).text
    unread_tr = await alice.say("talepler okunmamış")
    assert "web-1 slow" in unread_tr.text and "Copy of last invoice" not in unread_tr.text
    await alice.say("langue fr")
    unread_fr = await alice.say("tickets non lus")
    assert "web-1 slow" in unread_fr.text and "Copy of last invoice" not in unread_fr.text


async def test_rate_limit_is_shared_through_redis(dispatcher: Dispatcher) -> None:
    """Two replicas with the same Redis storage count one user's messages together."""
    settings = dispatcher.settings.model_copy(
        update={"rate_limit": "3/minute", "rate_limit_storage": "async+redis://127.0.0.1:6379"}
    )
    replicas = [bootstrap.dispatcher(dispatcher.db, settings) for _ in range(2)]
    user = f"redis-{uuid.uuid4().hex}"
    await Chat.linked(replicas[0], user, customer_id=1)
    answers = [(await Chat(replicas[i % 2], user).say("balance")).text for i in range(4)]
    assert all("Your balance" in a for a in answers[:3])
    assert "too fast" in answers[3]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_an_update_is_answered_when_the_server_dropped_the_pooled_connections(
    dispatcher: Dispatcher, alice: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections are not pinged before use: a dropped one fails on first use and the update is
    handled again on a fresh one, once."""
    await alice.say("balance")  # the pool now holds a connection
    url = dispatcher.db.engine.url
    admin = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    await admin.close()
    replies = await dispatcher.handle(Incoming("test", "alice", text="balance", update_id="45"))
    assert "Your balance" in replies[0].text
    assert "database connection lost" in caplog.text
    assert await dispatcher.handle(Incoming("test", "alice", text="balance", update_id="45")) == []
