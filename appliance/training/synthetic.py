"""A synthetic multi-class intent data set, for benchmarks, recipe checks and demos.

It stands in for the public intent sets the appliance is judged on (tens of fine-grained intents,
about ten thousand short customer messages): intents come in confusable families (a lost card, a
stolen card, a card that never arrived), each has several paraphrases with slots filled by Faker,
and the paraphrases sit in conversational frames with noise (casing, fillers, typos).

:func:`make_intent_dataset` holds back some paraphrases and some frames of every intent for the
test split, so a model is measured on wordings it never saw: a recipe tuned here cannot simply
memorise the generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

# Each intent: paraphrases with {slots}. The last two of each list are held out for the test split.
INTENTS: dict[str, list[str]] = {
    "card_lost": [
        "i lost my card",
        "i can't find my debit card anywhere",
        "my card is missing",
        "i misplaced my bank card",
        "no idea where my card went",
        "i think i dropped my card",
        "i left my card somewhere in {city}",
        "my card has gone missing since {date}",
    ],
    "card_stolen": [
        "someone stole my card",
        "my wallet with the card was stolen",
        "my card was taken by a thief",
        "i was robbed and they got my card",
        "my purse was snatched with my card inside",
        "a pickpocket took my card in {city}",
        "my card got stolen at the station",
        "thieves took my bag and my bank card",
    ],
    "card_not_arrived": [
        "my new card hasn't arrived",
        "still waiting for my card to be delivered",
        "the card you sent never came",
        "when will my card get here",
        "i ordered a card on {date} and it's not here",
        "my replacement card did not show up",
        "card delivery is taking forever",
        "where is the card you mailed me",
    ],
    "card_activate": [
        "how do i activate my new card",
        "i need to turn on my card",
        "activate the card i received",
        "my card came but how do i start using it",
        "what are the steps to activate a card",
        "can you enable my new debit card",
        "the new card needs activating",
        "help me get my card working for the first time",
    ],
    "card_declined": [
        "my card was declined",
        "the payment with my card got rejected",
        "why does my card keep getting declined at {merchant}",
        "my card didn't work at the store",
        "card refused at the checkout",
        "the terminal said my card was denied",
        "i tried to pay {amount} and it was declined",
        "my card won't go through",
    ],
    "card_expiring": [
        "my card expires soon",
        "what happens when my card expires",
        "my card is about to run out, will i get a new one",
        "do you send a new card before expiry",
        "the expiry date on my card is next month",
        "my card expires on {date}",
        "will a renewed card be sent automatically",
        "my card is nearly out of date",
    ],
    "pin_change": [
        "how do i change my pin",
        "i want a new pin for my card",
        "can i update my card pin",
        "i'd like to reset my pin number",
        "set a different pin on my card",
        "change the pin code please",
        "i want to pick my own pin",
        "how to modify my pin",
    ],
    "pin_blocked": [
        "my pin is blocked",
        "i entered the wrong pin too many times",
        "my card is locked after wrong pin attempts",
        "pin locked, how do i unblock it",
        "the atm says my pin is blocked",
        "i typed the pin wrong three times",
        "unblock my pin please",
        "my pin stopped working after failed tries",
    ],
    "atm_cash_not_received": [
        "the atm didn't give me my cash",
        "i withdrew {amount} but no money came out",
        "the cash machine took my money without dispensing",
        "atm charged me but gave no cash",
        "no notes came out of the atm",
        "the machine in {city} kept my cash",
        "i was debited for a withdrawal i never got",
        "atm error, money not dispensed",
    ],
    "atm_wrong_amount": [
        "the atm gave me less cash than i asked for",
        "i got the wrong amount from the cash machine",
        "i asked for {amount} and received less",
        "the atm dispensed too little money",
        "withdrawal amount was wrong",
        "the cash i got doesn't match what was taken",
        "some notes were missing from my withdrawal",
        "i was short changed by the atm",
    ],
    "atm_card_swallowed": [
        "the atm ate my card",
        "the cash machine kept my card",
        "my card got stuck in the atm",
        "the machine swallowed my card",
        "atm retained my card in {city}",
        "i can't get my card back from the atm",
        "the atm won't return my card",
        "my card was captured by the machine",
    ],
    "transfer_pending": [
        "my transfer is still pending",
        "the money i sent hasn't gone through yet",
        "why is my transfer taking so long",
        "transfer to {name} still processing",
        "my payment has been pending since {date}",
        "how long until my transfer completes",
        "the bank transfer is stuck in pending",
        "my transfer hasn't arrived at the other bank",
    ],
    "transfer_failed": [
        "my transfer failed",
        "the transfer to {name} didn't work",
        "i got an error sending money",
        "my bank transfer was rejected",
        "sending {amount} failed",
        "why did my transfer bounce back",
        "the payment to my landlord failed",
        "transfer unsuccessful, what happened",
    ],
    "transfer_cancel": [
        "i want to cancel a transfer",
        "can i stop the payment i just made",
        "please cancel the money i sent to {name}",
        "undo my last transfer",
        "i sent money by mistake, cancel it",
        "reverse the transfer i made today",
        "how do i call back a transfer",
        "stop my transfer of {amount}",
    ],
    "transfer_fee": [
        "is there a fee for transfers",
        "how much does it cost to send money",
        "why was i charged for my transfer",
        "what are your transfer fees",
        "i paid a fee on a transfer to {name}",
        "do transfers abroad cost extra",
        "there's a charge on my transfer",
        "how much do you take for sending {amount}",
    ],
    "transfer_wrong_account": [
        "i sent money to the wrong account",
        "i transferred to the wrong person",
        "i typed the wrong account number",
        "money went to {name} by mistake",
        "wrong recipient on my transfer",
        "i paid the wrong iban",
        "the payment went to an account i didn't mean",
        "i made a transfer to the incorrect person",
    ],
    "refund_not_showing": [
        "my refund hasn't shown up",
        "the shop refunded me but i don't see it",
        "where is my refund from {merchant}",
        "refund still not in my account",
        "i was promised a refund on {date}, nothing yet",
        "the return money is missing",
        "my refund isn't on my statement",
        "when will the refund appear",
    ],
    "charge_unrecognised": [
        "there's a charge i don't recognise",
        "i see a payment i didn't make",
        "unknown transaction from {merchant}",
        "what is this charge on my account",
        "a strange payment of {amount} appeared",
        "i never bought anything from {merchant}",
        "someone used my account for a purchase",
        "there's a transaction i can't explain",
    ],
    "charge_twice": [
        "i was charged twice",
        "the same payment went out two times",
        "{merchant} billed me twice",
        "duplicate charge on my card",
        "i paid once but got charged double",
        "there are two identical transactions",
        "my purchase was taken twice",
        "double payment of {amount}",
    ],
    "balance_check": [
        "what's my balance",
        "how much money do i have",
        "show my account balance",
        "check my balance please",
        "how much is in my account right now",
        "tell me my current balance",
        "what funds are available",
        "balance inquiry",
    ],
    "balance_not_updated": [
        "my balance didn't update",
        "the deposit isn't reflected in my balance",
        "my balance is wrong after the transfer",
        "money came in but balance is the same",
        "balance still shows the old amount",
        "my account total hasn't changed since {date}",
        "why hasn't my balance gone up",
        "the balance looks out of date",
    ],
    "top_up_failed": [
        "my top up failed",
        "i couldn't add money to my account",
        "the top up with my card didn't go through",
        "adding {amount} failed",
        "top up declined",
        "why can't i top up",
        "loading money into the app failed",
        "the top-up returned an error",
    ],
    "top_up_pending": [
        "my top up is pending",
        "the money i added hasn't arrived",
        "top up still processing",
        "how long does a top up take",
        "i topped up {amount} and it's not there yet",
        "my top up is taking ages",
        "the top-up is stuck",
        "top up not completed yet",
    ],
    "exchange_rate": [
        "what exchange rate do you use",
        "how much is the euro worth today",
        "what's the rate for dollars",
        "exchange rate for pounds please",
        "the rate you gave me seems bad",
        "how do you calculate currency conversion",
        "is the exchange rate live",
        "which rate applies to my payment in {country}",
    ],
    "foreign_fee": [
        "why was i charged a foreign fee",
        "there's an extra fee for paying abroad",
        "i paid in {country} and got a fee",
        "do you charge for card payments overseas",
        "what's the fee for foreign transactions",
        "i got charged for using my card on holiday",
        "international payment fee on my statement",
        "fee for spending in another currency",
    ],
    "account_close": [
        "i want to close my account",
        "please delete my account",
        "how do i cancel my membership",
        "terminate my account",
        "i'm leaving, close everything",
        "shut down my bank account",
        "i no longer need this account",
        "end my account today",
    ],
    "account_open": [
        "i want to open an account",
        "how do i sign up",
        "create a new account for me",
        "can i open a second account",
        "i'd like to become a customer",
        "what do i need to open an account",
        "register a new account",
        "start a new bank account",
    ],
    "address_change": [
        "i moved house",
        "update my address",
        "i need to change my home address",
        "my new address is in {city}",
        "change where you send my mail",
        "i relocated, update my details",
        "new address for my account",
        "i live somewhere else now",
    ],
    "name_change": [
        "i got married and changed my name",
        "update the name on my account",
        "my name is now {name}",
        "how do i change my surname",
        "correct my name please",
        "i need my new name on the card",
        "change my legal name",
        "my name is spelled wrong",
    ],
    "phone_change": [
        "i have a new phone number",
        "update my mobile number",
        "change my phone on file",
        "my number changed",
        "replace my old phone number",
        "i switched to a new number",
        "new contact number for my account",
        "update the number you text me on",
    ],
    "password_reset": [
        "i forgot my password",
        "reset my password",
        "i can't log in, forgot password",
        "how do i change my password",
        "password reset link please",
        "my password doesn't work",
        "i need a new login password",
        "locked out, forgot my password",
    ],
    "app_not_working": [
        "the app keeps crashing",
        "the app won't open",
        "your app is broken",
        "the app freezes on start",
        "i can't use the mobile app",
        "the app shows an error",
        "the app stopped working after the update",
        "the application won't load",
    ],
    "verify_identity": [
        "how do i verify my identity",
        "why do you need my id",
        "the identity check failed",
        "what documents do you need to verify me",
        "i can't pass verification",
        "verify my identity please",
        "my id verification is stuck",
        "why was my id rejected",
    ],
    "direct_debit": [
        "set up a direct debit",
        "cancel my direct debit to {merchant}",
        "a direct debit came out that i didn't expect",
        "how do direct debits work",
        "manage my direct debits",
        "my direct debit bounced",
        "stop the direct debit",
        "add a new direct debit",
    ],
    "standing_order": [
        "set up a standing order",
        "cancel my standing order",
        "change the amount of my standing order",
        "i want a monthly payment to {name}",
        "my standing order didn't go out",
        "edit my recurring transfer",
        "how do i create a standing order",
        "stop my repeat payment",
    ],
    "virtual_card": [
        "can i get a virtual card",
        "how do i make a disposable card",
        "i want a card for online shopping only",
        "create a virtual card",
        "does the virtual card cost anything",
        "where is my virtual card number",
        "virtual card not working online",
        "delete my virtual card",
    ],
    "apple_google_pay": [
        "how do i add my card to apple pay",
        "google pay isn't working",
        "can i use my phone to pay",
        "set up contactless payments on my phone",
        "my card won't add to my wallet app",
        "does the card support google pay",
        "apple pay declined my card",
        "link my card to my phone wallet",
    ],
    "contactless_not_working": [
        "contactless isn't working",
        "tap to pay doesn't work",
        "my card won't pay by tapping",
        "contactless payments are declined",
        "the card only works with chip and pin",
        "tapping my card does nothing",
        "why can't i pay contactless",
        "contactless feature failed",
    ],
    "cheque_deposit": [
        "how do i deposit a cheque",
        "can i pay in a check",
        "i want to cash a cheque",
        "deposit a cheque from {name}",
        "my cheque hasn't cleared",
        "where do i send a cheque",
        "can i scan a cheque in the app",
        "cheque deposit options",
    ],
    "cash_deposit": [
        "how do i deposit cash",
        "where can i pay in cash",
        "can i add cash to my account",
        "i want to deposit {amount} in cash",
        "cash deposit at a branch",
        "my cash deposit is missing",
        "put money in at an atm",
        "paying in notes and coins",
    ],
    "loan_apply": [
        "i want to apply for a loan",
        "can i borrow money",
        "do you offer personal loans",
        "how much can i borrow",
        "i need a loan of {amount}",
        "loan application please",
        "what are your loan rates",
        "can i get credit for a car",
    ],
    "savings_interest": [
        "what interest do i get on savings",
        "how much interest does my savings pay",
        "open a savings account",
        "savings rate please",
        "when is interest paid",
        "my savings interest was not paid",
        "is there a better savings rate",
        "interest on my deposits",
    ],
    "statement_request": [
        "i need a bank statement",
        "send me my statement for {date}",
        "where can i download my statements",
        "statement for the last three months",
        "i want a printed statement",
        "get my account history",
        "export my transactions",
        "proof of account for my landlord",
    ],
    "fraud_report": [
        "i think i've been scammed",
        "report fraud on my account",
        "someone is using my details",
        "i got a suspicious call pretending to be the bank",
        "i clicked a phishing link",
        "my account has been hacked",
        "fraudulent activity detected",
        "i was tricked into paying {name}",
    ],
    "freeze_card": [
        "freeze my card",
        "can i temporarily block my card",
        "pause my card please",
        "lock my card for now",
        "i want to suspend my card",
        "how do i unfreeze my card",
        "turn off my card temporarily",
        "block card until i find it",
    ],
    "spending_limit": [
        "what is my spending limit",
        "raise my card limit",
        "can i increase my daily limit",
        "i hit my withdrawal limit",
        "how much can i spend per day",
        "lower my spending limit",
        "change my atm limit",
        "the limit is too low for a payment of {amount}",
    ],
    "salary_deposit": [
        "when will my salary arrive",
        "my wages haven't come in",
        "my paycheck is late",
        "how do i get my salary paid here",
        "employer payment missing",
        "salary not received on {date}",
        "my pay from {company} is not in",
        "i'm waiting for my salary",
    ],
    "beneficiary_add": [
        "add a new payee",
        "how do i save a recipient",
        "add {name} as a beneficiary",
        "i want to add someone to send money to",
        "new beneficiary please",
        "save a new contact for payments",
        "register a payee",
        "can i add my friend's account",
    ],
    "opening_hours": [
        "what are your opening hours",
        "when is the branch open",
        "is the bank open on sunday",
        "branch hours in {city}",
        "what time do you close",
        "are you open on holidays",
        "when can i visit a branch",
        "customer service hours",
    ],
    "speak_to_human": [
        "i want to talk to a person",
        "connect me to an agent",
        "can i speak to someone",
        "get me a human",
        "i need customer service",
        "call me back please",
        "transfer me to a real person",
        "is there anyone i can talk to",
    ],
}

FRAMES = [
    "{p}",
    "{p}.",
    "{p}?",
    "hi, {p}",
    "hello {p}",
    "hey {p}",
    "{p}, can you help?",
    "{p}. what should i do?",
    "please help, {p}",
    "good morning, {p}",
    "{p} - thanks",
    "um {p}",
    "so {p}",
    "{p}!! this is urgent",
    "hi there, {p}, any idea?",
    "{name} here, {p}",
    "{p} please",
    "quick question: {p}",
    "i need help, {p}",
    "{p}. it's really annoying",
    "ok so {p}",
    "excuse me, {p}",
]
# Frames never used for training: a test message is a held-out paraphrase in a held-out frame.
HELD_OUT_FRAMES = [
    "sorry to bother you but {p}",
    "{p}, what now?",
    "dear support, {p}. regards",
]
HELD_OUT_PARAPHRASES = 2


@dataclass(frozen=True)
class IntentData:
    """Train records (for a job) and a test set built from held-out wordings."""

    train: list[dict[str, str]]
    test: list[dict[str, str]]
    labels: list[str]


def make_intent_dataset(
    n_train: int = 10_000,
    n_test: int = 2_000,
    n_intents: int | None = None,
    seed: int = 0,
) -> IntentData:
    """Generate ``n_train`` training and ``n_test`` held-out records of ``{"text", "label"}``."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    labels = sorted(INTENTS)[: n_intents or len(INTENTS)]
    train_pool = {k: INTENTS[k][:-HELD_OUT_PARAPHRASES] for k in labels}
    test_pool = {k: INTENTS[k][-HELD_OUT_PARAPHRASES:] for k in labels}
    train = [_sample(rng, fake, labels, train_pool, FRAMES) for _ in range(n_train)]
    test = [_sample(rng, fake, labels, test_pool, FRAMES + HELD_OUT_FRAMES) for _ in range(n_test)]
    return IntentData(train=train, test=test, labels=labels)


def _sample(
    rng: random.Random,
    fake: Faker,
    labels: list[str],
    pool: dict[str, list[str]],
    frames: list[str],
) -> dict[str, str]:
    label = rng.choice(labels)
    phrase = rng.choice(pool[label])
    text = rng.choice(frames).replace("{p}", phrase)
    text = text.format(
        name=fake.first_name(),
        city=fake.city(),
        date=fake.date_this_year().strftime(rng.choice(["%d %B", "%B %d", "%d/%m"])),
        amount=f"{rng.choice(['$', '£', '€', ''])}{rng.randint(5, 900)}",
        merchant=fake.company(),
        company=fake.company(),
        country=fake.country(),
    )
    return {"text": _noise(rng, text), "label": label}


def _noise(rng: random.Random, text: str) -> str:
    """Casing and typos, as in typed customer messages."""
    roll = rng.random()
    if roll < 0.35:
        text = text[:1].upper() + text[1:]
    elif roll < 0.45:
        text = text.upper()
    if rng.random() < 0.15 and len(text) > 8:
        i = rng.randrange(1, len(text) - 2)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # swap two letters
    return text
