"""What an update costs the database, and in which order: the claim and the sender in one round
trip on PostgreSQL, one commit after the reply, the reply out before its buttons' keys are written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, func, select

from bot.core.dispatcher import Dispatcher
from bot.core.types import Incoming, Reply
from storage.models import ActionKey
from tests.support.chat import Chat


@contextmanager
def statements(dispatcher: Dispatcher) -> Iterator[list[str]]:
    """The SQL sent meanwhile, commits included (as ``COMMIT``)."""
    sent: list[str] = []
    engine = dispatcher.db.engine.sync_engine

    def on_execute(*args: object) -> None:
        sent.append(str(args[2]).strip())

    def on_commit(*_: object) -> None:
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


def update(user: str, update_id: str, text: str | None = None, key: str | None = None) -> Incoming:
    return Incoming("test", user, text=text, action_key=key, update_id=update_id)


async def keys(dispatcher: Dispatcher) -> int:
    async with dispatcher.db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(ActionKey)) or 0)


async def test_the_claim_and_the_sender_take_one_statement_and_the_update_one_commit(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    await alice.say("balance")  # the first message of the minute also notes when alice was seen
    with statements(dispatcher) as sent:
        [reply] = await dispatcher.handle(update("alice", "u-1", text="invoices"))
    assert reply.all_buttons()
    claims = [s for s in sent if "INSERT INTO processed_updates" in s]
    senders = [s for s in sent if "FROM" in s and "chat_identities" in s]
    assert len(claims) == 1 and len(senders) == 1
    if dispatcher.db.engine.dialect.name == "postgresql":
        assert claims == senders  # one statement: the claim in a WITH, the sender beside it
        assert sent.count("COMMIT") == 1
    else:  # one writer per file: the claim is committed at once, the rest at the end
        assert sent.count("COMMIT") == 2
    assert sent[-1] == "COMMIT" and "INSERT INTO action_keys" in sent[-2]  # every key in one insert
    assert sum("INSERT INTO action_keys" in s for s in sent) == 1


async def test_a_redelivered_update_reads_nothing_more_and_sends_nothing(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    delivered: list[Reply] = []

    async def deliver(replies: list[Reply]) -> None:
        delivered.extend(replies)

    assert await dispatcher.handle(update("alice", "u-2", text="balance"), deliver) == []
    assert len(delivered) == 1
    with statements(dispatcher) as sent:
        assert await dispatcher.handle(update("alice", "u-2", text="balance"), deliver) == []
    assert len(delivered) == 1
    assert not [s for s in sent if "ledger_entries" in s or "INSERT INTO action_keys" in s]


async def test_the_reply_goes_out_before_its_keys_are_written_and_they_work_after(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    before = await keys(dispatcher)
    seen_then: list[int] = []
    delivered: list[Reply] = []

    async def deliver(replies: list[Reply]) -> None:
        seen_then.append(await keys(dispatcher))  # read apart, as the person pressing would
        delivered.extend(replies)

    assert await dispatcher.handle(update("alice", "u-3", text="invoices"), deliver) == []
    [reply] = delivered
    assert seen_then == [before]  # not written yet when the reply went out
    assert await keys(dispatcher) == before + len([b for b in reply.all_buttons() if b.key])
    paid = next(b for b in reply.all_buttons() if b.command == "invoices paid")
    with statements(dispatcher) as sent:
        [pressed] = await dispatcher.handle(update("alice", "u-4", key=paid.key))
    assert "invoices unpaid" in {b.command for b in pressed.all_buttons()}  # the paid list's filters
    # the pressed key is read with the sender, in the same statement
    assert [s for s in sent if "FROM action_keys" in s or "JOIN action_keys" in s] == [
        s for s in sent if "chat_identities" in s and "FROM" in s
    ]


async def test_the_balance_is_shown_as_read_with_the_sender(dispatcher: Dispatcher, alice: Chat) -> None:
    await alice.say("balance")
    with statements(dispatcher) as sent:
        [reply] = await dispatcher.handle(update("alice", "u-5", text="balance"))
    assert "Your balance" in reply.text
    assert not [s for s in sent if s.startswith("SELECT customers.balance_minor")]  # no read of its own
