"""Bank account numbers: 8 to 20 digits (Russia's are 20, Mexico's CLABE 18), optionally grouped.
Nothing about the digits says "account", so the base score is below the analyzer's threshold and
only a context word ("account", "acct", "a/c", "sort code", ...) near the number lifts it over."""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer, digits_of


class BankAccountRecognizer(AppliancePatternRecognizer):
    ENTITY = "BANK_ACCOUNT"
    PATTERNS = [
        Pattern("account (digits)", r"(?<![\w.\-])\d{8,20}(?![\w]|[.\-]\d)", 0.3),
        Pattern("account (grouped)",
                r"(?<![\w.\-])\d{2,6}(?:[ \-]\d{1,8}){1,4}(?![\w]|[.\-]\d)", 0.2),
    ]
    CONTEXT = ["account", "acct", "acc", "a/c", "accounts", "bank", "banking", "checking",
               "savings", "deposit", "routing", "sort", "konto", "beneficiary", "debit"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return not 8 <= len(digits_of(pattern_text)) <= 20
