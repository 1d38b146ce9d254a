"""Payment card numbers: 13 to 19 digits in any grouping, with a valid Luhn check digit."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer, digits_of

_ISSUERS = [re.compile(p) for p in (
    r"^4(?:\d{12}|\d{15}|\d{18})$",                      # Visa: 13, 16, 19
    r"^(?:5[1-5]\d{2}|222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)\d{12}$",  # Mastercard
    r"^3[47]\d{13}$",                                    # American Express
    r"^3(?:0[0-5]|[68]\d)\d{11,16}$",                     # Diners Club
    r"^35(?:2[89]|[3-8]\d)\d{12,15}$",                    # JCB
    r"^6(?:011|5\d{2}|4[4-9]\d|22\d)\d{12,15}$",          # Discover, UnionPay co-branded
    r"^(?:5018|5020|5038|6304|6759|676[1-3])\d{8,15}$",     # Maestro
)]


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812-1 check: double every second digit from the right."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class CreditCardRecognizer(AppliancePatternRecognizer):
    ENTITY = "CREDIT_CARD"
    PATTERNS = [
        # Any single separator between digits: mixed "4111-1111 1111.1111" groupings included.
        Pattern("card number", r"(?<![\w.\-])(?:\d[ .\-]?){12,18}\d(?![\w]|[.\-]\d)", 0.3),
    ]
    CONTEXT = ["card", "credit", "debit", "visa", "mastercard", "amex", "cc", "payment", "pan"]

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = digits_of(pattern_text)
        # Issuer ranges and their lengths keep Luhn-valid account and order numbers out: one in
        # ten random numbers passes Luhn, far fewer also fit a real issuer's prefix and length.
        if not any(d.match(digits) for d in _ISSUERS):
            return False
        return luhn_valid(digits)
