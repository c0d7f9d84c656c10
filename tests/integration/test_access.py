"""Nobody sees or touches another customer's data, and every denial is audited."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.core.dispatcher import Dispatcher
from storage.models import AuditEntry, Domain, Invoice, Order, Server, Ticket
from storage.uow import Database
from tests.support.chat import Chat


async def _denials(dispatcher: Dispatcher) -> list[AuditEntry]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied"))
        return list(rows.all())


async def _first_id(dispatcher: Dispatcher, model: type, customer_id: int) -> int:
    async with dispatcher.db.uow() as uow:
        return int(
            await uow.session.scalar(select(model.id).where(model.customer_id == customer_id).limit(1))
        )


@pytest.mark.parametrize(
    ("model", "command"),
    [
        (Invoice, "invoice {}"),
        (Order, "order {}"),
        (Ticket, "ticket {}"),
        (Invoice, "pay {}"),
        (Order, "reboot {}"),
    ],
)
async def test_foreign_record_looks_like_a_missing_one(
    dispatcher: Dispatcher, alice: Chat, model: type, command: str
) -> None:
    foreign = await _first_id(dispatcher, model, customer_id=2)
    missing = (await alice.say(command.format(999999))).text
    denied = (await alice.say(command.format(foreign))).text
    assert denied == missing
    assert "Not found" in denied
    entries = await _denials(dispatcher)
    assert [e.target for e in entries] == [f"{model.__name__.lower()}:{foreign}"]
    assert entries[0].customer_id == 1


async def test_foreign_server_by_name_and_domain(dispatcher: Dispatcher, alice: Chat) -> None:
    async with dispatcher.db.uow() as uow:
        domain = await uow.session.scalar(select(Domain).where(Domain.customer_id == 2).limit(1))
    assert domain is not None
    assert (await alice.say(f"renew {domain.name}")).text == (await alice.say("renew nosuch.example")).text
    assert [e.target for e in await _denials(dispatcher)] == [f"domain:{domain.id}"]


async def test_someone_elses_button_is_not_found_and_audited(
    dispatcher: Dispatcher, alice: Chat, budi: Chat
) -> None:
    reply = await alice.say("reboot web-1")
    key = alice.button("Reboot", reply).key
    answer = await budi.press_key(key)
    assert "Not found" in answer.text
    # Alice's own confirmation still works: the intruder did not use it up.
    assert "rebooted" in (await alice.press_key(key)).text
    assert len(await _denials(dispatcher)) == 1


async def test_forged_key(dispatcher: Dispatcher, alice: Chat) -> None:
    assert "Not found" in (await alice.press_key("forged-key-000000")).text
    assert "Not found" in (await alice.press_key("x" * 500)).text
    assert len(await _denials(dispatcher)) == 2


async def test_unlinked_user_is_told_how_to_link(dispatcher: Dispatcher) -> None:
    stranger = Chat(dispatcher, "stranger")
    reply = await stranger.say("balance")
    assert "not linked" in reply.text
    assert "send start CODE" in reply.text and "Send link" in reply.text  # the way the shell writes them
    assert "Here is what I can do" in (await stranger.say("help")).text


async def test_member_may_read_but_not_reboot(dispatcher: Dispatcher) -> None:
    member = await Chat.linked(dispatcher, "intern", customer_id=1, role="member")
    assert "Your balance" in (await member.say("balance")).text
    assert "does not allow" in (await member.say("reboot web-1")).text
    assert [e.action for e in await _denials(dispatcher)] == ["command.reboot"]


@contextmanager
def round_trips(db: Database) -> Iterator[list[str]]:
    """Every statement sent to the database (its SQL, without the values), commits and rollbacks."""
    seen: list[str] = []
    engine = db.engine.sync_engine

    def execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    def commit(_conn: Any) -> None:
        seen.append("COMMIT")

    def rollback(_conn: Any) -> None:
        seen.append("ROLLBACK")

    hooks = (("before_cursor_execute", execute), ("commit", commit), ("rollback", rollback))
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        yield seen
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)


@pytest.mark.parametrize(
    ("model", "command", "missing"),
    [
        (Invoice, "invoice {}", "999999"),
        (Invoice, "invoice {}", "HB2026-99999"),
        (Order, "order {}", "999999"),
        (Ticket, "ticket {}", "999999"),
        (Invoice, "pay {}", "999999"),
        (Order, "reboot {}", "999999"),
        (Server, "server {}", "198.51.100.1"),
        (Domain, "renew {}", "nosuch.example"),
    ],
)
async def test_someone_elses_record_takes_the_same_round_trips_as_a_missing_one(
    dispatcher: Dispatcher, alice: Chat, model: type, command: str, missing: str
) -> None:
    """The audit of a denial must not be measurable: the same statements, in the same order, with
    the same commits, for someone else's record as for one that does not exist."""
    async with dispatcher.db.uow() as uow:
        row = await uow.session.scalar(select(model).where(model.customer_id == 2).limit(1))
    foreign = (
        row.name
        if model is Domain
        else row.ip
        if model is Server
        else row.number
        if "-" in missing
        else row.id
    )
    await alice.say(command.format(missing))  # warm up
    with round_trips(dispatcher.db) as for_missing:
        assert "Not found" in (await alice.say(command.format(missing))).text
    with round_trips(dispatcher.db) as for_foreign:
        assert "Not found" in (await alice.say(command.format(foreign))).text
    assert for_foreign == for_missing
    async with dispatcher.db.uow() as uow:
        audited = (
            await uow.session.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "access"))
        ).all()
    assert audited == ["missing", "missing", "denied"]  # still audited, with the answer's commit


def test_readme_states_the_permission_matrix_the_code_enforces() -> None:
    from pathlib import Path

    from bot.core.permissions import MATRIX, ROLES

    readme = Path(__file__).parents[2].joinpath("README.md").read_text(encoding="utf-8")
    section = readme.split("### Who may do what", 1)[1].split("\n### ", 1)[0]
    stated = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2 + len(ROLES) and cells[2:] != [":-:"] * len(ROLES) and cells[0] != "capability":
            marks = cells[2:]
            assert marks == sorted(marks, key="–✓".index), line  # a role has all below it has
            stated[cells[0].split()[0]] = ROLES[marks.index("✓")]
    assert stated == MATRIX
