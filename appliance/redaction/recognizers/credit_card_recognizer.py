"""Payment card numbers: 12 to 19 digits in any grouping.

Three ways a card-like run is redacted, each with its own score:

- a valid issuer prefix and length and a valid Luhn check digit (ISO/IEC 7812-1): 1.0, with or
  without context;
- any other 12-19 digit run right after an explicit card word ("my card number is ...", "block
  card ...", "visa ..."): ``CARD_CONTEXT_SCORE``, explained as "card context, checksum failed".
  For redaction a mistyped or non-standard card number is still a card number; without the card
  word such a run is an account, order or tracking number and is left alone;
- a masked full-length number that still shows digits ("4111 **** **** 1234", "XXXX-XXXX-XXXX-
  1234"): ``MASKED_SCORE``, which a context word raises as usual.

The last four digits alone ("card ending 1234") are not a card number: nothing else identifies
the card, and receipts print them for that reason. They are not redacted.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult

from appliance.redaction.recognizers.base import (
    AppliancePatternRecognizer,
    digits_of,
    words_before,
)

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


# Words that make a digit run a card number even when its checksum fails. Only explicit ones:
# "payment", "debit" or "credit" alone precede references and account numbers just as often.
CARD_WORDS = frozenset({"card", "cards", "cardholder", "cc", "ccn", "visa", "mastercard", "amex",
                        "maestro", "unionpay", "jcb"})
CARD_CONTEXT_SCORE = 0.6  # above a context-boosted bank account (0.2 + 0.35): typed as a card
# A card word further back in the same sentence ("my card number is ... (read twice) — then
# 'sorry, 4024 ...'"): still redacted as a card, less surely.
FAR_CONTEXT_WORDS, FAR_CONTEXT_SCORE = 20, 0.45
MASKED_SCORE = 0.4
_MASK = frozenset("*•x")


class CreditCardRecognizer(AppliancePatternRecognizer):
    ENTITY = "CREDIT_CARD"
    PATTERNS = [
        # Any single separator between digits: mixed "4111-1111 1111.1111" groupings included.
        # Not after "+" (an international phone number) and not before "/digit", so an expiry
        # date after the number ("... 1111 12/25") is not taken as more card digits.
        Pattern("card number",
                r"(?<![\w.\-+])(?:\d[ .\-]?){11,18}\d(?![\w]|[.\-/]\d)", 0.3),
        # Up to eight shown digits, two mask characters in a row, then digits and masks;
        # refine_results keeps only real masked numbers. Its base score is below the plain
        # pattern's so that, should both match one span, Presidio's de-duplication keeps the plain.
        Pattern("card number (masked)",
                r"(?<![\w.\-+*•])(?:\d[ \-]?){0,8}[*•x]{2}[ \-]?(?:[\d*•x][ \-]?){6,16}\d"
                r"(?![\w*•]|[.\-/]\d)", 0.25),
    ]
    CONTEXT = ["card", "credit", "debit", "visa", "mastercard", "amex", "cc", "payment", "pan"]

    def refine_results(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        kept = []
        for r in results:
            value = text[r.start : r.end]
            if r.analysis_explanation.pattern_name == "card number (masked)":
                if _masked_card(value):
                    r.score = r.analysis_explanation.score = MASKED_SCORE
                    kept.append(r)
            elif card_valid(digits_of(value)):
                r.score = r.analysis_explanation.score = 1.0
                r.analysis_explanation.validation_result = True
                kept.append(r)
            elif CARD_WORDS.intersection(words_before(text, r.start, 6)):
                kept.append(self.context_gated(r.start, r.end, CARD_CONTEXT_SCORE,
                                               "card context, checksum failed"))
            elif CARD_WORDS.intersection(words_before(text, r.start, FAR_CONTEXT_WORDS)):
                kept.append(self.context_gated(r.start, r.end, FAR_CONTEXT_SCORE,
                                               "card context earlier in the sentence, "
                                               "checksum failed"))
        return kept


def card_valid(digits: str) -> bool:
    """A real issuer's prefix and length, and the Luhn check."""
    # Issuer ranges and their lengths keep Luhn-valid account and order numbers out: one in ten
    # random numbers passes Luhn, far fewer also fit a real issuer's prefix and length.
    return any(d.match(digits) for d in _ISSUERS) and luhn_valid(digits)


def _masked_card(value: str) -> bool:
    """12-19 positions, at least four masked and four shown, ending in shown digits."""
    positions = [ch for ch in value.lower() if ch.isdigit() or ch in _MASK]
    masked = sum(ch in _MASK for ch in positions)
    return 12 <= len(positions) <= 19 and masked >= 4 and len(positions) - masked >= 4
