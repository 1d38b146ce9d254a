"""Document genres: each builds one document of its own shape into a ``Doc``.

A genre is a function ``(Ctx) -> None`` registered in ``GENRES`` with a weight. Within a genre
the sentences are drawn, ordered and counted at random, so lengths run from one line to about
120 words. Conventions for spans: honorifics (Ms, Dr) stay outside PERSON; a possessive "'s"
stays outside; a whole postal address is one LOCATION span, even over several lines; a surname
used as a modifier ("the Tanaka account") is PERSON; an organisation named after a person is
ORGANIZATION as a whole.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tools.pii_corpus import values as v
from tools.pii_corpus.doc import Doc
from tools.pii_corpus.names import NameSource, Person
from tools.pii_corpus.negatives import HARD_NEGATIVES


class Ctx:
    """One document's cast (people, organisations, places) and piece helpers."""

    def __init__(self, doc: Doc, src: NameSource, rng: random.Random) -> None:
        self.d, self.s, self.rng = doc, src, rng
        self.people = [src.person() for _ in range(4)]
        self.orgs = [src.org() for _ in range(3)]
        self.case: str | None = None

    # entity pieces
    def P(self, name: str) -> tuple[str, str]:  # noqa: N802 - short piece constructors
        return ("PERSON", name)

    def full(self, i: int = 0) -> tuple[str, str]:
        return ("PERSON", self.s.name_form(self.people[i]))

    def first(self, i: int = 0) -> tuple[str, str]:
        return ("PERSON", self.people[i].first)

    def last(self, i: int = 0) -> tuple[str, str]:
        return ("PERSON", self.people[i].last)

    def titled(self, i: int = 0) -> list[Any]:
        p = self.people[i]
        return [p.title(self.rng) + " ", ("PERSON", p.last)]

    def mention(self, i: int = 0) -> list[Any]:
        """Any later mention of a person: titled surname, first name, full name or surname."""
        r = self.rng.random()
        if r < 0.35:
            return self.titled(i)
        if r < 0.6:
            return [self.first(i)]
        if r < 0.8:
            return [("PERSON", self.people[i].full)]
        return [self.last(i)]

    def org(self, i: int = 0) -> tuple[str, str]:
        return ("ORGANIZATION", self.orgs[i])

    def brand(self) -> tuple[str, str]:
        return ("ORGANIZATION", self.s.brand())

    def city(self) -> tuple[str, str]:
        return ("LOCATION", self.s.city())

    def place(self) -> tuple[str, str]:
        r = self.rng.random()
        return ("LOCATION", self.s.city() if r < 0.55 else
                self.s.country() if r < 0.8 else self.s.region())

    def addr(self, multiline: bool = False) -> tuple[str, str]:
        return ("LOCATION", self.s.address(multiline))

    def date(self) -> tuple[str, str]:
        return ("DATE_TIME", v.date(self.rng))

    def year(self) -> tuple[str, str]:
        return ("DATE_TIME", v.year(self.rng))

    def day(self) -> tuple[str, str]:
        return ("DATE_TIME", v.weekday(self.rng))

    def time(self) -> tuple[str, str]:
        return ("DATE_TIME", v.time_of_day(self.rng))

    def phone(self) -> tuple[str, str]:
        return ("PHONE_NUMBER", v.phone(self.rng))

    def email(self, i: int = 0, org: int | None = None) -> tuple[str, str]:
        p = self.people[i]
        dom = v.domain_for(self.orgs[org], self.rng) if org is not None else ""
        return ("EMAIL_ADDRESS", v.email(self.rng, p.first, p.last, dom))

    def url(self, org: int = 0) -> tuple[str, str]:
        return ("URL", v.url(self.rng, v.domain_for(self.orgs[org], self.rng)))

    def card(self) -> tuple[str, str]:
        return ("CREDIT_CARD", v.card(self.rng))

    def iban(self) -> tuple[str, str]:
        return ("IBAN_CODE", v.iban(self.rng))

    def ip(self) -> tuple[str, str]:
        return ("IP_ADDRESS", v.ip(self.rng))

    def neg(self, *kinds: str) -> tuple[str, str]:
        """A hard negative of one of ``kinds``; a leading article is dropped, since the
        sentences supply their own."""
        kind = self.rng.choice(kinds or tuple(sorted(HARD_NEGATIVES)))
        phrase = self.rng.choice(HARD_NEGATIVES[kind])
        return ("NEG", phrase[4:] if phrase.startswith(("the ", "The ")) else phrase)

    def pick(self, *options: Any) -> Any:
        return self.rng.choice(options)

    def some(self, sentences: list[Callable[[], Any]], lo: int, hi: int,
             sep: str = " ") -> None:
        """Run between ``lo`` and ``hi`` of the sentence builders, in random order."""
        chosen = self.rng.sample(sentences, min(len(sentences), self.rng.randint(lo, hi)))
        for k, build in enumerate(chosen):
            if k:
                self.d.add(sep)
            build()


