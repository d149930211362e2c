"""Query text → what the person meant, as an engine-neutral query tree.

The rules, in the order they apply (README "Query syntax" says the same to users):

1. An empty query, or ``*``, matches every article.
2. **A query typed all in capitals** (a pasted headline: letters, none lower case) is plain
   words: ``AND``/``OR``/``NOT`` are words, and so are field names (``TITLE:``). Quotes,
   ``-``/``+`` and ``NEAR/n`` keep their meaning, as they do not depend on case.
3. ``AND``, ``OR`` and ``NOT`` (upper case) are operators only *between* two clauses; anywhere
   else (``NOT gas``, ``oil AND``) they are words. ``TO`` is a range keyword only inside
   ``date:[… TO …]``. Parentheses group only in a query with operators; elsewhere they are
   punctuation, as are ``?`` ending a word, ``:`` not after a known field name, and quotes
   left unbalanced.
4. ``"a phrase"`` (``~n`` after it: within n positions), ``-word`` / ``-"phrase"`` excludes,
   ``+word`` requires, ``word*`` / ``wo?d`` match index terms, ``word~`` (``~2``) is fuzzy,
   ``word^2`` boosts, ``a NEAR/5 b`` (or ``a w/5 b``) finds both within 5 words in either
   order, ``field:value`` for ``title``, ``body``, ``topics``, ``places``, ``people``, ``orgs``,
   ``source``, ``id`` and ``date`` (a day, month or year, or ``date:[2020-01 TO 2020-03]``).
5. A typed word the analysis splits into tokens that mean little alone — a stop word or a
   single character — is the phrase of them: ``G-7``, ``AT&T``, ``10-K``, ``$5``, ``t/nroff``,
   ``state-of-the-art`` find what was written. Other compounds are their words
   (``non-users`` is ``non`` and ``users``). ``U.S.`` is one token.
6. **Plain words** (no operators) are read as a person reading a search box would: articles
   with *every* content word (a word that is not a stop word) rank first, then articles with
   *any*; stop words (``the``, ``of``, ``it``) are left out, unless the query has nothing else
   (``it``, ``to be or not to be``: then every word is required). A word typed in capitals
   inside a query that is not all capitals (``IT jobs``, ``WHO report``) and a dotted acronym
   (``U.S.``) are never stop words. ``-`` words and field filters stay required in both
   tiers. A query with more than :data:`MAX_TIERED` distinct content units (a long question)
   is ranked by score alone: requiring every word of a paragraph first ranks badly. A
   repeated word counts as often as it is typed. Consecutive content words found near each
   other (within ``PROXIMITY_SLOP``) add to the score (the proximity bonus).
7. With operators, the boolean reading is exact (implicit adjacency means AND) and ranked by
   score; there are no tiers.

Nothing here raises on odd input: text that is not valid syntax is searched as its words.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from searchsvc import analysis
from searchsvc.dates import DateError, parse_period
from searchsvc.engine import (
    FACETS,
    PROXIMITY_SLOP,
    PROXIMITY_WEIGHT,
    TEXT_CLAUSES,
    Bool,
    DateRange,
    Every,
    Fuzzy,
    Near,
    Phrase,
    Prefix,
    Query,
    Term,
    Value,
    Wildcard,
    positive,
)

MAX_TIERED = 5        # plain queries with more required units are ranked by score alone
MAX_SLOP = 50
MAX_FUZZY = 2
MAX_CLAUSES = 1024
KEYWORD_FIELDS = (*FACETS, "id")
TEXT_FIELD_NAMES = ("title", "body")
FIELDS = (*TEXT_FIELD_NAMES, *KEYWORD_FIELDS, "date")
# Characters that glue tokens of one typed word into a phrase (G-7, AT&T, t/nroff, $5).
_GLUE = set("-&/'’._+@#")

_LEXEME = re.compile(
    r"(?P<ws>\s+)"
    r'|(?P<phrase>"(?P<ptext>[^"]*)")(?:~(?P<slop>\d+))?(?:\^(?P<pboost>\d+(?:\.\d+)?))?'
    r"|(?P<lpar>\()|(?P<rpar>\))"
    r"|(?P<near>(?:NEAR|near|Near|[Ww])/(?P<dist>\d{1,3}))(?=[\s\"(]|$)"
    r"|(?P<field>[A-Za-z_]+):(?=[^\s:])"
    r"|(?P<range>[\[{][^\]}\[{]*[\]}])"
    r"|(?P<sign>[-+])(?=[\"(]|[^\W\d_])"
    r'|(?P<word>[^\s"()]+)'
    r'|(?P<junk>["()])'
)
_KINDS = ("ws", "phrase", "lpar", "rpar", "near", "field", "range", "sign", "word", "junk")
_BOOST = re.compile(r"\^(\d+(?:\.\d+)?)$")
_FUZZ = re.compile(r"~(\d+(?:\.\d+)?)?$")
_OPERATORS = ("AND", "OR", "NOT")
_POSSESSIVE = re.compile(r"['\u2019][sS]$")
_OPERATOR_RUNS = {("AND",), ("OR",), ("NOT",), ("AND", "NOT"), ("OR", "NOT")}


@dataclass(frozen=True)
class Word:
    """A plain word of the query as typed: its span in the text and its normalised form."""

    start: int
    end: int
    word: str


@dataclass
class ParsedQuery:
    text: str
    match: Query | None = None          # None: every article
    first: Query | None = None          # documents matching this rank first
    proximity: tuple[Query, ...] = ()   # the bonus for query words found near each other
    words: list[Word] = field(default_factory=list)
    structured: bool = False            # operators, fields, quotes, wildcards… were used
    plain_text: str = ""                # the query as plain words (for interpreted_as)

    @property
    def match_all(self) -> bool:
        return self.match is None

    def text_clauses(self) -> list[Query]:
        """The clauses that make text match (for highlighting), none from under a NOT."""
        if self.match is None:
            return []
        return [q for q in positive(self.match) if isinstance(q, TEXT_CLAUSES)]


# -- lexing ----------------------------------------------------------------------------------


@dataclass
class _Lex:
    kind: str
    start: int
    end: int
    text: str = ""
    slop: int = 0
    boost: float = 1.0
    sign: str = ""
    field: str = ""
    distance: int = 0


def _lex(text: str, caps: bool) -> list[_Lex]:
    out: list[_Lex] = []
    for m in _LEXEME.finditer(text):
        kind = next(k for k in _KINDS if m.group(k) is not None)
        if kind in ("ws", "junk"):
            continue
        if kind == "phrase":
            out.append(_Lex("phrase", m.start(), m.end(), m.group("ptext"),
                            slop=min(int(m.group("slop") or 0), MAX_SLOP),
                            boost=float(m.group("pboost") or 1)))
        elif kind == "field":
            name = m.group("field").lower()
            if caps or name not in FIELDS or m.group("field") != m.group("field").lower():
                # Not a field we know (or a headline): the name is a word, ':' punctuation.
                out.append(_Lex("word", m.start(), m.end() - 1, m.group("field")))
            else:
                out.append(_Lex("field", m.start(), m.end(), name))
        elif kind == "near":
            out.append(_Lex("near", m.start(), m.end(), distance=max(1, int(m.group("dist")))))
        elif kind == "sign":
            out.append(_Lex("sign", m.start(), m.end(), m.group("sign")))
        else:
            out.append(_Lex(kind or "word", m.start(), m.end(), m.group(0)))
    return out


def _balanced(lexes: list[_Lex]) -> bool:
    depth = 0
    for lx in lexes:
        depth += {"lpar": 1, "rpar": -1}.get(lx.kind, 0)
        if depth < 0:
            return False
    return depth == 0


def _drop_unmatched_quote(text: str) -> str:
    """An odd number of quotes: the last one is punctuation (``"bank of england rates``)."""
    if text.count('"') % 2:
        i = text.rfind('"')
        text = text[:i] + " " + text[i + 1:]
    return text


# -- clauses ---------------------------------------------------------------------------------


@dataclass
class _Unit:
    """One clause as read: its query, whether it is a filter (facet/date/id), a stop word,
    its sign (``+``/``-``/``''``) and, for plain words, the word as typed."""

    query: Query
    filter: bool = False
    stop: bool = False
    sign: str = ""
    word: Word | None = None
    structured: bool = False


def _text_units(chunk: str, start: int, fld: str | None, mixed_case: bool,
                ) -> list[_Unit]:
    """A typed word (no spaces) → its clauses: runs of glued tokens become phrases."""
    boost = 1.0
    m = _BOOST.search(chunk)
    if m:
        boost = min(float(m.group(1)), 100.0)
        chunk = chunk[: m.start()]
    structured = m is not None
    fuzzy: int | None = None
    m = _FUZZ.search(chunk)
    if m and m.start() > 0:
        raw = m.group(1)
        fuzzy = 1 if raw is None or "." in raw else min(max(int(raw), 1), MAX_FUZZY)
        chunk = chunk[: m.start()]
    # A question mark ending a word is punctuation ("price of oil?"); so is a leading '*'.
    chunk = chunk.rstrip("?").lstrip("*?")
    toks = list(analysis.tokens(chunk))
    if not toks:
        return []
    if ("*" in chunk or "?" in chunk) and fuzzy is None:
        pattern = _wildcard_pattern(chunk)
        if pattern is not None:
            body = pattern.rstrip("*")
            query: Query = (Prefix(body, fld, boost) if body and "*" not in body
                            and "?" not in body else Wildcard(pattern, fld, boost))
            return [_Unit(query, structured=True)]
    groups: list[list[analysis.Token]] = [[toks[0]]]
    for prev, tok in zip(toks, toks[1:], strict=False):
        between = chunk[prev.end: tok.start]
        if all(c in _GLUE for c in between):
            groups[-1].append(tok)
        else:
            groups.append([tok])
    # A compound is a phrase only when a part means little alone (G-7, AT&T, state-of-the-art);
    # otherwise its words stand on their own (non-users), which ranks better (RANKING.md).
    split: list[list[analysis.Token]] = []
    for group in groups:
        if len(group) > 1 and not any(len(t.word) == 1 or analysis.is_stop(t.word)
                                      for t in group):
            split.extend([t] for t in group)
        else:
            split.append(group)
    groups = split
    units = []
    for group in groups:
        if len(group) == 1:
            tok = group[0]
            if fuzzy is not None:
                units.append(_Unit(Fuzzy(tok.term, fld, fuzzy, 1, boost), structured=True))
                continue
            stop = (analysis.is_stop(tok.word) and not tok.acronym
                    and not (mixed_case and tok.text.isupper() and len(tok.text) > 1))
            # A possessive is one token ("inflaton's"), but the word is what precedes the
            # 's: a correction replaces that and keeps the 's.
            end = tok.end - 2 if _POSSESSIVE.search(tok.text) else tok.end
            word = (Word(start + tok.start, start + end, tok.word)
                    if tok.word.isalpha() else None)
            units.append(_Unit(Term(tok.term, fld, boost, tok.text), stop=stop, word=word,
                               structured=structured))
        else:
            units.append(_Unit(Phrase(tuple(t.term for t in group), fld, 0, boost,
                                      chunk[group[0].start: group[-1].end]),
                               structured=structured))
    return units


def _wildcard_pattern(chunk: str) -> str | None:
    """``protest*`` → ``protest*`` over normalised (unstemmed) text; None if the wildcard
    does not sit inside one word."""
    parts = re.split(r"([*?])", chunk)
    out = []
    for part in parts:
        if part in ("*", "?"):
            out.append(part)
        elif part:
            toks = list(analysis.tokens(part))
            if len(toks) != 1:
                return None
            out.append(toks[0].word)
    pattern = "".join(out)
    return pattern if pattern.strip("*?") else None


def _phrase_unit(text: str, fld: str | None, slop: int, boost: float) -> list[_Unit]:
    toks = list(analysis.tokens(text))
    terms = tuple(t.term for t in toks)
    shown = " ".join(text.split())
    if not terms:
        return []
    if len(terms) == 1:
        return [_Unit(Term(terms[0], fld, boost, shown), structured=True)]
    return [_Unit(Phrase(terms, fld, slop, boost, shown), structured=True)]


def _keyword_unit(name: str, value: str) -> _Unit | None:
    value = " ".join(value.split())
    if not value:
        return None
    return _Unit(Value(name, value), filter=True, structured=True)


def _date_unit(raw: str) -> _Unit | None:
    """``date:1987-03``, ``date:[1987-03-01 TO 1987-03-31]``, ``date:{* TO 1987}``."""
    try:
        if raw[:1] in "[{":
            inner = raw[1:-1]
            parts = re.split(r"\s+to\s+|\s+TO\s+", " " + inner.strip() + " ", maxsplit=1)
            if len(parts) != 2:
                return None
            low_raw, high_raw = parts[0].strip(), parts[1].strip()
            low = parse_period(low_raw)[0] if low_raw not in ("", "*") else None
            high = parse_period(high_raw)[1] if high_raw not in ("", "*") else None
            if low and high and low > high:
                return None
            return _Unit(DateRange(low, high), filter=True, structured=True)
        low, high = parse_period(raw)
        return _Unit(DateRange(low, high), filter=True, structured=True)
    except DateError:
        return None


# -- parsing ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, lexes: list[_Lex], operators: bool, mixed_case: bool):
        self.text = text
        self.lexes = lexes
        self.i = 0
        self.operators = operators
        self.mixed_case = mixed_case
        self.units: list[_Unit] = []

    def peek(self, offset: int = 0) -> _Lex | None:
        j = self.i + offset
        return self.lexes[j] if j < len(self.lexes) else None

    # A unit: [sign] [field:] (word | phrase | range | group) [NEAR/n unit]
    def unit(self) -> list[_Unit]:
        lx = self.peek()
        if lx is None:
            return []
        sign = ""
        if lx.kind == "sign":
            nxt = self.peek(1)
            if nxt is not None and nxt.start == lx.end and nxt.kind in (
                    "word", "phrase", "field", "lpar"):
                sign = lx.text
                self.i += 1
                lx = nxt
            else:
                self.i += 1
                return []
        fld: str | None = None
        if lx.kind == "field":
            nxt = self.peek(1)
            if nxt is None or nxt.start != lx.end or nxt.kind not in (
                    "word", "phrase", "range", "lpar"):
                self.i += 1
                return self._words(lx.text, lx.start, None)
            fld = lx.text
            self.i += 1
            lx = nxt
        units = self._primary(lx, fld)
        for u in units:
            if sign:
                u.sign, u.structured = sign, True
        return units

    def _words(self, chunk: str, start: int, fld: str | None) -> list[_Unit]:
        units = _text_units(chunk, start, fld, self.mixed_case)
        if fld:
            for u in units:
                u.structured = True
        return units

    def _primary(self, lx: _Lex, fld: str | None) -> list[_Unit]:
        self.i += 1
        if fld == "date":
            raw = self.text[lx.start: lx.end] if lx.kind != "phrase" else lx.text
            unit = _date_unit(raw)
            return [unit] if unit else self._words(raw, lx.start, None)
        if fld in KEYWORD_FIELDS:
            raw = lx.text if lx.kind in ("phrase", "word") else self.text[lx.start: lx.end]
            unit = _keyword_unit(fld, raw)
            return [unit] if unit else []
        if lx.kind == "phrase":
            return _phrase_unit(lx.text, fld, lx.slop, lx.boost)
        if lx.kind == "lpar":
            if not self.operators:  # title:(oil prices): each word in the field
                units = []
                while self.peek() is not None and self.peek().kind != "rpar":  # type: ignore[union-attr]
                    units.extend(self.unit())
                self.i += 1
                for u in units:
                    u.query, u.structured = _with_field(u.query, fld or ""), True
                return units
            inner = self.expression(until_rpar=True)
            if fld:
                inner = _Unit(_with_field(inner.query, fld), structured=True)
            return [inner]
        if lx.kind == "range":  # a range outside date: its words
            return self._words(lx.text.strip("[]{}"), lx.start + 1, fld)
        return self._words(lx.text, lx.start, fld)

    def clauses(self) -> list[_Unit]:
        """Plain mode: every unit, NEAR joining its neighbours."""
        units: list[_Unit] = []
        while self.peek() is not None:
            lx = self.peek()
            assert lx is not None
            if lx.kind == "near" and units and self.peek(1) is not None:
                self.i += 1
                right = self.unit()
                near = _near(units[-1], right[0] if right else None, lx.distance)
                if near is not None:
                    units[-1] = near
                    units.extend(right[1:])
                else:
                    units.extend(right)
                continue
            if lx.kind in ("near", "rpar", "lpar"):
                self.i += 1
                continue
            units.extend(self.unit())
        return units

    # Operator mode: or := and (OR and)* ; and := not ([AND] not)* ; not := unit [NOT unit]*
    def expression(self, until_rpar: bool = False) -> _Unit:
        alternatives = [self._conjunction(until_rpar)]
        while self._is_op("OR"):
            self.i += 1
            alternatives.append(self._conjunction(until_rpar))
        if until_rpar and self.peek() is not None and self.peek().kind == "rpar":  # type: ignore[union-attr]
            self.i += 1
        alternatives = [a for a in alternatives if a is not None]
        if not alternatives:
            return _Unit(Bool(), structured=True)
        if len(alternatives) == 1:
            return alternatives[0]
        return _Unit(Bool(should=tuple(a.query for a in alternatives), min_should=1),
                     structured=True)

    def _is_op(self, name: str) -> bool:
        lx = self.peek()
        return lx is not None and lx.kind == "word" and lx.text == name and self.operators

    def _conjunction(self, until_rpar: bool) -> _Unit:
        must: list[Query] = []
        must_not: list[Query] = []
        negate = False
        while True:
            lx = self.peek()
            if lx is None or (lx.kind == "rpar" and until_rpar) or self._is_op("OR"):
                break
            if lx.kind == "rpar":
                self.i += 1
                continue
            if self._is_op("AND"):
                self.i += 1
                continue
            if self._is_op("NOT"):
                self.i += 1
                negate = True
                continue
            if lx.kind == "near":
                self.i += 1
                right = self.unit()
                if must and right:
                    left = _Unit(must[-1])
                    near = _near(left, right[0], lx.distance)
                    if near is not None:
                        must[-1] = near.query
                        continue
                must.extend(u.query for u in right)
                continue
            for u in self.unit():
                if negate or u.sign == "-":
                    must_not.append(u.query)
                else:
                    must.append(u.query)
            negate = False
        if not must and must_not:
            must = [Every()]
        if len(must) == 1 and not must_not:
            return _Unit(must[0], structured=True)
        return _Unit(Bool(must=tuple(must), must_not=tuple(must_not)), structured=True)


def _near(left: _Unit, right: _Unit | None, distance: int) -> _Unit | None:
    if right is None:
        return None
    a, b = left.query, right.query
    if not isinstance(a, (Term, Phrase)) or not isinstance(b, (Term, Phrase)):
        return None
    fld = a.field if a.field == b.field else None
    a = Phrase(a.terms, fld, shown=a.shown) if isinstance(a, Phrase) else \
        Term(a.text, fld, shown=a.shown)
    b = Phrase(b.terms, fld, shown=b.shown) if isinstance(b, Phrase) else \
        Term(b.text, fld, shown=b.shown)
    return _Unit(Near(a, b, min(distance, MAX_SLOP)), structured=True)


def _with_field(q: Query, fld: str) -> Query:
    """``title:(a b)``: the field applied to every text clause of the group."""
    if isinstance(q, Bool):
        return Bool(tuple(_with_field(c, fld) for c in q.must),
                    tuple(_with_field(c, fld) for c in q.should),
                    tuple(_with_field(c, fld) for c in q.must_not), q.min_should)
    if isinstance(q, (Term, Phrase, Prefix, Wildcard, Fuzzy)):
        return type(q)(**{**q.__dict__, "field": fld})
    return q


def _field_groups_only(lexes: list[_Lex]) -> list[_Lex]:
    """Without operators, parentheses are punctuation, except around a field's words
    (``title:(oil prices)``)."""
    out: list[_Lex] = []
    depth = 0
    keep: list[bool] = []
    for j, lx in enumerate(lexes):
        if lx.kind == "lpar":
            prev = lexes[j - 1] if j else None
            grouped = depth == 0 and prev is not None and prev.kind == "field" \
                and prev.end == lx.start
            keep.append(grouped)
            depth += 1
            if grouped:
                out.append(lx)
            continue
        if lx.kind == "rpar":
            depth -= 1
            if keep.pop():
                out.append(lx)
            continue
        out.append(lx)
    return out


def _operators_between(lexes: list[_Lex]) -> bool:
    """Does an AND/OR/NOT — or ``AND NOT`` / ``OR NOT`` — sit between two clauses (so it is
    an operator)?"""
    clause = {"word", "phrase", "field", "range", "lpar", "rpar", "sign"}

    def is_op(lx: _Lex) -> bool:
        return lx.kind == "word" and lx.text in _OPERATORS

    j = 0
    while j < len(lexes):
        if not is_op(lexes[j]):
            j += 1
            continue
        end = j
        while end + 1 < len(lexes) and is_op(lexes[end + 1]):
            end += 1
        run = tuple(lx.text for lx in lexes[j: end + 1])
        if run in _OPERATOR_RUNS and 0 < j and end < len(lexes) - 1:
            before, after = lexes[j - 1], lexes[end + 1]
            if before.kind in clause - {"lpar", "sign", "field"} and \
                    after.kind in clause - {"rpar"}:
                return True
        j = end + 1
    return False


def is_all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and not any(c.islower() for c in letters) and any(
        c.isupper() for c in letters)


def parse(text: str) -> ParsedQuery:
    """Read ``text`` by the rules of the module docstring."""
    text = text.strip()
    parsed = ParsedQuery(text=text)
    if not text or text == "*":
        return parsed
    caps = is_all_caps(text)
    cleaned = _drop_unmatched_quote(text)
    lexes = _lex(cleaned, caps)
    operators = not caps and _operators_between(lexes)
    if not _balanced(lexes):
        lexes = [lx for lx in lexes if lx.kind not in ("lpar", "rpar")]
    elif not operators:
        lexes = _field_groups_only(lexes)
    mixed_case = not caps
    parser = _Parser(cleaned, lexes, operators, mixed_case)
    if operators:
        unit = parser.expression()
        parsed.match = _simplify(unit.query)
        parsed.structured = True
    else:
        units = parser.clauses()[:MAX_CLAUSES]
        parsed.match, parsed.first = _plain(units)
        parsed.proximity = _proximity(units)
        parsed.structured = any(u.structured for u in units)
        parsed.words = [u.word for u in units if u.word is not None and not u.sign]
    parsed.plain_text = " ".join(t.text.lower() for t in analysis.tokens(text))
    if parsed.match is not None and _empty(parsed.match):
        parsed.match = Bool()  # nothing searchable but syntax: matches nothing
    return parsed


def _plain(units: list[_Unit]) -> tuple[Query | None, Query | None]:
    """The tiered reading of plain clauses (rule 6)."""
    required = [u.query for u in units if u.sign == "+" or (u.filter and u.sign != "-")]
    excluded = [u.query for u in units if u.sign == "-"]
    free = [u for u in units if not u.sign and not u.filter]
    content = [u.query for u in free if not u.stop]
    stops = [u.query for u in free if u.stop]
    if not (required or content or stops):
        if not excluded:
            return None if not units else Bool(), None
        return Bool(must=(Every(),), must_not=tuple(excluded)), None
    if content:
        any_content: list[Query] = (content if len(content) == 1
                                    else [Bool(should=tuple(content), min_should=1)])
        match: Query = Bool(must=tuple(required + any_content), must_not=tuple(excluded))
        tier = list(dict.fromkeys(content))
    else:
        match = Bool(must=tuple(required + stops), must_not=tuple(excluded))
        tier = []
    first = None
    if 2 <= len(tier) <= MAX_TIERED:
        first = Bool(must=tuple(tier))
    return _simplify(match), first


def _proximity(units: list[_Unit]) -> tuple[Query, ...]:
    """Sloppy pairs of consecutive content words (the words of phrases included), each
    distinct pair once: documents with them near each other score higher."""
    words: list[str] = []
    for u in units:
        if u.sign or u.filter or u.stop:
            continue
        q = u.query
        if isinstance(q, Term) and q.field is None:
            words.append(q.text)
        elif isinstance(q, Phrase) and q.field is None:
            words.extend(t for t in q.terms if not analysis.is_stop(t))
    pairs = dict.fromkeys((a, b) for a, b in zip(words, words[1:], strict=False) if a != b)
    return tuple(Phrase((a, b), None, PROXIMITY_SLOP, PROXIMITY_WEIGHT) for a, b in pairs)


def _simplify(q: Query) -> Query:
    """Flatten single-clause booleans so engines see the plainest equivalent tree."""
    if not isinstance(q, Bool):
        return q
    must = tuple(_simplify(c) for c in q.must)
    should = tuple(_simplify(c) for c in q.should)
    must_not = tuple(_simplify(c) for c in q.must_not)
    if len(must) == 1 and not should and not must_not:
        return must[0]
    if not must and len(should) == 1 and q.min_should == 1 and not must_not:
        return should[0]
    return Bool(must, should, must_not, q.min_should)


def _empty(q: Query) -> bool:
    return isinstance(q, Bool) and not (q.must or q.should)


# -- describing a reading --------------------------------------------------------------------


def describe(q: Query | None) -> str:
    """The query tree in the syntax a person would type for it (``interpreted_as``)."""
    if q is None:
        return "*"
    if isinstance(q, Term):
        return _fielded(q.field, q.shown or q.text) + _boost(q.boost)
    if isinstance(q, Phrase):
        slop = f"~{q.slop}" if q.slop else ""
        words = q.shown or " ".join(q.terms)
        return _fielded(q.field, '"' + words + '"') + slop + _boost(q.boost)
    if isinstance(q, Near):
        return f"{describe(q.left)} NEAR/{q.distance} {describe(q.right)}"
    if isinstance(q, Prefix):
        return _fielded(q.field, q.text + "*")
    if isinstance(q, Wildcard):
        return _fielded(q.field, q.pattern)
    if isinstance(q, Fuzzy):
        return _fielded(q.field, f"{q.text}~{q.distance}")
    if isinstance(q, Value):
        value = f'"{q.value}"' if " " in q.value else q.value
        return f"{q.field}:{value}"
    if isinstance(q, DateRange):
        low = q.low.isoformat() if q.low else "*"
        high = q.high.isoformat() if q.high else "*"
        return f"date:[{low} TO {high}]"
    if isinstance(q, Every):
        return "*"
    parts = [_grouped(c) for c in q.must]
    if q.should:
        inner = " OR ".join(_grouped(c) for c in q.should)
        parts.append(f"({inner})" if (q.must or q.must_not) and len(q.should) > 1 else inner)
    text = " AND ".join(parts) if parts else ""
    for c in q.must_not:
        text += f" NOT {_grouped(c)}" if text else f"NOT {_grouped(c)}"
    return text


def _grouped(q: Query) -> str:
    text = describe(q)
    if isinstance(q, Bool) and len(q.must) + len(q.should) + len(q.must_not) > 1:
        return f"({text})"
    return text


def _fielded(fld: str | None, text: str) -> str:
    return f"{fld}:{text}" if fld else text


def _boost(boost: float) -> str:
    return f"^{boost:g}" if boost != 1.0 else ""


def first_day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None
