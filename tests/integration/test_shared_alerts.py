"""Alerts in shared chats through the dispatcher: ``alerts here`` (who may, the confirmation, the
audit, the words of each language) and what the outbox sends there (the kinds chosen, the shared
wording, the chat's language, once per alert per chat). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.alerts.dispatch import AlertSender
from bot.core.dispatcher import Dispatcher
from bot.core.types import Incoming, Reply
from services import clock, invoices
from services.alerts import finders
from services.audit import Actor
from storage.models import Alert, AuditEntry, ChannelBinding
from tests.fakes.alert_senders import RecordingSender
from tests.support.chat import Chat
from tests.support.roles import DENIED

TEAM = "team-chat"
# What support wrote on customer 1's ticket #1 (the demo's unread reply): never in a shared chat.
REPLY_TEXT = "We moved your VPS to a less busy host"


class InGroup:
    """Someone writing in the group chat ``TEAM`` (as an adapter hands it over)."""

    def __init__(self, dispatcher: Dispatcher, user_id: str) -> None:
        self.dispatcher, self.user_id = dispatcher, user_id

    async def say(self, text: str) -> Reply:
        return await self._send(Incoming("test", self.user_id, text=text, chat_id=TEAM, is_group=True))

    async def press(self, reply: Reply, label: str) -> Reply:
        [key] = [b.key for b in reply.all_buttons() if b.label == label]
        return await self._send(Incoming("test", self.user_id, action_key=key, chat_id=TEAM, is_group=True))

    async def _send(self, incoming: Incoming) -> Reply:
        [reply] = await self.dispatcher.handle(incoming)
        return reply


async def _shared(dispatcher: Dispatcher, owner: str = "alice") -> InGroup:
    group = InGroup(dispatcher, owner)
    assert "now shares the account" in (await group.say("share channel")).text
    return group


async def _choose(group: InGroup, line: str) -> Reply:
    asked = await group.say(line)
    assert "Change the alerts of this channel?" in asked.text, asked.text
    return await group.press(asked, "Change")


async def _binding(dispatcher: Dispatcher) -> ChannelBinding:
    async with dispatcher.db.uow() as uow:
        binding = await uow.session.scalar(select(ChannelBinding))
    assert binding is not None
    return binding


async def _send_alerts(dispatcher: Dispatcher, sender: RecordingSender) -> int:
    await finders.scan(dispatcher.db, dispatcher.settings, dispatcher.seller)
    return await AlertSender(
        dispatcher.db,
        dispatcher.settings,
        dispatcher.seller,
        {"test": sender},
    ).run_pass()


async def test_a_shared_chat_gets_nothing_until_someone_chooses(dispatcher: Dispatcher, alice: Chat) -> None:
    await _shared(dispatcher)
    sender = RecordingSender()
    assert await _send_alerts(dispatcher, sender) > 0
    assert sender.sent and not [s for s in sender.sent if s.shared]


async def test_the_kinds_chosen_go_there_in_the_shared_wording_and_the_chats_language(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    group = await _shared(dispatcher)
    async with dispatcher.db.uow() as uow:  # an overdue invoice: a pay link in the owner's chat
        inv = await invoices.get(uow, 3, Actor(1))
        inv.due_date = clock.today() - dt.timedelta(days=2)
        await uow.commit()
    done = await _choose(group, "alerts here renewal overdue ticket on")
    assert "🔔 Renewal reminders" in done.text and "🔕 Low balance" in done.text
    await _choose(group, "alerts here language fr")
    sender = RecordingSender()
    await _send_alerts(dispatcher, sender)

    shared = [s for s in sender.sent if s.shared]
    personal = [s for s in sender.sent if not s.shared]
    assert {s.user_id for s in shared} == {TEAM} and {s.user_id for s in personal} == {"alice"}
    # Every alert of those kinds went to both; the personal wording carries the pay links.
    assert len(shared) == len(personal) and any("/pay/" in s.reply.text for s in personal)
    for s in shared:
        reply = s.reply
        assert not reply.buttons and not reply.private and not reply.attachments
        assert "http" not in reply.text and "/pay/" not in reply.text and REPLY_TEXT not in reply.text
    texts = "\n".join(s.reply.text for s in shared)
    assert "expire" in texts and "expires" not in texts  # French: "expire dans 5 jours"
    assert "Le support a répondu au ticket n° 1" in texts and "conversation privée" in texts
    assert "La facture" in texts and "propriétaires et administrateurs" in texts
    assert REPLY_TEXT in "\n".join(s.reply.text for s in personal)


async def test_each_alert_goes_once_to_each_chat(dispatcher: Dispatcher, alice: Chat) -> None:
    """A shared chat that failed is sent the alert again later; the owner's chat, which had it, is not."""
    group = await _shared(dispatcher)
    await _choose(group, "alerts here renewal on")
    sender = RecordingSender(failing={TEAM})
    now = clock.now()
    with clock.frozen(now):
        await _send_alerts(dispatcher, sender)
    first = [s.reply.text for s in sender.sent]
    assert first and not [s for s in sender.sent if s.shared]
    sender.failing.clear()
    with clock.frozen(now + dt.timedelta(hours=1)):
        await _send_alerts(dispatcher, sender)
        await _send_alerts(dispatcher, sender)  # nothing left: nothing sent twice
    again = sender.sent[len(first) :]
    renewals = [t for t in first if "expires" in t]
    assert len(again) == len(renewals) and all(s.shared for s in again)
    async with dispatcher.db.uow() as uow:
        states = set((await uow.session.scalars(select(Alert.state))).all())
    assert states == {"sent"}


