"""Synthetic PII corpus: records with gold character spans, from Faker and seeded randomness.

``generate(n, seed, split)`` yields ``{"text", "spans": [{"start", "end", "label"}]}`` records. The
``train`` split draws on ``TRAIN_POOLS`` and ``TRAIN_LOCALES``; ``heldout`` on the disjoint
``HELDOUT_POOLS`` and ``HELDOUT_LOCALES`` (and its own organisation vocabulary). Run as a module to
write a split: ``python -m appliance.redaction.synthetic --split heldout --n 300 --seed 7 OUT``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from appliance.redaction import synthetic_values as sv
from appliance.redaction.synthetic_templates import (
    DISTRACTORS,
    ENTITY_SLOTS,
    HELDOUT_LOCALES,
    HELDOUT_POOLS,
    NEUTRAL_PREFIXES,
    NEUTRAL_SUFFIXES,
    PII_COMPANIONS,
    TRAIN_LOCALES,
    TRAIN_POOLS,
)

SLOT_LABELS: dict[str, str | None] = {
    "person": "PERSON", "first": "PERSON", "last": "PERSON",
    "city": "LOCATION", "country": "LOCATION", "state": "LOCATION", "street": "LOCATION",
    "address": "LOCATION", "address_ml": "LOCATION",
    "org": "ORGANIZATION",
    "email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "card": "CREDIT_CARD", "iban": "IBAN_CODE",
    "ssn": "US_SSN", "itin": "US_ITIN", "passport": "US_PASSPORT", "dl": "US_DRIVER_LICENSE",
    "nhs": "UK_NHS", "ipv4": "IP_ADDRESS", "ipv6": "IP_ADDRESS", "url": "URL", "btc": "CRYPTO",
    "eth": "CRYPTO", "date": "DATE_TIME", "dob": "DATE_TIME", "time": "DATE_TIME",
    "account": "BANK_ACCOUNT",
    "num": None, "ticket": None, "product": None, "amount": None, "weekday": None, "month": None,
}
_SLOT = re.compile(r"\{(\w+)\}")

_ORG_WORDS = {
    "train": (["Northwind", "Bluepeak", "Silverline", "Apex", "Crescent", "Summit", "Ironbridge",
               "Redwood", "Harbor", "Pinnacle", "Evergreen", "Lakeside", "Vertex", "Orion",
               "Atlas", "Beacon", "Cobalt", "Falcon", "Golden Gate", "Horizon", "Nova", "Phoenix",
               "Riverside", "Sterling", "Union", "Alpine", "Coastal", "Royal", "National"],
              ["Logistics", "Analytics", "Health", "Insurance", "Partners", "Labs", "Systems",
               "Pharma", "Energy", "Foods", "Capital", "Media", "Software", "Motors", "Hotel",
               "Hotels", "Bank", "Clinic", "Dental", "Airlines", "Consulting", "Solutions",
               "Construction", "Realty", "Financial", "Medical Center", "Trust", "Studios"],
              ["Ltd", "Inc.", "GmbH", "LLC", "plc", "S.A.", "AG", "B.V.", "", "", "Group", "Corp.",
               "Limited", "Inc", "Co.", "S.p.A.", "Oy", "AB", "A/S", "Sp. z o.o."]),
    "heldout": (["Kestrel", "Meridian", "Bright", "Granite", "Copperfield", "Sunrise", "Westgate",
                 "Highland", "Oakmont", "Starling"],
                ["Clinic", "Hotels", "Freight", "Legal", "Dental", "Builders", "Bank", "Telecom",
                 "Advisors", "Travel"],
                ["Pty Ltd", "Limited", "Inc", "NV", "SRL", "Zrt.", "AS", "", "Holdings"]),
}
_PRODUCTS = ["router", "laptop", "premium plan", "blender", "headset", "printer", "subscription"]


class SlotFiller:
    """Produces the surface text for each slot, from one locale's Faker and one random stream."""

    def __init__(self, fake: Any, rng: random.Random, split: str) -> None:
        self.fake, self.rng, self.split = fake, rng, split

    def _person(self) -> str:
        f, r = self.fake, self.rng.random()
        if r < 0.55:
            return f"{f.first_name()} {f.last_name()}"
        if r < 0.7:
            return f"{f.first_name()} {self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {f.last_name()}"
        if r < 0.8:
            return f"{f.last_name()}, {f.first_name()}"
        if r < 0.9:
            return str(f.name())
        return f"{f.first_name()} {f.first_name()} {f.last_name()}"

    def _org(self) -> str:
        lead, kind, suffix = _ORG_WORDS[self.split]
        r = self.rng.random()
        if r < 0.45:
            return str(self.fake.company())
        if r < 0.75:
            return " ".join(p for p in (self.rng.choice(lead), self.rng.choice(kind),
                                       self.rng.choice(suffix)) if p)
        if r < 0.85:
            return f"{self.fake.last_name()} & {self.rng.choice(['Sons', 'Partners', 'Co.'])}"
        if self.split == "train":
            return self.rng.choice([f"University of {self.fake.city()}",
                                    f"{self.fake.city()} General Hospital",
                                    f"Bank of {self.fake.city()}"])
        return self.rng.choice([f"{self.fake.city()} City Council",
                                f"St {self.fake.last_name()}'s School"])

    def _address(self) -> str:
        return str(self.fake.address()).replace("\n", ", ")

    def fill(self, slot: str) -> str:  # noqa: C901 - one branch per slot is the clearest form
        f, rng = self.fake, self.rng
        simple: dict[str, Any] = {
            "first": f.first_name, "last": f.last_name, "city": f.city, "country": f.country,
            "street": f.street_address, "email": f.email, "ipv4": f.ipv4, "url": f.url,
            "weekday": f.day_of_week, "month": f.month_name,
        }
        if slot in simple:
            return str(simple[slot]()).replace("\n", ", ")
        if slot == "person":
            return self._person()
        if slot == "org":
            return self._org()
        if slot == "address":
            return self._address()
        if slot == "state":
            return str(f.state()) if hasattr(f, "state") else str(f.city())
        if slot == "phone":
            return sv.phone(f, rng)
        if slot == "card":
            return sv.credit_card(rng)
        if slot == "iban":
            iban = str(f.iban())
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 \
                else iban
        if slot == "ssn":
            return sv.ssn(rng)
        if slot == "itin":
            return sv.itin(rng)
        if slot == "passport":
            return sv.us_passport(rng)
        if slot == "dl":
            return sv.us_driver_license(rng)
        if slot == "nhs":
            n = sv.nhs_number(rng)
            return f"{n[:3]} {n[3:6]} {n[6:]}" if rng.random() < 0.6 else n
        if slot == "ipv6":
            return sv.ipv6(f, rng)
        if slot == "btc":
            return sv.btc_legacy(rng) if rng.random() < 0.6 else sv.btc_bech32(rng)
        if slot == "eth":
            return sv.eth_address(rng)
        if slot in ("date", "dob"):
            return sv.date_text(f, rng)
        if slot == "time":
            return sv.time_text(rng)
        if slot == "account":
            return sv.bank_account(rng)
        if slot == "num":
            return str(rng.randint(1, 99))
        if slot == "ticket":
            return f"{rng.choice(['INC', 'ORD', 'T', 'REF'])}-{rng.randint(1000, 99999)}"
        if slot == "product":
            return rng.choice(_PRODUCTS)
        if slot == "amount":
            return f"{rng.choice(['$', '€', '£'])}{rng.randint(5, 5000)}.{rng.randint(0, 99):02d}"
        raise KeyError(slot)


