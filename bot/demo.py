"""Demo data for trying the bot locally (`hostbot shell`): four customers in four countries and three
currencies. It is fed in through the services like any other data, and lives beside the wiring, not in
the business layer."""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from services import clock, invoices, meter_runs, paying, sealing, traffic
from services import topup as topup_service
from services.hourly_billing import HOUR, Month, hour_start
from services.invoices import LineSpec, Seller
from services.wording import Text, names_of
from storage.models import (
    Addon,
    Customer,
    CustomerEmail,
    Domain,
    DomainPrice,
    MeteredProduct,
    MeteredResource,
    Order,
    OrderAddon,
    Plan,
    Server,
    Ticket,
    TicketMessage,
)
from storage.uow import UnitOfWork

# (code, name, kind, rank, monthly price per currency in minor units)
PLANS = [
    ("vps-s", "VPS S", "server", 1, {"EUR": 990, "IDR": 15000000, "TRY": 34900}),
    ("vps-m", "VPS M", "server", 2, {"EUR": 1990, "IDR": 30000000, "TRY": 69900}),
    ("dedicated", "Dedicated E3", "server", 3, {"EUR": 8900, "IDR": 135000000, "TRY": 309900}),
    ("basic", "Basic", "subscription", 1, {"EUR": 0, "IDR": 0, "TRY": 0}),
    ("growth", "Growth", "subscription", 2, {"EUR": 2900, "IDR": 45000000, "TRY": 99900}),
    ("enterprise", "Enterprise", "subscription", 3, {"EUR": 9900, "IDR": 150000000, "TRY": 349900}),
    ("support-standard", "Standard support", "support", 1, {"EUR": 0, "IDR": 0, "TRY": 0}),
    ("support-priority", "Priority support", "support", 2, {"EUR": 4900, "IDR": 75000000, "TRY": 169900}),
    ("support-premium", "Premium support", "support", 3, {"EUR": 14900, "IDR": 225000000, "TRY": 519900}),
    ("mail-starter", "Mail Starter", "mail", 1, {"EUR": 300, "IDR": 4500000, "TRY": 10500}),
    ("mail-business", "Mail Business", "mail", 2, {"EUR": 800, "IDR": 12000000, "TRY": 27900}),
    ("mail-pro", "Mail Pro", "mail", 3, {"EUR": 1500, "IDR": 22500000, "TRY": 52500}),
]
# What each server plan's machine has: vCPUs, memory (MB), disk (GB).
SIZES = {"vps-s": (1, 2048, 40), "vps-m": (2, 4096, 80), "dedicated": (4, 32768, 960)}
ADDONS = [
    ("bandwidth", "Premium bandwidth", {"EUR": 500, "IDR": 7500000, "TRY": 17500}),
    ("storage", "Extra storage 100 GB", {"EUR": 300, "IDR": 4500000, "TRY": 10500}),
    ("mailbox", "Extra mailbox", {"EUR": 100, "IDR": 1500000, "TRY": 3500}),
]

# A year's renewal of a domain ending in .example, per currency (the demo domains all end so).
DOMAIN_PRICES = {"EUR": 1200, "IDR": 18000000, "TRY": 42000}


