"""IBANs (ISO 13616): country code, two check digits and the BBAN, with or without spaces.

The regex is generous; the check decides. An IBAN has a fixed length per country, so the match is
cut to that length (a word after the IBAN is not swallowed), then the ISO 7064 mod-97 check must
give 1. Unknown country codes fall back to the longest prefix that passes the check.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, RecognizerResult

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
    "AE": 23, "BR": 29, "IL": 23, "SA": 24, "UA": 29, "KZ": 20, "QA": 29, "GE": 22, "RS": 22,
}


def iban_valid(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


class IbanRecognizer(AppliancePatternRecognizer):
    ENTITY = "IBAN_CODE"
    PATTERNS = [Pattern("iban", r"\b[a-z]{2}\d{2}(?:[ \-]?[a-z0-9]){11,30}\b", 1.0)]
    CONTEXT = ["iban", "bank", "account", "transfer", "wire", "beneficiary", "swift", "bic"]

    def refine_results(self, text: str, raw: list[RecognizerResult]) -> list[RecognizerResult]:
        results = []
        for r in raw:
            cut = self._valid_prefix(text[r.start : r.end])
            if cut:
                r.end = r.start + cut
                results.append(r)
        return results

    @staticmethod
    def _valid_prefix(candidate: str) -> int:
        """Length (in characters of ``candidate``) of the IBAN at its start, or 0."""
        ends: list[tuple[int, int]] = []  # (alnum count, char end)
        count = 0
        for i, ch in enumerate(candidate):
            if ch.isalnum():
                count += 1
                ends.append((count, i + 1))
        compact = "".join(ch for ch in candidate if ch.isalnum()).upper()
        expected = IBAN_LENGTHS.get(compact[:2])
        # The country's length first; then any length, longest first: a checksum that passes at
        # an unusual length is still far more likely an IBAN than chance (1 in 97).
        lengths = ([expected] if expected else []) + list(range(min(34, len(compact)), 14, -1))
        for n in lengths:
            if n <= len(compact) and iban_valid(compact[:n]):
                return ends[n - 1][1]
        return 0
