"""Balance top-up: an amount and the billing address make a top-up invoice.

The billing address is printed on that invoice only: the account's contact data change only through
a ticket (``services.contact_changes``), which the chat offers when they differ. The balance is
credited only when that invoice is paid (``paying.mark_paid`` posts the ledger entry for kind
``topup``). A top-up is a prepayment: VAT is charged on the invoices the balance
later pays, so the top-up invoice itself carries none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from babel import Locale
from stdnum import get_cc_module

from services import clock, invoices, vat
from services.audit import Actor
from services.errors import N_, DomainError
from services.invoices import LineSpec, Seller
from services.money import AmountError, Money
from services.wording import Text
from storage.models import Customer, Invoice
from storage.uow import UnitOfWork

MAX_MINOR = 10**11
TOPUP = N_("Balance top-up")
LIMITS = {"name": 200, "address": 300, "postal_code": 20, "city": 100}
_POSTAL = re.compile(r"^[\w][\w \-]*$")
_TAX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-/]{2,29}$")


class InvalidAmount(AmountError):
    message = N_("Please send an amount such as {grouped} or {decimal}, more than zero.")


class InvalidCountry(DomainError):
    message = N_("Please send the country as a two-letter code such as FR, ID or TR, or its name.")


class InvalidTaxId(DomainError):
    message = N_("That tax id is not valid for {country}. Check it, or send none if you have none.")


class InvalidField(DomainError):
    message = N_("Please send a value of at most {limit} characters.")


@dataclass(frozen=True)
class BillingDetails:
    name: str
    address: str
    postal_code: str
    city: str
    country: str
    tax_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def buyer(self) -> dict[str, str]:
        """As an invoice prints its buyer (``invoices.account_buyer``)."""
        return {
            "name": self.name,
            "address": self.address,
            "postal_code": self.postal_code,
            "city": self.city,
            "country": self.country,
            "vat_id": self.tax_id or "",
        }

    def differences(self, customer: Customer) -> dict[str, str]:
        """What these details would change on the account, by ``contact_changes`` field."""
        on_file = {
            "name": (customer.name, self.name),
            "address": (customer.address_line, self.address),
            "postal_code": (customer.postal_code, self.postal_code),
            "city": (customer.city, self.city),
            "country": (customer.country, self.country),
            "tax_id": (customer.vat_id or "", self.tax_id or ""),
        }
        changed = {key: new for key, (old, new) in on_file.items() if old != new}
        if changed.keys() & {"address", "postal_code", "city"}:  # an address is asked for whole
            changed.update(address=self.address, postal_code=self.postal_code, city=self.city)
        return changed


def parse_amount(text: str, currency: str, lang: str) -> Money:
    """A positive amount typed the way ``lang`` writes numbers (``Money.parse``); raises an
    ``AmountError`` or ``InvalidAmount`` whose message shows amounts written that way."""
    amount = Money.parse(text, currency, lang)
    if amount.minor <= 0 or amount.minor >= MAX_MINOR:
        raise InvalidAmount(currency)
    return amount


def _countries(lang: str) -> dict[str, str]:
    return {code: name for code, name in Locale.parse(lang).territories.items() if len(code) == 2}


def parse_country(text: str, lang: str = "en") -> str:
    """An ISO 3166 alpha-2 code, typed as such or as the country's name in ``lang`` or English."""
    wanted = text.strip()
    if len(wanted) == 2 and wanted.upper() in _countries("en"):
        return wanted.upper()
    folded = wanted.casefold()
    for language in dict.fromkeys((lang, "en")):
        for code, name in _countries(language).items():
            if name.casefold() == folded:
                return code
    raise InvalidCountry()


def parse_tax_id(text: str | None, country: str) -> str | None:
    """A tax id checked with python-stdnum where the country has a validator; None for no id.

    EU VAT ids must carry the country's prefix (added when left out) and pass the checksum."""
    if text is None or not text.strip():
        return None
    raw = text.strip().upper()
    if vat.in_eu(country, clock.today()):
        prefix = vat.VAT_PREFIX.get(country, country)
        candidate = raw if raw.startswith(prefix) else prefix + raw
        if vat.valid_vat_id(candidate, country):
            return "".join(ch for ch in candidate if ch.isalnum())
        raise InvalidTaxId(country=country)
    module = get_cc_module(country.lower(), "vat")
    if module is not None:
        try:
            return str(module.validate(raw))
        except Exception:
            raise InvalidTaxId(country=country) from None
    if not _TAX_ID.match(raw):
        raise InvalidTaxId(country=country)
    return raw


def parse_field(name: str, text: str) -> str:
    """A required line of the address, trimmed and within its column's size."""
    value = " ".join(text.split())
    limit = LIMITS[name]
    if not value or len(value) > limit or (name == "postal_code" and not _POSTAL.match(value)):
        raise InvalidField(limit=limit)
    return value


def validate(details: dict[str, Any]) -> BillingDetails:
    """Check a whole set of billing details again (they come back from a stored confirmation)."""
    country = parse_country(str(details["country"]))
    return BillingDetails(
        name=parse_field("name", str(details["name"])),
        address=parse_field("address", str(details["address"])),
        postal_code=parse_field("postal_code", str(details["postal_code"])),
        city=parse_field("city", str(details["city"])),
        country=country,
        tax_id=parse_tax_id(details.get("tax_id"), country),
    )


async def request(
    uow: UnitOfWork,
    customer: Customer,
    amount: Money,
    billing: BillingDetails,
    seller: Seller,
    actor: Actor,
) -> Invoice:
    """Issue the unpaid top-up invoice to ``billing`` (on this invoice only; the account's own
    details stay as they are)."""
    if amount.currency != customer.currency or not 0 < amount.minor < MAX_MINOR:
        raise InvalidAmount(customer.currency)
    invoice = await issue(uow, customer, amount.minor, seller, actor, billing.buyer())
    await uow.commit()
    return invoice


async def issue(
    uow: UnitOfWork,
    customer: Customer,
    minor: int,
    seller: Seller,
    actor: Actor | None,
    buyer: Mapping[str, str] | None = None,
) -> Invoice:
    """The unpaid top-up invoice, in the caller's transaction: no VAT, since a top-up is a payment
    on account (VAT is charged on the invoices the balance later pays)."""
    invoice = await invoices.create(
        uow, customer, [LineSpec(Text(TOPUP), minor, kind="topup")], seller, actor, kind="topup", buyer=buyer
    )
    invoice.vat_rate = Decimal(0)
    invoice.vat_minor = 0
    invoice.reverse_charge = False
    invoice.total_minor = invoice.subtotal_minor
    return invoice
