"""A rule layer after the NER model: the words that make a span an organisation.

The model reads an uncased, accent-stripped text and sometimes calls "Sopron City Council" a
place or "Sørensen AS" a person. A legal form (GmbH, SRL, Kft., AS, ...) or an institutional head
noun (Council, School, Bank, ...) settles it, in any language the appliance meets: such a span
becomes ORGANIZATION, and a legal form right after a span is pulled into it. Streets are safe:
"Bank Street" ends in "Street", and only a cue in head position (last word; first word for the
Romance "Grupo X" forms) counts.
"""

from __future__ import annotations

import re

from appliance.redaction.ner_model import NerSpan

LEGAL_FORMS = (
    "ltd", "limited", "llc", "llp", "inc", "incorporated", "corp", "corporation", "co", "plc",
    "pty", "gmbh", "ag", "kg", "ohg", "gbr", "gesbr", "og", "ev", "se", "sa", "sas", "sarl", "srl",
    "spa", "sl", "slu", "bv", "nv", "vof", "cv", "ab", "as", "asa", "aps", "oy", "oyj", "kft",
    "zrt",
    "nyrt", "bt", "kkt", "doo", "dd", "jdoo", "sro", "vos", "ks", "spzoo", "sp", "sc", "ad", "ood",
    "tbk", "sac", "sae", "ltda", "eireli", "lda", "kk", "bhd", "sdn", "ps", "hnos", "scoop",
    "holdings", "group", "partners", "associates", "sons", "sønner", "cie", "figli",
)
HEAD_NOUNS = (
    "council", "school", "university", "college", "academy", "hospital", "clinic", "bank",
    "hotel", "hotels", "airlines", "airways", "institute", "foundation", "association", "agency",
    "authority", "ministry", "department", "museum", "library", "society", "committee", "church",
    "club", "company", "consulting", "solutions", "systems", "technologies", "industries",
    "insurance", "pharma", "logistics", "laboratories", "labs", "studios", "media", "trust",
    "builders", "freight", "telecom", "travel", "advisors", "legal", "dental", "partnership",
)
LEADING_NOUNS = ("grupo", "industrias", "despacho", "proyectos", "corporación", "banco", "hotel",
                 "universidad", "universidade", "université", "universität", "hospital", "clínica",
                 "fundación", "instituto", "compañía", "comercializadora", "laboratorios")
_TOKEN = re.compile(r"[^\W_]+(?:[.&/][^\W_]+)*\.?", re.UNICODE)
_TRAILING_FORM = re.compile(r"^,?\s+((?:[^\W\d_]{1,6}\.?){1,3}(?:\s[a-z]\.?\s?o\.o\.)?)")


def _norm(word: str) -> str:
    return re.sub(r"[.\-/&]", "", word.lower())


def is_org_span(text: str) -> bool:
    words = [_norm(w) for w in _TOKEN.findall(text)]
    if not words:
        return False
    if words[-1] in LEGAL_FORMS or words[-1] in HEAD_NOUNS or words[0] in LEADING_NOUNS:
        return True
    # "og Sønner", "e Filhos", "y Asociados": a conjunction and a family/partner word at the end.
    return len(words) >= 2 and words[-2] in ("og", "e", "y", "and", "&", "und", "et") and \
        words[-1] in ("sønner", "sons", "filhos", "hijos", "söhne", "fils", "asociados", "partners")


def apply_org_cues(text: str, spans: list[NerSpan]) -> list[NerSpan]:
    out = []
    for span in spans:
        end = span.end
        tail = _TRAILING_FORM.match(text[end : end + 24])
        if tail and _norm(tail.group(1).split()[0]) in LEGAL_FORMS:
            end += tail.end()
        kind = "ORGANIZATION" if is_org_span(text[span.start : end]) else span.entity_type
        out.append(NerSpan(span.start, end if kind == "ORGANIZATION" else span.end, kind,
                           span.score))
    return out
