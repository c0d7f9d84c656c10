"""Requests as customers type them: questions, imperatives, possessives, typos, no slash, in all
four languages, each resolved to the right command (and the arguments the words mean)."""

from __future__ import annotations

import pytest

from bot import bootstrap
from bot.core.phrases import fits, fold, words
from bot.core.registry import Registry

# (what the customer types, the command, its arguments)
CORPUS: dict[str, list[tuple[str, str, list[str]]]] = {
    "en": [
        ("balance", "balance", []),
        ("what's my balance?", "balance", []),
        ("What is my balance", "balance", []),
        ("how much credit do I have", "balance", []),
        ("check my funds please", "balance", []),
        ("balanec", "balance", []),
        ("how much do I owe?", "invoices", ["unpaid"]),
        ("what do I owe", "invoices", ["unpaid"]),
        ("anything outstanding?", "invoices", ["unpaid"]),
        ("show my unpaid bills", "invoices", ["unpaid"]),
        ("show my invoices", "invoices", []),
        ("list all my invoices", "invoices", ["all"]),
        ("my bills", "invoices", []),
        ("invoices paid", "invoices", ["paid"]),
        ("pay my invoice", "pay", []),
        ("I want to pay", "pay", []),
        ("pay invoice HB2026-00014", "pay", ["HB2026-00014"]),
        ("pay HB2026-00014", "pay", ["HB2026-00014"]),
        ("reboot my server", "reboot", []),
        ("please restart my server", "reboot", []),
        ("reboot web-1", "reboot", ["web-1"]),
        ("can you restart web-1 please", "reboot", ["web-1"]),
        ("renew my domain", "renew", []),
        ("renew atelier-lumiere.example", "renew", ["atelier-lumiere.example"]),
        ("I'd like to renew my domain", "renew", []),
        ("show my domains", "domains", []),
        ("my domain names", "domains", []),
        ("domians", "domains", []),
        ("my tickets", "tickets", []),
        ("show my support requests", "tickets", []),
        ("open a ticket", "newticket", []),
        ("I want to open a support ticket", "newticket", []),
        ("contact support", "newticket", []),
        ("new ticket", "newticket", []),
        ("show my usage", "usage", []),
        ("show my consumption", "usage", []),
        ("what plan do I have?", "plan", []),
        ("my subscription", "plan", []),
        ("show my services", "orders", []),
        ("my orders", "orders", []),
        ("help", "help", []),
        ("what can you do? help", "help", []),
    ],
    "fr": [
        ("solde", "balance", []),
        ("quel est mon solde ?", "balance", []),
        ("Quel est mon solde", "balance", []),
        ("combien d'argent me reste-t-il", "balance", []),
        ("montre-moi mon crédit", "balance", []),
        ("sodle", "balance", []),
        ("combien je dois ?", "invoices", ["unpaid"]),
        ("qu'est-ce que je dois", "invoices", ["unpaid"]),
        ("reste à payer ?", "invoices", ["unpaid"]),
        ("mes factures impayées", "invoices", ["unpaid"]),
        ("montre-moi mes factures", "invoices", []),
        ("afficher toutes mes factures", "invoices", ["toutes"]),
        ("factures", "invoices", []),
        ("factures payées", "invoices", ["payées"]),
        ("payer ma facture", "pay", []),
        ("je veux régler ma facture", "pay", []),
        ("payer la facture HB2026-00014", "pay", ["la", "facture", "HB2026-00014"]),
        ("régler HB2026-00014", "pay", ["hb2026-00014"]),
        ("redémarrer mon serveur", "reboot", []),
        ("pouvez-vous redémarrer web-1 svp", "reboot", ["web-1"]),
        ("relancer web-1", "reboot", ["web-1"]),
        ("renouveler mon domaine", "renew", []),
        ("je voudrais renouveler atelier-lumiere.example", "renew", ["atelier-lumiere.example"]),
        ("renouvellement de mon nom de domaine", "renew", []),
        ("mes domaines", "domains", []),
        ("afficher mes noms de domaine", "domains", []),
        ("domianes", "domains", []),
        ("mes tickets", "tickets", []),
        ("voir mes demandes d'assistance", "tickets", []),
        ("ouvrir un ticket", "newticket", []),
        ("je veux contacter le support", "newticket", []),
        ("nouveau ticket", "newticket", []),
        ("signaler un problème", "newticket", []),
        ("ma consommation", "usage", []),
        ("qu'ai-je consommé ce mois-ci", "usage", ["mois-ci"]),
        ("quel est mon forfait ?", "plan", []),
        ("mon abonnement", "plan", []),
        ("mes services", "orders", []),
        ("mes commandes", "orders", []),
        ("aide", "help", []),
        ("l'aide svp", "help", []),
    ],
    "id": [
        ("saldo", "balance", []),
        ("berapa saldo saya?", "balance", []),
        ("saldoku berapa", "balance", []),
        ("cek sisa saldo", "balance", []),
        ("sldo", "balance", []),
        ("berapa utang saya", "invoices", ["unpaid"]),
        ("tagihan yang belum dibayar", "invoices", ["yang", "belum", "dibayar"]),
        ("apa yang harus saya bayar", "invoices", ["unpaid"]),
        ("ada tunggakan?", "invoices", ["unpaid"]),
        ("lihat tagihan saya", "invoices", []),
        ("tagihanku", "invoices", []),
        ("tampilkan semua tagihan", "invoices", ["semua"]),
        ("tagihan lunas", "invoices", ["lunas"]),
        ("bayar tagihan saya", "pay", []),
        ("saya mau bayar", "pay", []),
        ("bayar HB2026-00014", "pay", ["HB2026-00014"]),
        ("tolong lunasi tagihan HB2026-00014", "pay", ["hb2026-00014"]),
        ("restart server saya", "reboot", []),
        ("tolong reboot web-1", "reboot", ["web-1"]),
        ("mulai ulang server web-1", "reboot", ["server", "web-1"]),
        ("perpanjang domain saya", "renew", []),
        ("perpanjang majujaya.example", "renew", ["majujaya.example"]),
        ("saya ingin memperpanjang domain", "renew", []),
        ("domain saya", "domains", []),
        ("daftar domain", "domains", []),
        ("nama domain saya", "domains", []),
        ("tiket saya", "tickets", []),
        ("lihat tiket dukungan", "tickets", []),
        ("buat tiket", "newticket", []),
        ("saya mau buka tiket", "newticket", []),
        ("hubungi dukungan", "newticket", []),
        ("tiket baru", "newticket", []),
        ("laporkan masalah", "newticket", []),
        ("pemakaian saya", "usage", []),
        ("berapa penggunaan bulan ini", "usage", ["bulan", "ini"]),
        ("paket saya apa", "plan", []),
        ("langganan saya", "plan", []),
        ("layanan saya", "orders", []),
        ("pesanan saya", "orders", []),
        ("bantuan", "help", []),
        ("tolong bantuan", "help", []),
    ],
    "tr": [
        ("bakiye", "balance", []),
        ("bakiyem ne kadar?", "balance", []),
        ("bakiyemi göster", "balance", []),
        ("hesap bakiyem", "balance", []),
        ("ne kadar param var", "balance", []),
        ("bakiyre", "balance", []),
        ("ne kadar borcum var?", "invoices", ["unpaid"]),
        ("borcum ne kadar", "invoices", ["unpaid"]),
        ("ödenmemiş faturalarım", "invoices", ["unpaid"]),
        ("faturalarımı göster", "invoices", []),
        ("faturalar", "invoices", []),
        ("tüm faturalarım", "invoices", ["tum"]),
        ("ödenmiş faturalar", "invoices", ["paid"]),
        ("faturamı ödemek istiyorum", "pay", []),
        ("fatura öde", "pay", []),
        ("öde HB2026-00014", "pay", ["HB2026-00014"]),
        ("HB2026-00014 faturasını öde", "pay", ["hb2026-00014"]),
        ("sunucumu yeniden başlat", "reboot", []),
        ("web-1 yeniden başlat", "reboot", ["web-1"]),
        ("web-1 sunucusunu yeniden başlatır mısın", "reboot", ["web-1"]),
        ("alan adımı yenile", "renew", []),
        ("atelier-lumiere.example yenile", "renew", ["atelier-lumiere.example"]),
        ("domainimi yenilemek istiyorum", "renew", []),
        ("alan adlarımı göster", "domains", []),
        ("alan adlarım", "domains", []),
        ("domainlerim", "domains", []),
        ("taleplerim", "tickets", []),
        ("destek taleplerimi göster", "tickets", []),
        ("destek talebi açmak istiyorum", "newticket", []),
        ("yeni talep", "newticket", []),
        ("talep oluştur", "newticket", []),
        ("sorun bildirmek istiyorum", "newticket", []),
        ("destek istiyorum", "newticket", []),
        ("kullanımım", "usage", []),
        ("bu ay ne kadar tükettim", "usage", ["bu", "ay"]),
        ("planım ne?", "plan", []),
        ("paketim", "plan", []),
        ("hizmetlerim", "orders", []),
        ("siparişlerim", "orders", []),
        ("yardım", "help", []),
        ("yardim lütfen", "help", []),
    ],
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return bootstrap.all_commands()


@pytest.mark.parametrize(
    ("text", "command", "args"),
    [pytest.param(*case, id=f"{lang}:{case[0]}") for lang, cases in CORPUS.items() for case in cases],
)
def test_a_request_as_people_type_it(registry: Registry, text: str, command: str, args: list[str]) -> None:
    found = registry.match(text)
    assert found is not None, text
    assert (found[0].name, [fold(a) for a in found[1]]) == (command, [fold(a) for a in args])


@pytest.mark.parametrize("lang", CORPUS)
def test_the_corpus_is_large_enough(lang: str) -> None:
    assert len(CORPUS[lang]) >= 40


def test_endings_and_prefixes_fit_but_other_words_do_not() -> None:
    assert fits("bakiyem", "bakiye") and fits("tagihanku", "tagihan") and fits("membayar", "bayar")
    assert fits("faturalarimi", "fatura") and fits("factures", "facture")
    assert fits("balanec", "balance") and fits("domians", "domains") and fits("sldo", "saldo")
    assert not fits("planetarium", "plan") and not fits("web-1", "web-2") and not fits("fatura", "faturasil")


def test_french_elisions_and_pronouns_are_split() -> None:
    assert words("l'aide") == ["l", "aide"] and words("montre-moi mes factures") == [
        "montre",
        "moi",
        "mes",
        "factures",
    ]
    assert words("web-1 atelier-lumiere.example") == ["web-1", "atelier-lumiere.example"]


def test_a_sentence_without_a_command_is_not_guessed(registry: Registry) -> None:
    assert registry.match("the weather is nice today") is None
    assert registry.match("bonjour") is None


def test_a_phrase_for_an_unknown_command_stops_the_start() -> None:
    with pytest.raises(ValueError, match="phrases for unknown commands: nosuch"):
        Registry.from_routers(phrases={"nosuch": {"en": ("x",)}})
