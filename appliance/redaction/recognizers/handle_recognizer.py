"""User names and social handles: "@kwame_builds", "my username is bokonkwo".

A handle names one person as surely as a name does, and no name tagger reads "kwame_builds" as
one. Two shapes count: an ``@`` handle that is not part of an e-mail address (no word character
before the ``@``), and the token after a user-name label ("username is", "user id:", "handle =",
"screen name", "gamertag"). Both are reported as PERSON, the type a reviewer reads them as.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

_LABEL = (r"user[ \-]?name|user[ \-]?id|screen[ \-]name|handle|nick(?:name)?|gamertag|"
          r"account[ \-]name")


class HandleRecognizer(AppliancePatternRecognizer):
    ENTITY = "PERSON"
    PATTERNS = [
        Pattern("handle (@)", r"(?<![\w@.])@[a-z0-9_](?:[a-z0-9_.]{0,28}[a-z0-9_])?(?![\w@])",
                0.5),
        Pattern("handle (after a user-name label)",
                rf"(?<=\b(?:{_LABEL})[ \t]*(?:is|was|:|=|-)?[ \t]*)"
                r"[a-z0-9_](?:[a-z0-9_.\-]{1,30}[a-z0-9_])(?![\w@])", 0.5),
    ]
    NEEDS_DIGIT = False
    CONTEXT = []  # type: ignore[var-annotated]  # the label is the context, in the pattern