# What the customer reads about each product, by code: its name where it differs from the one above,
# and its description, per language (the provider's data, as the admin API and the import take it).
WORDS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "vps-s": (
        {},
        {
            "en": "1 vCPU, 2 GB memory, 40 GB disk",
            "fr": "1 vCPU, 2 Go de mémoire, 40 Go de disque",
            "id": "1 vCPU, memori 2 GB, disk 40 GB",
            "tr": "1 vCPU, 2 GB bellek, 40 GB disk",
        },
    ),
    "vps-m": (
        {},
        {
            "en": "2 vCPUs, 4 GB memory, 80 GB disk",
            "fr": "2 vCPU, 4 Go de mémoire, 80 Go de disque",
            "id": "2 vCPU, memori 4 GB, disk 80 GB",
            "tr": "2 vCPU, 4 GB bellek, 80 GB disk",
        },
    ),
    "dedicated": (
        {"fr": "Serveur dédié E3", "id": "Server dedicated E3", "tr": "Adanmış sunucu E3"},
        {
            "en": "4 cores, 32 GB memory, 960 GB SSD, for you alone",
            "fr": "4 cœurs, 32 Go de mémoire, 960 Go de SSD, rien que pour vous",
            "id": "4 core, memori 32 GB, SSD 960 GB, khusus untuk Anda",
            "tr": "4 çekirdek, 32 GB bellek, 960 GB SSD, yalnızca sizin için",
        },
    ),
    "basic": (
        {"fr": "Essentiel", "id": "Dasar", "tr": "Temel"},
        {
            "en": "The platform's core features, free",
            "fr": "Les fonctions de base de la plateforme, gratuitement",
            "id": "Fitur inti platform, gratis",
            "tr": "Platformun temel özellikleri, ücretsiz",
        },
    ),
    "growth": (
        {"fr": "Croissance", "id": "Berkembang", "tr": "Büyüme"},
        {
            "en": "More users and automations for a growing team",
            "fr": "Plus d’utilisateurs et d’automatisations pour une équipe qui grandit",
            "id": "Lebih banyak pengguna dan otomatisasi untuk tim yang berkembang",
            "tr": "Büyüyen ekipler için daha fazla kullanıcı ve otomasyon",
        },
    ),
    "enterprise": (
        {"fr": "Entreprise", "id": "Perusahaan", "tr": "Kurumsal"},
        {
            "en": "Unlimited users, single sign-on and a dedicated contact",
            "fr": "Utilisateurs illimités, authentification unique et un interlocuteur dédié",
            "id": "Pengguna tanpa batas, single sign-on, dan kontak khusus",
            "tr": "Sınırsız kullanıcı, tek oturum açma ve size özel bir temsilci",
        },
    ),
    "support-standard": (
        {"fr": "Support standard", "id": "Dukungan standar", "tr": "Standart destek"},
        {
            "en": "Answers within one working day",
            "fr": "Réponse sous un jour ouvré",
            "id": "Dijawab dalam satu hari kerja",
            "tr": "Bir iş günü içinde yanıt",
        },
    ),
    "support-priority": (
        {"fr": "Support prioritaire", "id": "Dukungan prioritas", "tr": "Öncelikli destek"},
        {
            "en": "Answers within four hours, every day",
            "fr": "Réponse sous quatre heures, tous les jours",
            "id": "Dijawab dalam empat jam, setiap hari",
            "tr": "Her gün, dört saat içinde yanıt",
        },
    ),
    "support-premium": (
        {"fr": "Support premium", "id": "Dukungan premium", "tr": "Premium destek"},
        {
            "en": "Answers within one hour, day and night, by phone too",
            "fr": "Réponse sous une heure, jour et nuit, y compris par téléphone",
            "id": "Dijawab dalam satu jam, siang dan malam, juga lewat telepon",
            "tr": "Gece gündüz bir saat içinde yanıt, telefonla da",
        },
    ),
    "mail-starter": (
        {"fr": "Messagerie Starter", "id": "Email Starter", "tr": "E-posta Başlangıç"},
        {
            "en": "5 mailboxes of 10 GB",
            "fr": "5 boîtes mail de 10 Go",
            "id": "5 akun email 10 GB",
            "tr": "10 GB’lık 5 posta kutusu",
        },
    ),
    "mail-business": (
        {"fr": "Messagerie Business", "id": "Email Bisnis", "tr": "E-posta İşletme"},
        {
            "en": "25 mailboxes of 25 GB, shared calendars",
            "fr": "25 boîtes mail de 25 Go, agendas partagés",
            "id": "25 akun email 25 GB, kalender bersama",
            "tr": "25 GB’lık 25 posta kutusu, ortak takvimler",
        },
    ),
    "mail-pro": (
        {"fr": "Messagerie Pro", "id": "Email Pro", "tr": "E-posta Pro"},
        {
            "en": "100 mailboxes of 50 GB, archiving",
            "fr": "100 boîtes mail de 50 Go, archivage",
            "id": "100 akun email 50 GB, pengarsipan",
            "tr": "50 GB’lık 100 posta kutusu, arşivleme",
        },
    ),
    "bandwidth": (
        {"fr": "Bande passante premium", "id": "Bandwidth premium", "tr": "Premium bant genişliği"},
        {
            "en": "Traffic over premium transit, without limits",
            "fr": "Trafic sur transit premium, sans limite",
            "id": "Trafik lewat jalur transit premium, tanpa batas",
            "tr": "Premium transit üzerinden sınırsız trafik",
        },
    ),
    "storage": (
        {
            "fr": "Stockage supplémentaire 100 Go",
            "id": "Penyimpanan tambahan 100 GB",
            "tr": "Ek depolama 100 GB",
        },
        {
            "en": "100 GB more disk on the server",
            "fr": "100 Go de disque en plus sur le serveur",
            "id": "Tambahan disk 100 GB di server",
            "tr": "Sunucuda 100 GB ek disk",
        },
    ),
    "mailbox": (
        {"fr": "Boîte mail supplémentaire", "id": "Akun email tambahan", "tr": "Ek posta kutusu"},
        {
            "en": "One more mailbox in the mail package",
            "fr": "Une boîte mail de plus dans la formule de messagerie",
            "id": "Satu akun email lagi dalam paket email",
            "tr": "E-posta paketinde bir posta kutusu daha",
        },
    ),
    "hosting-s": (
        {"fr": "Hébergement revendeur S", "id": "Hosting reseller S", "tr": "Bayi barındırma S"},
        {
            "en": "A hosting account for one of your clients, 10 GB",
            "fr": "Un compte d’hébergement pour l’un de vos clients, 10 Go",
            "id": "Akun hosting untuk salah satu klien Anda, 10 GB",
            "tr": "Müşterilerinizden biri için 10 GB barındırma hesabı",
        },
    ),
    "hosting-m": (
        {"fr": "Hébergement revendeur M", "id": "Hosting reseller M", "tr": "Bayi barındırma M"},
        {
            "en": "A hosting account for one of your clients, 25 GB",
            "fr": "Un compte d’hébergement pour l’un de vos clients, 25 Go",
            "id": "Akun hosting untuk salah satu klien Anda, 25 GB",
            "tr": "Müşterilerinizden biri için 25 GB barındırma hesabı",
        },
    ),
    "ssl": (
        {"fr": "Certificat SSL", "id": "Sertifikat SSL", "tr": "SSL sertifikası"},
        {
            "en": "A certificate renewed for you",
            "fr": "Un certificat renouvelé pour vous",
            "id": "Sertifikat yang diperpanjang untuk Anda",
            "tr": "Sizin için yenilenen bir sertifika",
        },
    ),
    "support": (
        {"fr": "Pack support prioritaire", "id": "Paket dukungan prioritas", "tr": "Öncelikli destek paketi"},
        {
            "en": "Your clients’ tickets answered first",
            "fr": "Les tickets de vos clients traités en premier",
            "id": "Tiket klien Anda dijawab lebih dulu",
            "tr": "Müşterilerinizin talepleri önce yanıtlanır",
        },
    ),
}


