"""Phone numbers in international and national formats.

Two patterns: a *formatted* number (a ``+``/``00`` country code, an area code in parentheses, or
digit groups split by spaces, dots, dashes or slashes) is likely a phone number on its own; a bare
run of 7 to 15 digits is not (it may be an account, a passport or an order number) and only counts
near a context word. Dates, IP addresses and version numbers share the shape and are rejected.
An extension ("ext. 204", "x31", "extension 3310") is part of the number: it is inside the span,
and the checks run on the number without it. A match never starts or ends inside a longer run of
digit groups: "0071 5336" in the card number "4024 0071 5336 7781" is not a phone.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer, digits_of

_DATE = re.compile(r"^\d{1,4}([./\-])\d{1,2}\1\d{1,4}$")
_SEP = r"(?: ?[.\-/] ?| )"
# "3740-336" (Portugal), "64663-8953" (US ZIP+4): postcodes, the commonest dashed 7-9 digits.
_POSTCODE = re.compile(r"^(?:\d{4}-\d{3}|\d{5}-\d{4})$")
_AMOUNT = re.compile(r"^[\d ]+\.\d{1,2}$")  # "1234567.89": a price, not a phone
_DOTTED_QUAD = re.compile(r"^\d{1,3}(\.\d{1,3}){2,3}$")
_YEAR_RANGE = re.compile(r"^((?:19|20)\d{2})-((?:19|20)\d{2})$")  # "2019-2021": a date range
_EXT = r"(?:,?\s?(?:ext\.?|extn\.?|extension|x)\s?#?\s?\d{1,6})?"
_EXT_TAIL = re.compile(r",?\s?(?:ext\.?|extn\.?|extension|x)\s?#?\s?\d{1,6}$", re.IGNORECASE)


class PhoneRecognizer(AppliancePatternRecognizer):
    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern(
            "phone (formatted)",
            r"(?<![\w+@/.\-])(?<!\d[ .\-/])(?:(?:\+|00)\d{1,3}[ .\-]?(?:\(0\)[ .\-]?)?)?"
            r"(?:\(\d{1,5}\)[ .\-]?\d{1,12}(?:" + _SEP + r"\d{1,12}){0,6}"
            r"|\d{1,12}(?:" + _SEP + r"\d{1,12}){1,6})" + _EXT + r"(?![\w@]|[.\-]\d)",
            0.5,
        ),
        Pattern("phone (international compact)",
                r"(?<![\w+])(?<!\d[ .\-/])(?:\+|00)\d{1,4}[ .\-]?\d{4,14}" + _EXT
                + r"(?![\w]|[ .\-/]\d)", 0.5),
        Pattern("phone (digits only)", r"(?<![\w+.\-])\d{7,15}" + _EXT + r"(?![\w]|[.\-]\d)", 0.15),
    ]
    CONTEXT = ["phone", "tel", "telephone", "mobile", "cell", "call", "fax",
               "whatsapp", "sms", "text", "dial", "contact", "callback", "reach"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        text = _EXT_TAIL.sub("", pattern_text.strip())
        digits = digits_of(text)
        if not 7 <= len(digits) <= 15:
            return True
        if _DATE.match(text) or _DOTTED_QUAD.match(text):
            return True
        formatted = text.startswith(("+", "00", "(")) or any(c in text for c in " .-/")
        if not formatted:
            return None  # the digits-only pattern: its low score already asks for context
        if _POSTCODE.match(text) or _AMOUNT.match(text):
            return True
        years = _YEAR_RANGE.match(text)
        if years and 0 < int(years.group(2)) - int(years.group(1)) <= 100:
            return True
        groups = re.split(r"[ .\-/()]+", text.lstrip("+"))
        # One long group and a short tail ("1234567 89") is how amounts and ids look, not phones.
        return len([g for g in groups if g]) > 7
