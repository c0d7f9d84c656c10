"""Plain requests end to end: understood in the customer's words, and a request that lacks its
object ("pay my invoice", "renew my domain") offers the customer's own items as buttons."""

from __future__ import annotations

from bot.core.dispatcher import Dispatcher
from tests.support.chat import Chat


async def test_pay_my_invoice_offers_the_unpaid_ones(alice: Chat) -> None:
    alice.language = "fr"
    ask = await alice.say("je veux régler ma facture")
    assert ask.text == "Quelle facture voulez-vous payer\u202f?"
    labels = [b.label for b in ask.all_buttons()]
    assert labels and all(label.startswith("Payer ") for label in labels)
    link = await alice.press(labels[0], ask)
    assert "/pay/" in link.text and link.private


async def test_renew_my_domain_offers_the_customers_domains_only(budi: Chat, alice: Chat) -> None:
    budi.language = "id"
    ask = await budi.say("perpanjang domain saya")
    labels = [b.label for b in ask.all_buttons()]
    assert {label.split()[0] for label in labels} == {"majujaya.example", "majujaya-shop.example"}
    assert "atelier" not in " ".join(labels)  # alice's domains are not offered to budi
    confirm = await budi.press(labels[0], ask)
    assert labels[0].split()[0] in confirm.text and confirm.buttons


async def test_a_turkish_question_about_the_balance(dispatcher: Dispatcher, alice: Chat) -> None:
    alice.language = "tr"
    reply = await alice.say("bakiyem ne kadar?")
    assert reply.text.startswith("Bakiyeniz")


async def test_what_do_i_owe_lists_the_unpaid_invoices(alice: Chat) -> None:
    reply = await alice.say("how much do I owe?")
    assert reply.text.startswith("Unpaid invoices")
