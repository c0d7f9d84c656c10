"""Every command's Block Kit, through slack-bolt: signed slash commands and direct messages into
the aiohttp app, each answer checked as it reached the fake Web API (Slack's limits, well-formed
buttons, no markup shown raw). The commands come from the registry, so a new one is covered by
being declared; ``EXAMPLES`` adds the arguments that make a command show what it is for.

Long answers: a customer with 200 orders gets several messages, nothing lost, in order, the
buttons under the last one."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.adapters.slack import RESPONSE_URL_USES, SlackAdapter, Where
from bot.core.dispatcher import Dispatcher
from bot.core.registry import Command
from bot.core.types import Button, Reply
from services import chat_records, linking
from storage.models import Order
from tests.fakes.block_kit import decoded, problems, texts
from tests.fakes.slack_api import Call, FakeSlackAPI
from tests.support.slack_client import TEAM, SlackUser

# Arguments that make a command do what it is for with the demo's first customer (Atelier
# Lumière: invoice 3 unpaid, order 1 with server web-1, ticket 1). A command not named here is
# sent bare; either way it must answer something Slack shows.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "invoices": ("invoices all",),
    "invoice": ("invoice 3", "invoice 2 pdf"),
    "pay": ("pay 3", "pay 3 qr"),
    "paybalance": ("paybalance 3",),
    "plan": ("plan basic",),
    "supportpackage": ("supportpackage premium",),
    "vat": ("vat FR", "vat HR 2013-07-01"),
    "quote": ("quote 1",),
    "deleteinvoice": ("delete invoice 3",),
    "renew": ("renew atelier-lumiere.example",),
    "mail": ("mail upgrade pro", "mail add 1"),
    "order": ("order 1",),
    "extend": ("extend 1",),
    "settings": ("settings domain atelier-lumiere.example off",),
    "server": ("server web-1",),
    "poweron": ("poweron web-1",),
    "stop": ("stop web-1",),
    "reboot": ("reboot web-1",),
    "reinstall": ("reinstall web-1", "reinstall web-1 debian-12"),
    "console": ("console web-1",),
    "login": ("login web-1",),
    "rdns": ("rdns web-1",),
    "ticket": ("ticket 1",),
    "reply": ("reply 1 Still slow this morning.",),
    "closeticket": ("close 1",),
    "traffic": ("traffic web-1 month",),
    "tickets": ("tickets closed",),
}
# What would change how the commands after it are answered runs last (its own answer is checked).
LAST = ("unlink",)
# What a bare command may answer: its usage, or nothing to act on yet.
FAILED = ("went wrong", "don't know that command")


async def linked(
    dispatcher: Dispatcher, web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, uid: str
) -> SlackUser:
    async with dispatcher.db.uow() as uow:
        ident = await chat_records.identity(uow, "slack", TEAM, uid)
        await linking.redeem(uow, ident, await linking.issue_code(uow, 1, "slack", "owner"))
    return SlackUser(web[0], web[1], api, uid)


def in_order(commands: list[Command]) -> list[Command]:
    return [c for c in commands if c.name not in LAST] + [c for c in commands if c.name in LAST]


MESSAGE_CALLS = ("chat.postMessage", "chat.postEphemeral", "chat.update")


def messages(calls: list[Call]) -> list[Call]:
    """The messages among ``calls``: posted, edited, or sent through a ``response_url``."""
    return [c for c in calls if c.method in MESSAGE_CALLS or c.method.startswith("hook:")]


def button_problems(call: Call) -> list[str]:
    """A button runs an opaque key (``key:`` + its value) or opens a link (``url:`` + a digest)."""
    found = []
    for block in decoded(call.args.get("blocks")):
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            action_id, value = element["action_id"], element.get("value")
            if "url" in element:
                ok = re.fullmatch(r"url:[0-9a-f]{16}", action_id) is not None and value is None
            else:
                ok = bool(value) and action_id == f"key:{value}" and re.fullmatch(r"[\w-]{8,64}", value)
            if not ok:
                found.append(f"button {element}")
    return found


def shown(call: Call) -> str:
    return "\n".join([call.text, *texts(decoded(call.args.get("blocks")))])


async def check(
    line: str, path: str, someone: SlackUser, api: FakeSlackAPI, bare: bool, understood: bool = True
) -> list[Call]:
    """Send ``line`` by ``path``; every message it caused is one Slack takes and shows as meant;
    ``understood``: as a command (``bare``: perhaps answered with its usage)."""
    mark = len(api.calls)
    if path == "slash":
        await someone.command(line)
    else:
        await someone.dm(line)
    calls = api.calls[mark:]
    sent = messages(calls)
    assert sent, (line, path, [c.method for c in calls])
    for call in sent:
        assert not call.error, (line, path, call.error, call.args)
        assert not problems(call.text, call.args.get("blocks")), (
            line,
            path,
            problems(call.text, call.args.get("blocks")),
        )
        assert not button_problems(call), (line, path, button_problems(call))
    answer = "\n".join(shown(c) for c in sent)
    assert not understood or not any(failure in answer for failure in FAILED), (line, path, answer)
    if not bare:
        assert "Usage" not in answer, (line, path, answer)
    return calls


@pytest.mark.parametrize("path", ["slash", "direct"])
async def test_every_command_renders_valid_block_kit(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher, path: str
) -> None:
    ana = await linked(dispatcher, web, api, "UANA")
    registry = dispatcher.registry
    unknown = set(EXAMPLES) - set(registry.commands)
    assert not unknown, f"examples for commands that do not exist: {unknown}"
    covered = []
    for command in in_order(registry.visible()):
        bare = command.alias_for("en")
        for line in (bare, *EXAMPLES.get(command.name, ())):
            form = command.form
            if form is not None and form.dialog and path == "slash":
                await ana.command(line, trigger=True)
                opened = api.of("views.open")[-1].view()
                assert opened["callback_id"] == f"form:{form.name}"
                assert [b["block_id"] for b in opened["blocks"]] == [s.name for s in form.steps]
                assert len(opened["title"]["text"]) <= 24
            calls = await check(line, path, ana, api, bare=line == bare)
            if form is not None or command.follow_up is not None:
                # A form asked step by step in the chat, or a question after the answer: leave it.
                await check("cancel", path, ana, api, bare=True, understood=False)
            covered.append((command.name, calls))
    assert {name for name, _ in covered} == set(registry.commands)


async def _add_orders(dispatcher: Dispatcher, count: int) -> None:
    async with dispatcher.db.uow() as uow:
        first = await uow.session.scalar(select(Order).where(Order.customer_id == 1).order_by(Order.id))
        assert first is not None
        start = dt.date(2026, 1, 1)
        for n in range(count):
            uow.session.add(
                Order(
                    customer_id=1,
                    plan_id=first.plan_id,
                    billing_cycle="monthly",
                    price_minor=1000 + n,
                    currency=first.currency,
                    period_start=start,
                    period_end=start + dt.timedelta(days=30 + n),
                    status="active",
                )
            )
        await uow.commit()


async def order_ids(dispatcher: Dispatcher) -> list[int]:
    async with dispatcher.db.uow() as uow:
        return sorted((await uow.session.scalars(select(Order.id).where(Order.customer_id == 1))).all())


def order_numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"#(\d+) ·", text)]


async def test_two_hundred_orders_take_several_messages_nothing_lost_in_order(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    await _add_orders(dispatcher, 200)
    ids = await order_ids(dispatcher)
    ana = await linked(dispatcher, web, api, "UANA")
    mark = len(api.calls)
    await ana.dm("orders")
    posts = [c for c in api.calls[mark:] if c.method == "chat.postMessage"]
    assert len(posts) >= 2 and not [c for c in api.calls[mark:] if c.error]
    for post in posts:
        assert not problems(post.text, post.args["blocks"]), problems(post.text, post.args["blocks"])
        assert post.args["channel"] == "D_DM"
    listed = [n for p in posts for n in order_numbers("\n".join(texts(p.blocks())))]
    assert sorted(listed) == ids  # every order, once
    assert order_numbers("\n".join(p.text for p in posts)) == listed  # the notification texts too
    assert posts[0].text.startswith("Your orders:")
    # Cut between lines: every line of the answer is whole in one message.
    for post in posts:
        for line in post.text.split("\n")[1:] if post is posts[0] else post.text.split("\n"):
            assert re.fullmatch(r"#\d+ · .+ · \S+", line), line
    # The buttons, one per order, under the last message only, in order.
    assert [c.buttons() for c in posts[:-1]] == [{}] * (len(posts) - 1)
    labels = [e["text"]["text"] for b in posts[-1].blocks() if b["type"] == "actions" for e in b["elements"]]
    assert labels == [f"#{n}" for n in listed]  # the order the handler listed them in
    await ana.press(posts[-1].buttons()[f"#{ids[-1]}"])
    assert f"#{ids[-1]}" in api.of("chat.postMessage")[-1].text


async def test_long_answer_to_a_slash_command_goes_through_the_response_url_or_the_dm(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, dispatcher: Dispatcher
) -> None:
    """A response_url takes at most five messages: a longer answer goes to the direct messages,
    and the response_url only says so."""
    await _add_orders(dispatcher, 200)
    ana = await linked(dispatcher, web, api, "UANA")
    mark = len(api.calls)
    await ana.command("orders")
    hooks = [c for c in api.calls[mark:] if c.method.startswith("hook:")]
    assert 2 <= len(hooks) <= RESPONSE_URL_USES and not [c for c in hooks if c.error]
    assert len({c.method for c in hooks}) == 1 and all(c.args["response_type"] == "ephemeral" for c in hooks)
    listed = [n for c in hooks for n in order_numbers("\n".join(texts(decoded(c.args["blocks"]))))]
    assert sorted(listed) == await order_ids(dispatcher)
    assert api.of("chat.postMessage") == []
    await _add_orders(dispatcher, 800)
    mark = len(api.calls)
    await ana.command("orders", channel="CTEAM")
    calls = api.calls[mark:]
    posts = [c for c in calls if c.method == "chat.postMessage"]
    [notice] = [c for c in calls if c.method.startswith("hook:")]
    assert len(posts) > RESPONSE_URL_USES and {p.args["channel"] for p in posts} == {"DUANA"}
    assert "private message" in notice.text and notice.args["response_type"] == "ephemeral"
    listed = [n for p in posts for n in order_numbers("\n".join(texts(p.blocks())))]
    assert sorted(listed) == await order_ids(dispatcher)


async def test_a_long_edit_becomes_new_messages(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI
) -> None:
    """An answer that replaces the message whose button was pressed (paging, filters): edited in
    place when it fits in one message, else sent as new messages (as on Telegram), buttons last."""
    adapter = web[1]
    where = Where("UANA", "D_DM", message_ts="1700000000.000001", team=TEAM)
    buttons = [[Button("Next", key="k-next-0001")]]
    await adapter._deliver(Reply("Page 2\nshort", buttons=buttons, replace=True), where)
    assert api.of("chat.update")[-1].args["ts"] == "1700000000.000001"
    long = "\n".join(f"line {n} " + "x" * 80 for n in range(400))
    await adapter._deliver(Reply(long, buttons=buttons, replace=True), where)
    posts = api.of("chat.postMessage")
    assert len(api.of("chat.update")) == 1 and len(posts) >= 3
    assert [bool(p.buttons()) for p in posts] == [False] * (len(posts) - 1) + [True]
    assert "\n".join(p.text for p in posts) == long
