"""Context-gated patterns: card numbers that fail their checksum, bare years and weekdays, phone
extensions, street names and postcodes, organisations in form fields, and span boundaries that
stop at the entity.

Run through the analyzer with NER off, like ``test_recognizers.py``. ``expected`` lists the
substrings reported as the row's entity type; an empty list means none may be.
"""

from __future__ import annotations

import pytest

from appliance.redaction.recognizers import CreditCardRecognizer, DateTimeRecognizer
from appliance.redaction.recognizers.base import words_before
from tests.redaction.conftest import found

CASES: dict[str, list[tuple[str, list[str]]]] = {
    "CREDIT_CARD": [
        # Checksum or length wrong, but an explicit card word before it: still a card.
        ("my card number is 4111 1111 1111 1112", ["4111 1111 1111 1112"]),
        ("please block card 1234567890123 today", ["1234567890123"]),
        ("Debit card no. 5555 5555 5555 4445", ["5555 5555 5555 4445"]),
        ("visa: 4000-1234-5678-901", ["4000-1234-5678-901"]),
        ("my Mastercard, the number is 5105 1051 0510 5101", ["5105 1051 0510 5101"]),
        # An expiry date after the number is not more card digits.
        ("card 4111 1111 1111 1111 12/25", ["4111 1111 1111 1111"]),
        ("paid with 4111111111111111, thanks", ["4111111111111111"]),
        # Masked full-length numbers keep their visible digits.
        ("visa 4111 **** **** 1234", ["4111 **** **** 1234"]),
        ("charged to XXXX-XXXX-XXXX-1234", ["XXXX-XXXX-XXXX-1234"]),
        ("411111******1234 was declined", ["411111******1234"]),
        ("4111 11** **** 1234", ["4111 11** **** 1234"]),
        ("**** **** **** 1234", ["**** **** **** 1234"]),  # masked: counts without context
        ("ref xx12345", []),
        ("rated **** by 1234 5678 users", []),
        # Without a card word a failing run is an order, account or tracking number.
        ("order 4111111111111112 shipped", []),
        ("invoice 1234 5678 9012 3456 attached", []),
        ("tracking 123456789012345 for your card", []),  # the card word comes after
        ("Card blocked. Order 4111111111111112 follows", []),  # another sentence
        ("card 12345678901234567890123", []),  # 23 digits: too long for a card
        # A card word further back in the same sentence: still a card (score 0.45).
        ("my card number is 4024 0071 5336 77 (read twice; asked to repeat) then sorry, "
         "4024 0071 5336 7781", ["4024 0071 5336 77", "4024 0071 5336 7781"]),
        ("card 12345678901", []),  # 11 digits: too short
        ("ref +4111111111111112", []),  # a phone number's shape
        ("card ending 1234", []),  # the last four alone identify no card
        ("card ending in 4445", []),
        ("**** 1234", []),
        ("box 1234 5678 9012", []),
        ("payment reference 1234 5678 9012 3456", []),
    ],
    "DATE_TIME": [
        ("in 2019 we moved", ["2019"]),
        ("In 2019, she moved", ["2019"]),
        ("a customer since 1998.", ["1998"]),
        ("born 1975 in Leeds", ["1975"]),
        ("Smith v Jones (2021)", ["2021"]),
        ("worked there 2019-2021", ["2019-2021"]),
        ("the 2019/20 season", ["2019/20"]),
        ("the year 2020", ["2020"]),
        ("c. 1950", ["1950"]),
        ("on Tuesday", ["Tuesday"]),
        ("Tuesday morning", ["Tuesday"]),
        ("last Friday", ["Friday"]),
        ("Mon 12 March", ["Mon 12 March"]),
        ("Sun 10:30", ["Sun 10:30"]),
        ("Wed, 3 Mar", ["Wed, 3 Mar"]),
        ("in March", ["March"]),
        ("by mid-June", ["June"]),
        ("at 5 pm.", ["5 pm"]),
        ("at 5 p.m. sharp", ["5 p.m."]),
        ("from 2017 to 2021.", ["2017 to 2021"]),
        ("Product Manager (2019–present)", ["2019–present"]),
        ("by the end of 2025", ["2025"]),
        ("Issued: 2019", ["2019"]),
        ("open in Q3 2025", ["Q3 2025"]),
        ("at about 8.15 pm", ["8.15 pm"]),
        ("SEOUL, Oct 30 — talks", ["Oct 30"]),
        ("note 22:15: patient calm", ["22:15"]),
        ('[10/Oct/2024:13:55:36 +0000] "GET', ["10/Oct/2024:13:55:36 +0000"]),
        ("closed on Christmas Eve", ["Christmas Eve"]),
        ("between June and October", ["June", "October"]),
        ("every March, June, September", ["March", "June", "September"]),
        ("moving in June\nZainab: ok", ["June"]),
        ("home on Mondays", ["Mondays"]),
        ("the Data Protection Act 2018", []),
        ("the Data Protection Act (2018) says", []),
        ("Regulations 2019-2020", []),
        ("total 2019.00 EUR", []),
        ("in 2019.00 EUR", []),
        ("call 555-2019 now", []),
        ("phone +1 212 555 2019", []),
        ("invoice #2019", []),
        ("id AB2019", []),
        ("lives at 2019 Main Street", []),
        ("moved from 2019 Main Street", []),
        ("in 2000 patients", []),
        ("up 12% in 2019%", []),
        ("from 2021-2019", []),  # a range runs forwards
        ("[2019] EWCA Civ 123", []),
        ("room 2019 on floor 3", []),
        ("the year 1850", []),
        ("Sat down with him", []),
        ("Mon ami", []),
        ("in may cases", []),
        ("I march", []),
        ("in March Smith's office", []),  # a name after the month
        ("the Sunday Times", []),
        ("today and yesterday", []),
        ("Office hours: Monday to Friday, 9 to 5", []),
        ("open Monday-Friday", []),
        ("the Monday Blues", []),
        ("Sunday Roast served", []),
        ("may 5 people come", []),
        ("level Q5 2020", []),
        ("code 2019-12", []),
        ("thanks to April Jones", []),
        ("from June Smith", []),
        ("the Christmas tree", []),
        ("price 8.15 each", []),
        ("born 2150", []),
        ("in 2019-2.1 release", []),
        ("the 2019 Act", []),
        ("version 12.30", []),
        ("pay 1,999 to 2,004", []),
    ],
    "PHONE_NUMBER": [
        ("call (212) 555-0143 ext. 204 today", ["(212) 555-0143 ext. 204"]),
        ("+44 20 7946 0958 x31", ["+44 20 7946 0958 x31"]),
        ("phone 555-0143, extension 3310", ["555-0143, extension 3310"]),
        ("tel 0049 30 1234567 ext 12", ["0049 30 1234567 ext 12"]),
        ("Name: X, phone (212) 555-0143, email", ["(212) 555-0143"]),
        ("(call 555 0143)", ["555 0143"]),
        ("worked there 2019-2021", []),
        ("ext. 204", []),
        ("extension 3310", []),
        ("a 1920x1080 screen", []),
        ("order 12345678 x2 shipped", []),
        ("size 12 x 30", []),
        ("lease extension 2021-2023", []),
        ("sorry, 4024 0071 5336 7781 again", []),  # "0071 5336" is inside a longer run
    ],
    "BANK_ACCOUNT": [
        ("Account: 40817 810 0 9999 0001234", ["40817 810 0 9999 0001234"]),  # 20 digits, Russia
        ("CLABE account 032180000118359719", ["032180000118359719"]),
        ("account 1234567", []),  # 7 digits: too short
        ("account 123456789012345678901", []),  # 21 digits: too long
        ("order 12345678 shipped", []),  # no account word
    ],
    "LOCATION": [  # StreetRecognizer: streets without a house number, UK postcodes
        ("the ramen place on Dean Street tonight", ["Dean Street"]),
        ("parking on Via Roma is hard", ["Via Roma"]),
        ("billing postcode SE15 4QR, thanks", ["SE15 4QR"]),
        ("outside the shop on Seven Sisters Road.", ["Seven Sisters Road"]),
        ("Hauptstraße 5, 10115 Berlin", ["Hauptstraße 5"]),
        ("lives at 4 Baker St. now", ["4 Baker St."]),
        ("Rue de la Paix, Paris", ["Rue de la Paix"]),
        ("EC1A 1BB", ["EC1A 1BB"]),
        ("down the road from here", []),
        ("we met on main street", []),  # lower case: the model's call, not this pattern's
        ("John St. Clair called", []),  # Saint, not Street
        ("St Mary's was full", []),
        ("The Court of Appeal ruled", []),
        ("saved it to Google Drive", []),
        ("a Benny Hill sketch", []),
        ("ticket AB12 3456 closed", []),
        ("order 12 Road bikes", []),
        ("In Road tests it did well", []),
    ],
    "URL": [
        ("updated the A record for shop.kilimanjarocoffee.tz.", ["shop.kilimanjarocoffee.tz"]),
        ("mirror at files.example.com.br today", ["files.example.com.br"]),
        ("run setup.py and read notes.md", []),  # file names under .py and .md
        ("version v1.2.final shipped", []),
        ("node.js and main.rs", []),
        ("see a.b.c for details", []),
    ],
    "PERSON": [  # HandleRecognizer (NER off here, so only handles are PERSON)
        ("DM from @kwame_builds: yo", ["@kwame_builds"]),
        ("My username is bokonkwo. I tried again", ["bokonkwo"]),
        ("user id: jonas.weber", ["jonas.weber"]),
        ("mail me at kwame@example.com", []),  # part of an e-mail address
        ("username: ", []),
        ("the user was locked out", []),
        ("price @ 5 each", []),
        ("handled by the team", []),
    ],
    "US_DRIVER_LICENSE": [
        ("Driver license: D412-8830-1927 (Florida)", ["D412-8830-1927"]),
        ("Driver's licence no.: L521-7730-4418-05", ["L521-7730-4418-05"]),
        ("room B12-3456-7890 is free", []),  # no licence word
        ("licence fee 2024-2025", []),
        ("part A123-4567-8901 shipped", []),
    ],
    "ORGANIZATION": [  # OrganizationFieldRecognizer: the value of an organisation's field
        ("Payee: Ingrid Berg\nBank: DNB\nIBAN: see below", ["DNB"]),
        ("Courier: InPost", ["InPost"]),
        ("Merchant: Uniqlo, Regent Street", ["Uniqlo"]),
        ("Employer = Bank of Ireland", ["Bank of Ireland"]),
        ("Supplier: Marks & Spencer plc (UK)", ["Marks & Spencer plc"]),
        ("Company: Acme Widgets Ltd | Country: UK", ["Acme Widgets Ltd"]),
        ("Bank: see attached", []),
        ("Bank: 20-00-00", []),
        ("Our bank: Chase", []),  # a label starts its line or cell
        ("the store: Tesco", []),
        ("bank holiday: Monday", []),
        ("Name: Ingrid Berg", []),
        ("Company policy: Staff must sign in", []),
    ],
}

