"""``sessions``: every chat linked to the account, when it was linked and last seen, and revoking
one (admins; an owner's chat only by an owner; shared channels only by an owner), confirmed,
audited and protected by the code word; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.core.dispatcher import Dispatcher, link_instructions
from services import channels, clock
from services.audit import Actor
from storage.models import AuditEntry, ChannelBinding, ChatIdentity
from tests.support.chat import Chat


async def _identity(dispatcher: Dispatcher, user_id: str) -> ChatIdentity:
    async with dispatcher.db.uow() as uow:
        found = await uow.session.scalar(select(ChatIdentity).where(ChatIdentity.user_id == user_id))
        assert found is not None
        return found


async def _audit(dispatcher: Dispatcher, action: str) -> list[AuditEntry]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def test_lists_every_chat_with_role_and_times(dispatcher: Dispatcher, alice: Chat, budi: Chat) -> None:
    bob = await Chat.linked(dispatcher, "bob", customer_id=1, role="admin")
    await bob.say("balance")
    listing = await alice.say("sessions")
    me, other = await _identity(dispatcher, "alice"), await _identity(dispatcher, "bob")
    lines = listing.text.splitlines()
    assert lines[0] == "Chats linked to the account of Atelier Lumière SARL:"
    assert any(
        line.startswith(f"{me.id} · test user alice · owner · linked ") and "(this chat)" in line
        for line in lines
    )
    assert any(line.startswith(f"{other.id} · test user bob · admin · linked ") for line in lines)
    assert "budi" not in listing.text  # another account's chat
    assert listing.private
    assert [b.label for b in listing.all_buttons()] == [f"Revoke {other.id}"]


async def test_last_seen_moves_at_most_once_a_minute(dispatcher: Dispatcher, alice: Chat) -> None:
    start = clock.now().replace(microsecond=0)
    with clock.frozen(start):
        await alice.say("balance")
    assert (await _identity(dispatcher, "alice")).last_seen_at == start
    with clock.frozen(start + dt.timedelta(seconds=59)):
        await alice.say("balance")
    assert (await _identity(dispatcher, "alice")).last_seen_at == start
    with clock.frozen(start + dt.timedelta(seconds=61)):
        await alice.say("balance")
    assert (await _identity(dispatcher, "alice")).last_seen_at == start + dt.timedelta(seconds=61)


async def test_revoke_a_chat(dispatcher: Dispatcher, alice: Chat) -> None:
    bob = await Chat.linked(dispatcher, "bob", customer_id=1, role="admin")
    bob_id = (await _identity(dispatcher, "bob")).id
    preview = await alice.say(f"sessions revoke {bob_id}")
    assert "Unlink test user bob (admin) from the account?" in preview.text
    assert "no longer linked" in (await alice.press("Revoke", preview)).text
    assert (await bob.say("balance")).text == link_instructions("start")
    revoked = await _identity(dispatcher, "bob")
    assert revoked.customer_id is None and revoked.linked_at is None
    [entry] = await _audit(dispatcher, "session.revoke")
    assert (entry.customer_id, entry.target, entry.detail["role"]) == (1, f"identity:{bob_id}", "admin")


async def test_who_may_revoke_whom(dispatcher: Dispatcher, alice: Chat, budi: Chat) -> None:
    bob = await Chat.linked(dispatcher, "bob", customer_id=1, role="admin")
    mia = await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    alice_id, budi_id = (await _identity(dispatcher, "alice")).id, (await _identity(dispatcher, "budi")).id
    assert "Only an owner can revoke an owner's chat" in (await bob.say(f"sessions revoke {alice_id}")).text
    assert "does not allow" in (await mia.say("sessions")).text
    # Another account's chat looks like a missing one, and the attempt is audited.
    assert (await alice.say(f"sessions revoke {budi_id}")).text == (
        await alice.say("sessions revoke 99999")
    ).text
    denied = [e for e in await _audit(dispatcher, "access") if e.outcome == "denied"]
    assert [e.target for e in denied] == [f"chatidentity:{budi_id}"]
    assert (await _identity(dispatcher, "budi")).customer_id == 2


async def test_shared_channels_are_listed_and_owners_stop_them(dispatcher: Dispatcher, alice: Chat) -> None:
    alice_id = (await _identity(dispatcher, "alice")).id
    async with dispatcher.db.uow() as uow:
        await channels.bind(uow, "slack", "T1", "CTEAM", Actor(1, alice_id))
    async with dispatcher.db.uow() as uow:
        binding = await uow.session.scalar(select(ChannelBinding))
        assert binding is not None
    listing = await alice.say("sessions")
    assert f"c{binding.id} · Slack group CTEAM, shared: everyone there reads as a guest" in listing.text
    bob = await Chat.linked(dispatcher, "bob", customer_id=1, role="admin")
    assert "Only an owner can stop sharing" in (await bob.say(f"sessions revoke c{binding.id}")).text
    preview = await alice.press(f"Revoke c{binding.id}", listing)
    assert "Stop sharing the account in the Slack group CTEAM?" in preview.text
    assert "no longer shares" in (await alice.press("Stop sharing", preview)).text
    async with dispatcher.db.uow() as uow:
        assert await uow.session.scalar(select(ChannelBinding)) is None


async def test_revoking_asks_for_the_code_word(dispatcher: Dispatcher, alice: Chat) -> None:
    await Chat.linked(dispatcher, "bob", customer_id=1, role="admin")
    bob_id = (await _identity(dispatcher, "bob")).id
    await alice.press("Set code word", await alice.say("codeword set tall lighthouse"))
    preview = await alice.say(f"sessions revoke {bob_id}")
    assert "code word" in (await alice.press("Revoke", preview)).text
    assert (await _identity(dispatcher, "bob")).customer_id == 1
    assert "no longer linked" in (await alice.say("tall lighthouse")).text
    assert (await _identity(dispatcher, "bob")).customer_id is None
