"""Templates for the synthetic corpus: one set to train on, a disjoint set to hold out.

A template is text with ``{slot}`` markers (see ``synthetic.SLOT_LABELS``). The training pools are
composed into documents (several sentences, greetings, signatures); the held-out pools use other
genres, other wording and other layouts, so the held-out score says something about text the model
never saw the shape of. Titles (Mr, Dr) stay outside PERSON spans; a whole street address is one
LOCATION span; a multi-line address is one LOCATION span per line.
"""

from __future__ import annotations

TRAIN_LOCALES = (
    "en_US", "en_US", "en_US", "en_GB", "en_GB", "en_CA", "en_IN", "de_DE", "fr_FR", "es_ES",
    "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE", "da_DK", "fi_FI", "cs_CZ", "tr_TR", "id_ID",
)
HELDOUT_LOCALES = (
    "en_AU", "en_IE", "en_NZ", "de_AT", "fr_CH", "es_MX", "pt_PT", "nl_BE", "no_NO", "ro_RO",
    "hu_HU", "hr_HR", "sk_SK",
)

TRAIN_POOLS: dict[str, list[str]] = {
    "ticket": [
        "Customer {person} reports that the app crashes on login. Contact: {email}, {phone}.",
        "Ticket #{num}: {first} from {org} cannot reset the password. Callback number {phone}.",
        "User {person} ({email}) says the invoice sent on {date} was wrong.",
        "Hi team, {person} called about order {ticket}. She lives in {city} and wants a refund.",
        "Escalated by {first}: the client {org} in {city} is unhappy with the delivery times.",
        "Please update the shipping address for {person} to {address}.",
        "{person} wrote in again. Account {account} is still locked.",
        "Reported by {person} at {time} on {date}: server {ipv4} not responding.",
        "the customer {person} from {city} asked to close the account, email is {email}",
        "Refund approved for {person}; card ending {num} will be credited in {num} days.",
        "Duplicate charge on card {card} for {person}. Please investigate.",
        "Caller identified as {person}, SSN {ssn}, asked about the claim status.",
        "{org} requested access for {person} from IP {ipv6}.",
        "Login from unknown device for {first} ({email}) near {city}, {country}.",
        "issue raised by {first} {last}: wrong address on file ({street})",
        "Assigned to {first}. {person} at {org} needs the {product} licence renewed.",
    ],
    "email": [
        "Dear {person}, thank you for your application to {org}.",
        "Hi {first}, could you send me the report before {weekday}?",
        "I spoke with {person} from {org} and they will visit our {city} office on {date}.",
        "As discussed, please wire the deposit to IBAN {iban} by {date}.",
        "{first} will join the call at {time}; dial-in {phone}.",
        "You can reach {first} at {email} or on {phone}.",
        "Our new office is at {address}. Drop by any time!",
        "{person} has left {org} and moved to {city}.",
        "The contract between {org} and {org} was signed in {city} on {date}.",
        "Please ask {first} to forward the documents to {email}.",
        "More details are on our website {url}.",
        "I am travelling to {country} next week with {first}.",
        "{first} and {first} both said the meeting in {city} went well.",
        "Meeting notes attached. Cc: {person}, {person}.",
        "Can you confirm that {person} was born on {dob}?",
    ],
    "greeting": ["Hi {first},", "Dear {person},", "Hello {first}!", "Dear Mr {last},",
                 "Dear Ms. {last},", "Good morning {first},", "Hey {first} -", "To whom it may concern,",
                 "Dear Dr. {last},", "Hi all,"],
    "signoff": [
        "Best regards,\n{person}\n{org}", "Thanks,\n{first}", "Kind regards, {person}",
        "Cheers, {first}", "Sincerely,\n{person}\n{phone}", "-- \n{person} | {org} | {email}",
        "Regards,\n{person}\n{street}\n{city}", "Best, {first} ({org})",
    ],
    "letter": [
        "{person}\n{street}\n{city}\n{country}",
        "{org}\n{address_ml}",
        "Re: your account {account} with {org}",
        "We write to inform you that {person} has been appointed director of {org}.",
        "This letter confirms that {person}, residing at {address}, is employed by {org}.",
        "Signed in {city} on {date} by {person}.",
        "The tenant, {person}, agrees to vacate the property at {address} by {date}.",
    ],
    "chat": [
        "[{time}] {first}: hey, is {first} coming tonight?",
        "{first}: lol yes, meet at {city} central station",
        "{first} > call me on {phone}",
        "ok ill ask {first} and let u know",
        "{first}: my new mail is {email}",
        "{first}: just landed in {city}!!",
        "<{first}> anyone know what {org} pays?",
        "{first}: sent you the link {url}",
        "{first}: {person} says hi",
        "btw {first} works for {org} now",
    ],
    "form": [
        "Name: {person}\nEmail: {email}\nPhone: {phone}",
        "Full name: {person}\nDate of birth: {dob}\nSSN: {ssn}",
        "Employer: {org}\nCity: {city}\nCountry: {country}",
        "First name: {first}\nLast name: {last}\nAddress: {address}",
        "Patient: {person} | DOB: {dob} | NHS no: {nhs}",
        "Applicant: {person}; Passport: {passport}; Nationality: {country}",
        "Driver: {person}, license no. {dl}, state {state}",
        "Beneficiary: {person}\nIBAN: {iban}\nBank: {org}",
        "Card holder: {person}\nCard number: {card}\nExpiry: {num}/{num}",
        "Tax ID (ITIN): {itin}\nName: {person}",
        "Wallet: {btc}\nOwner: {person}",
        "ETH address: {eth} (owner {first})",
        "Account number: {account}\nAccount holder: {person}",
        "Contact person: {person}, {org}, {city}",
    ],
    "address": [
        "Ship to: {person}, {address}",
        "{address}",
        "Deliver to {street}, {city}.",
        "Address: {street}, {city}, {country}",
        "The parcel was returned from {address_ml}",
        "Location: {city}, {state}",
        "She grew up in {city} but now lives in {country}.",
        "Venue: {org}, {street}, {city}",
    ],
    "list": [
        "Attendees: {person}, {person}, {person} and {person}.",
        "Team: {first}, {first}, {first}",
        "Branches: {city}, {city}, {city} and {city}.",
        "Partners: {org}; {org}; {org}.",
        "- {person}\n- {person}\n- {person}",
        "1. {person} ({org})\n2. {person} ({org})",
        "{person},{email},{phone},{city}",
        "{first};{last};{dob};{city}",
    ],
    "sentence": [
        "{person} signed the papers yesterday.",
        "The report was written by {person}.",
        "{first} thinks we should move the event to {city}.",
        "Yesterday I met {person}.",
        "We are flying from {city} to {city} on {date}.",
        "{org} announced record profits this quarter.",
        "According to {person}, the {product} is back in stock.",
        "{person} is the new head of sales at {org}.",
        "{last} said the numbers look fine.",
        "Ask {first}.",
        "My neighbour {first} is from {country}.",
        "The {org} branch in {city} closes at {time}.",
        "On {date} at {time}, {person} called from {phone}.",
        "{person} visited {city}, {country} last summer with {person}.",
        "Letter received from {person} on {date}.",
        "A complaint from {org} arrived this morning.",
        "Flights from {city} are delayed.",
        "Notes taken by {person} ({phone}).",
        "Quote requested by {org} ({email}).",
        "Guest: {person}, room {num}.",
        "{person} (mobile {phone}) will collect the keys.",
        "The {city} team and {org} met with {person}.",
        "Invoice to {org}, attention {person}, {address}.",
        "Passenger {last}/{first}, seat {num}A.",
        "{first}'s manager at {org} approved it.",
    ],
    "negative": [
        "I will be there in may, hope that works.",
        "Please mark the order as urgent and ship by {weekday}.",
        "The rose garden needs water every morning.",
        "We will bill you for {amount} next month.",
        "Reset your password using the link in the app.",
        "Our bank holiday opening hours change in {month}.",
        "Order {ticket} contains {num} items of {product}.",
        "The march deadline was moved, so hope for the best.",
        "Grace period ends after {num} days.",
        "Summer sale: {num}% off all {product} products!",
        "Your parcel is on its way and should arrive soon.",
        "Can you turn the heating up a bit?",
        "Version {num}.{num} fixes the crash on startup.",
        "The court will rule on the appeal next week.",
        "Press the green button and wait for the light.",
        "Invoice {ticket}: total {amount}, due in {num} days.",
        "thanks, that fixed it!",
        "Statement of account attached; the balance is {amount}.",
        "Guest wifi password changed; reception has the new one.",
        "Passenger list and seat map are in the PDF.",
        "Witness statements are due by {weekday}.",
        "Please sign the NDA and return it to HR.",
        "KYC checks passed; IBAN and SWIFT verified.",
        "Frank feedback is always welcome.",
        "The jersey was too small, can I swap it for a large?",
    ],
}

