"""People, organisations and places of many cultures, drawn from one seeded random stream.

Person names come from Faker locales that ship offline (first and last name from the same locale)
and from hand lists of romanised names for cultures Faker covers poorly or not at all. Places are
real cities, regions and countries from hand lists, plus street addresses from the Faker locales
whose address providers are real (many locales fall back to invented US towns, which we avoid).
Organisations are invented: coined single-word brands, surname firms, descriptive companies,
public bodies, schools, hospitals and charities.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

# Locales whose person provider is their own (checked offline against faker.config).
NAME_LOCALES = (
    "en_US", "en_US", "en_GB", "en_GB", "en_IE", "en_AU", "en_CA", "en_NZ", "en_IN", "en_IN",
    "en_NG", "en_KE", "en_PK", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CA", "fr_BE", "es_ES",
    "es_MX", "es_AR", "es_CO", "es_CL", "it_IT", "pt_BR", "pt_PT", "nl_NL", "nl_BE", "sv_SE",
    "no_NO", "da_DK", "fi_FI", "pl_PL", "cs_CZ", "sk_SK", "hu_HU", "ro_RO", "hr_HR", "sl_SI",
    "tr_TR", "id_ID", "vi_VN", "yo_NG", "ig_NG", "ha_NG", "zu_ZA", "tw_GH", "et_EE", "lt_LT",
    "lv_LV", "is_IS", "ga_IE", "az_AZ", "sw",
)
# Locales whose street addresses look like the country's own.
ADDRESS_LOCALES = (
    "en_US", "en_US", "en_GB", "en_GB", "en_AU", "en_IE", "en_NZ", "en_IN", "de_DE", "de_AT",
    "de_CH", "fr_FR", "es_ES", "es_AR", "es_CO", "it_IT", "pt_PT", "nl_NL", "nl_BE", "sv_SE",
    "no_NO", "da_DK", "fi_FI", "pl_PL", "cs_CZ", "hu_HU", "hr_HR", "id_ID", "zu_ZA",
)

# Romanised names, first names then surnames, one entry per culture.
HAND_NAMES: dict[str, tuple[list[str], list[str]]] = {
    "arabic": (["Youssef", "Layla", "Omar", "Nour", "Karim", "Rania", "Tariq", "Salma", "Hamza",
                "Yasmin", "Bilal", "Mariam", "Ziad", "Huda"],
               ["Al-Masri", "Khalil", "Saleh", "Mansour", "Nasser", "Haddadin", "El-Amin",
                "Barakat", "Qasim", "Farouk", "Al-Rashid", "Darwish", "Hijazi"]),
    "chinese": (["Wei", "Xiaoling", "Jun", "Mei", "Haoran", "Yuting", "Zhiwei", "Lan", "Bo",
                 "Qian", "Jiahui", "Tao"],
                ["Zhang", "Wang", "Liu", "Chen", "Huang", "Zhou", "Xu", "Sun", "Ma", "Guo",
                 "Lin", "Tang", "Deng"]),
    "japanese": (["Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Kenji", "Emi", "Takumi",
                  "Sakura", "Daiki", "Misaki"],
                 ["Tanaka", "Suzuki", "Takahashi", "Watanabe", "Ito", "Yamamoto", "Kobayashi",
                  "Kato", "Yoshida", "Matsumoto", "Inoue", "Kimura", "Hayashi"]),
    "korean": (["Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Do-hyun", "Su-bin", "Jae-won",
                "Ye-jin", "Hyun-woo", "Eun-ji"],
               ["Kim", "Park", "Choi", "Jung", "Kang", "Yoon", "Jang", "Lim", "Han", "Shin"]),
    "south_indian": (["Lakshmi", "Venkatesh", "Karthik", "Divya", "Srinivas", "Anjali", "Murali",
                      "Kavya", "Raghav", "Meenakshi", "Arjun"],
                     ["Subramanian", "Iyer", "Reddy", "Naidu", "Krishnamurthy", "Pillai",
                      "Raghunathan", "Menon", "Venkataraman", "Gopalan"]),
    "persian": (["Dariush", "Shirin", "Kaveh", "Parisa", "Arash", "Leila", "Babak", "Nasrin",
                 "Farid", "Mahsa"],
                ["Farahani", "Tehrani", "Mohammadi", "Rahimi", "Karimi", "Shirazi", "Ahmadi",
                 "Jafari", "Moradi", "Sadeghi"]),
    "russian": (["Dmitri", "Anastasia", "Sergei", "Ekaterina", "Mikhail", "Olga", "Alexei",
                 "Tatiana", "Nikolai", "Irina"],
                ["Volkov", "Ivanova", "Smirnov", "Kuznetsova", "Popov", "Sokolova", "Lebedev",
                 "Morozova", "Pavlov", "Fedorova"]),
    "greek": (["Nikos", "Eleni", "Giorgos", "Katerina", "Yannis", "Sofia", "Dimitris", "Maria",
               "Kostas", "Despina"],
              ["Papadopoulos", "Georgiou", "Nikolaidis", "Konstantinou", "Vlachos",
               "Karagiannis", "Oikonomou", "Dimitriou", "Antoniou"]),
    "hebrew": (["Noa", "Avi", "Tamar", "Yonatan", "Shira", "Eitan", "Maya", "Ariel", "Yael",
                "Omri"],
               ["Levi", "Cohen", "Mizrahi", "Peretz", "Biton", "Friedman", "Shapiro", "Katz",
                "Ben-David", "Avraham"]),
    "ethiopian": (["Abebe", "Tigist", "Dawit", "Selam", "Yohannes", "Hirut", "Mekonnen",
                   "Bethlehem", "Tesfaye", "Meron"],
                  ["Bekele", "Haile", "Tadesse", "Girma", "Alemu", "Wolde", "Kebede", "Desta",
                   "Assefa", "Gebremariam"]),
    "somali": (["Abdi", "Hodan", "Farah", "Ayaan", "Mahad", "Sahra", "Guled", "Fadumo"],
               ["Warsame", "Jama", "Abdullahi", "Hassan", "Osman", "Egal", "Nur", "Dualeh"]),
    "vietnamese": (["Minh", "Thao", "Quang", "Lan Anh", "Tuan", "Huong", "Duc", "Ngoc", "Bao"],
                   ["Nguyen", "Tran", "Le", "Pham", "Hoang", "Vo", "Dang", "Bui", "Do"]),
    "filipino": (["Maricel", "Jomar", "Liza", "Rodel", "Analyn", "Jericho", "Rowena", "Dindo"],
                 ["Dela Cruz", "Bautista", "Villanueva", "Mercado", "Magsaysay", "Soriano",
                  "Pangilinan", "Macaraeg"]),
    "pacific": (["Sione", "Aroha", "Tevita", "Mele", "Wiremu", "Losa", "Manaia", "Hemi"],
                ["Tuilagi", "Ngata", "Fifita", "Taufa", "Parata", "Vaipulu", "Tipoki",
                 "Moala"]),
    "turkish": (["Emre", "Elif", "Burak", "Zeynep", "Mert", "Ayse", "Can", "Ebru", "Kaan"],
                ["Yilmaz", "Demir", "Sahin", "Celik", "Aydin", "Ozturk", "Arslan", "Kaya",
                 "Korkmaz"]),
    "bangladeshi": (["Tahmina", "Rafiq", "Nusrat", "Shakil", "Farhana", "Imran", "Sumaiya"],
                    ["Chowdhury", "Rahman", "Hossain", "Akter", "Islam", "Talukder", "Sarkar"]),
    "malay": (["Aisyah", "Hafiz", "Nurul", "Faizal", "Siti", "Azlan", "Liyana"],
              ["bin Abdullah", "binti Ismail", "bin Hamid", "binti Yusof", "bin Osman"]),
    "ghanaian": (["Kwame", "Ama", "Kofi", "Akosua", "Yaw", "Efua", "Kwabena", "Adwoa"],
                 ["Mensah", "Asante", "Owusu", "Boateng", "Appiah", "Ofori", "Darko",
                  "Agyeman"]),
    "irish_scots": (["Siobhan", "Niamh", "Ciaran", "Eilidh", "Ruairi", "Aoife", "Callum",
                     "Mairead"],
                    ["O'Sullivan", "McAllister", "MacLeod", "O'Connell", "Fitzgerald",
                     "McGregor", "Ni Bhriain", "Kavanagh"]),
    "dutch_particle": (["Sanne", "Joost", "Femke", "Ruud", "Lotte", "Bram"],
                       ["van der Berg", "de Vries", "van Dijk", "ter Horst", "van den Broek",
                        "de Jong"]),
}

TITLES = {"f": ["Ms", "Mrs", "Miss", "Dr", "Prof.", "Ms."], "m": ["Mr", "Dr", "Mr.", "Prof."],
          "x": ["Dr", "Mx", "Prof."]}

CITIES = [
    "Lagos", "Abuja", "Accra", "Kumasi", "Nairobi", "Mombasa", "Kampala", "Addis Ababa", "Dakar",
    "Casablanca", "Cairo", "Alexandria", "Johannesburg", "Durban", "Cape Town", "Lusaka",
    "Harare", "Dar es Salaam", "Kigali", "Tunis", "Beirut", "Amman", "Dubai", "Doha", "Riyadh",
    "Muscat", "Tehran", "Isfahan", "Istanbul", "Izmir", "Ankara", "Karachi", "Lahore", "Dhaka",
    "Chittagong", "Mumbai", "Pune", "Chennai", "Bengaluru", "Hyderabad", "Kolkata", "Colombo",
    "Kathmandu", "Bangkok", "Chiang Mai", "Hanoi", "Ho Chi Minh City", "Manila", "Cebu",
    "Jakarta", "Surabaya", "Kuala Lumpur", "Penang", "Singapore", "Shenzhen", "Chengdu",
    "Hangzhou", "Osaka", "Sapporo", "Fukuoka", "Busan", "Incheon", "Taipei", "Kaohsiung",
    "Auckland", "Wellington", "Christchurch", "Brisbane", "Perth", "Adelaide", "Hobart",
    "Vancouver", "Winnipeg", "Halifax", "Montreal", "Quebec City", "Calgary", "Denver",
    "Albuquerque", "Boise", "Omaha", "Tucson", "Pittsburgh", "Baltimore", "Savannah",
    "New Orleans", "Sacramento", "Anchorage", "Honolulu", "Guadalajara", "Monterrey", "Puebla",
    "Bogota", "Medellin", "Lima", "Arequipa", "Quito", "Santiago", "Valparaiso", "Montevideo",
    "Rosario", "Cordoba", "Porto Alegre", "Recife", "Salvador", "Belo Horizonte", "Lisbon",
    "Porto", "Seville", "Valencia", "Bilbao", "Zaragoza", "Marseille", "Lyon", "Toulouse",
    "Nantes", "Lille", "Antwerp", "Ghent", "Utrecht", "Eindhoven", "Groningen", "Aarhus",
    "Odense", "Malmo", "Gothenburg", "Uppsala", "Bergen", "Trondheim", "Tromso", "Tampere",
    "Turku", "Reykjavik", "Tallinn", "Riga", "Vilnius", "Gdansk", "Wroclaw", "Krakow", "Brno",
    "Bratislava", "Graz", "Salzburg", "Innsbruck", "Leipzig", "Dresden", "Hanover", "Bremen",
    "Freiburg", "Zurich", "Basel", "Lausanne", "Bologna", "Turin", "Naples", "Palermo",
    "Ljubljana", "Zagreb", "Split", "Sarajevo", "Belgrade", "Sofia", "Plovdiv", "Cluj-Napoca",
    "Timisoara", "Debrecen", "Thessaloniki", "Patras", "Nicosia", "Valletta", "Cork", "Galway",
    "Limerick", "Belfast", "Derry", "Aberdeen", "Inverness", "Dundee", "Swansea", "Cardiff",
    "Leeds", "Sheffield", "Bristol", "Norwich", "Plymouth", "Exeter", "Nottingham", "Leicester",
    "Coventry", "Newcastle upon Tyne", "Sunderland", "Middlesbrough", "Brighton", "Oxford",
]
REGIONS = [
    "Bavaria", "Catalonia", "Andalusia", "Tuscany", "Lombardy", "Brittany", "Provence",
    "Flanders", "Wallonia", "Jutland", "Lapland", "Silesia", "Transylvania", "Anatolia",
    "Punjab", "Kerala", "Tamil Nadu", "Gujarat", "Sindh", "Bali", "Java", "Mindanao", "Hokkaido",
    "Kyushu", "Gyeonggi Province", "Guangdong", "Sichuan", "Patagonia", "Yucatan", "Ontario",
    "British Columbia", "Nova Scotia", "Queensland", "Tasmania", "Western Australia",
    "the Highlands", "Cornwall", "Yorkshire", "County Kerry", "the Algarve", "Rift Valley",
    "Upper West Side", "Brooklyn", "Soweto", "Ikeja", "Kowloon", "Montmartre", "Kreuzberg",
    "Texas", "Oregon", "Vermont", "Arizona", "Minnesota", "Kentucky", "New Mexico",
]
COUNTRIES = [
    "Nigeria", "Ghana", "Kenya", "Ethiopia", "Senegal", "Morocco", "Egypt", "South Africa",
    "Zambia", "Tanzania", "Rwanda", "Lebanon", "Jordan", "Qatar", "Oman", "Iran", "Turkey",
    "Pakistan", "Bangladesh", "India", "Sri Lanka", "Nepal", "Thailand", "Vietnam",
    "the Philippines", "Indonesia", "Malaysia", "Japan", "South Korea", "Taiwan", "China",
    "New Zealand", "Australia", "Canada", "the United States", "Mexico", "Colombia", "Peru",
    "Chile", "Argentina", "Uruguay", "Brazil", "Portugal", "Spain", "France", "Belgium",
    "the Netherlands", "Denmark", "Sweden", "Norway", "Finland", "Iceland", "Estonia", "Latvia",
    "Lithuania", "Poland", "Czechia", "Slovakia", "Austria", "Germany", "Switzerland", "Italy",
    "Slovenia", "Croatia", "Serbia", "Bulgaria", "Romania", "Hungary", "Greece", "Cyprus",
    "Malta", "Ireland", "Scotland", "Wales", "England", "the United Kingdom", "Ukraine",
]
STREET_KINDS = ["Road", "Street", "Avenue", "Lane", "Close", "Crescent", "Drive", "Way",
                "Terrace", "Place", "Boulevard", "Court", "Row", "Hill", "Gardens"]
STREET_WORDS = ["Harbour", "Mill", "Chapel", "Orchard", "Station", "Willow", "Quarry", "Market",
                "Bridge", "Elm", "Victoria", "Ferry", "Tannery", "Kiln", "Heron", "Juniper",
                "Cedar", "Almond", "Baobab", "Acacia", "Lighthouse", "Foundry", "Canal", "Bell"]

# Coined brand syllables: one capitalised word that is not an English word ("Zentrix").
_BRAND_HEADS = ["Zen", "Vor", "Kal", "Lumi", "Nex", "Quor", "Bryn", "Tal", "Sol", "Ver",
                "Astr", "Cor", "Hal", "Dra", "Mir", "Oct", "Pel", "Ryv", "Syn", "Tor", "Ul",
                "Xan", "Yel", "Fen", "Gal", "Jov", "Kin", "Mor", "Obr", "Pix", "Quil", "Tess",
                "Vel", "Wex", "Zyl", "Arc", "Bel", "Cyr", "Dex", "Elv"]
_BRAND_TAILS = ["trix", "ova", "ara", "ix", "ium", "eon", "ora", "ent", "ify", "ly", "ico",
                "ex", "aro", "abe", "ino", "yx", "ana", "iq", "os", "elle", "umo", "aya", "io",
                "ondo", "era"]
_CAMEL = [("Bright", "Path"), ("Blue", "Forge"), ("Clear", "Ledger"), ("Quick", "Crate"),
          ("True", "North"), ("Open", "Harvest"), ("Deep", "Current"), ("Swift", "Parcel"),
          ("Iron", "Leaf"), ("Green", "Gable"), ("Star", "Haven"), ("Tide", "Mark")]
_INDUSTRIES = ["Freight", "Logistics", "Architects", "Dental Care", "Pharmaceuticals",
               "Biosciences", "Robotics", "Textiles", "Insurance", "Holdings", "Capital",
               "Builders", "Solar", "Foods", "Brewing Company", "Shipping", "Engineering",
               "Legal", "Accountants", "Telecom", "Media Group", "Fisheries", "Aerospace",
               "Analytics", "Hospitality", "Motors", "Ceramics", "Outfitters"]
_SUFFIXES = ["", "", "", "Ltd", "Ltd.", "Limited", "Inc.", "Inc", "LLC", "LLP", "plc", "GmbH",
             "AG", "S.A.", "SAS", "B.V.", "N.V.", "Oy", "AB", "AS", "A/S", "Pty Ltd", "Sdn Bhd",
             "K.K.", "S.r.l.", "Co.", "Corp.", "PLC"]
_DESCRIPTORS = ["Northbridge", "Eastgate", "Stonehaven", "Greyfriars", "Silverbirch",
                "Riverbend", "Highmoor", "Copperleaf", "Kingsway", "Ashgrove", "Blackwater",
                "Fairhaven", "Windmill", "Lionsgate", "Seaview", "Thornbury", "Oakridge",
                "Redhill", "Sandpiper", "Westmarch"]
_PUBLIC = ["{city} City Council", "University of {city}", "{city} Institute of Technology",
           "{city} General Hospital", "{city} Teaching Hospital", "{city} Water Board",
           "{city} Chamber of Commerce", "Port Authority of {city}", "{city} Metro",
           "{city} Public Library", "{city} Football Club", "{city} Housing Trust",
           "Bank of {country}", "{country} Revenue Authority", "National Museum of {country}",
           "St {saint}'s Hospital", "St {saint}'s Primary School", "{saint} College",
           "Friends of {city} Parks", "{descriptor} Community Trust", "{descriptor} Academy"]
_SAINTS = ["Bride", "Columba", "Anselm", "Brigid", "Aidan", "Margaret", "Jude", "Hilda",
           "Cuthbert", "Teresa", "Monica", "Patrick"]


@dataclass
class Person:
    """One person in a document: mentioned in full, by title and surname, or by first name."""

    first: str
    last: str
    middle: str
    sex: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"

    def title(self, rng: random.Random) -> str:
        return rng.choice(TITLES[self.sex])


class NameSource:
    """Draws people, organisations and places; all randomness comes from ``rng``."""

    def __init__(self, rng: random.Random, fakers: dict[str, Any]) -> None:
        self.rng, self._fakers = rng, fakers

    def faker(self, locale: str) -> Any:
        if locale not in self._fakers:
            from faker import Faker

            self._fakers[locale] = Faker(locale)
        fake = self._fakers[locale]
        fake.seed_instance(self.rng.getrandbits(32))
        return fake

    # People -----------------------------------------------------------------------------------
    def person(self) -> Person:
        rng = self.rng
        sex = rng.choice("fm") if rng.random() < 0.95 else "x"
        if rng.random() < 0.4:
            firsts, lasts = HAND_NAMES[rng.choice(sorted(HAND_NAMES))]
            first, last = rng.choice(firsts), rng.choice(lasts)
            middle = rng.choice(firsts) if rng.random() < 0.1 else ""
        else:
            fake = self.faker(rng.choice(NAME_LOCALES))
            pick = {"f": "first_name_female", "m": "first_name_male"}.get(sex, "first_name")
            first = str(getattr(fake, pick, fake.first_name)())
            last = str(fake.last_name())
            middle = str(fake.first_name()) if rng.random() < 0.12 else ""
        if rng.random() < 0.05:
            last = f"{last}-{self.surname()}"
        return Person(first=first, last=last, middle=middle, sex=sex)

    def surname(self) -> str:
        if self.rng.random() < 0.45:
            return self.rng.choice(HAND_NAMES[self.rng.choice(sorted(HAND_NAMES))][1])
        return str(self.faker(self.rng.choice(NAME_LOCALES)).last_name())

    def name_form(self, p: Person) -> str:
        """A surface form of the whole name (no title): what a form or header would show."""
        r = self.rng.random()
        if r < 0.6 or not p.middle and r < 0.75:
            return p.full
        if r < 0.75:
            return f"{p.first} {p.middle} {p.last}"
        if r < 0.85:
            return f"{p.first} {self.rng.choice('ABCDEFGHJKLMNPRSTVW')}. {p.last}"
        if r < 0.93:
            return f"{p.first[0]}. {p.last}"
        return f"{p.last.upper()} {p.first}" if self.rng.random() < 0.5 else f"{p.last}, {p.first}"

    # Organisations ----------------------------------------------------------------------------
    def brand(self) -> str:
        rng = self.rng
        if rng.random() < 0.8:
            return rng.choice(_BRAND_HEADS) + rng.choice(_BRAND_TAILS)
        a, b = rng.choice(_CAMEL)
        return a + b

    def org(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.22:
            return self.brand()
        if r < 0.38:
            return " ".join(x for x in (self.brand(), rng.choice(_INDUSTRIES),
                                        rng.choice(_SUFFIXES)) if x)
        if r < 0.55:
            return " ".join(x for x in (self.surname(), rng.choice(_INDUSTRIES),
                                        rng.choice(_SUFFIXES)) if x)
        if r < 0.63:
            return f"{self.surname()} & {rng.choice(['Sons', 'Daughters', 'Partners', 'Co.'])}"
        if r < 0.70:
            return f"{self.surname()} {rng.choice(['and', '&'])} {self.surname()}"
        if r < 0.78:
            return " ".join(x for x in (rng.choice(_DESCRIPTORS), rng.choice(_INDUSTRIES),
                                        rng.choice(_SUFFIXES)) if x)
        if r < 0.83:
            letters = "".join(rng.choices("ABCDEFGHKLMNPRSTVWXZ", k=rng.randint(2, 4)))
            return f"{letters} {rng.choice(['Group', 'Holdings', 'Partners', 'Systems'])}"
        if r < 0.92:
            return rng.choice(_PUBLIC).format(city=rng.choice(CITIES),
                                              country=rng.choice(COUNTRIES).replace("the ", ""),
                                              saint=rng.choice(_SAINTS),
                                              descriptor=rng.choice(_DESCRIPTORS))
        company = str(self.faker(rng.choice(ADDRESS_LOCALES)).company())
        return company.replace("\n", " ")

    # Places -----------------------------------------------------------------------------------
    def city(self) -> str:
        if self.rng.random() < 0.8:
            return self.rng.choice(CITIES)
        return str(self.faker(self.rng.choice(ADDRESS_LOCALES[8:])).city())

    def region(self) -> str:
        return self.rng.choice(REGIONS)

    def country(self) -> str:
        return self.rng.choice(COUNTRIES)

    def street(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return str(self.faker(rng.choice(ADDRESS_LOCALES)).street_address()).replace(
                "\n", ", ").strip()
        number = str(rng.randint(1, 240)) + (rng.choice("ABC") if rng.random() < 0.1 else "")
        return f"{number} {rng.choice(STREET_WORDS)} {rng.choice(STREET_KINDS)}"

    def postcode(self) -> str:
        rng = self.rng
        shapes = [lambda: f"{rng.randint(10000, 99999)}",
                  lambda: (f"{rng.choice('BDGLMNS')}{rng.choice('EHNSW')}{rng.randint(1, 19)} "
                           f"{rng.randint(1, 9)}{rng.choice('ABDEFHJLNPRSTUWXYZ')}"
                           f"{rng.choice('ABDEFHJLNPRSTUWXYZ')}"),
                  lambda: f"{rng.randint(1000, 9999)}",
                  lambda: f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"]
        return rng.choice(shapes)()

    def address(self, multiline: bool = False) -> str:
        """A whole postal address: one LOCATION span, on one line or on several."""
        rng = self.rng
        if rng.random() < 0.35:
            raw = str(self.faker(rng.choice(ADDRESS_LOCALES)).address()).strip()
            lines = [x.strip() for x in raw.split("\n") if x.strip()]
        else:
            lines = [self.street()]
            if rng.random() < 0.2:
                lines[0] = (rng.choice(["Flat", "Unit", "Apt", "Suite"])
                            + f" {rng.randint(1, 60)}, " + lines[0])
            tail = f"{self.city()} {self.postcode()}" if rng.random() < 0.6 else self.city()
            lines.append(tail)
            if rng.random() < 0.4:
                lines.append(self.country())
        sep = "\n" if multiline else rng.choice([", ", ", ", " "])
        return sep.join(lines)
