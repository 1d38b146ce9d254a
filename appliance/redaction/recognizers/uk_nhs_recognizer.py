"""UK NHS numbers: ten digits (often 3-3-4) whose last digit is a mod-11 check.

The check passes for one random number in eleven, too weak to lift a score on its own: it only
rejects (``invalidate_result``), and the base score needs a context word to count.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer, digits_of


def nhs_valid(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


class UkNhsRecognizer(AppliancePatternRecognizer):
    ENTITY = "UK_NHS"
    PATTERNS = [
        Pattern("nhs (3-3-4)", r"(?<![\w.\-])\d{3}([ \-]?)\d{3}\1\d{4}(?![\w]|[.\-]\d)", 0.3),
    ]
    CONTEXT = ["nhs", "health", "patient", "hospital", "nhs#", "gp", "chi"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        digits = digits_of(pattern_text)
        return len(digits) != 10 or not nhs_valid(digits)
