"""US driver licence numbers. States use dozens of shapes (one letter and 4 to 14 digits, 7 to 12
digits, a letter and dashed digit groups as in D412-8830-1927, ...); none is distinctive, so every
match needs a context word nearby."""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer


class UsDriverLicenseRecognizer(AppliancePatternRecognizer):
    ENTITY = "US_DRIVER_LICENSE"
    PATTERNS = [
        Pattern("licence (letter and digits)", r"\b[a-z]{1,2}\d{4,14}\b", 0.12),
        Pattern("licence (digits)", r"(?<![\w.\-])\d{7,12}(?![\w]|[.\-]\d)", 0.1),
        Pattern("licence (digits and letters)", r"\b\d{2,3}[a-z]{2,3}\d{4,6}\b", 0.12),
        # Florida, Illinois, Maryland, ... print the letter and digits in dashed groups.
        Pattern("licence (letter, dashed groups)", r"\b[a-z]\d{2,4}(?:[\- ]\d{2,4}){2,4}\b", 0.12),
    ]
    CONTEXT = ["driver", "drivers", "driving", "license", "licence", "licenses", "dl", "dl#",
               "lic", "lic#", "permit", "dmv"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # Letters alone at the start of a long all-caps word ("ID12345678") are fine; a lone
        # year-like number is not.
        return pattern_text.isdigit() and len(pattern_text) == 4