def _words(code: str) -> dict[str, dict[str, str]]:
    names, descriptions = WORDS[code]
    return {"names": names, "descriptions": descriptions}


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    email: str
    country: str
    currency: str
    timezone: str
    address: tuple[str, str, str]
    is_business: bool = False
    vat_id: str | None = None
    billing_email: str | None = None


CUSTOMERS = [
    DemoCustomer(
        "Atelier Lumière SARL",
        "contact@atelier-lumiere.example",
        "FR",
        "EUR",
        "Europe/Paris",
        ("12 rue des Lilas", "75011", "Paris"),
        is_business=True,
        vat_id="FR40303265045",
        billing_email="compta@atelier-lumiere.example",
    ),
    DemoCustomer(
        "PT Maju Jaya Digital",
        "admin@majujaya.example",
        "ID",
        "IDR",
        "Asia/Jakarta",
        ("Jl. Sudirman No. 45", "10210", "Jakarta"),
        is_business=True,
    ),
    DemoCustomer(
        "Yıldız Yazılım A.Ş.",
        "destek@yildizyazilim.example",
        "TR",
        "TRY",
        "Europe/Istanbul",
        ("Büyükdere Cad. No: 120", "34394", "İstanbul"),
        is_business=True,
    ),
    DemoCustomer(
        "Jan de Vries",
        "jan@devries.example",
        "NL",
        "EUR",
        "Europe/Amsterdam",
        ("Prinsengracht 263", "1016 GV", "Amsterdam"),
    ),
]


