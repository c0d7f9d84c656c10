"""Declared interactions: routers assembled per bot, typed confirmations checked at start-up and
when pressed, and forms declared once (asked step by step, or read whole in one pass)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import bootstrap
from bot.config import Settings
from bot.core.context import Context
from bot.core.dispatcher import Dispatcher, seal
from bot.core.forms import Data, Form, Invalid, Step
from bot.core.registry import Registry
from bot.core.router import Router, dump
from bot.core.types import Button, Incoming, Reply, Submission
from handlers import ROUTERS, account, servers, tickets
from handlers.servers import Reboot
from services.errors import N_
from storage.models import AuditEntry, ChatIdentity, Server, Ticket
from storage.uow import Database
from tests.support.chat import Chat
from tests.support.roles import DENIED

# -- assembly ------------------------------------------------------------------------------------


def test_a_bot_from_only_the_routers_it_needs(db: Database, settings: Settings) -> None:
    commands = Registry.from_routers(account.router, tickets.router)
    assert {"start", "help", "tickets", "newticket"} <= set(commands.commands)
    assert "reboot" not in commands.commands and "Reboot" not in commands.confirmations
    assert set(commands.forms) == {"link", "newticket"}


async def test_the_smaller_bot_answers_only_its_commands(db: Database, settings: Settings) -> None:
    from bot import demo

    small = bootstrap.dispatcher(db, settings, commands=Registry.from_routers(account.router, tickets.router))
    async with db.uow() as uow:
        await demo.seed(uow, small.seller)
    alice = await Chat.linked(small, "alice", customer_id=1)
    assert "don't know that command" in (await alice.say("reboot web-1")).text
    assert "Which department" in (await alice.say("new ticket")).text
    await alice.say("cancel")
    assert "/reboot" not in (await alice.say("help")).text


def _router_with(confirms: Any, confirmer: Any = None, name: str = "act", *aliases: str) -> Router:
    router = Router()

    @router.command(name, aliases={"en": (name, *aliases)}, summary="", confirms=confirms)
    async def command() -> Reply:
        return Reply("")

    if confirmer is not None:

        @router.confirmer(confirmer)
        async def carry_out(action: Any) -> Reply:
            return Reply("")

    return router


@dataclasses.dataclass(frozen=True)
class Act:
    thing_id: int
    on: dt.date


def test_every_confirmation_and_command_is_declared_once() -> None:
    assert Registry.from_routers(_router_with(Act, Act)).confirmations["Act"].command == "act"
    with pytest.raises(ValueError, match="without a confirmer: Act"):
        Registry.from_routers(_router_with(Act))
    with pytest.raises(ValueError, match="which no command offers"):
        Registry.from_routers(_router_with((), Act))
    with pytest.raises(ValueError, match="offered by both 'act' and 'other'"):
        Registry.from_routers(_router_with(Act, Act), _router_with(Act, name="other"))
    with pytest.raises(ValueError, match="'act' is declared twice"):
        Registry.from_routers(_router_with(Act, Act), _router_with(()))
    with pytest.raises(ValueError, match="'act' names both 'act' and 'other'"):
        Registry.from_routers(_router_with(Act, Act), _router_with((), None, "other", "act"))
    with pytest.raises(ValueError, match="two confirmers"):
        Registry.from_routers(_router_with(Act, Act), _router_with((), Act, name="other"))


def test_a_confirmation_is_a_frozen_dataclass_of_json_fields() -> None:
    @dataclasses.dataclass
    class Loose:
        thing_id: int

    @dataclasses.dataclass(frozen=True)
    class Odd:
        when: dt.datetime

    with pytest.raises(TypeError, match="frozen dataclass"):
        Registry.from_routers(_router_with(Loose, Loose))
    with pytest.raises(TypeError, match="unsupported type"):
        Registry.from_routers(_router_with(Odd, Odd))


def test_two_confirmations_of_the_same_name_fail() -> None:
    other = dataclasses.make_dataclass("Act", [("thing_id", int)], frozen=True)
    with pytest.raises(ValueError, match="'Act' has two confirmers or two classes"):
        Registry.from_routers(_router_with(Act, Act), _router_with(other, other, name="other"))


def test_the_payload_is_the_name_and_the_fields() -> None:
    assert dump(Act(7, dt.date(2027, 1, 31))) == {
        "name": "Act",
        "params": {"thing_id": 7, "on": "2027-01-31"},
    }
    registry = Registry.from_routers(_router_with(Act, Act))
    confirmation, action = registry.action(dump(Act(7, dt.date(2027, 1, 31))))
    assert action == Act(7, dt.date(2027, 1, 31)) and confirmation.command == "act"


# -- pressing a stored confirmation ----------------------------------------------------------------


async def _offer(dispatcher: Dispatcher, user: str, action: Any) -> Reply:
    """A confirm button for ``action``, sealed for ``user`` as the dispatcher seals replies."""
    reply = Reply("?", buttons=[[Button("Go", confirm=action)]])
    async with dispatcher.db.uow() as uow:
        identity = await uow.session.scalar(select(ChatIdentity).where(ChatIdentity.user_id == user))
        assert identity is not None
        seal(uow, identity.id, reply, dispatcher.settings)
        await uow.commit()
    return reply


async def _web1(dispatcher: Dispatcher) -> int:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalar(select(Server.id).where(Server.hostname == "web-1"))
        assert found is not None
        return found


@pytest.mark.parametrize(
    ("fields", "values"),
    [
        ([("server_id", str)], {"server_id": "web-1"}),  # of the wrong type
        ([], {}),  # missing
        ([("server_id", int), ("force", bool)], {"server_id": 1, "force": True}),  # unknown
    ],
)
async def test_wrong_or_missing_fields_are_refused_clearly(
    dispatcher: Dispatcher, alice: Chat, fields: list[tuple[str, type]], values: dict[str, Any]
) -> None:
    # The real confirmation's name with other fields: what an old or forged payload looks like.
    forged = dataclasses.make_dataclass("Reboot", fields, frozen=True)(**values)
    offer = await _offer(dispatcher, "alice", forged)
    assert "expired" in (await alice.press("Go", offer)).text
    assert (await _server_booted(dispatcher)) is None


async def _server_booted(dispatcher: Dispatcher) -> dt.datetime | None:
    async with dispatcher.db.uow() as uow:
        server = await uow.session.get(Server, await _web1(dispatcher))
        assert server is not None
        return server.last_boot_at


async def test_the_confirmation_needs_its_commands_role(dispatcher: Dispatcher, alice: Chat) -> None:
    member = await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    offer = await _offer(dispatcher, "mia", Reboot(await _web1(dispatcher)))
    assert DENIED in (await member.press("Go", offer)).text
    assert await _server_booted(dispatcher) is None
    async with dispatcher.db.uow() as uow:
        denied = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == "confirm.reboot", AuditEntry.outcome == "denied")
        )
    assert denied == 1
    offer = await _offer(dispatcher, "alice", Reboot(await _web1(dispatcher)))
    assert "was rebooted" in (await alice.press("Go", offer)).text


# -- forms -----------------------------------------------------------------------------------------


async def _tickets(dispatcher: Dispatcher) -> int:
    async with dispatcher.db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Ticket)) or 0)


def _submit(user: str, form: str, values: dict[str, str] | None) -> Incoming:
    return Incoming("test", user, submission=Submission(form, values))


async def test_a_submission_is_read_in_one_pass_with_an_error_per_field(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    before = await _tickets(dispatcher)
    values = {
        "department": "cooking",
        "importance": "high",
        "order": "999999",
        "subject": "x" * 500,
        "message": "Hello",
    }
    [reply] = await dispatcher.handle(_submit("alice", "newticket", values))
    assert set(reply.errors) == {"department", "order", "subject"}
    assert "Technical or Financial" in reply.errors["department"]
    assert "not one of your orders" in reply.errors["order"]
    assert await _tickets(dispatcher) == before
    values.update(department="technical", order="none", subject="Disk full")
    [reply] = await dispatcher.handle(_submit("alice", "newticket", values))
    assert not reply.errors and "is open" in reply.text
    assert await _tickets(dispatcher) == before + 1


async def test_a_submission_counts_once_against_the_rate_limit(dispatcher: Dispatcher) -> None:
    strict = bootstrap.dispatcher(
        dispatcher.db,
        dispatcher.settings.model_copy(update={"rate_limit": "2/minute"}),
        commands=dispatcher.registry,
    )
    chat = await Chat.linked(strict, "flood", customer_id=1)
    values = {"department": "technical", "importance": "regular", "subject": "S", "message": "M"}
    [reply] = await strict.handle(_submit("flood", "newticket", values))
    assert "is open" in reply.text
    assert "Your balance" in (await chat.say("balance")).text
    assert "too fast" in (await chat.say("balance")).text


async def test_opening_a_dialog_is_allowed_or_refused_like_the_command(dispatcher: Dispatcher) -> None:
    await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    [allowed] = await dispatcher.handle(_submit("mia", "newticket", None))
    assert allowed.opens_form and allowed.language == "en"
    [refused] = await dispatcher.handle(_submit("mia", "topup", None))
    assert DENIED in refused.text and not refused.opens_form


# A form declared in a test: one declaration is a chat conversation (with a step that is asked
# only for some answers) and a dialog.
async def _yes_no(answer: str, ctx: Context, data: Data) -> bool:
    if answer not in ("yes", "no"):
        raise Invalid("yes or no")
    return answer == "yes"


async def _text(answer: str, ctx: Context, data: Data) -> str:
    return answer


async def _done(data: dict[str, Any]) -> Reply:
    return Reply(f"done {sorted(data.items())}")


SURVEY = Form(
    "survey",
    title=N_("Top up"),
    steps=(
        Step("happy", prompt="Happy?", label="Happy", parse=_yes_no, choices=(("yes", "Yes"), ("no", "No"))),
        Step(
            "why", prompt="Why not?", label="Why", parse=_text, when=lambda data: data.get("happy") is False
        ),
        Step("name", prompt="Name?", label="Name", parse=_text),
    ),
    finish=_done,
)


@pytest.fixture
async def survey(db: Database, settings: Settings, dispatcher: Dispatcher) -> Dispatcher:
    router = Router()
    router.form(SURVEY, aliases={"en": ("survey",)}, summary="a survey")
    return bootstrap.dispatcher(db, settings, commands=Registry.from_routers(account.router, router))


async def test_a_declared_form_asks_its_steps_in_the_chat(survey: Dispatcher) -> None:
    chat = await Chat.linked(survey, "alice", customer_id=1)
    first = await chat.say("survey")
    assert first.text == "Happy?" and [b.label for b in first.all_buttons()] == ["Yes", "No", "Cancel"]
    assert (await chat.say("maybe")).text == "yes or no\nHappy?"
    assert (await chat.press("Yes")).text == "Name?"  # "why" is not asked
    assert (await chat.say("Ada")).text == "done [('happy', True), ('name', 'Ada')]"
    await chat.say("survey")
    assert (await chat.say("no")).text == "Why not?"
    await chat.say("rain")
    assert "('why', 'rain')" in (await chat.say("Bo")).text


async def test_a_declared_form_is_read_whole(survey: Dispatcher) -> None:
    await Chat.linked(survey, "alice", customer_id=1)
    [reply] = await survey.handle(_submit("alice", "survey", {"happy": "yes", "why": "", "name": "Ada"}))
    assert reply.text == "done [('happy', True), ('name', 'Ada')]"
    [reply] = await survey.handle(_submit("alice", "survey", {"happy": "perhaps", "name": "Ada"}))
    assert reply.errors == {"happy": "yes or no"}


def test_every_router_of_the_bot_assembles() -> None:
    registry = Registry.from_routers(*ROUTERS)
    assert registry.confirmations["Reboot"].command == "reboot"
    assert registry.confirmations["TopUp"].command == "topup"
    assert set(registry.forms) == {"link", "newticket", "topup", "changecontact"}
    assert Reboot in [action for action, _ in servers.router.confirmers]
    assert set(registry.follow_ups) == {"reinstall"}  # a typed confirmation, never a dialog
    with pytest.raises(ValueError, match="must be named"):
        Router().command("wipe", aliases={"en": ("wipe",)}, summary="", follow_up=servers.WIPE)