Genre = Callable[[Ctx], None]
GENRES: dict[str, tuple[Genre, float]] = {}


def genre(name: str, weight: float = 1.0) -> Callable[[Genre], Genre]:
    def register(fn: Genre) -> Genre:
        if name in GENRES:
            raise ValueError(f"genre {name!r} registered twice")
        GENRES[name] = (fn, weight)
        return fn
    return register


def _surname_list(c: Ctx, k: int) -> list[Any]:
    names = [("PERSON", c.s.surname()) for _ in range(k)]
    out: list[Any] = []
    for i, name in enumerate(names):
        if i:
            out.append(" and " if i == k - 1 and c.rng.random() < 0.7 else ", ")
        out.append(name)
    return out


@genre("court_judgment", 1.3)
def court_judgment(c: Ctx) -> None:
    d, r = c.d, c.rng
    if r.random() < 0.5:
        d.line(c.pick("IN THE ", "In the "), c.pick("COURT OF APPEAL", "High Court",
                                                  "Employment Tribunal", "County Court at "),
               c.city() if r.random() < 0.5 else "", "")
        d.line(c.pick("Between: ", "BETWEEN "), c.full(0), c.pick(" (Appellant)", " Claimant"),
               " and ", c.org(0) if r.random() < 0.6 else c.full(1),
               c.pick(" (Respondent)", " Defendant"))
    sentences = [
        lambda: d.add("The appellant, ", c.titled(0), ", ", c.pick("appeals against", "challenges",
                      "seeks permission to appeal"), " the decision of ", c.org(1), " dated ",
                      c.date(), "."),
        lambda: d.add(c.mention(0), " was employed by ", c.org(0), " as a ",
                      c.neg("job"), " from ", c.year(), " until ", c.date(), "."),
        lambda: d.add("Judge ", c.last(2), " found that ", c.mention(1), " had not read the ",
                      c.neg("law"), " with care."),
        lambda: d.add("At the material time ", c.mention(0), " lived at ", c.addr(), "."),
        lambda: d.add(c.pick("Counsel for the respondent, ", "For the defendant, "), c.titled(3),
                      ", submitted that ", c.neg("generic"), " had been followed."),
        lambda: d.add("I accept the evidence of ", c.mention(1),
                      ", whose account of the events in ", c.city(), " on ", c.day(),
                      " was consistent."),
        lambda: d.add(c.neg("heading"), ". ", c.neg("opener"), ", the ", c.last(0),
                      " correspondence does not assist."),
        lambda: d.add("The ", c.pick("witness", "second witness", "claimant's manager"), ", ",
                      c.full(2), " of ", c.org(1), ", gave evidence by video link from ",
                      c.place(), "."),
        lambda: d.add(c.mention(0), "'s solicitors, ", c.org(2), ", wrote on ", c.date(), "."),
        lambda: d.add("Present: ", _surname_list(c, r.randint(2, 5)), "."),
    ]
    c.some(sentences, 1, 6)


