"""Organisations named in a form field: "Bank: DNB", "Courier: InPost", "Employer = Acme".

A one-word brand means nothing to a name tagger that has never read it: "DNB", "InPost" or
"Makro" are as likely a person or a town. A form says which it is in its label. The value of a
field whose label names an organisation's role (bank, employer, insurer, courier, merchant,
supplier, ...) is an ORGANIZATION: from the first capital after the ``:`` or ``=`` to the end of
the line or the next comma, semicolon, pipe or tab, at most six words, each capitalised or a
joining word ("Bank of Ireland", "Marks & Spencer"), and a legal form after them ("plc"). The
label must start its line or cell; a value that starts with a digit or a lower-case word ("Bank:
see attached") is not matched.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

LABELS = (
    "company", "company name", "employer", "current employer", "organisation", "organization",
    "bank", "bank name", "insurer", "insurance company", "insurance provider", "courier",
    "carrier", "shipping carrier", "merchant", "vendor", "supplier", "retailer", "store", "shop",
    "purchased from", "bought from", "seller", "provider", "service provider", "lender",
    "creditor", "firm", "law firm", "agency", "airline", "operator", "manufacturer", "broker",
    "registrar", "payment provider", "card issuer", "issuer", "utility", "landlord company",
)
_LABEL = "|".join(sorted((label.replace(" ", r"[ \t]+") for label in LABELS), key=len,
                         reverse=True))
_WORD = r"\p{Lu}[\p{L}\d&'’.\-]*"
_JOIN = r"(?:&|and|of|de|du|der|des|del|la|le|und|y|e|et|van|von|für)"
_FORM = r"(?:plc|ltd|llc|llp|inc|gmbh|ag|kg|sa|sas|srl|spa|bv|nv|ab|as|asa|oy|sl)\.?"
_VALUE = rf"(?-i:{_WORD}(?:[ ](?:{_JOIN}[ ])*{_WORD}){{0,5}}(?:,?[ ]{_FORM})?)"
_END = r"(?=[ \t]*(?:$|[,;|\t]|[ ]{2,}|[ ]\())"


class OrganizationFieldRecognizer(AppliancePatternRecognizer):
    ENTITY = "ORGANIZATION"
    PATTERNS = [
        Pattern("organisation field",
                rf"(?<=(?:^|[|\t]|[ ]{{2,}})[ \t]*(?:{_LABEL})[ \t]*[:=][ \t]*){_VALUE}{_END}",
                0.6),
    ]
    NEEDS_DIGIT = False
    CONTEXT = []  # type: ignore[var-annotated]  # the label is the context, in the pattern
