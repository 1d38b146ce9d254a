"""Contact details, card numbers, dates and identifiers, from one seeded random stream.

Card numbers are mostly Luhn-valid but come in every length from 13 to 19 digits, and a share
fail the checksum (a typo is still a card number to redact). Phone numbers carry extensions now
and then; dates include bare years and weekday names used as dates.
"""

from __future__ import annotations

import random
import string

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_TLDS = ["com", "org", "net", "io", "co.uk", "de", "fr", "ng", "co.ke", "com.au", "ca", "in",
         "nl", "se", "jp", "co.za", "ie", "es", "it", "com.br"]


def _digits(rng: random.Random, k: int) -> str:
    return "".join(rng.choices(string.digits, k=k))


def luhn_digit(body: str) -> str:
    """The check digit that makes ``body + digit`` pass the Luhn test (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    length = rng.choices([16, 15, 13, 14, 17, 18, 19], weights=[70, 10, 4, 4, 3, 3, 6])[0]
    prefix = rng.choice(["4", "51", "53", "55", "2221", "34", "37", "6011", "35", "62", "36"])
    body = prefix + _digits(rng, length - len(prefix) - 1)
    num = body + luhn_digit(body)
    if rng.random() < 0.12:  # a mistyped digit: fails the checksum, still a card in context
        i = rng.randrange(len(num))
        num = num[:i] + str((int(num[i]) + rng.randint(1, 9)) % 10) + num[i + 1 :]
    sep = rng.choice(["", " ", " ", "-"])
    if length == 15 and sep:
        return sep.join([num[:4], num[4:10], num[10:]])
    return sep.join(num[i : i + 4] for i in range(0, len(num), 4)) if sep else num


def phone(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.25:
        num = (f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{_digits(rng, 4)}"
               if rng.random() < 0.5 else
               f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{_digits(rng, 4)}")
    elif r < 0.45:
        num = f"+44 {rng.choice(['20', '161', '131', '113', '7700', '7911'])} " \
              f"{_digits(rng, 3)} {_digits(rng, 4)}"
    elif r < 0.6:
        cc = rng.choice(["234", "233", "254", "27", "91", "92", "880", "81", "82", "86", "61",
                         "64", "49", "33", "34", "39", "31", "46", "47", "48", "90", "971"])
        num = f"+{cc} " + " ".join(_digits(rng, k) for k in rng.choice([[3, 3, 4], [2, 4, 4],
                                                                        [3, 7], [4, 6]]))
    elif r < 0.72:
        num = "0" + _digits(rng, 4) + " " + _digits(rng, 6)
    elif r < 0.82:
        num = f"{rng.randint(200, 999)}.{rng.randint(200, 999)}.{_digits(rng, 4)}"
    elif r < 0.9:
        num = f"+1-{rng.randint(201, 989)}-{rng.randint(200, 999)}-{_digits(rng, 4)}"
    else:
        num = "0" + _digits(rng, 2) + "-" + _digits(rng, 4) + "-" + _digits(rng, 4)
    if rng.random() < 0.15:
        num += rng.choice([" ext. ", " ext ", " x", " x", " extension ", " #"]) \
            + _digits(rng, rng.randint(2, 5))
    return num


def email(rng: random.Random, first: str = "", last: str = "", domain: str = "") -> str:
    def clean(s: str) -> str:
        return "".join(c for c in s.lower() if c.isascii() and c.isalnum())

    f, lname = clean(first) or rng.choice(["info", "office", "team"]), clean(last)
    user = rng.choice([f"{f}.{lname}", f"{f[:1]}{lname}", f"{f}{rng.randint(1, 99)}",
                       f"{f}_{lname}", f"{lname}.{f[:1]}", f]) if lname else f
    host = domain or rng.choice(["mailbox", "postbox", "fastmail", "inbox", "webpost", "netmail",
                                 "yeehaw", "gmx", "proton", "outpost"]) + "." + rng.choice(_TLDS)
    return f"{user.strip('.')}@{host}"


def domain_for(org: str, rng: random.Random) -> str:
    word = "".join(c for c in org.lower().split(" ")[0] if c.isascii() and c.isalnum()) or "firm"
    return f"{word}.{rng.choice(_TLDS)}"


def url(rng: random.Random, domain: str) -> str:
    path = rng.choice(["", "/", "/contact", "/careers", "/support/returns", "/news/2023",
                       "/en/about-us", "/reviews?id=" + _digits(rng, 5)])
    scheme = rng.choice(["https://", "https://www.", "http://", "www.", ""])
    return scheme + domain + path


def date(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2027), rng.randint(1, 12), rng.randint(1, 28)
    month = _MONTHS[m - 1]
    shapes = [f"{d} {month} {y}", f"{month} {d}, {y}", f"{d:02d}/{m:02d}/{y}",
              f"{m}/{d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d}.{m}.{y}", f"{d} {month[:3]} {y}",
              f"{month[:3]} {d}", f"{d}{_ordinal(d)} of {month} {y}", f"{month} {y}",
              f"{rng.choice(WEEKDAYS)} {d} {month}", f"{d:02d}-{month[:3].upper()}-{y}"]
    return rng.choice(shapes)


def _ordinal(d: int) -> str:
    return "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")


def year(rng: random.Random) -> str:
    return str(rng.randint(1965, 2026))


def weekday(rng: random.Random) -> str:
    return rng.choice(WEEKDAYS)


def time_of_day(rng: random.Random) -> str:
    h, m = rng.randint(0, 23), rng.choice([0, 0, 15, 30, 45, rng.randint(0, 59)])
    if rng.random() < 0.5:
        return f"{h:02d}:{m:02d}"
    minutes = f":{m:02d}" if m else ""
    return f"{(h % 12) or 12}{minutes} {rng.choice(['am', 'pm', 'a.m.', 'PM'])}"


def iban(rng: random.Random) -> str:
    country, size = rng.choice([("GB", 18), ("DE", 18), ("FR", 23), ("NL", 14), ("ES", 20),
                                ("IT", 23), ("BE", 12), ("IE", 18), ("SE", 20), ("PL", 24)])
    bban = (rng.choice(["NWBK", "BARC", "ABNA", "INGB", "RABO"]) + _digits(rng, size - 4)
            if country in ("GB", "IE", "NL") else _digits(rng, size))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.5 else raw


def ip(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def ssn(rng: random.Random) -> str:
    return f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def reference(rng: random.Random) -> str:
    """An order or case number: not PII, a digit run the model must leave alone."""
    prefix = rng.choice(["#", "ORD-", "CASE ", "REF/", "INV-", "No. "])
    return prefix + _digits(rng, rng.randint(4, 8))
