"""The currencies Microsoft Advertising takes for offline conversion revenue.

``OfflineConversion.ConversionCurrencyCode`` and ``ConversionGoalRevenue.CurrencyCode``
take their values from the "Conversion Goal Revenue Currencies" table of Microsoft's
Currencies page (``advertising/guides/currencies.md`` in MicrosoftDocs/Advertising,
commit ``84e205e9``, 2026-07-08; the same 100 codes in MicrosoftDocs/Advertising-docs of
2024-11-06), and a code outside it is answered 5611 OfflineConversionCurrencyCodeInvalid.
Checked 2026-12-04.

The table is not ISO 4217's active list. It has ``TRL`` (labelled "New Turkish Lira")
and ``VEF`` (Venezuelan bolívar fuerte), not ``TRY``, ``VES`` or ``VED``; it still has
``HRK``; it lacks active codes such as ``NPR`` or ``XPF``. The same page's account
currency table calls the Turkish lira ``TRY``. Whether the server checks this table or
ISO 4217 is not documented, so offramp follows the documented table.
"""

from __future__ import annotations

#: Microsoft's conversion goal revenue currency codes (100).
CONVERSION_CURRENCIES = frozenset("""
AED ALL AMD ARS AUD AZN BDT BGN BHD BND BOB BRL BWP BZD CAD CHF CLP CNY COP CRC
CZK DKK DOP DZD EGP ETB EUR FJD GBP GEL GHS GTQ HKD HNL HRK HUF IDR ILS INR IQD
ISK JMD JOD JPY KES KGS KRW KWD KZT LBP LKR LYD MAD MKD MNT MOP MUR MVR MWK MXN
MYR NGN NIO NOK NZD OMR PAB PEN PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SEK SGD
THB TND TOP TRL TTD TWD TZS UAH UGX USD UYU UZS VEF VND XAF XCD XOF YER ZAR ZMW
""".split())

#: The reason for a code outside the list (``{code}``: the three-letter code).
UNLISTED = ("currency {code} is not in Microsoft's conversion currency list (100 codes, "
            "docs/microsoft.md, \"Currencies\")")
#: Codes whose currency Microsoft's table lists under another code.
LISTED_AS = {"TRY": "TRL", "VES": "VEF", "VED": "VEF"}


def problem(code: str) -> str | None:
    """Why ``code`` (upper case) cannot be sent as ``ConversionCurrencyCode``, or None."""
    if code in CONVERSION_CURRENCIES:
        return None
    if code in LISTED_AS:
        return (f"currency {code} is not in Microsoft's conversion currency list, which has "
                f"{LISTED_AS[code]} instead (see docs/microsoft.md, \"Currencies\"); leave the "
                "currency out to use the goal's own")
    return UNLISTED.format(code=code)