@genre("medical_note", 1.2)
def medical_note(c: Ctx) -> None:
    d, r = c.d, c.rng
    if r.random() < 0.6:
        d.line(c.pick("Patient: ", "PATIENT NAME: ", "Pt: ", "Name: "), c.full(0))
        d.line(c.pick("DOB: ", "Date of birth: ", "D.O.B. "), c.date())
        if r.random() < 0.5:
            d.line(c.pick("Address: ", "Home address: "), c.addr())
    sentences = [
        lambda: d.add(c.pick("Seen by ", "Reviewed by ", "Referred by "), c.pick("Dr ", "Dr. "),
                      c.last(1), " at ", c.org(0), " on ", c.date(), "."),
        lambda: d.add(c.pick("", "Pt "), c.first(0), " reports ", c.pick("chest pain",
                      "low mood", "a persistent cough", "knee swelling"), " since ", c.day(), "."),
        lambda: d.add("History of ", c.neg("eponym"), "; no known allergies."),
        lambda: d.add(c.neg("heading"), ": ", c.pick("bloods repeated", "review in 2 weeks",
                      "refer to physio"), ". NOK: ", c.full(2), " (", c.pick("daughter", "husband",
                      "partner", "son"), "), ", c.phone(), "."),
        lambda: d.add("Transferred to ", c.neg("generic"), " at ", c.org(1), " at ", c.time(), "."),
        lambda: d.add("Discussed with ", c.titled(3), ", ", c.neg("job"), "."),
        lambda: d.add("Lives alone in ", c.place(), "; ", c.first(0), "'s sister visits on ",
                      c.day(), "s."),
        lambda: d.add("GP: ", c.titled(1), ", ", c.org(2), ", ", c.addr(), "."),
    ]
    c.some(sentences, 1, 5, c.pick(" ", "\n"))


@genre("hr_letter")
def hr_letter(c: Ctx) -> None:
    d = c.d
    if c.rng.random() < 0.5:
        d.line(c.org(0))
        d.line(c.addr(multiline=True))
        d.add("\n")
    d.line(c.date())
    d.line(c.pick("Dear ", "Dear "), c.titled(0) if c.rng.random() < 0.6 else c.first(0), ",")
    sentences = [
        lambda: d.add("We are pleased to offer you the position of ", c.neg("job"), " at ",
                      c.org(0), ", based in our ", c.city(), " office."),
        lambda: d.add("Your start date will be ", c.date(), " and you will report to ",
                      c.full(1), "."),
        lambda: d.add("This letter confirms that ", c.full(0), " has been employed by ",
                      c.org(0), " since ", c.year(), "."),
        lambda: d.add("Under the ", c.neg("law"), " you may bring a colleague, such as ",
                      c.first(2), ", to the meeting on ", c.day(), "."),
        lambda: d.add("Please return the signed ", c.neg("generic"), " to ", c.email(1, 0),
                      " by ", c.date(), "."),
        lambda: d.add("The ", c.last(0), " file will be kept by ", c.neg("generic"), "."),
    ]
    c.some(sentences, 1, 4)
    d.add("\n\n", c.pick("Yours sincerely,", "Kind regards,", "Best wishes,"), "\n", c.full(1),
          "\n", c.neg("job"), "\n", c.org(0))


@genre("chat_log", 1.3)
def chat_log(c: Ctx) -> None:
    d, r = c.d, c.rng
    style = r.choice(["bracket", "colon", "arrow"])
    lines = [
        lambda: ["hey is ", c.first(1), " coming ", c.pick("tonight", "tmrw", "on "), c.day()
                 if r.random() < 0.4 else "", "?"],
        lambda: ["ask ", c.first(2), " lol, they moved to ", c.city()],
        lambda: ["my number's ", c.phone(), " btw"],
        lambda: ["ok ", c.first(1), " said the ", c.last(3), " thing is sorted"],
        lambda: ["omg the ", c.neg("product"), " from ", c.brand(), " arrived broken"],
        lambda: ["i'm at ", c.addr(), " if u need me"],
        lambda: ["watching some ", c.neg("genre"), " rn"],
        lambda: ["it's ", c.first(0), "'s bday on ", c.date()],
        lambda: ["send it to ", c.email(0)],
        lambda: [c.neg("idiom"), " again ugh"],
        lambda: ["did ", c.first(3), " ever hear back from ", c.org(0), "?"],
        lambda: ["meet at ", c.time(), " near ", c.city(), " station?"],
    ]
    for i, build in enumerate(r.sample(lines, r.randint(1, 6))):
        who = c.first(r.randint(0, 3)) if r.random() < 0.8 else ("PERSON", c.s.surname())
        if style == "bracket":
            d.add("[", c.time(), "] ", who, ": ")
        elif style == "colon":
            d.add(who, ": ")
        else:
            d.add(who, " > ")
        d.add(*build())
        if i < 5:
            d.add("\n")
    c.case = "lower" if r.random() < 0.55 else None


