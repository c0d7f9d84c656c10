"""How customers ask for a command in their own words, beyond its aliases.

Words are written folded (no accents, Turkish ı as i) and as their stem: ``bot.core.phrases``
allows the endings each language adds ("bakiye" finds "bakiyem", "tagihan" finds "tagihanku").
``"owe => unpaid"``: the phrase also stands for arguments. Matched in every language, whatever the
customer's setting: people mix them.
"""

from __future__ import annotations

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "balance": {
        "en": ("credit", "funds", "money left", "account balance"),
        "fr": ("credit", "argent", "argent reste", "combien reste"),
        "id": ("sisa saldo", "deposit", "dana"),
        "tr": ("kredi", "param", "hesap bakiye"),
    },
    "invoices": {
        "en": (
            "owe => unpaid",
            "outstanding => unpaid",
            "unpaid => unpaid",
            "due => unpaid",
            "billing history",
        ),
        "fr": (
            "dois => unpaid",
            "doit => unpaid",
            "impaye => unpaid",
            "reste a payer => unpaid",
            "payer combien => unpaid",
        ),
        "id": (
            "utang => unpaid",
            "hutang => unpaid",
            "tunggakan => unpaid",
            "belum dibayar => unpaid",
            "harus bayar => unpaid",
            "harus dibayar => unpaid",
            "faktur",
            "daftar tagihan",
        ),
        "tr": (
            "borc => unpaid",
            "odenmemis => unpaid",
            "odenmeyen => unpaid",
            "odenmis => paid",
            "odenen => paid",
            "fatura listesi",
        ),
    },
    "pay": {
        "en": ("settle", "payment", "pay invoice", "pay bill"),
        "fr": ("regler", "paiement", "payer facture"),
        "id": ("bayar tagihan", "pembayaran", "lunasi"),
        "tr": ("odeme", "fatura ode", "faturayi ode", "ode"),
    },
    "renew": {
        "en": ("renewal", "renew domain"),
        "fr": ("renouvellement", "renouveler domaine"),
        "id": ("perpanjang domain", "perpanjangan domain"),
        "tr": ("yenileme", "alan adi yenile", "domain yenile"),
    },
    "domains": {
        "en": ("domain", "domain names"),
        "fr": ("domaine", "noms domaine", "nom domaine"),
        "id": ("nama domain", "daftar domain"),
        "tr": ("alan adlar", "alan adi", "domainler", "domain"),
    },
    "tickets": {
        "en": ("support requests", "my requests", "support tickets"),
        "fr": ("demandes", "demandes assistance", "mes tickets"),
        "id": ("daftar tiket", "tiket dukungan", "tiket saya"),
        "tr": ("destek talep", "taleplerim"),
    },
    "newticket": {
        "en": ("contact support", "open support ticket", "create ticket", "report problem"),
        "fr": (
            "contacter support",
            "ouvrir demande",
            "creer ticket",
            "signaler probleme",
            "contacter assistance",
        ),
        "id": ("buka tiket", "hubungi support", "hubungi dukungan", "laporkan masalah", "bikin tiket"),
        "tr": ("destek taleb ac", "destek talep ac", "taleb ac", "talep olustur", "destek", "sorun bildir"),
    },
    "usage": {
        "en": ("consumption", "pay as you go", "metered"),
        "fr": ("utilise", "consomme"),
        "id": ("pemakaian", "terpakai"),
        "tr": ("kullandigim", "tuketim"),
    },
    "plan": {
        "en": ("subscription", "package", "my plan"),
        "fr": ("abonnement", "formule"),
        "id": ("langganan", "paket layanan"),
        "tr": ("paket", "paketim"),
    },
    "reboot": {
        "en": ("reboot server", "restart server"),
        "fr": ("relancer", "redemarrer serveur"),
        "id": ("mulai ulang", "nyalakan ulang", "restart server"),
        "tr": ("yeniden baslat", "sunucuyu yeniden baslat", "reset"),
    },
    "orders": {
        "en": ("services", "my services"),
        "fr": ("services", "prestations"),
        "id": ("layanan saya",),
        "tr": ("hizmetler", "hizmetlerim"),
    },
}

# Nouns that only name what a command acts on: "reboot my server", "pay my invoice".
OBJECTS = (
    *("server", "serveur", "sunucu", "vps", "machine", "mesin"),
    *("domain", "domaine", "alan", "adi", "nom", "nama", "name"),
    *("invoice", "bill", "facture", "tagihan", "fatura"),
    *("order", "commande", "pesanan", "siparis", "service", "layanan", "hizmet"),
)
