"""US Individual Taxpayer Identification Numbers: 9XX-XX-XXXX with the IRS's middle-digit ranges."""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

# Middle digits 50-65, 70-88, 90-92 and 94-99 are the ranges the IRS assigns.
_END = r"(?![\w]|[.\-]\d)"
_MIDDLE = r"(?:5\d|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])"


class UsItinRecognizer(AppliancePatternRecognizer):
    ENTITY = "US_ITIN"
    PATTERNS = [
        Pattern("itin (delimited)",
                r"(?<![\w.\-])9\d{2}([ .\-])" + _MIDDLE + r"\1\d{4}" + _END, 0.6),
        Pattern("itin (digits only)", r"(?<![\w.\-])9\d{2}" + _MIDDLE + r"\d{4}" + _END, 0.3),
    ]
    CONTEXT = ["itin", "taxpayer", "tax", "identification", "tin", "irs"]