ROWS = [(entity, text, expected) for entity, rows in CASES.items() for text, expected in rows]


@pytest.mark.parametrize(("entity", "text", "expected"), ROWS,
                         ids=[f"{e}:{t[:30]}" for e, t, _ in ROWS])
def test_context_table(pattern_analyzer, entity: str, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    got = {value for value, kind in found(pattern_analyzer, text) if kind == entity}
    assert got == set(expected)


def test_more_must_not_match_rows_than_matches() -> None:
    for rows in CASES.values():
        assert sum(1 for _, e in rows if not e) > sum(1 for _, e in rows if e)


def _scores(analyzer, text: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {text[s.start : s.end]: s.score for s in analyzer.analyze(text)}


def test_a_checksum_failure_in_card_context_scores_lower(pattern_analyzer) -> None:  # type: ignore[no-untyped-def]
    assert _scores(pattern_analyzer, "my card number is 4111 1111 1111 1111") == {
        "4111 1111 1111 1111": 1.0}
    # 0.6, not boosted again by the same card word.
    assert _scores(pattern_analyzer, "my card number is 4111 1111 1111 1112") == {
        "4111 1111 1111 1112": pytest.approx(0.6)}
    text = "block card 1234567890123"
    (result,) = CreditCardRecognizer().analyze_fast(text)
    assert result.analysis_explanation.textual_explanation == "card context, checksum failed"


def test_the_card_gate_also_holds_in_presidios_own_engine(pattern_analyzer) -> None:  # type: ignore[no-untyped-def]
    text = "my card number is 4111 1111 1111 1112"
    results = [r for r in pattern_analyzer.engine.analyze(text, language="en")
               if r.entity_type == "CREDIT_CARD"]
    assert [(text[r.start : r.end], r.score) for r in results] == [
        ("4111 1111 1111 1112", pytest.approx(0.6))]
    assert pattern_analyzer.engine.analyze("order 4111111111111112", language="en") == []


def test_a_card_word_beats_a_bank_account_reading(pattern_analyzer) -> None:  # type: ignore[no-untyped-def]
    # "debit" lifts the bank-account pattern to 0.55; the card gate scores 0.6.
    assert ("5555 5555 5555 4445", "CREDIT_CARD") in found(
        pattern_analyzer, "debit card 5555 5555 5555 4445")


def test_cued_years_keep_their_modest_score(pattern_analyzer) -> None:  # type: ignore[no-untyped-def]
    # "since" is both the cue and a DATE_TIME context word: it must not count twice.
    assert _scores(pattern_analyzer, "a customer since 1998") == {"1998": pytest.approx(0.5)}


def test_words_before_stay_in_the_sentence() -> None:
    text = "Card blocked. Order 4111111111111112"
    assert words_before(text, text.index("4111"), 6) == ["order"]
    text = "debit card no. 5555"
    assert words_before(text, text.index("5555"), 2) == ["card", "no"]
    assert words_before("line one card\nnumber 1234", 21, 6) == ["number"]


def test_year_ranges_run_forwards() -> None:
    rec = DateTimeRecognizer()
    assert rec.invalidate_result("2019-2021") is False
    assert rec.invalidate_result("1999-00") is False
    assert rec.invalidate_result("2019-12") is True
    assert rec.invalidate_result("2021-2019") is True
    assert rec.invalidate_result("1900-2099") is True  # two centuries: not one period


def test_fast_path_matches_presidio_analyze_on_context_rows() -> None:
    from appliance.redaction.registry import load_recognizer_set

    for rec in load_recognizer_set().recognizers:
        for _, text, _ in ROWS:
            slow = [(r.start, r.end, r.score) for r in rec.analyze(text, rec.supported_entities)]
            fast = [(r.start, r.end, r.score) for r in rec.analyze_fast(text)]
            assert sorted(fast) == sorted(slow), (type(rec).__name__, text)