# Type-neutral contexts: the same words precede a person, a place or a company, so the model has
# to look at the entity itself, not only at "from" or "in" before it.
NEUTRAL_PREFIXES = [
    "", "", "Re: ", "from ", "From: ", "by ", "with ", "to ", "cc ", "about ", "regarding ",
    "see ", "Note - ", "per ", "for ", "and ", "via ", "thanks to ", "sent by ", "contact: ",
    "asked ", "including ", "between ", "near ", "called ", "* ", "- ", "> ", "(", "\"",
    "Subject: ", "Attn: ", "update on ", "meeting with ", "news about ", "talked to ", "c/o ",
]
NEUTRAL_SUFFIXES = [
    "", "", ".", ",", " and", " said", " is next", " (see above)", " - urgent", "?", "!",
    " again", " today", " asked for it", " was mentioned", " | page 2", ")", "\"", ";",
    " has the file", " - pending", " is on the list", " confirmed", " wrote back",
]
ENTITY_SLOTS = {
    "PERSON": ["person", "person", "first", "last", "person"],
    "LOCATION": ["city", "city", "country", "street", "address", "state"],
    "ORGANIZATION": ["org", "org", "org"],
}
PII_COMPANIONS = ["phone", "email", "url", "ipv4", "date", "account", "time", "num", "ticket"]
# Words people capitalise that are not names: acronyms, form labels, products, months.
DISTRACTORS = [
    "KYC", "IBAN", "PO", "SSN", "DOB", "ETA", "FAQ", "CEO", "HR", "IT", "VAT", "GDPR", "NDA",
    "Bill of materials", "Terms and Conditions", "Annual Report", "Chair", "Premium Plan",
    "Monday", "Friday", "January", "June", "Christmas", "Easter", "Support Team", "Sales",
    "Customer Service", "Head Office", "Finance", "Accounts Payable", "Reception", "Mobile",
    "Passport", "Visa", "Mastercard", "Wi-Fi", "Excel", "PDF", "Zoom call", "Update", "Order",
]