async def seed(
    uow: UnitOfWork,
    seller: Seller,
    secret: str = "",
    with_traffic: bool = True,
    language: str | None = None,
) -> list[Customer]:
    """Fill an empty database with demo customers; dates are relative to today. With ``secret``
    (the ``SECRET_KEY``) each server also gets login details, sealed with it. ``with_traffic``: a
    year of the servers' traffic too (18,000 rows: most tests leave it out, see ``seed_traffic``).
    ``language``: every customer's saved language (their invoices are then issued in it); none
    by default, so each chat speaks its user's own."""
    today = clock.today()
    plans: dict[tuple[str, str], Plan] = {}
    for code, name, kind, rank, prices in PLANS:
        for currency, monthly in prices.items():
            plan = Plan(
                code=code,
                name=name,
                **_words(code),
                kind=kind,
                rank=rank,
                currency=currency,
                monthly_minor=monthly,
                yearly_minor=monthly * 10,
            )
            uow.session.add(plan)
            plans[code, currency] = plan
    addons: dict[tuple[str, str], Addon] = {}
    for code, name, prices in ADDONS:
        for currency, monthly in prices.items():
            addon = Addon(code=code, name=name, **_words(code), currency=currency, monthly_minor=monthly)
            uow.session.add(addon)
            addons[code, currency] = addon
    for currency, minor in DOMAIN_PRICES.items():
        uow.session.add(DomainPrice(tld="example", currency=currency, renewal_minor=minor))
    await uow.flush()

    made = []
    for n, spec in enumerate(CUSTOMERS, start=1):
        customer = Customer(
            name=spec.name,
            email=spec.email,
            country=spec.country,
            currency=spec.currency,
            timezone=spec.timezone,
            is_business=spec.is_business,
            vat_id=spec.vat_id,
            address_line=spec.address[0],
            postal_code=spec.address[1],
            city=spec.address[2],
            language=language,
        )
        if spec.billing_email:
            customer.emails = [CustomerEmail(purpose="billing", email=spec.billing_email)]
        uow.session.add(customer)
        await uow.flush()
        await _account(uow, customer, n, plans, addons, seller, today, secret)
        await _subscriptions(uow, customer, plans, addons, today)
        made.append(customer)
    await _reseller(uow, made[0])
    if with_traffic:
        await seed_traffic(uow)
    await uow.commit()
    return made


