"""Dates and times: numeric (day/month order either way), ISO 8601, month names, clock times."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|mon|tue|wed|thu|fri|sat|sun),?\s+"
_END = r"(?![\w]|[.\-/]\d)"  # not followed by more of a number
_NUMERIC = re.compile(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})")


class DateTimeRecognizer(AppliancePatternRecognizer):
    ENTITY = "DATE_TIME"
    PATTERNS = [
        Pattern("date (numeric)",
                r"(?<![\w.\-/])\d{1,2}([/.\-])\d{1,2}\1(?:\d{4}|\d{2})" + _END, 0.6),
        Pattern("date (iso)", r"(?<![\w.\-])\d{4}([\-/.])\d{1,2}\1\d{1,2}"
                r"(?:[t ]\d{1,2}:\d{2}(?::\d{2})?(?:z|[+\-]\d{2}:?\d{2})?)?" + _END, 0.6),
        Pattern("date (day month year)",
                r"\b(?:" + _WEEKDAY + r")?" + _DAY + r"(?:\s+of)?[\s\-]+" + _MONTH
                + r"\.?,?[\s\-]+\d{4}\b", 0.65),
        Pattern("date (month day year)",
                r"\b(?:" + _WEEKDAY + r")?" + _MONTH + r"\.?\s+" + _DAY + r",?\s+\d{4}\b", 0.65),
        Pattern("date (month year)", r"\b" + _MONTH + r"\.?\s+\d{4}\b", 0.5),
        Pattern("date (day month)", r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"\b", 0.45),
        Pattern("time", r"(?<![\w:.])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
                r"(?:\s?[ap]\.?m\b\.?)?(?![\w:])", 0.55),
        Pattern("time (hour am/pm)", r"\b(?:1[0-2]|0?[1-9])\s?[ap]\.?m\b\.?", 0.5),
    ]
    NEEDS_DIGIT = False
    CONTEXT = ["date", "born", "birth", "dob", "on", "at", "time", "when", "since", "until", "due"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        m = _NUMERIC.fullmatch(pattern_text.split()[0]) if pattern_text[:1].isdigit() else None
        if not m:
            return None
        a, b, c = (int(x) for x in m.groups())
        if len(m.group(1)) == 4:  # year first: Y-M-D
            return not (1 <= b <= 12 and 1 <= c <= 31)
        # D/M/Y or M/D/Y: one of the first two must be a month, both plausible days.
        return not ((1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31))
