"""US Social Security numbers (AAA-GG-SSSS), with the ranges the SSA never issues excluded."""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer, digits_of


class UsSsnRecognizer(AppliancePatternRecognizer):
    ENTITY = "US_SSN"
    PATTERNS = [
        Pattern("ssn (delimited)", r"(?<![\w.\-])\d{3}([ .\-])\d{2}\1\d{4}(?![\w]|[.\-]\d)", 0.6),
        # Undelimited nine digits are as often a phone or an order number: context decides.
        Pattern("ssn (digits only)", r"(?<![\w.\-])\d{9}(?![\w]|[.\-]\d)", 0.2),
    ]
    CONTEXT = ["ssn", "social", "security", "ss#", "ssn#", "ss", "taxpayer", "tin"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        digits = digits_of(pattern_text)
        area, group, serial = digits[:3], digits[3:5], digits[5:]
        # Area 000, 666 and 900-999 (ITINs live there), group 00 and serial 0000 are never issued;
        # one digit repeated nine times is a placeholder, not a number.
        return (area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000"
                or len(set(digits)) == 1)