def render(template: str, filler: SlotFiller) -> dict[str, Any]:
    """Fill every ``{slot}``; return the text and the gold spans of the labelled slots."""
    parts: list[str] = []
    spans: list[dict[str, Any]] = []
    pos, cursor = 0, 0
    for m in _SLOT.finditer(template):
        literal = template[cursor : m.start()]
        parts.append(literal)
        pos += len(literal)
        slot = m.group(1)
        label = SLOT_LABELS[slot]
        if slot == "address_ml":
            lines = str(filler.fake.address()).split("\n")
            for i, line in enumerate(lines):
                if i:
                    parts.append("\n")
                    pos += 1
                spans.append({"start": pos, "end": pos + len(line), "label": "LOCATION"})
                parts.append(line)
                pos += len(line)
        else:
            value = filler.fill(slot)
            if label is not None:
                spans.append({"start": pos, "end": pos + len(value), "label": label})
            parts.append(value)
            pos += len(value)
        cursor = m.end()
    parts.append(template[cursor:])
    text = "".join(parts)
    return {"text": text, "spans": _merge_names(text, spans)}


def _merge_names(text: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{first} {last}`` is one person: join PERSON spans separated by a single space."""
    merged: list[dict[str, Any]] = []
    for span in spans:
        prev = merged[-1] if merged else None
        if (prev and prev["label"] == span["label"] == "PERSON"
                and text[prev["end"] : span["start"]] == " "):
            prev["end"] = span["end"]
        else:
            merged.append(dict(span))
    return merged


def _join(records: list[dict[str, Any]], seps: list[str]) -> dict[str, Any]:
    text, spans = "", []
    for i, rec in enumerate(records):
        if i:
            text += seps[i - 1]
        spans += [{**s, "start": s["start"] + len(text), "end": s["end"] + len(text)}
                  for s in rec["spans"]]
        text += rec["text"]
    return {"text": text, "spans": spans}


def _neutral(filler: SlotFiller, rng: random.Random) -> dict[str, Any]:
    """One to four entities of random types in type-neutral contexts, some with a contact detail
    in parentheses or a column layout: the model must decide from the entity's own words."""
    pieces = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(list(ENTITY_SLOTS))
        slot = rng.choice(ENTITY_SLOTS[kind])
        if rng.random() < 0.25:
            extra = rng.choice(PII_COMPANIONS)
            body = rng.choice(["{%s} ({%s})", "{%s}, {%s}", "{%s} - {%s}", "{%s}\t{%s}",
                               "{%s} | {%s}", "{%s} <{%s}>"]) % (slot, extra)
        else:
            body = "{" + slot + "}"
        piece = rng.choice(NEUTRAL_PREFIXES) + body + rng.choice(NEUTRAL_SUFFIXES)
        if rng.random() < 0.2:
            piece = rng.choice(DISTRACTORS) + rng.choice([": ", " - ", " for ", ", "]) + piece
        pieces.append(render(piece, filler))
    if rng.random() < 0.3:
        pieces.append(render(rng.choice(DISTRACTORS) + rng.choice(["", ".", " attached", ":"]),
                             filler))
        rng.shuffle(pieces)
    return _join(pieces, [rng.choice([" ", "\n", "; ", "\t", " | ", ", "]) for _ in pieces])


def _document(pools: dict[str, list[str]], filler: SlotFiller,
              rng: random.Random) -> dict[str, Any]:
    if pools is TRAIN_POOLS and rng.random() < 0.35:
        return _neutral(filler, rng)
    genres = [g for g in pools if g not in ("greeting", "signoff")]
    genre = rng.choice(genres)
    count = 1 if genre in ("form", "record", "address") else rng.choice([1, 1, 2, 2, 3])
    pieces = [render(rng.choice(pools[genre]), filler) for _ in range(count)]
    if rng.random() < 0.3 and "negative" in pools and genre != "negative":
        pieces.insert(rng.randrange(len(pieces) + 1), render(rng.choice(pools["negative"]), filler))
    if genre == "email" and "greeting" in pools:
        pieces.insert(0, render(rng.choice(pools["greeting"]), filler))
        if rng.random() < 0.7:
            pieces.append(render(rng.choice(pools["signoff"]), filler))
    seps = [rng.choice([" ", " ", "\n", "\n\n", "  "]) for _ in pieces]
    doc = _join(pieces, seps)
    if rng.random() < 0.1:  # lower-cased text: offsets do not move
        doc["text"] = doc["text"].lower()
    return doc


def generate(n: int, seed: int, split: str = "train") -> Iterator[dict[str, Any]]:
    """``n`` records of the given split, the same for the same seed."""
    from faker import Faker  # imported here: the training command on a GPU box reads files only

    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    locales = TRAIN_LOCALES if split == "train" else HELDOUT_LOCALES
    pools = TRAIN_POOLS if split == "train" else HELDOUT_POOLS
    rng = random.Random(f"{split}:{seed}")
    fakers: dict[str, Any] = {}
    for _ in range(n):
        locale = rng.choice(locales)
        if locale not in fakers:
            fakers[locale] = Faker(locale)
        fake = fakers[locale]
        fake.seed_instance(rng.getrandbits(32))
        yield _document(pools, SlotFiller(fake, rng, split), rng)


def write_jsonl(path: Path, records: Iterator[dict[str, Any]]) -> int:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    count = 0
    with opener(path, "wt", encoding="utf-8") as out:
        for rec in records:
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", choices=["train", "heldout"], default="train")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    count = write_jsonl(args.out, generate(args.n, args.seed, args.split))
    print(f"wrote {count} {args.split} records to {args.out}")


if __name__ == "__main__":
    main()
