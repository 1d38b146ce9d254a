"""URLs: with a scheme, starting with ``www.``, or a bare domain under a common suffix with a path.

Trailing punctuation is not part of a URL ("see x.com/a." ends the sentence). A domain inside an
e-mail address is left to the e-mail recognizer: the analyzer keeps the longer, surer span.
"""

from __future__ import annotations

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
    ]
    NEEDS_DIGIT = False
    CONTEXT = ["url", "link", "website", "site", "web", "visit", "http", "https", "page"]
