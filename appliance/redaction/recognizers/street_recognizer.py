"""Street names and UK postcodes: the parts of an address a name tagger misses on its own.

The NER model finds most addresses, but a street named without a house number ("the ramen place on
Dean Street", "Parking on Via Roma") or a bare postcode ("billing postcode SE15 4QR") reads to it
like any capitalised phrase. Street names are matched by their type word, in the three shapes
European addresses use: a suffix word after one to three capitalised words ("Seven Sisters Road",
"Cowley Rd"), a leading word before them ("Via Roma", "Rue de la Paix", "Calle Mayor"), or a
compound ending ("Hauptstraße", "Keizersgracht", "Storgatan"). The capitals are matched case-
sensitively (``(?-i:...)``: Presidio compiles patterns case-insensitive), so "down the road" and
"on main street" in lower case are not matched by this recognizer; the model still reads them.
Type words that also head names of other things are left out: Court (a court is an organisation),
Hill (a surname), Drive ("Google Drive"), Way, Place, Square, Row; "St" counts only after a house
number ("12 Dean St"), as it is also Saint ("John St. Clair").
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

_CAP = r"\p{Lu}[\p{Ll}\p{Lu}'’\-]*\p{Ll}[\p{Ll}'’\-]*"  # "Dean", "O'Connell", "McAllister"
_NOT_FIRST = r"(?!(?:The|A|An|On|In|At|To|From|Near|Off|Via|By|Our|My|Your|This|That)\s)"
_SUFFIX = (r"Street|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Boulevard|Blvd\.?|Crescent|Terrace|"
           r"Gardens|Grove|Parkway|Highway")
_LEADING = r"Via|Viale|Rue|Calle|Avenida|Rua|Piazza|Plaza|Praça|Largo|Carrer|Ulica|Strada"
_PARTICLE = r"(?:(?:de|del|della|di|da|do|dos|das|des|du|la|le|les|el|dei|degli)\s+)"
_COMPOUND = (r"straße|strasse|gasse|allee|platz|laan|straat|gracht|plein|vej|gade|gatan|vägen|"
             r"veien|gata|weg")


class StreetRecognizer(AppliancePatternRecognizer):
    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern("street (type word after)",
                rf"(?-i:(?<![\w'’])(?:\d{{1,5}}[A-Za-z]?,?\s+)?{_NOT_FIRST}(?:{_CAP}\s+){{1,3}}"
                rf"(?:{_SUFFIX})(?![\w'’]))", 0.6),
        # "St" is also Saint ("John St. Clair"): only after a house number.
        Pattern("street (number, St)",
                rf"(?-i:(?<![\w'’])\d{{1,5}}[A-Za-z]?,?\s+(?:{_CAP}\s+){{1,3}}St\.?(?![\w'’]))",
                0.6),
        Pattern("street (type word before)",
                rf"(?-i:(?<![\w'’])(?:{_LEADING})\s+{_PARTICLE}*{_CAP}(?:\s+{_CAP})?(?![\w'’]))",
                0.5),
        Pattern("street (compound)", rf"(?-i:(?<![\w'’])\p{{Lu}}\p{{Ll}}{{2,}}(?:{_COMPOUND})"
                                     rf"(?:\s+\d{{1,5}}[a-z]?)?(?![\w'’]))", 0.5),
        Pattern("uk postcode",
                r"(?-i:(?<![\w'’])[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}(?![\w'’]))",
                0.5),
    ]
    NEEDS_DIGIT = False
    CONTEXT = ["address", "street", "postcode", "post code", "postal", "billing", "lives"]