@genre("form_block", 1.2)
def form_block(c: Ctx) -> None:
    d, r = c.d, c.rng
    if r.random() < 0.5:
        d.upper_heading(c.pick("Registration Form", "Customer Details", "Change of Address",
                               "Visitor Log Entry", "Membership Application"))
        d.add("\n")
    fields = [
        lambda: d.line(c.pick("Name: ", "Full name: ", "Applicant: ", "NAME: "), c.full(0)),
        lambda: d.line(c.pick("Address: ", "Current address: ", "Street address: "), c.addr()),
        lambda: d.line(c.pick("Phone: ", "Tel: ", "Mobile: ", "Contact no.: "), c.phone()),
        lambda: d.line(c.pick("Email: ", "E-mail: ", "email address: "), c.email(0)),
        lambda: d.line(c.pick("Employer: ", "Company: ", "Organisation: "), c.org(0)),
        lambda: d.line(c.pick("Date of birth: ", "DOB: "), c.date()),
        lambda: d.line(c.pick("Occupation: ", "Job title: ", "Role: "), c.neg("job")),
        lambda: d.line(c.pick("Emergency contact: ", "Next of kin: "), c.full(1), ", ",
                       c.phone()),
        lambda: d.line(c.pick("City: ", "Town: "), c.city()),
        lambda: d.line(c.pick("Country: ", "Nationality: "), ("LOCATION", c.s.country())),
        lambda: d.line(c.pick("Plan: ", "Tier: "), c.neg("generic")),
        lambda: d.line("Signed: ", c.full(0), "   Date: ", c.date()),
    ]
    for build in r.sample(fields, r.randint(2, 8)):
        build()


@genre("table", 1.1)
def table(c: Ctx) -> None:
    d, r = c.d, c.rng
    cols = r.sample(["name", "city", "company", "phone", "email", "role", "joined"],
                    r.randint(2, 5))
    if "name" not in cols:
        cols[0] = "name"
    pipe = r.random() < 0.6
    head = {"name": "Name", "city": "City", "company": "Company", "phone": "Phone",
            "email": "Email", "role": "Role", "joined": "Joined"}
    sep = " | " if pipe else c.pick(",", "\t", "; ")
    header = sep.join(head[k] for k in cols)
    d.line(("| " + header + " |") if pipe else header)
    if pipe:
        d.line("|" + "|".join("---" for _ in cols) + "|")
    for row in range(r.randint(1, 5)):
        p = c.s.person()
        cells = [_cell(c, k, p) for k in cols]
        if pipe:
            d.add("| ")
        for i, cell in enumerate(cells):
            if i:
                d.add(sep)
            d.add(cell)
        d.add(" |" if pipe else "")
        if row < 4:
            d.add("\n")


def _cell(c: Ctx, column: str, p: Person) -> tuple[str, str]:
    if column == "name":
        return ("PERSON", c.s.name_form(p))
    if column == "email":
        return ("EMAIL_ADDRESS", v.email(c.rng, p.first, p.last))
    makers = {"city": c.city, "company": lambda: ("ORGANIZATION", c.s.org()),
              "phone": c.phone, "role": lambda: c.neg("job"),
              "joined": lambda: c.date() if c.rng.random() < 0.6 else c.year()}
    return makers[column]()


@genre("news", 1.2)
def news(c: Ctx) -> None:
    d, r = c.d, c.rng
    if r.random() < 0.5:
        d.add(("LOCATION", c.s.city().upper()) if r.random() < 0.5 else c.city(), " - ")
    sentences = [
        lambda: d.add(c.brand() if r.random() < 0.5 else c.org(0), c.pick(" announced", " said",
                      " confirmed", " denied"), " on ", c.day(), " that it would ",
                      c.pick("open a plant", "expand", "cut 200 jobs", "stop selling its products"),
                      " in ", c.place(), "."),
        lambda: d.add(c.full(0), ", ", c.neg("job"), " at ", c.org(0), ", told reporters the deal ",
                      "was worth more than expected."),
        lambda: d.add("Shares in ", c.org(1), " fell after ", c.mention(0), " resigned in ",
                      c.year(), "."),
        lambda: d.add(c.org(2), ", which is headquartered in ", c.city(), ", declined to comment."),
        lambda: d.add("The ", c.neg("work"), ", a ", c.neg("genre"), " film by ", c.full(1),
                      ", opens in ", c.city(), " on ", c.date(), "."),
        lambda: d.add("Police in ", c.place(), " are appealing for witnesses after ",
                      c.pick("a fire", "a collision", "a burglary"), " on ", c.addr(), "."),
        lambda: d.add("According to ", c.mention(1), ", the ", c.neg("law"),
                      " will change how ", c.org(0), " handles data."),
        lambda: d.add(c.neg("opener"), ", ", c.full(2), " of the ", c.org(1),
                      " union said members in ", c.place(), " would vote on ", c.day(), "."),
    ]
    c.some(sentences, 1, 5)


