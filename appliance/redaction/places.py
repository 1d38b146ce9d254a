"""Known place names, for the one type question the NER model gets wrong most: ORG or place?

The bundled encoder has read few towns: "stuck at Beira", "from Recife", "Skipton and Harrogate"
come out as organisations. ``places.txt`` (built by ``tools/build_places.py`` from GeoNames and
ISO 3166; no look-up at run time) holds the folded names of every city of 15,000+ inhabitants,
every country and every first-level subdivision. ``relabel_places`` turns an ORGANIZATION span
whose every comma-separated part is such a name into LOCATION, unless an organisation cue (a legal
form, a head noun: ``org_cues``) says otherwise. People are never relabelled: "Florence",
"Victoria" and "Jackson" are towns too, and a name typed PERSON is the safer placeholder.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

from appliance.redaction.ner_model import NerSpan
from appliance.redaction.org_cues import is_org_span

PLACES_FILE = Path(__file__).resolve().parent / "places.txt"
_PREFIX = re.compile(r"^(?:co\.?|county)\s+")  # "Clifden, Co. Galway"


def fold(name: str) -> str:
    """Lower case, accents removed, runs of spaces made one: the key places.txt is written in."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


@cache
def place_names() -> frozenset[str]:
    with open(PLACES_FILE, encoding="utf-8") as src:
        return frozenset(line.rstrip("\n") for line in src if line.strip() and line[0] != "#")


def is_place(text: str) -> bool:
    """Whether every comma-separated part of ``text`` is a known place ("Lisbon, Portugal")."""
    parts = [_PREFIX.sub("", fold(part)) for part in text.split(",")]
    known = place_names()
    return all(part and part in known for part in parts)


def relabel_places(text: str, spans: list[NerSpan]) -> list[NerSpan]:
    out = []
    for i, span in enumerate(spans):
        words = text[span.start : span.end]
        if (span.entity_type == "ORGANIZATION" and is_place(words) and not is_org_span(words)
                and not _touches(text, span, spans[i - 1] if i else None)
                and not _touches(text, span, spans[i + 1] if i + 1 < len(spans) else None)):
            span = NerSpan(span.start, span.end, "LOCATION", span.score)
        out.append(span)
    return out


def _touches(text: str, span: NerSpan, other: NerSpan | None) -> bool:
    """A neighbour one space away: the model split one name ("Savannah" | "Ventures")."""
    if other is None:
        return False
    gap = text[span.end : other.start] if other.start >= span.end else text[other.end : span.start]
    return gap in ("", " ")
