"""US passport numbers: nine digits, or a letter and eight digits (next-generation books).

The shape is shared with countless ids, so a match counts only next to a context word.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer


class UsPassportRecognizer(AppliancePatternRecognizer):
    ENTITY = "US_PASSPORT"
    PATTERNS = [
        Pattern("passport (digits)", r"(?<![\w.\-])\d{9}(?![\w]|[.\-]\d)", 0.1),
        Pattern("passport (next generation)", r"\b[a-z]\d{8}\b", 0.15),
    ]
    CONTEXT = ["passport", "passports", "passport#", "travel", "document", "ppt"]