@genre("review", 1.0)
def review(c: Ctx) -> None:
    d, r = c.d, c.rng
    stars = r.randint(1, 5)
    if r.random() < 0.6:
        d.line("★" * stars + "☆" * (5 - stars) if r.random() < 0.5 else f"{stars}/5",
               c.pick("  ", " - "), c.neg("heading", "product"))
    sentences = [
        lambda: d.add("Bought the ", c.neg("product"), " from ", c.brand(), " and it stopped ",
                      "working after a week."),
        lambda: d.add(c.first(1), " at the ", c.city(), " store was really helpful."),
        lambda: d.add(c.neg("opener"), ", delivery from ", c.org(0), " took until ", c.day(), "."),
        lambda: d.add("Great ", c.neg("genre"), " night, the ", c.neg("work"),
                      " tribute band was fun."),
        lambda: d.add("Would not recommend ", c.org(1), ". Ask for ", c.first(2),
                      ", not the manager."),
        lambda: d.add("Stayed three nights near ", c.place(), "; the host ", c.first(3),
                      " replied within minutes."),
        lambda: d.add("Five stars for ", c.brand(), "'s ", c.neg("product"), "!"),
    ]
    c.some(sentences, 1, 4)
    if r.random() < 0.5:
        d.add("\n- ", c.first(0) if r.random() < 0.6 else c.full(0), ", ", c.city())


@genre("cv", 0.9)
def cv(c: Ctx) -> None:
    d, r = c.d, c.rng
    d.line(c.full(0))
    d.line(c.addr(), " | ", c.phone(), " | ", c.email(0))
    d.add("\n")
    d.upper_heading(c.neg("heading")[1])
    d.add("\n")
    for _ in range(r.randint(1, 3)):
        d.line(c.year(), "-", c.year() if r.random() < 0.7 else "present", "  ",
               c.neg("job"), ", ", ("ORGANIZATION", c.s.org()), ", ", c.city())
    if r.random() < 0.6:
        d.line("Education: ", c.pick("BSc", "MA", "Diploma", "PhD"), ", ",
               ("ORGANIZATION", c.s.org()), " (", c.year(), ")")
    if r.random() < 0.5:
        d.line("References: ", c.full(1), " (", c.email(1), "), ", c.titled(2))


@genre("email_thread", 1.4)
def email_thread(c: Ctx) -> None:
    d, r = c.d, c.rng
    if r.random() < 0.7:
        d.line("From: ", c.full(0), " <", c.email(0, 0), ">")
        d.line("To: ", c.full(1), " <", c.email(1), ">")
        if r.random() < 0.4:
            d.line("Cc: ", c.full(2), "; ", c.full(3))
        d.line("Date: ", c.date(), " ", c.time())
        d.line("Subject: ", c.pick("Re: ", "Fwd: ", ""), c.neg("heading", "generic"))
        d.add("\n")
    d.add(c.pick("Hi ", "Dear ", "Hello ", ""), c.first(1), ",\n\n")
    sentences = [
        lambda: d.add("Thanks for sending the ", c.last(2), " report."),
        lambda: d.add("I've looped in ", c.full(3), " from ", c.org(1), " who handles the ",
                      c.neg("generic"), "."),
        lambda: d.add("Can we move the call to ", c.day(), " at ", c.time(), "?"),
        lambda: d.add("The invoice went to ", c.org(2), " in ", c.city(), " on ", c.date(), "."),
        lambda: d.add(c.brand(), " will ship the ", c.neg("product"), " samples to ",
                      c.addr(), "."),
        lambda: d.add("Please call ", c.mention(2), " on ", c.phone(), " if anything changes."),
        lambda: d.add(c.neg("opener"), ", ", c.org(0), " has not signed the ",
                      c.neg("generic"), " yet."),
    ]
    c.some(sentences, 1, 4)
    d.add("\n\n", c.pick("Best,", "Thanks,", "Regards,", "Cheers,"), "\n", c.full(0))
    if r.random() < 0.7:
        d.add("\n", c.neg("job"), " | ", c.org(0), "\n", c.phone(), c.pick("", " | "),
              c.url(0) if r.random() < 0.5 else "")
    if r.random() < 0.35:
        d.add("\n\nOn ", c.date(), ", ", c.full(1), " <", c.email(1), "> wrote:\n> ",
              c.pick("Any news on the ", "Did you see the "), c.last(3), " quote?")