async def test_a_kind_turned_off_in_ones_own_chat_still_goes_where_the_team_takes_it(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    group = await _shared(dispatcher)
    await _choose(group, "alerts here renewal on")
    await alice.say("alerts off renewal")
    sender = RecordingSender()
    await _send_alerts(dispatcher, sender)
    shared = [s.reply.text for s in sender.sent if s.shared]
    personal = [s.reply.text for s in sender.sent if not s.shared]
    assert shared and all("expires" in t for t in shared)
    assert personal and not [t for t in personal if "expires" in t]  # the support reply only
    async with dispatcher.db.uow() as uow:
        assert set((await uow.session.scalars(select(Alert.state))).all()) == {"sent"}


async def test_owners_and_admins_choose_and_everyone_there_may_look(
    dispatcher: Dispatcher, alice: Chat
) -> None:
    group = await _shared(dispatcher)
    guest = InGroup(dispatcher, "stranger")
    await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    await Chat.linked(dispatcher, "adam", customer_id=1, role="admin")
    member, admin = InGroup(dispatcher, "mia"), InGroup(dispatcher, "adam")
    assert "🔕 Renewal reminders" in (await guest.say("alerts here")).text
    for someone in (guest, member):
        assert DENIED in (await someone.say("alerts here renewal on")).text
    asked = await alice.say("alerts here renewal on")  # her own chat shares nothing
    assert "Use this command in a channel or group that shares the account" in asked.text
    assert "/sharechannel" in asked.text
    cancelled = await group.say("alerts here renewal on")
    assert "Cancelled" in (await group.press(cancelled, "Cancel")).text
    assert (await _binding(dispatcher)).alert_kinds == []
    await _choose(admin, "alerts here on")
    assert (await _binding(dispatcher)).alert_kinds == [
        "renewal",
        "autorenew",
        "lowbalance",
        "overdue",
        "ticket",
        "payment",
        "lifecycle",
    ]
    assert "Nothing to change." in (await admin.say("alerts here all on")).text
    await _choose(group, "alerts here off")
    async with dispatcher.db.uow() as uow:
        rows = (
            await uow.session.scalars(
                select(AuditEntry).where(AuditEntry.action.in_(("channel.alerts", "command.alertshere")))
            )
        ).all()
    denied = [r for r in rows if r.outcome == "denied"]
    changed = [r for r in rows if r.outcome == "ok"]
    assert len(denied) == 2 and len(changed) == 2
    assert changed[1].detail["kinds"] == [] and len(changed[1].detail["before"]["kinds"]) == 7


@pytest.mark.parametrize(
    ("line", "kinds", "language"),
    [
        ("alertes ici renouvellement retards activer", ["renewal", "overdue"], None),
        ("alertes ici langue fr", [], "fr"),
        ("peringatan grup perpanjangan aktif", ["renewal"], None),
        ("peringatan grup bahasa id", [], "id"),
        ("uyarilar burada yenileme aç", ["renewal"], None),
        ("uyarılar burada ödeme aç", ["payment"], None),
        ("uyarilar burada dil tr", [], "tr"),
        ("alerts here payments suspension on", ["payment", "lifecycle"], None),
    ],
)
async def test_the_words_of_each_language(
    dispatcher: Dispatcher, alice: Chat, line: str, kinds: list[str], language: str | None
) -> None:
    group = await _shared(dispatcher)
    await _choose(group, line)
    binding = await _binding(dispatcher)
    assert binding.alert_kinds == kinds and binding.language == language


@pytest.mark.parametrize("line", ["alerts here renewal", "alerts here on off", "alerts here language xx"])
async def test_what_it_cannot_read_gets_the_usage(dispatcher: Dispatcher, alice: Chat, line: str) -> None:
    group = await _shared(dispatcher)
    assert (await group.say(line)).text.startswith("Usage: /alertshere")