HELDOUT_POOLS: dict[str, list[str]] = {
    "clinical": [
        "Pt {person} seen in clinic today, referred by Dr {last} of {org}.",
        "{person}, DOB {dob}, NHS {nhs}, admitted {date} with chest pain.",
        "Discharge summary for {person}. Next of kin: {person}, tel {phone}.",
        "Follow-up booked at {org} ({street}, {city}) on {date} at {time}.",
    ],
    "hr": [
        "Employee record - {person}, hired {date}, payroll IBAN {iban}, SSN {ssn}.",
        "Reference check: {person} worked at {org} in {city} for {num} years.",
        "New starter {first} {last} will sit with {first}'s team in {city}.",
        "Performance review of {person} conducted by {person} on {date}.",
    ],
    "kyc": [
        "KYC: client {person}, passport {passport}, resident of {address}.",
        "Verified ID for {person}: driving licence {dl}, ITIN {itin}.",
        "Wire of {amount} from account {account} ({org}) to {person}.",
        "Crypto deposit from {btc} credited to {person}'s wallet.",
        "Suspicious login for {email} from {ipv4} at {time}.",
        "Withdrawal to {eth} requested by {person} from {country}.",
    ],
    "travel": [
        "Booking confirmed for {person} and {person}: {city} to {city}, {date}, {time}.",
        "Hotel {org}, {address}. Guest {person}, mobile {phone}.",
        "Passenger {last}/{first} requests a window seat. Contact {email}.",
        "Your trip to {country} starts on {date}. Questions? Visit {url}.",
    ],
    "legal": [
        "This agreement is made on {date} between {org} and {person} of {address}.",
        "Witness: {person}, {street}, {city}.",
        "The claimant {person} alleges that {org} breached the lease in {city}.",
        "Payment shall be made by card {card} or to account {account}.",
    ],
    "police": [
        "Incident {ticket}: {person} reported a theft near {street} in {city} at {time}.",
        "Suspect described by witness {person}; vehicle seen heading to {city}.",
        "Statement taken from {person} (tel. {phone}) on {date}.",
    ],
    "crm": [
        "call w/ {first} @ {org} - wants a demo next {weekday}, email {email}",
        "{person} ({org}, {city}) signed for {num} seats; send PO to {email}",
        "lead: {first} {last}, {phone}, interested in {product}",
        "met {person} at the {city} expo, follow up via {url}",
    ],
    "sms": [
        "hi its {first}, new number {phone}",
        "running late, tell {first} im at {street}",
        "{first} ur parcel is at {org} in {city}",
        "did {first} pay u back? my acct is {account}",
    ],
    "minutes": [
        "Present: {person}, {person}, {person}. Apologies: {person}.",
        "Action: {first} to contact {org} about the {city} lease by {date}.",
        "{person} (chair) opened the meeting at {time}.",
    ],
    "review": [
        "Stayed at {org} in {city} last month. {first} at reception was lovely!",
        "Ordered from {org}, never arrived. Do not trust them. - {person}",
        "The tour guide, {first}, showed us around {city} and {city}.",
    ],
    "record": [
        "{last}, {first} | {dob} | {city} | {email}",
        "id={num} name=\"{person}\" ip={ipv6} country={country}",
        "{person}\t{phone}\t{org}",
        "Contact card\n{person}\n{org}\n{address_ml}\n{phone}\n{email}",
    ],
    "negative": [
        "Please see the attached spreadsheet for the quarterly figures.",
        "The meeting is postponed until further notice.",
        "Turn left at the second roundabout and park behind the warehouse.",
        "Bill of materials updated; {num} parts changed.",
        "Will you bring the charger tomorrow?",
        "The new policy applies to all staff from {month}.",
        "Dosage: {num} mg twice a day with food.",
        "Reference {ticket} has been closed.",
        "Mark the box fragile and keep it upright.",
        "Our prices went up by {num} percent this year.",
    ],
}
