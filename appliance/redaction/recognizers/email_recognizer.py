"""E-mail addresses, including the "name [at] host [dot] com" spelling used to dodge filters."""

from __future__ import annotations

import re

import tldextract
from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

_AT = r"\s*[\[\(\{<]\s*at\s*[\]\)\}>]\s*"
_DOT = r"\s*[\[\(\{<]\s*dot\s*[\]\)\}>]\s*"
_DEOBFUSCATE = [(re.compile(_AT, re.I), "@"), (re.compile(_DOT, re.I), ".")]


class EmailRecognizer(AppliancePatternRecognizer):
    ENTITY = "EMAIL_ADDRESS"
    PATTERNS = [
        Pattern("email", r"\b[a-z0-9][a-z0-9._%+\-']*@(?:[a-z0-9\-]+\.)+[a-z]{2,24}\b", 0.5),
        # The [at]/[dot] spelling is deliberate obfuscation: as sure as the plain form once valid.
        Pattern("email (obfuscated)",
                r"\b[a-z0-9][a-z0-9._%+\-]*" + _AT
                + r"[a-z0-9\-]+(?:(?:" + _DOT + r"|\.)[a-z0-9\-]+)+\b",
                0.5),
    ]
    NEEDS_DIGIT = False
    CONTEXT = ["email", "e-mail", "mail", "contact", "address", "write"]

    def validate_result(self, pattern_text: str) -> bool | None:
        # The host must end in a real public suffix (tldextract's bundled snapshot, read offline):
        # this is what keeps "file.name@version.x" out.
        text = pattern_text
        for regex, repl in _DEOBFUSCATE:
            text = regex.sub(repl, text)
        host = text.rpartition("@")[2]
        return bool(tldextract.extract(host).suffix)
