"""Fake PII values for the synthetic NER corpus and the held-out set.

Every value that has a checksum in real life gets a valid one here (Luhn for cards, ISO 7064
mod 97 for IBANs via Faker, mod 11 for NHS numbers, Base58Check and Bech32 for Bitcoin), so the
pattern recognizers' validation hooks are exercised on realistic data rather than on noise.
Only Faker and the standard library are used: everything comes from one seeded ``random.Random``.
"""

from __future__ import annotations

import hashlib
import random
import string
from typing import Any

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def luhn_complete(prefix_digits: str) -> str:
    """Append the Luhn check digit (ISO/IEC 7812-1) to ``prefix_digits``."""
    total = 0
    for i, ch in enumerate(reversed(prefix_digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return prefix_digits + str((10 - total % 10) % 10)


def nhs_number(rng: random.Random) -> str:
    """A 10-digit NHS number with a valid mod-11 check digit (remainder 10 is never issued)."""
    while True:
        body = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, body)) + str(check)


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def btc_legacy(rng: random.Random) -> str:
    """A P2PKH (version 0x00) or P2SH (0x05) Base58Check address."""
    payload = bytes([rng.choice((0, 5))]) + rng.randbytes(20)
    check = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return _b58encode(payload + check)


def _bech32_polymod(values: list[int]) -> int:
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def btc_bech32(rng: random.Random) -> str:
    """A segwit v0 (P2WPKH) address, BIP 173 checksum."""
    prog = rng.randbytes(20)
    bits = "".join(f"{b:08b}" for b in prog)
    data = [0] + [int(bits[i : i + 5].ljust(5, "0"), 2) for i in range(0, len(bits), 5)]
    hrp_exp = [ord(c) >> 5 for c in "bc"] + [0] + [ord(c) & 31 for c in "bc"]
    poly = _bech32_polymod(hrp_exp + data + [0] * 6) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return "bc1" + "".join(_BECH32[d] for d in data + checksum)


def eth_address(rng: random.Random) -> str:
    return "0x" + rng.randbytes(20).hex()


def credit_card(rng: random.Random) -> str:
    """A Luhn-valid card number in one of the usual groupings."""
    kind = rng.choice(["visa", "mc", "amex", "disc", "visa"])
    if kind == "amex":
        num = luhn_complete(rng.choice(["34", "37"]) + "".join(rng.choices(string.digits, k=12)))
        groups = [num[:4], num[4:10], num[10:]]
    else:
        prefix = {"visa": "4", "mc": str(rng.randint(51, 55)), "disc": "6011"}[kind]
        num = luhn_complete(prefix + "".join(rng.choices(string.digits, k=15 - len(prefix))))
        groups = [num[i : i + 4] for i in range(0, 16, 4)]
    sep = rng.choice([" ", "-", "", " "])
    return sep.join(groups)


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    num = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return num if rng.random() < 0.8 else num.replace("-", rng.choice([" ", ""]))


def itin(rng: random.Random) -> str:
    middle = rng.choice(list(range(50, 66)) + list(range(70, 89)) + [90, 91, 92, 94, 95, 96, 97])
    return f"9{rng.randint(0, 99):02d}-{middle:02d}-{rng.randint(0, 9999):04d}"


def us_passport(rng: random.Random) -> str:
    digits = "".join(rng.choices(string.digits, k=8))
    letter = rng.choice(string.ascii_uppercase)
    return rng.choice([letter + digits, str(rng.randint(1, 9)) + digits])


def us_driver_license(rng: random.Random) -> str:
    shapes = [
        lambda: rng.choice(string.ascii_uppercase) + "".join(rng.choices(string.digits, k=7)),
        lambda: rng.choice(string.ascii_uppercase) + "".join(rng.choices(string.digits, k=12)),
        lambda: "".join(rng.choices(string.digits, k=9)),
        lambda: rng.choice(string.ascii_uppercase) + "".join(rng.choices(string.digits, k=8)),
        lambda: "".join(rng.choices(string.digits, k=8)),
    ]
    return rng.choice(shapes)()


def bank_account(rng: random.Random) -> str:
    return "".join(rng.choices(string.digits, k=rng.randint(8, 14)))


def ipv6(fake: Any, rng: random.Random) -> str:
    full: str = fake.ipv6()
    if rng.random() < 0.4:  # the compressed form people actually paste
        import ipaddress

        return ipaddress.IPv6Address(full).compressed
    return full


def phone(fake: Any, rng: random.Random) -> str:
    """The locale's own phone format most of the time; E.164 and US-style variants otherwise."""
    r = rng.random()
    if r < 0.7:
        number: str = fake.phone_number()
        return number.split("x")[0].strip() if "x" in number else number
    if r < 0.85:
        cc = rng.choice(["1", "44", "49", "33", "34", "39", "31", "46", "61", "353", "91", "81"])
        rest = "".join(rng.choices(string.digits, k=rng.randint(8, 10)))
        return "+" + cc + rng.choice(["", " "]) + rest
    area, mid, end = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    shape = rng.choice(["({a}) {m}-{e:04d}", "{a}-{m}-{e:04d}", "{a}.{m}.{e:04d}",
                        "+1 {a} {m} {e:04d}"])
    return shape.format(a=area, m=mid, e=end)


def date_text(fake: Any, rng: random.Random) -> str:
    d = fake.date_between(start_date="-60y", end_date="+2y")
    fmt = rng.choice(["%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%d %B %Y", "%d.%m.%Y",
                      "%b %d %Y", "%d-%b-%Y", "%A, %d %B %Y"])
    return str(d.strftime(fmt))


def time_text(rng: random.Random) -> str:
    h, m = rng.randint(0, 23), rng.randint(0, 59)
    if rng.random() < 0.5:
        return f"{h:02d}:{m:02d}"
    return f"{(h % 12) or 12}:{m:02d} {rng.choice(['am', 'pm', 'AM', 'PM'])}"