async def _account(
    uow: UnitOfWork,
    customer: Customer,
    n: int,
    plans: dict[tuple[str, str], Plan],
    addons: dict[tuple[str, str], Addon],
    seller: Seller,
    today: dt.date,
    secret: str,
) -> None:
    cur = customer.currency
    small, medium = plans["vps-s", cur], plans["vps-m", cur]
    web = Order(
        customer_id=customer.id,
        plan_id=medium.id,
        billing_cycle="monthly",
        price_minor=medium.monthly_minor,
        currency=cur,
        period_start=today - relativedelta(days=20),
        period_end=today + relativedelta(days=10),
        auto_renew=True,
    )
    db = Order(
        customer_id=customer.id,
        plan_id=small.id,
        billing_cycle="yearly",
        price_minor=small.yearly_minor,
        currency=cur,
        period_start=today - relativedelta(months=5),
        period_end=today + relativedelta(months=7),
    )
    uow.session.add_all([web, db])
    await uow.flush()
    machines = [(web, "web-1", "Debian 12", SIZES["vps-m"]), (db, "db-1", "Ubuntu 24.04", SIZES["vps-s"])]
    for i, (order, name, os, (cpus, memory_mb, disk_gb)) in enumerate(machines):
        uow.session.add(
            Server(
                customer_id=customer.id,
                order_id=order.id,
                hostname=name,
                os=os,
                ip=f"203.0.113.{n * 10 + i}",
                netmask="255.255.255.0",
                gateway="203.0.113.1",
                mac=f"52:54:00:{n:02x}:00:{i:02x}",
                reverse_dns=f"{name}.customer{n}.example",
                node="pve1",
                vm_id=100 + n * 10 + i,
                cpus=cpus,
                memory_mb=memory_mb,
                disk_gb=disk_gb,
                ipv6=f"2001:db8:{n}::10/64" if i == 0 else "",
                login_user="root" if secret else "",
                login_secret=sealing.seal(secret, secrets.token_urlsafe(12)) if secret else None,
            )
        )
    # Money in: a top-up paid by bank transfer, so the balance starts positive.
    topup = await topup_service.issue(uow, customer, medium.monthly_minor * 3, seller, None)
    await paying.mark_paid(uow, topup, "bank", None)
    # Last period of the web server: paid.
    paid = await invoices.create(
        uow,
        customer,
        [
            LineSpec(
                Text("{plan} #{id}", {"plan": names_of(medium), "id": web.id}),
                medium.monthly_minor,
                period_start=web.period_start,
                period_end=web.period_end,
            )
        ],
        seller,
        None,
        order_id=web.id,
        supply_date=web.period_start,
    )
    await paying.mark_paid(uow, paid, "bank", None)
    # Next period: unpaid, with an add-on line.
    bandwidth = plans["vps-s", cur].monthly_minor // 2
    await invoices.create(
        uow,
        customer,
        [
            LineSpec(
                Text("{plan} #{id}", {"plan": names_of(medium), "id": web.id}),
                medium.monthly_minor,
                period_start=web.period_end,
                period_end=web.period_end + relativedelta(months=1),
                effect="order_renewal",
                ref_id=web.id,
            ),
            LineSpec(names_of(addons["bandwidth", cur]), bandwidth, kind="addon"),
        ],
        seller,
        None,
        order_id=web.id,
        supply_date=web.period_end,
    )
    slug = customer.email.split("@")[1].split(".")[0]
    domain_price = DOMAIN_PRICES[cur]
    uow.session.add_all(
        [
            Domain(
                customer_id=customer.id,
                name=f"{slug}.example",
                expires_on=today + relativedelta(days=5),
                renewal_minor=domain_price,
                currency=cur,
            ),
            Domain(
                customer_id=customer.id,
                name=f"{slug}-shop.example",
                expires_on=today + relativedelta(days=200),
                renewal_minor=domain_price,
                currency=cur,
                auto_renew=True,
            ),
        ]
    )
    now = clock.now()
    uow.session.add_all(
        [
            Ticket(
                customer_id=customer.id,
                department="technical",
                importance="high",
                order_id=web.id,
                subject="web-1 slow since yesterday",
                created_at=now - dt.timedelta(days=1),
                updated_at=now,
                messages=[
                    TicketMessage(
                        author="customer",
                        body="Pages take 5 seconds to load.",
                        is_read=True,
                        created_at=now - dt.timedelta(days=1),
                    ),
                    TicketMessage(
                        author="staff",
                        body="We moved your VPS to a less busy host. Is it better now?",
                        created_at=now - dt.timedelta(hours=2),
                    ),
                ],
            ),
            Ticket(
                customer_id=customer.id,
                department="financial",
                importance="regular",
                status="closed",
                subject="Copy of last invoice",
                created_at=now - dt.timedelta(days=30),
                updated_at=now - dt.timedelta(days=29),
                messages=[
                    TicketMessage(
                        author="customer",
                        body="Please send a copy of my last invoice.",
                        is_read=True,
                        created_at=now - dt.timedelta(days=30),
                    ),
                    TicketMessage(
                        author="staff",
                        body="Sent to your billing address.",
                        is_read=True,
                        created_at=now - dt.timedelta(days=29),
                    ),
                ],
            ),
        ]
    )


