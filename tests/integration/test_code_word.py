"""The account's code word, end to end through the chat: set, asked before sensitive actions (a
confirmation of a ``sensitive`` command, or the command itself when it offers none), locked after
wrong answers, audited; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.core.dispatcher import Dispatcher
from bot.core.registry import Registry
from bot.core.router import Router
from bot.core.types import Reply
from handlers import ROUTERS
from services import clock
from services.errors import N_
from storage.models import AccountSecurity, AuditEntry, Invoice
from tests.support.chat import Chat

WORD = "Blue heron 42"
PROTECTED = "protected by your account's code word"

# A sensitive command that offers no confirmation (as showing a server's login details does): the
# code word comes before it runs; with no arguments it is a look, and asks nothing.
probe = Router()


@probe.command(
    "secretprobe",
    aliases={"en": ("secretprobe",)},
    summary=N_("test only"),
    usage=N_("NAME"),
    capability="destructive",
    bare="read",
    sensitive=True,
)
async def secret_probe(args: list[str]) -> Reply:
    return Reply(f"secret of {args[0]}" if args else "nothing to see")


@pytest.fixture
def commands() -> Registry:
    return Registry.from_routers(*ROUTERS, probe)


async def _audit(dispatcher: Dispatcher, action: str) -> list[AuditEntry]:
    async with dispatcher.db.uow() as uow:
        rows = await uow.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows.all())


async def _status(dispatcher: Dispatcher, invoice_id: int) -> str:
    async with dispatcher.db.uow() as uow:
        return (await uow.session.get_one(Invoice, invoice_id)).status


async def _set(chat: Chat, word: str = WORD) -> None:
    preview = await chat.say(f"codeword set {word}")
    assert "Make this your account's code word" in preview.text
    assert "is set" in (await chat.press("Set code word", preview)).text


async def _ask_delete(chat: Chat) -> Reply:
    preview = await chat.say("delete invoice 3")
    return await chat.press("Delete", preview)


async def test_set_then_asked_before_deleting_an_invoice(dispatcher: Dispatcher, alice: Chat) -> None:
    assert "has no code word" in (await alice.say("codeword")).text
    await _set(alice)
    async with dispatcher.db.uow() as uow:
        row = await uow.session.get_one(AccountSecurity, 1)
        assert row.code_word_hash is not None and row.code_word_hash.startswith("scrypt$")
        assert "heron" not in row.code_word_hash.lower()
    assert "has a code word" in (await alice.say("codeword")).text

    asked = await _ask_delete(alice)
    assert PROTECTED in asked.text and asked.replace
    wrong = await alice.say("grey heron 42")
    assert "not the code word" in wrong.text
    assert await _status(dispatcher, 3) == "unpaid"
    # Typed as a phone would: other case, extra spaces.
    done = await alice.say("  blue  HERON 42 ")
    assert "is deleted" in done.text
    assert await _status(dispatcher, 3) == "cancelled"
    assert [e.outcome for e in await _audit(dispatcher, "codeword.check")] == ["denied", "ok"]
    assert [e.detail["command"] for e in await _audit(dispatcher, "codeword.check")] == ["deleteinvoice"] * 2
    assert len(await _audit(dispatcher, "codeword.set")) == 1


async def test_cancel_or_another_command_drops_the_action(dispatcher: Dispatcher, alice: Chat) -> None:
    await _set(alice)
    await _ask_delete(alice)
    assert "Cancelled" in (await alice.press("Cancel")).text
    assert "don't know" in (await alice.say(WORD)).text  # no longer waiting: the word is no command
    await _ask_delete(alice)
    assert "Your balance" in (await alice.say("/balance")).text
    assert "don't know" in (await alice.say(WORD)).text
    assert await _status(dispatcher, 3) == "unpaid"


async def test_wrong_words_lock_every_chat_of_the_account(dispatcher: Dispatcher, alice: Chat) -> None:
    await _set(alice)
    await _ask_delete(alice)
    for attempt in range(4):
        assert "not the code word" in (await alice.say(f"guess {attempt}")).text
    locked = await alice.say("guess 4")
    assert "locked until" in locked.text
    assert "don't know" in (await alice.say(WORD)).text  # the wait ended with the lock
    bob = await Chat.linked(dispatcher, "bob", customer_id=1, role="admin")
    assert "locked until" in (await _ask_delete(bob)).text  # locked for the account, not the chat
    assert "locked until" in (await alice.say("secretprobe web-1")).text
    assert "locked until" in (await alice.say("codeword")).text
    assert await _status(dispatcher, 3) == "unpaid"
    assert [e.outcome for e in await _audit(dispatcher, "codeword.check")] == ["denied"] * 5
    [lock] = await _audit(dispatcher, "codeword.lock")
    assert lock.customer_id == 1 and lock.detail["command"] == "deleteinvoice"

    with clock.frozen(clock.now() + dt.timedelta(minutes=16)):
        assert PROTECTED in (await _ask_delete(bob)).text
        assert "is deleted" in (await bob.say(WORD)).text


async def test_changing_or_removing_the_word_needs_the_word(dispatcher: Dispatcher, alice: Chat) -> None:
    await _set(alice)
    preview = await alice.say("codeword set Grey heron 7")
    assert "Replace your account's code word" in preview.text
    assert PROTECTED in (await alice.press("Set code word", preview)).text
    assert "is set" in (await alice.say(WORD)).text
    remove = await alice.say("codeword off")
    assert PROTECTED in (await alice.press("Remove code word", remove)).text
    assert "not the code word" in (await alice.say(WORD)).text  # the old one no longer works
    assert "no longer has a code word" in (await alice.say("grey heron 7")).text
    assert "is deleted" in (await _ask_delete(alice)).text  # nothing asked any more
    assert [e.detail["replaced"] for e in await _audit(dispatcher, "codeword.set")] == [False, True]
    assert len(await _audit(dispatcher, "codeword.remove")) == 1


async def test_a_command_without_confirmation_asks_before_it_runs(alice: Chat) -> None:
    assert "secret of web-1" in (await alice.say("secretprobe web-1")).text  # no code word yet
    await _set(alice)
    assert "nothing to see" in (await alice.say("secretprobe")).text  # a look asks nothing
    asked = await alice.say("secretprobe web-1")
    assert PROTECTED in asked.text and "secret" not in asked.text
    assert "secret of web-1" in (await alice.say(WORD)).text


async def test_only_admins_set_it_and_it_has_a_length(dispatcher: Dispatcher, alice: Chat) -> None:
    member = await Chat.linked(dispatcher, "mia", customer_id=1, role="member")
    assert "does not allow" in (await member.say("codeword set something long")).text
    assert "6 to 64 characters" in (await alice.say("codeword set abc")).text
    assert "Usage" in (await alice.say("codeword hello")).text


async def test_french_words_and_prompts(alice: Chat) -> None:
    alice.language = "fr"
    await alice.say("langue fr")
    preview = await alice.say("motsecret définir Héron bleu 42")
    assert "Faire de ce mot le mot secret de votre compte" in preview.text
    await alice.press("Définir le mot secret", preview)
    preview = await alice.say("supprimer facture 3")
    asked = await alice.press("Supprimer", preview)
    assert "protégée par le mot secret de votre compte" in asked.text
    assert "Ce n’est pas le mot secret" in (await alice.say("autre chose")).text
    assert "est supprimée" in (await alice.say("HÉRON BLEU 42")).text


async def test_server_secrets_and_mailbox_changes_are_protected(alice: Chat) -> None:
    await _set(alice)
    for line in ("login web-1", "console web-1", "reinstall web-1"):  # asked before they run
        asked = await alice.say(line)
        assert PROTECTED in asked.text, line
        answer = await alice.say(WORD)
        assert PROTECTED not in answer.text and "not the code word" not in answer.text, line
        await alice.say("cancel")
    preview = await alice.say("mailboxes add technical ops@example.com")  # asked before it is done
    [send, _cancel] = preview.all_buttons()
    assert PROTECTED in (await alice.press(send.label, preview)).text
    assert "code" in (await alice.say(WORD)).text
