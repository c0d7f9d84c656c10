"""Minor units of every active currency, from ISO 4217 List One, kept here on purpose.

Source: ISO 4217 "List One: Currency, fund and precious metal codes" (column "Minor unit"),
published 2026-01-01 by SIX Financial Information, the ISO 4217 Maintenance Agency.

The exponent of the minor units an amount is stored in is a fact of the data, not of a display
library: CLDR (through Babel) changes how many decimals a currency is *shown* with (Babel 2.19 shows
the rupiah with none), and a stored ``300000000`` IDR must keep meaning Rp3,000,000.00 whatever is
installed. So a code appears here once, and changing its exponent is a data migration, never an
upgrade. Entries whose minor unit is "N.A." (gold, silver, palladium, platinum, the bond-market
units, XDR, XSU, XUA, the test code XTS and XXX) have no minor units to store and are left out.
"""

from __future__ import annotations

_ZERO = """
BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF
"""
_TWO = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF
CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL
MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR
PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP
TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XAD XCD XCG YER ZAR ZMW ZWG
"""
_THREE = """
BHD IQD JOD KWD LYD OMR TND
"""
_FOUR = """
CLF UYW
"""

MINOR_UNITS: dict[str, int] = {
    code: digits
    for digits, codes in ((0, _ZERO), (2, _TWO), (3, _THREE), (4, _FOUR))
    for code in codes.split()
}
