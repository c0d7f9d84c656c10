"""Money as integer minor units plus an ISO 4217 code; Decimal only when converting."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision


def exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a user-typed amount ("12.50" or "12,50"); raises ValueError on anything else."""
        cleaned = text.strip().replace(",", ".")
        value = Decimal(cleaned)
        if not value.is_finite():
            raise ValueError(text)
        minor = (value.scaleb(exponent(currency))).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return cls(int(minor), currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError("currency mismatch")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError("currency mismatch")
        return Money(self.minor - other.minor, self.currency)