async def _subscriptions(
    uow: UnitOfWork,
    customer: Customer,
    plans: dict[tuple[str, str], Plan],
    addons: dict[tuple[str, str], Addon],
    today: dt.date,
) -> None:
    """A Growth subscription with extra storage, a support package and a mail package whose due
    date falls inside the 30-to-15-days downgrade window, so that every billing rule can be tried."""
    cur = customer.currency
    started = today - relativedelta(days=10)
    mail_due = today + relativedelta(days=20)
    for code, start, end, extras in [
        ("growth", started, started + relativedelta(months=1), [("storage", 1)]),
        ("support-standard", started, started + relativedelta(months=1), []),
        ("mail-business", mail_due - relativedelta(months=1), mail_due, [("mailbox", 2)]),
    ]:
        plan = plans[code, cur]
        uow.session.add(
            Order(
                customer_id=customer.id,
                plan_id=plan.id,
                billing_cycle="monthly",
                price_minor=plan.monthly_minor,
                currency=cur,
                period_start=start,
                period_end=end,
                addons=[
                    OrderAddon(addon_id=addons[addon, cur].id, quantity=quantity)
                    for addon, quantity in extras
                ],
            )
        )
    await uow.flush()


# Pay-as-you-use packages: (code, name, kind, minor units per hour per currency).
METERED = [
    ("hosting-s", "Reseller hosting S", "account", {"EUR": "0.41", "IDR": "7000", "TRY": "14"}),
    ("hosting-m", "Reseller hosting M", "account", {"EUR": "0.82", "IDR": "14000", "TRY": "28"}),
    ("ssl", "SSL certificate", "addon", {"EUR": "0.14", "IDR": "2400", "TRY": "5"}),
    ("support", "Priority support pack", "pack", {"EUR": "1.35", "IDR": "23000", "TRY": "47"}),
]


async def _reseller(uow: UnitOfWork, customer: Customer) -> None:
    """The first customer resells hosting: accounts, an add-on and a service pack billed per hour,
    recorded hourly since the start of the month (one upgrade, one deletion, one still free)."""
    products: dict[str, MeteredProduct] = {}
    for code, name, kind, rates in METERED:
        for currency, rate in rates.items():
            product = MeteredProduct(
                code=code,
                name=name,
                **_words(code),
                kind=kind,
                currency=currency,
                hourly_minor=Decimal(rate),
            )
            uow.session.add(product)
            if currency == customer.currency:
                products[code] = product
    await uow.flush()
    now = clock.now()
    tz = ZoneInfo(customer.timezone)
    since = Month.of(now, tz).bounds(tz)[0]
    # (name, hours ago created, packages as (hours ago, code), hours ago deleted)
    resources: list[tuple[str, int, list[tuple[int, str]], int | None]] = [
        ("lumiere-clients.example", 40 * 24, [(40 * 24, "hosting-s"), (50, "hosting-m")], None),
        ("boulangerie-martin.example", 10 * 24, [(10 * 24, "hosting-s")], None),
        ("SSL boulangerie-martin.example", 10 * 24, [(10 * 24, "ssl")], None),
        ("desk.lumiere-clients.example", 40 * 24, [(40 * 24, "support")], None),
        ("old-shop.example", 20 * 24, [(20 * 24, "hosting-s")], 5 * 24),
        ("staging.lumiere-clients.example", 30, [(30, "hosting-s")], None),
    ]
    rows = []
    for name, created, packages, deleted in resources:
        resource = MeteredResource(
            customer_id=customer.id,
            kind=products[packages[0][1]].kind,
            name=name,
            product=products[packages[-1][1]],
            created_at=now - dt.timedelta(hours=created),
            deleted_at=now - dt.timedelta(hours=deleted) if deleted is not None else None,
        )
        uow.session.add(resource)
        await uow.flush()
        hour = max(hour_start(resource.created_at) + HOUR, hour_start(since))
        while hour <= now and (resource.deleted_at is None or hour < resource.deleted_at):
            ago = (now - hour) / HOUR
            product = products[[code for since_h, code in packages if since_h >= ago][-1]]
            rows.append(
                {
                    "resource_id": resource.id,
                    "hour": hour,
                    "customer_id": customer.id,
                    "product_id": product.id,
                    "hourly_minor": product.hourly_minor,
                }
            )
            hour += HOUR
    await meter_runs.record(uow, rows)