@genre("address_block", 1.2)
def address_block(c: Ctx) -> None:
    d, r = c.d, c.rng
    for k in range(r.randint(1, 2)):
        label = c.pick("Billing address", "Shipping address", "Ship to", "Bill to",
                       "Deliver to", "Invoice address", "Return to")
        d.add(label, c.pick(":\n", ": "))
        who = c.full(k) if r.random() < 0.8 else c.org(k)
        if r.random() < 0.5:
            d.add(who, c.pick(", ", "\n"), c.addr(multiline=r.random() < 0.4))
        else:
            d.add(who, "\n", c.addr(multiline=True))
        if r.random() < 0.4:
            d.add("\n", c.pick("Tel ", "Phone: "), c.phone())
        d.add("\n\n")
    if r.random() < 0.5:
        d.add(c.neg("heading", "generic"), ": ", c.pick("leave with neighbour",
              "signature required", "2 items"))


@genre("minutes", 1.0)
def minutes(c: Ctx) -> None:
    d, r = c.d, c.rng
    d.upper_heading(c.pick("Minutes of the ", "Notes from the ") + c.neg("generic")[1])
    d.add("\n")
    d.line(c.pick("Present: ", "Attendees: ", "In attendance: "),
           _surname_list(c, r.randint(2, 6)))
    if r.random() < 0.5:
        d.line("Apologies: ", _surname_list(c, r.randint(1, 3)))
    sentences = [
        lambda: d.add("The ", c.last(0), " report was approved."),
        lambda: d.add(c.last(1), " to chase the ", c.last(2), " account by ", c.day(), "."),
        lambda: d.add("Action: ", c.first(3), " to book the room in ", c.city(), "."),
        lambda: d.add(c.neg("heading"), ": ", c.org(0), " renewal discussed."),
        lambda: d.add("Next meeting ", c.date(), " at ", c.time(), "."),
        lambda: d.add("Item 3 deferred under the ", c.neg("law"), "."),
    ]
    c.some(sentences, 1, 5, "\n")


@genre("company_profile", 1.1)
def company_profile(c: Ctx) -> None:
    d = c.d
    sentences = [
        lambda: d.add(c.org(0), c.pick(" is located at ", " is based at ", " has its offices at ",
                      " moved to "), c.addr(), "."),
        lambda: d.add(c.brand(), c.pick(" announced ", " launched ", " acquired "),
                      c.pick("a new ", "the "), c.neg("product"), c.pick(" line", ""), "."),
        lambda: d.add("Founded in ", c.year(), " by ", c.full(0), ", ", c.org(0),
                      " now employs 400 people in ", c.place(), "."),
        lambda: d.add(c.org(1), "'s ", c.neg("job"), ", ", c.full(1), ", joined from ",
                      c.org(2), "."),
        lambda: d.add("Visit ", c.url(0), " or call ", c.phone(), "."),
        lambda: d.add(c.org(0), " supplies ", c.org(1), " and ", c.org(2), " across ",
                      c.place(), "."),
        lambda: d.add(c.neg("opener"), ", the ", c.neg("generic"), " of ", c.org(0),
                      " meets in ", c.city(), "."),
    ]
    c.some(sentences, 1, 5)


@genre("billing", 1.0)
def billing(c: Ctx) -> None:
    d, _r = c.d, c.rng
    sentences = [
        lambda: d.add(c.pick("My card number is ", "card no. ", "Please block card ",
                             "Charge it to my card "), c.card(), c.pick(".", "", " please.")),
        lambda: d.add("Cardholder: ", c.full(0), ", expiry 0", str(c.rng.randint(1, 9)), "/",
                      str(c.rng.randint(26, 31)), "."),
        lambda: d.add("Refund to IBAN ", c.iban(), " in the name of ", c.full(0), "."),
        lambda: d.add("Order ", v.reference(c.rng), " placed on ", c.date(), " from ",
                      c.brand(), "."),
        lambda: d.add("Billing address: ", c.full(0), ", ", c.addr(), "."),
        lambda: d.add("The ", c.neg("generic"), " apply; questions to ", c.email(1, 0), "."),
        lambda: d.add("Payment declined for the ", c.neg("product"), " on ", c.day(), "."),
    ]
    c.some(sentences, 1, 4, c.pick(" ", "\n"))


