"""Each pattern recognizer: a table of (text, expected spans), with more must-not-match rows.

Run through the analyzer with NER off, so context words, thresholds and overlap resolution are
the ones production uses. ``expected`` lists (substring, entity type); an empty list means the
text must produce no span of the recognizer's entity type.
"""

from __future__ import annotations

import pytest

from tests.redaction.conftest import found

CASES: dict[str, list[tuple[str, list[str]]]] = {
    "EMAIL_ADDRESS": [
        ("write to jane.doe+tag@example.co.uk today", ["jane.doe+tag@example.co.uk"]),
        ("JOHN.SMITH@EXAMPLE.COM", ["JOHN.SMITH@EXAMPLE.COM"]),
        ("mail: ann [at] mail [dot] org", ["ann [at] mail [dot] org"]),
        ("the file is config@version.invalidtld", []),
        ("meet @ 5 at the bar", []),
        ("user@localhost", []),
        ("price 3@4 each", []),
    ],
    "PHONE_NUMBER": [
        ("call +44 20 7946 0958 now", ["+44 20 7946 0958"]),
        ("office (555) 123-4567", ["(555) 123-4567"]),
        ("ring +49(0)1777 63170", ["+49(0)1777 63170"]),
        ("+33 (0)3 87 17 77 63", ["+33 (0)3 87 17 77 63"]),
        ("mobile 2854124", ["2854124"]),
        ("tel: +4915123456789", ["+4915123456789"]),
        ("order 12345678 shipped", []),
        ("on 2021-03-12 we met", []),
        ("server 10.0.0.1", []),
        ("postcode 3740-336 Ponte de Sor", []),
        ("version 1.2.3", []),
        ("the year 2021", []),
        ("total 1234567.89 EUR", []),
    ],
    "CREDIT_CARD": [
        ("card 4111 1111 1111 1111", ["4111 1111 1111 1111"]),
        ("amex 3782-822463-10005", ["3782-822463-10005"]),
        ("mixed 5555.5555-5555 4444", ["5555.5555-5555 4444"]),
        ("bad luhn 4111 1111 1111 1112", []),
        ("order 1234 5678 9012 3456", []),
        ("account 2585904334826 here", []),
        ("tracking 1Z999AA10123456784", []),
    ],
    "IBAN_CODE": [
        ("IBAN GB82 WEST 1234 5698 7654 32 by Friday", ["GB82 WEST 1234 5698 7654 32"]),
        ("pay DE89370400440532013000.", ["DE89370400440532013000"]),
        ("lower gb82west12345698765432", ["gb82west12345698765432"]),
        ("checksum off GB83 WEST 1234 5698 7654 32", []),
        ("code AB12 CDEF GHIJ KLMN", []),
        ("DE12", []),
    ],
    "US_SSN": [
        ("SSN 123-45-6789", ["123-45-6789"]),
        ("social security 123 45 6789", ["123 45 6789"]),
        ("ssn: 123456789", ["123456789"]),
        ("number 666-12-3456", []),
        ("000-12-3456", []),
        ("123-00-4567", []),
        ("id 123456789 on file", []),
        ("passport 123456789", []),
    ],
    "US_ITIN": [
        ("ITIN 912-70-1234", ["912-70-1234"]),
        ("tax id 9127 01234", []),
        ("912-40-1234", []),
        ("phone 912-555-1234", []),
    ],
    "US_PASSPORT": [
        ("passport 123456789", ["123456789"]),
        ("US passport number A12345678", ["A12345678"]),
        ("order 123456789", []),
        ("ref A12345678 shipped", []),
    ],
    "US_DRIVER_LICENSE": [
        ("driver's license D1234567", ["D1234567"]),
        ("driving licence 818774752", ["818774752"]),
        ("DL# A123456789012", ["A123456789012"]),
        ("code D1234567 unused", []),
        ("part 818774752 arrived", []),
    ],
    "UK_NHS": [
        ("NHS number 943 476 5919", ["943 476 5919"]),
        ("nhs 9434765919", ["9434765919"]),
        ("NHS number 943 476 5918", []),
        ("call 943 476 5919", []),
        ("id 9434765919", []),
    ],
    "IP_ADDRESS": [
        ("from 192.168.1.10 at noon", ["192.168.1.10"]),
        ("v6 2001:db8::1 and fe80::1ff:fe23:4567:890a",
         ["2001:db8::1", "fe80::1ff:fe23:4567:890a"]),
        ("net 10.0.0.0/8", ["10.0.0.0/8"]),
        ("999.1.1.1", []),
        ("version 1.2.3", []),
        ("at 10:30:15", []),
        ("ratio 1:2", []),
    ],
    "URL": [
        ("see https://example.com/a?b=1.", ["https://example.com/a?b=1"]),
        ("www.example.org/path", ["www.example.org/path"]),
        ("visit example.com/docs today", ["example.com/docs"]),
        ("mail jane@example.com", []),
        ("file report.pdf", []),
        ("e.g. this", []),
    ],
    "CRYPTO": [
        ("btc 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"]),
        ("send to bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
         ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"]),
        ("eth 0x52908400098527886E0F7030069857D2E4169EE7",
         ["0x52908400098527886E0F7030069857D2E4169EE7"]),
        ("btc 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", []),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", []),
        ("hash 0x1234", []),
    ],
    "DATE_TIME": [
        ("born 12/03/1985", ["12/03/1985"]),
        ("on 2021-03-12T10:30", ["2021-03-12T10:30"]),
        ("March 3, 2021", ["March 3, 2021"]),
        ("Friday, 03 March 2021", ["Friday, 03 March 2021"]),
        ("at 10:41 pm", ["10:41 pm"]),
        ("03-Jun-1967", ["03-Jun-1967"]),
        ("13/13/2020", []),
        ("score 3/4", []),
        ("room 12.5", []),
        ("I may go", []),
    ],
    "BANK_ACCOUNT": [
        ("Account number: 12345678901", ["12345678901"]),
        ("my acct is 00123456", ["00123456"]),
        ("order 12345678901", []),
        ("account 1234", []),
        ("id 00123456", []),
    ],
}

ROWS = [(entity, text, expected) for entity, rows in CASES.items() for text, expected in rows]


@pytest.mark.parametrize(("entity", "text", "expected"), ROWS,
                         ids=[f"{e}:{t[:30]}" for e, t, _ in ROWS])
def test_recognizer_table(pattern_analyzer, entity: str, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    got = {value for value, kind in found(pattern_analyzer, text) if kind == entity}
    assert got == set(expected)


def test_more_must_not_match_rows_than_matches() -> None:
    for rows in CASES.values():
        negatives = sum(1 for _, expected in rows if not expected)
        assert negatives >= 2


def test_fast_path_matches_presidio_analyze() -> None:
    from appliance.redaction.registry import load_recognizer_set
    from appliance.redaction.synthetic import generate

    texts = [r["text"] for r in generate(60, 5, "heldout")] + [t for _, t, _ in ROWS]
    for rec in load_recognizer_set().recognizers:
        for text in texts:
            slow = [(r.start, r.end, r.score) for r in rec.analyze(text, rec.supported_entities)]
            fast = [(r.start, r.end, r.score) for r in rec.analyze_fast(text)]
            assert sorted(fast) == sorted(slow), (type(rec).__name__, text)
