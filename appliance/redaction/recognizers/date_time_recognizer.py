"""Dates and times: numeric (day/month order either way), ISO 8601, log stamps, month names,
clock times, weekday and holiday names, and bare years or months where the words around them
make them dates.

A bare "2019" or "March" is a date only in date context, so those patterns carry their cue in a
look-behind ("in 2019", "since 1998", "born 1975", "year 2020", "Issued: 2019", "(2021)",
"2019-2021", "in March", "between June and October") and score modestly; the cue was the gate,
so the context enhancer does not boost them again. Years in amounts ("2019.00"), phone numbers
and ids (no cue, or a digit or "-" beside them), street numbers ("from 2019 Main Street"), counts
("in 2000 patients") and names of laws ("Data Protection Act 2018") are left out. Weekday names
count alone; their abbreviations ("Sat", "Wed" are words too) only before a date or a time; a
weekday before a capitalised word ("Sunday Times", "Monday Blues") or in an opening-hours range
("Monday to Friday") is not a date. Relative words ("today", "yesterday") identify no one and
are not matched.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# Full month names, capitalised: lower-case "march" and "may" are a verb and a modal.
_MONTH_NAME = (r"(?-i:January|February|March|April|May|June|July|August|September|October"
               r"|November|December)")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_WEEKDAY_FULL = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_WEEKDAY = r"(?:" + _WEEKDAY_FULL + r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\.?,?\s+"
_AMPM = r"[ap]\.?m\b(?:(?<=\.m)\.)?"  # a final dot only in "p.m.": "pm." ends a sentence
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?" + _AMPM + r")?(?![\w]|:\d)"
_END = r"(?![\w]|[.\-/]\d)"  # not followed by more of a number
_YEAR = r"(?:19|20)\d{2}"
_YEAR_END = r"(?![\w]|[.,\-/:]\d)"
_YEAR_CUE = (r"(?:in|since|born|year|until|till|from|by|during|circa|ca|c|before|after|around"
             r"|early|late|mid|spring|summer|autumn|fall|winter|issued|expires|expiry|dated|dob"
             r"|(?:end|start|beginning|middle|spring|summer|autumn|winter|class)\s+of)")
_MONTH_CUE = (r"(?:\b(?:in|since|until|till|by|from|during|before|after|early|late|mid|of|last"
              r"|next|this|every|each|between)|" + _MONTH_NAME
              + r"(?:,|\s+(?:and|or|to|until|till|through)))")  # "between June and October"
_NOT_STREET = (r"(?!\s+(?:(?-i:[A-Z])[\w.]*\s+){1,3}(?:street|st|avenue|ave|road|rd|lane|ln"
               r"|drive|dr|boulevard|blvd|way|court|ct|place|pl|terrace|close)\b)")
# "in 2000 patients": a count. Only the commonest nouns; an unlisted one is a rare false date.
_NOT_QUANTITY = (r"(?!\s*%)(?!\s+(?:percent|usd|eur|gbp|dollars|euros|pounds|units|people"
                 r"|patients|cases|users|employees|students|members|items|times|votes)\b)")
# "Act (2018)", "Regulations 2019-2020": the year is part of a law's name.
# Look-behinds sit after the first characters they guard, so the engine tries them only where a
# year, month or weekday already matched, not at every position of every text.
_NOT_LAW = r"(?<!\b(?:act|regulations?|directive|order|rules|code|bill)\s{0,2}\(?\d{4})"
_TO = r"\s{0,2}(?:to|through|till|until|-|–)\s{0,2}"
_NOT_HOURS_AFTER = r"(?<!" + _WEEKDAY_FULL + _TO + r"\w+)"  # "Monday to Friday": opening hours
_NOT_HOURS_BEFORE = r"(?!" + _TO + _WEEKDAY_FULL + r")(?![ \t]+(?-i:[A-Z][a-z]))"
_NUMERIC = re.compile(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})")
_RANGE = re.compile(r"(\d{4})\s*(?:[\-–—/]|to|until|till|through|and)\s*(\d{4}|\d{2}|[a-z]+)",
                    re.IGNORECASE)
_GATED = frozenset({"year (after a cue)", "month (after a cue)", "time (word)"})


class DateTimeRecognizer(AppliancePatternRecognizer):
    ENTITY = "DATE_TIME"
    PATTERNS = [
        Pattern("date (numeric)",
                r"(?<![\w.\-/])\d{1,2}([/.\-])\d{1,2}\1(?:\d{4}|\d{2})" + _END, 0.6),
        Pattern("date (iso)", r"(?<![\w.\-])\d{4}([\-/.])\d{1,2}\1\d{1,2}"
                r"(?:[t ]\d{1,2}:\d{2}(?::\d{2})?(?:z|[+\-]\d{2}:?\d{2})?)?" + _END, 0.6),
        Pattern("date (log)", r"\b\d{1,2}/" + _MONTH + r"/\d{4}(?::\d{2}:\d{2}:\d{2}"
                r"(?:\s[+\-]\d{4})?)?\b", 0.6),  # "10/Oct/2024:13:55:36 +0000"
        Pattern("date (day month year)",
                r"\b(?:" + _WEEKDAY + r")?" + _DAY + r"(?:\s+of)?[\s\-]+" + _MONTH
                + r"\.?,?[\s\-]+\d{4}\b", 0.65),
        Pattern("date (month day year)",
                r"\b(?:" + _WEEKDAY + r")?" + _MONTH + r"\.?\s+" + _DAY + r",?\s+\d{4}\b", 0.65),
        Pattern("date (month year)", r"\b" + _MONTH + r"\.?(?:\s+of)?\s+\d{4}\b", 0.5),
        Pattern("date (day month)", r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"\b", 0.45),
        # "Oct 30": capitalised, so "may 5" stays a modal and a number.
        Pattern("date (month day)", r"\b(?=(?-i:[A-Z]))" + _MONTH + r"\.?\s+" + _DAY
                + r"\b(?![:.]\d)", 0.45),
        Pattern("date (quarter)", r"\bq[1-4]\s?" + _YEAR + r"\b", 0.5),
        Pattern("holiday", r"\b(?-i:Christmas (?:Eve|Day)|New Year['’]?s (?:Eve|Day)|Boxing Day"
                r"|Easter (?:Sunday|Monday)|Good Friday|Thanksgiving|Halloween)\b", 0.45),
        Pattern("time", r"(?<![\w:.])" + _TIME, 0.55),
        Pattern("time (hour am/pm)", r"\b(?:1[0-2]|0?[1-9])\s?" + _AMPM, 0.5),
        Pattern("time (dotted am/pm)",
                r"(?<![\w.,])(?:1[0-2]|0?[1-9])\.[0-5]\d\s?" + _AMPM, 0.5),  # "8.15 pm"
        Pattern("time (word)", r"\b(?:midnight|noon|midday)\b"
                r"(?<=\b(?:at|until|till|by|before|after|around|from)\s{1,3}\w+)", 0.4),
        Pattern("weekday", r"\b" + _WEEKDAY_FULL + r"s?\b" + _NOT_HOURS_AFTER + _NOT_HOURS_BEFORE,
                0.45),
        Pattern("weekday (with date or time)",
                r"\b" + _WEEKDAY + r"(?:" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"\b|" + _MONTH
                + r"\.?\s+" + _DAY + r"\b|\d{1,2}[/.\-]\d{1,2}(?:[/.\-]\d{2,4})?" + _END + r"|"
                + _TIME + r"|(?:1[0-2]|0?[1-9])\s?" + _AMPM + r")", 0.55),
        Pattern("year (after a cue)", _YEAR + r"(?<=\b" + _YEAR_CUE + r"\.?:?\s{1,3}\d{4})"
                + _YEAR_END + _NOT_STREET + _NOT_QUANTITY, 0.5),
        Pattern("year (in parentheses)", r"(?<=\()" + _YEAR + _NOT_LAW + r"(?=\))", 0.45),
        # 0.5 like a cued year, so "from 2017 to 2021" is one span, not "2017" alone.
        Pattern("year range", r"(?<![\w.,\-/#$€£+:])" + _YEAR + _NOT_LAW
                + r"(?:\s?[\-–—/]\s?(?:" + _YEAR + r"|\d{2}|present|now|date|today)"
                r"|\s+(?:to|until|till|through|and)\s+" + _YEAR + r")" + _YEAR_END + _NOT_STREET,
                0.5),
        Pattern("month (after a cue)", r"\b" + _MONTH_NAME + r"\b(?<=" + _MONTH_CUE
                + r"(?:\s{1,3}|-)\w+)(?![ \t]+(?-i:[A-Z][a-z]))", 0.4),  # not "from June Smith"
    ]
    NEEDS_DIGIT = False
    CONTEXT = ["date", "born", "birth", "dob", "on", "at", "time", "when", "since", "until", "due"]

    def refine_results(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        for r in results:
            if r.analysis_explanation.pattern_name in _GATED:
                r.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results

    def invalidate_result(self, pattern_text: str) -> bool | None:
        r = _RANGE.fullmatch(pattern_text)
        if r:  # a year range runs forwards: "2019-2021", "2019/20", "2019-present"
            first, tail = int(r.group(1)), r.group(2)
            if tail.isalpha():
                return False
            last = int(tail)
            if len(tail) == 2:
                last += first // 100 * 100 + (100 if last <= first % 100 else 0)
                return not 0 < last - first <= 10
            return not 0 < last - first <= 100
        m = _NUMERIC.fullmatch(pattern_text.split()[0]) if pattern_text[:1].isdigit() else None
        if not m:
            return None
        a, b, c = (int(x) for x in m.groups())
        if len(m.group(1)) == 4:  # year first: Y-M-D
            return not (1 <= b <= 12 and 1 <= c <= 31)
        # D/M/Y or M/D/Y: one of the first two must be a month, both plausible days.
        return not ((1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31))
