"""The demo's sample dataset: support tickets with categories and realistic PII.

Written for this project (no public data): templates per category, filled from Faker with a fixed
seed, so ``python -m appliance.demo.sample_data`` regenerates ``sample_tickets.jsonl`` exactly.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SAMPLE_FILE = Path(__file__).with_name("sample_tickets.jsonl")

TEMPLATES: dict[str, list[str]] = {
    "billing": [
        "Hi, this is {name}. I was charged twice for my subscription this month on card {card}. "
        "Please refund the duplicate payment.",
        "My invoice shows the wrong amount. Account holder {name}, email {email}. Can someone "
        "check the billing?",
        "Why was my direct debit from IBAN {iban} taken early? I'm {name} and I need the money "
        "back before rent is due.",
        "Please update the billing address for {name} to {address}; the last invoice went to "
        "the old one.",
        "I cancelled in March but you still charged me. Call me on {phone}. Thanks, {name}",
        "The refund you promised two weeks ago never arrived on my card ending {card4}. {name}",
    ],
    "technical": [
        "The app crashes every time I open the reports page. Logged in as {email}, device is a "
        "laptop, IP {ip}.",
        "I can't sync my files since yesterday's update. Error 502 on every upload. {name}",
        "Login keeps failing with 'session expired' even right after I sign in. My username is "
        "{email}. Please help.",
        "The export button produces an empty CSV. I'm {name} from {company}, we need this fixed "
        "today.",
        "Your API returns timeouts from our server at {ip}. Contact {name} at {phone} for logs.",
        "After installing version 4.2 the dashboard is blank in every browser. Reported by {name}.",
    ],
    "account": [
        "Please change the email on my account from {email} to a new one. Name: {name}, born "
        "{dob}.",
        "I want to close my account. My name is {name} and I live at {address}.",
        "I forgot my password and the reset mail never arrives at {email}.",
        "Please add my colleague {name2} as a second user on our {company} account.",
        "Can you merge my two accounts? Both are under {name}, phone {phone}.",
        "I need to update my phone number to {phone} for two-factor login. {name}",
    ],
    "shipping": [
        "My parcel was supposed to arrive on {date} but tracking hasn't moved. Deliver to {name}, "
        "{address}.",
        "The courier left my package at the wrong house. I'm {name}, phone {phone}.",
        "Order for {company} arrived damaged; the box was crushed. Please send a replacement to "
        "{address}.",
        "Can I change the delivery address for my order to {address}? Thanks, {name}",
        "Still waiting for my order from three weeks ago. Contact me at {email}.",
        "The package was marked delivered on {date} but nothing came. {name}, {address}",
    ],
    "privacy": [
        "Under GDPR I request a copy of all personal data you hold about me, {name}, {email}.",
        "Please delete all my data. My customer name is {name}, SSN {ssn} was used to verify.",
        "Why did I receive marketing email at {email} after I opted out? {name}",
        "I want to know who you shared my address {address} with.",
        "Remove my phone number {phone} from your call lists immediately. {name}",
        "Someone opened an account in my name, {name}, using my details. Please investigate.",
    ],
}


def generate(count: int = 400, seed: int = 7) -> list[dict[str, str]]:
    from faker import Faker

    rng = random.Random(seed)
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])
    fake.seed_instance(seed)
    records = []
    categories = sorted(TEMPLATES)
    for i in range(count):
        category = categories[i % len(categories)]
        template = rng.choice(TEMPLATES[category])
        card = fake.credit_card_number(card_type="visa16")
        text = template.format(
            name=fake.name(), name2=fake.name(), email=fake.email(), phone=fake.phone_number(),
            address=fake.address().replace("\n", ", "), company=fake.company(), card=card,
            card4=card[-4:], iban=fake.iban(), ip=fake.ipv4_public(), ssn=fake.ssn() if
            fake.locales else "", dob=fake.date_of_birth().isoformat(),
            date=fake.date_this_year().isoformat(),
        )
        records.append({"ticket_id": f"T-{10000 + i}", "category": category, "text": text,
                        "channel": rng.choice(["email", "chat", "phone", "web"])})
    rng.shuffle(records)
    return records


def main() -> None:
    with SAMPLE_FILE.open("w", encoding="utf-8") as out:
        for record in generate():
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {SAMPLE_FILE}")


if __name__ == "__main__":
    main()