@genre("support_ticket", 1.0)
def support_ticket(c: Ctx) -> None:
    d, r = c.d, c.rng
    d.line(c.pick("Ticket ", "Case ", "Incident "), v.reference(r), " - ",
           c.neg("heading", "product"))
    sentences = [
        lambda: d.add("Caller ", c.full(0), " (", c.phone(), ") could not log in from ",
                      c.ip(), "."),
        lambda: d.add("Customer says ", c.org(0), " charged twice on ", c.date(), "."),
        lambda: d.add("Escalated to ", c.first(1), " in ", c.neg("generic"), "."),
        lambda: d.add(c.first(0), " wants the ", c.neg("product"), " sent to ", c.addr(), "."),
        lambda: d.add("Verified identity with SSN ", ("US_SSN", v.ssn(r)), "."),
        lambda: d.add("Callback ", c.day(), " after ", c.time(), " on ", c.phone(), "."),
    ]
    c.some(sentences, 1, 4, c.pick(" ", "\n"))


@genre("citation", 0.6)
def citation(c: Ctx) -> None:
    d, r = c.d, c.rng
    for _ in range(r.randint(1, 3)):
        authors = [c.s.person() for _ in range(r.randint(1, 3))]
        for i, p in enumerate(authors):
            if i:
                d.add(", " if i < len(authors) - 1 else " and ")
            d.add(("PERSON", f"{p.last}, {p.first[0]}."))
        d.add(" (", c.year(), "). ", c.neg("work"), ". ", ("ORGANIZATION", c.s.org()), ", ",
              c.city(), ".\n")
    if r.random() < 0.5:
        d.add("See also ", _surname_list(c, r.randint(2, 4)), " on ", c.neg("genre"), ".")


@genre("short_line", 1.2)
def short_line(c: Ctx) -> None:
    d = c.d
    options = [
        lambda: d.add("Contact ", c.full(0), "."),
        lambda: d.add(c.last(0), " - ", c.city()),
        lambda: d.add(c.brand()),
        lambda: d.add(c.org(0), " is hiring a ", c.neg("job"), " in ", c.city(), "."),
        lambda: d.add("Call ", c.first(0), " on ", c.phone()),
        lambda: d.add("Ship to ", c.full(0), " ", c.addr()),
        lambda: d.add(c.titled(0), " will see you on ", c.day(), "."),
        lambda: d.add("Signed for by ", c.P(c.people[0].first.lower()), " at the door"),
        lambda: d.add("Thanks ", c.org(1), "!"),
        lambda: d.add(c.full(0), ", ", c.org(0)),
        lambda: d.add("The ", c.last(0), " account is overdue."),
    ]
    c.rng.choice(options)()


@genre("plain_negative", 1.1)
def plain_negative(c: Ctx) -> None:
    """No personal data at all: capitalised phrases only, so precision has something to learn."""
    d = c.d
    sentences = [
        lambda: d.add("Our ", c.neg("heading"), " covers the ", c.neg("law"), "."),
        lambda: d.add(c.neg("opener"), ", the ", c.neg("product"), " is out of stock until ",
                      "next month."),
        lambda: d.add("Shelved under ", c.neg("genre"), ": ", c.neg("work"), "."),
        lambda: d.add("The ", c.neg("job"), " reports to the ", c.neg("generic"), "."),
        lambda: d.add("Nothing beats ", c.neg("idiom"), "."),
        lambda: d.add("Leaflet on ", c.neg("eponym"), " available at reception."),
        lambda: d.add(c.neg("heading").__getitem__(1).upper(), "\n", c.neg("generic"),
                      " will review ", c.neg("generic"), "."),
        lambda: d.add("May we remind you that ", c.neg("generic"), " closes early on ",
                      "public holidays."),
    ]
    c.some(sentences, 1, 4, c.pick(" ", "\n"))


def build_document(genre_name: str, doc: Doc, src: NameSource,
                   rng: random.Random) -> dict[str, Any]:
    ctx = Ctx(doc, src, rng)
    GENRES[genre_name][0](ctx)
    return doc.finish(genre_name, ctx.case)

