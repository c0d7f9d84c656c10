"""Stripe Checkout through the official SDK: hosted card page out, signed webhook events in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from services.ids import parse_id
from services.ports import Charge, InvalidEvent, PaymentEvent

# Stripe refuses events signed longer ago than this (seconds), so a captured webhook cannot be replayed.
TOLERANCE = 300
CHECKOUT_LANGUAGES = frozenset({"en", "fr", "id", "tr"})
KINDS = {
    "checkout.session.async_payment_succeeded": "succeeded",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "expired",
}


class StripeCheckout:
    """The ``CardCheckout`` port on Stripe; ``api_base`` points the SDK at another server (tests)."""

    def __init__(self, api_key: str, webhook_secret: str, api_base: str = stripe.DEFAULT_API_BASE) -> None:
        self._http = stripe.AIOHTTPClient()
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=2,
        )
        self._secret = webhook_secret

    async def start(self, charge: Charge, success_url: str, cancel_url: str, lang: str) -> str:
        reference = {"invoice_id": str(charge.invoice_id), "invoice_number": charge.invoice_number}
        session = await self._client.v1.checkout.sessions.create_async(
            {
                "mode": "payment",
                "client_reference_id": str(charge.invoice_id),
                "metadata": reference,
                "payment_intent_data": {"metadata": reference},
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": charge.amount.currency.lower(),
                            # Our minor units are ISO 4217's, which are Stripe's for EUR, IDR and TRY.
                            "unit_amount": charge.amount.minor,
                            "product_data": {"name": charge.title},
                        },
                    }
                ],
                "locale": lang if lang in CHECKOUT_LANGUAGES else "auto",
                "success_url": success_url,
                "cancel_url": cancel_url,
            }
        )
        if not session.url:
            raise InvalidEvent("Stripe returned a checkout session without a URL")
        return session.url

    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent:
        try:
            event = self._client.construct_event(payload, signature, self._secret, tolerance=TOLERANCE)
        except (ValueError, stripe.SignatureVerificationError) as err:
            raise InvalidEvent(str(err)) from err
        return to_event(event.id, event.type, event.data.object.to_dict())

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


def to_event(event_id: str, event_type: str, obj: Mapping[str, Any]) -> PaymentEvent:
    """Stripe's checkout.session events in neutral form; every other type is ``other``."""
    if not event_type.startswith("checkout.session."):
        return PaymentEvent(event_id, "other", "", None, 0, "")
    if event_type == "checkout.session.completed":
        settled = obj.get("payment_status") in ("paid", "no_payment_required")
        kind = "succeeded" if settled else "pending"
    else:
        kind = KINDS.get(event_type, "other")
    reference = (obj.get("metadata") or {}).get("invoice_id") or obj.get("client_reference_id") or ""
    return PaymentEvent(
        id=event_id,
        kind=kind,
        attempt=str(obj.get("id", "")),
        invoice_id=parse_id(str(reference)),
        amount_minor=int(obj.get("amount_total") or 0),
        currency=str(obj.get("currency") or "").upper(),
    )
