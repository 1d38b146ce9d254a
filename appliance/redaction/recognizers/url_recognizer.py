"""URLs: with a scheme, starting with ``www.``, a bare domain under a common suffix (with or
without a path), or a host with a subdomain under any public suffix.

Trailing punctuation is not part of a URL ("see x.com/a." ends the sentence). A domain inside an
e-mail address is left to the e-mail recognizer: the analyzer keeps the longer, surer span.
"""

from __future__ import annotations

import tldextract
from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

_TAIL = r"(?:[^\s<>\"'()\[\]{}]*[^\s<>\"'()\[\]{}.,;:!?])?"
_TLDS = (r"(?:com|org|net|io|gov|edu|info|biz|co|uk|de|fr|es|it|nl|eu|au|ca|ch|at|be|ie|nz|us"
         r"|app|dev)")


class UrlRecognizer(AppliancePatternRecognizer):
    ENTITY = "URL"
    PATTERNS = [
        Pattern("url (scheme)", r"\b(?:https?|ftp|sftp)://" + _TAIL, 0.6),
        Pattern("url (www)",
                r"\bwww\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)+(?:[/?#]" + _TAIL + r")?", 0.55),
        Pattern("url (bare domain)",
                r"(?<![@\w.\-])(?:[a-z0-9\-]+\.)+" + _TLDS + r"\b(?:[/?#]" + _TAIL
                + r")?(?![@\w\-])", 0.4),
        # Any other public suffix ("shop.example.tz") only with a subdomain: "setup.py" and
        # "notes.md" are file names under the suffixes of Paraguay and Moldova.
        Pattern("url (host under any suffix)",
                r"(?<![@\w.\-])[a-z0-9\-]+(?:\.[a-z0-9\-]+){1,4}\.[a-z]{2,24}\b(?:[/?#]" + _TAIL
                + r")?(?![@\w\-])", 0.4),
    ]
    NEEDS_DIGIT = False
    CONTEXT = ["url", "link", "website", "site", "web", "visit", "http", "https", "page"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # A host without a scheme or "www." must end in a real public suffix (tldextract's
        # bundled snapshot, read offline): "v1.2.final" and "a.b.c" are not hosts.
        if "://" in pattern_text or pattern_text.lower().startswith("www."):
            return None
        host = tldextract.extract(pattern_text.split("/")[0].split("?")[0].split("#")[0])
        return not host.suffix or not any(ch.isalpha() for ch in host.domain)  # not "v1.2.final"
