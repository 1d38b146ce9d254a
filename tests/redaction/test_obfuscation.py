"""Obfuscation must not get PII past the analyzer, and spans must index the ORIGINAL text."""

from __future__ import annotations

import pytest

from appliance.redaction.normalize import normalize
from tests.redaction.conftest import found

ZW = "\u200b"
OBFUSCATED = [
    # (text, original substring that must be reported, entity type)
    (f"mail j{ZW}ohn@exa{ZW}mple.com now", f"j{ZW}ohn@exa{ZW}mple.com", "EMAIL_ADDRESS"),
    ("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "EMAIL_ADDRESS"),
    ("card ４１１１ １１１１ １１１１ １１１１", "４１１１ １１１１ １１１１ １１１１",
     "CREDIT_CARD"),
    ("card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ok", "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "CREDIT_CARD"),
    ("card 4111-1111 1111.1111", "4111-1111 1111.1111", "CREDIT_CARD"),
    (f"card 4111{ZW}1111{ZW}1111{ZW}1111", f"4111{ZW}1111{ZW}1111{ZW}1111", "CREDIT_CARD"),
    ("SSN 1 2 3 - 4 5 - 6 7 8 9", "1 2 3 - 4 5 - 6 7 8 9", "US_SSN"),
    ("SSN 123 - 45 - 6789", "123 - 45 - 6789", "US_SSN"),
    ("SSN ١٢٣-٤٥-٦٧٨٩", "١٢٣-٤٥-٦٧٨٩", "US_SSN"),
    ("SSN १२३-४५-६७८९", "१२३-४५-६७८९", "US_SSN"),
    ("ssn 123.45.6789", "123.45.6789", "US_SSN"),
    ("iban gb82 west 1234 5698 7654 32", "gb82 west 1234 5698 7654 32", "IBAN_CODE"),
    (f"IBAN GB82{ZW}WEST12345698765432", f"GB82{ZW}WEST12345698765432", "IBAN_CODE"),
    ("Mail: JoHn.SmItH@ExAmPlE.CoM", "JoHn.SmItH@ExAmPlE.CoM", "EMAIL_ADDRESS"),
    ("write to ann (at) mail (dot) org", "ann (at) mail (dot) org", "EMAIL_ADDRESS"),
    ("ip １９２．１６８．１．１０", "１９２．１６８．１．１０", "IP_ADDRESS"),
    ("call ０２０ ７９４６ ０９５８", "０２０ ７９４６ ０９５８", "PHONE_NUMBER"),
    (f"NHS 943{ZW} 476 5919", f"943{ZW} 476 5919", "UK_NHS"),
]


@pytest.mark.parametrize(("text", "value", "entity"), OBFUSCATED,
                         ids=[o[0][:28] for o in OBFUSCATED])
def test_obfuscated_pii_is_found_at_original_offsets(pattern_analyzer, text, value, entity):  # type: ignore[no-untyped-def]
    assert (value, entity) in found(pattern_analyzer, text)


def test_lowercase_name_in_cased_text_is_still_found(full_analyzer):  # type: ignore[no-untyped-def]
    text = "Hi team, please call john smith about the invoice from Acme Ltd."
    assert ("john smith", "PERSON") in found(full_analyzer, text)


def test_shadow_offsets_map_back_exactly() -> None:
    text = f"a{ZW}b ４２ ｘ ﬁ 1 2 3"
    shadow = normalize(text)
    assert shadow.text == "ab 42 x fi 123"
    assert shadow.to_original(0, 2) == (0, 3)           # "a\u200bb"
    assert text[slice(*shadow.to_original(3, 5))] == "４２"
    assert text[slice(*shadow.to_original(8, 10))] == "ﬁ"  # one original char, two shadow chars
    assert text[slice(*shadow.to_original(11, 14))] == "1 2 3"


def test_plain_ascii_takes_the_fast_path() -> None:
    shadow = normalize("John paid 12.50 on 2021-03-12")
    assert shadow.starts is None and shadow.text == shadow.original


def test_grouped_numbers_are_not_joined() -> None:
    text = "call 555 1234 or +44 20 7946 0958"
    assert normalize(text).text == text