# Average bytes a second (in, out) by server name, nightly backup bytes out (at 02:00 local), and a
# size per customer: a web server sends far more than it receives, a database the other way.
TRAFFIC_PROFILES = {"web-1": (10_000, 76_000, 3 * 10**8), "db-1": (12_000, 7_000, 12 * 10**8)}
TRAFFIC_SCALE = {1: 1.0, 2: 0.6, 3: 1.4, 4: 0.3}


async def seed_traffic(uow: UnitOfWork) -> None:
    """A year of traffic for every demo server, stored as the recorder leaves it (five minutes,
    hours, then days): busy afternoons, quiet nights and weekends, growth over the year, noise.
    The caller commits."""
    now = clock.now()
    tiers = traffic.Tiers.at(now)
    day, hour = traffic.DAY, traffic.HOUR
    first = max(tiers.kept_since, traffic.epoch(now - dt.timedelta(days=365)) // day * day)
    last = tiers.now - tiers.now % traffic.FIVE_MINUTES
    starts = []
    t = first
    while t < last:
        span = tiers.span(t)
        starts.append((t, span))
        t += span
    rows = await uow.session.execute(
        select(Server.id, Server.hostname, Customer.id, Customer.timezone).join(
            Customer, Customer.id == Server.customer_id
        )
    )
    buckets: traffic.Buckets = {}
    for server_id, hostname, customer_id, tz in rows:
        mean_in, mean_out, backup = TRAFFIC_PROFILES.get(hostname, TRAFFIC_PROFILES["web-1"])
        scale = TRAFFIC_SCALE.get(customer_id, 1.0)
        rng = random.Random(f"{hostname}@{customer_id}")
        offsets = _utc_offsets(ZoneInfo(tz), first, last)
        for start, span in starts:
            local = start + span // 2 + offsets[(start - first) // day]
            # The daily curve peaks at 15:00 and its mean over a day is 1.
            at_hour = local % day / hour
            curve = 1.0 if span == day else 1 + 0.75 * math.cos(2 * math.pi * (at_hour - 15) / 24)
            weekend = (local // day + 3) % 7 >= 5  # 1 January 1970 was a Thursday
            growth = 0.7 + 0.3 * (start - first) / (last - first)
            level = scale * curve * (0.7 if weekend else 1.12) * growth * span
            wobble = 0.25 if span == day else 0.5
            # The backup runs from 02:00 to 03:00: all of it in a day, its share of that hour else.
            backup_share = min(span, hour) / hour if span == day or 2 <= at_hour < 3 else 0.0
            buckets[server_id, start, span] = traffic.Bucket(
                span,
                int(mean_in * level * (1 + wobble * (rng.random() - 0.5))),
                int(mean_out * level * (1 + wobble * (rng.random() - 0.5)) + scale * backup * backup_share),
            )
    await traffic.save(uow, buckets)


def _utc_offsets(zone: ZoneInfo, first: int, last: int) -> list[int]:
    """The zone's offset from UTC in seconds for each day from ``first`` (at noon UTC)."""
    offsets = []
    for t in range(first, last + traffic.DAY, traffic.DAY):
        offset = traffic.moment(t + traffic.DAY // 2).astimezone(zone).utcoffset()
        offsets.append(int(offset.total_seconds()) if offset else 0)
    return offsets
