"""Pages -> chunks that respect sections, the embedding model's token budget and exact provenance.

The non-TOC pages of a document are seen as one text ``G`` (page texts joined by "\\n"), so a
range of ``G`` maps to page spans whose texts, joined by "\\n", give back exactly the chunk text.

1. Headings: every line goes through `detect_heading`; numbered headings are then checked
   against the previous numbered heading (a plausible next number), so list items such as
   "2. Reports" inside section 7.5 stay body text. A numbered line followed by a line starting in
   lowercase is a wrapped paragraph, not a heading.
2. Sections run from one accepted heading to the next and carry the path of headings above them.
3. Units: a section is cut into sentences (and list items, and blocks separated by blank lines or
   ending in ":"/";"). A unit over the budget is cut at line breaks, then between words, and a
   single giant "word" (a formula) into character slices. Each unit's tokens are counted once;
   chunk sizes are sums of unit counts, verified with one real count per chunk.
4. Runs: neighbouring sections are chunked together only when one of them is under `min_tokens`,
   both fit in one chunk, and they share a parent (or both are front matter under unnumbered
   capitals, such as a title page); a heading with no body is glued to the section that follows
   when that section is its descendant. Within a run, units are packed greedily up to
   `max_tokens` (balanced so that the last chunk is not a scrap), and each chunk repeats the last
   whole sentences (≈ `overlap_tokens`) of the previous chunk of the same section, or its last
   words when no whole sentence is small enough.
5. A chunk's `section_path` is the common prefix of its units' section paths: a chunk inside one
   section gets that section's full path, a chunk that merged tiny siblings gets their parent.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from atmp_rag.models import Chunk, Page, PageSpan

log = logging.getLogger(__name__)


def _wordset(words: str) -> frozenset[str]:
    """A set of space-separated words (keeps long word lists readable)."""
    return frozenset(words.split())

__all__ = ["Heading", "chunk_pages", "detect_heading"]


# --------------------------------------------------------------------------------------------
# headings


@dataclass(frozen=True)
class Heading:
    """A heading line: its number or label ("4.3.1", "3.2.S.4.1", "Annex I", "II", "A", "(a)", "")
    and title, the line as printed (whitespace-normalised), its level and kind.

    Levels: decimal depth (4 -> 1, 4.3 -> 2, 4.3.1 -> 3; "I.5" -> 2), annex/appendix -> 1,
    roman section ("II. SCOPE") -> 1, PART -> 0 (parts hold numbered sections), lettered items
    -> 2 ("A.") or 3 ("(a)"), unnumbered capitals -> 1. `kind` is one of "numbered", "roman",
    "annex", "part", "letter", "caps".
    """

    number: str
    title: str
    level: int
    kind: str
    text: str


_UNITS = _wordset(
    "mg g kg µg μg ng ml mL l L µl μl h hr hrs hours days day weeks months month years year min sec s "
    "ppm ppb % °C °F C K mm cm m nm µm μm rpm Pa kPa bar mol mmol M mM IU U kDa Da x"
)
_VERBS = _wordset(
    "should must shall will may is are was were can could might has have had be been does do would"
)
_SMALL_WORDS = _wordset("a an and as at by for from in into of on or the to with within without via vs per")
_HARD_CAPS = _wordset(
    "GLOSSARY REFERENCES REFERENCE DEFINITIONS INTRODUCTION SCOPE BACKGROUND ABBREVIATIONS BIBLIOGRAPHY "
    "SUMMARY CONCLUSION CONCLUSIONS ANNEXES APPENDICES FOREWORD PREAMBLE"
)

_NUMBERED = re.compile(
    r"^(?P<num>(?:\d{1,2}[a-z]?|[A-Z]\d{0,2}|[IVX]{1,5})(?:\.(?:\d{1,3}[a-z]?|[A-Z]))*)(?P<dot>\.?)"
    r"(?:\s+(?P<title>\S.*))?$"
)
_ANNEX = re.compile(
    r"^(?P<word>annex|appendix|attachment)\s+(?P<num>[IVX]{1,5}|\d{1,2}|[A-Z])\b\s*(?P<sep>[.:–-]?)\s*(?P<title>.*)$",
    re.IGNORECASE,
)
_PART = re.compile(r"^(?P<word>part)\s+(?P<num>[IVX]{1,5}|\d{1,2}|[A-Z])\b\s*(?P<sep>[.:–-]?)\s*(?P<title>.*)$",
                   re.IGNORECASE)
_PAREN_ITEM = re.compile(r"^\((?P<num>[a-z]|[ivx]{1,4})\)\s+(?P<title>\S.*)$")
_ROMAN_COMPONENT = re.compile(r"^[IVX]{1,5}$")


def _words(title: str) -> list[str]:
    return title.split()


def _is_caps(text: str) -> bool:
    """Written in capitals; a few lowercase letters are tolerated ("SPECIFIC GUIDANCE FOR APIs")."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


def _title_ok(title: str, max_words: int = 16) -> bool:
    """Does `title` read like a heading title rather than a sentence, a value or a table cell?"""
    title = title.strip()
    if not title or len(title) > 110:
        return False
    first = title.lstrip("\"'“‘(")
    if not first[:1].isupper():
        return False
    words = _words(title)
    if len(words) > max_words or words[0] in _UNITS:
        return False
    if title[-1] in ",;?!&" or (title.endswith(".") and len(words) > 3):
        return False
    if re.search(r"\.\s+\S", title):
        return False  # two sentences ("Lewis RJ. Hawley's Dictionary"): a reference or a paragraph
    if _is_caps(title):
        return True
    if any(w in _VERBS for w in words) or (len(words) > 1 and words[-1] in _SMALL_WORDS):
        return False  # a modal verb, or a line broken after "of"/"and": a wrapped sentence
    if len(words) > 8:
        # Long titles are in Title Case; a long sentence-case line is a paragraph's first line.
        significant = [w for w in words if w.isalpha() and w.lower() not in _SMALL_WORDS]
        if not significant or sum(w[0].isupper() for w in significant) < 0.5 * len(significant):
            return False
    return True


def detect_heading(line: str) -> Heading | None:
    """Classify one line as a heading, or None.

    Recognised: decimal and CTD numbers ("4.", "4.2.1 Title", "3.2.S.4.1 Specification",
    "A2.1 Title", "I.5 Title"), roman sections ("II. SCOPE"), "Annex 1", "ANNEX I: Title",
    "Appendix 2.", "PART I:", lettered items ("A. General", "(a) Short title") and unnumbered
    capitals ("GLOSSARY"). Rejected: long or sentence-like titles (a modal verb, a final full
    stop on more than three words, a final comma/semicolon/question mark), numbers followed by a
    unit or a lowercase word ("25 °C ± 2 °C", "12 months"), and a bare number without a full stop
    unless its title is in capitals.
    """
    text = " ".join(line.split())
    if not text or len(text) > 130:
        return None

    m = _ANNEX.match(text) or _PART.match(text)
    if m:
        word, num, title = m.group("word"), m.group("num"), m.group("title").strip()
        # "Annex II provides examples ..." and "Appendix 3. Summaries ... are published in" are sentences.
        if title and not _title_ok(title):
            return None
        kind = "part" if word.lower() == "part" else "annex"
        return Heading(number=f"{word} {num}", title=title, level=0 if kind == "part" else 1, kind=kind, text=text)

    m = _PAREN_ITEM.match(text)
    if m:
        title = m.group("title")
        # List items end in punctuation ("(e) The subject's responsibilities."); titles do not.
        if len(title) <= 60 and title[-1] not in ".:;," and _title_ok(title, max_words=8):
            return Heading(number=f"({m.group('num')})", title=title, level=3, kind="letter", text=text)
        return None

    m = _NUMBERED.match(text)
    if m:
        num, dot, title = m.group("num"), m.group("dot"), (m.group("title") or "").strip()
        parts = num.split(".")
        if len(parts) == 1:
            comp = parts[0]
            if comp.isdigit() or comp[:-1].isdigit():
                # A bare "3 Title" is too often a footnote or a table row; EMA and ICH write "3." or caps.
                if not title or not _title_ok(title) or not (dot or _is_caps(title)):
                    return None
                return Heading(number=num, title=title, level=1, kind="numbered", text=text)
            if _ROMAN_COMPONENT.match(comp):  # "I." is roman; other single capitals are letters
                if dot and title and _title_ok(title):
                    return Heading(number=num, title=title, level=1, kind="roman", text=text)
                return None
            if len(comp) == 1 and comp.isupper():
                if dot and title and title[-1] not in ".:;," and _title_ok(title, max_words=8):
                    return Heading(number=num, title=title, level=2, kind="letter", text=text)
                return None
            return None
        if not any(any(ch.isdigit() for ch in p) for p in parts):
            return None  # "U.S. Food" and other abbreviations
        # After the first component only digits or single capitals (CTD "S", "P") are numbers.
        if not all(re.fullmatch(r"\d{1,3}[a-z]?|[A-Z]", p) for p in parts[1:]):
            return None
        if not title or not _title_ok(title):
            return None
        return Heading(number=num, title=title, level=len(parts), kind="numbered", text=text)

    words = _words(text)
    if (
        _is_caps(text)
        and not any(ch.isdigit() for ch in text)
        and len(words) <= 12
        and sum(c.isalpha() for c in text) >= 4
        and any(len(re.sub(r"\W", "", w)) >= 3 for w in words)
        and text[-1] not in ".,;"
        and text[0].isalpha()
        and words[0].lower() not in _SMALL_WORDS  # "AND TERTIARY-BUTYL ALCOHOL": a wrapped line
        # One short word is an acronym in a table ("DMSO") or a glossary term ("NOEL:").
        and ((len(words) > 1 and not text.endswith(":")) or len(text) >= 6 or text in _HARD_CAPS)
    ):
        return Heading(number="", title=text, level=1, kind="caps", text=text)
    return None


def _number_key(number: str) -> tuple[tuple[str, int], ...]:
    """"4.2.1" -> (("d", 4), ("d", 2), ("d", 1)); roman first parts and letters get their own types."""
    out = []
    for i, part in enumerate(number.split(".")):
        m = re.fullmatch(r"(\d+)[a-z]?", part)
        if m:
            out.append(("d", int(m.group(1))))
        elif i == 0 and _ROMAN_COMPONENT.match(part):
            out.append(("r", _roman(part)))
        else:
            out.append(("a:" + part, 0))
    return tuple(out)


def _roman(s: str) -> int:
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for a, b in zip(s, s[1:] + " ", strict=True):
        v = values[a]
        total += -v if b != " " and values.get(b, 0) > v else v
    return total


def _plausible_next(prev: tuple[tuple[str, int], ...] | None, cand: tuple[tuple[str, int], ...]) -> bool:
    """Is `cand` a plausible heading number after `prev` (next sibling of some ancestor, or a child)?

    Up to two missed siblings are tolerated; deeper levels opened by a jump start at 0-3
    ("4.2" -> "5.1" is fine, "4.2" -> "5.7" is not).
    """
    if prev is None:
        return True
    for k in range(len(cand)):
        if cand[:k] != prev[:k]:
            return False
        rest_ok = all(t == "d" and v <= 3 for t, v in cand[k + 1:])
        if k < len(prev):
            (pt, pv), (ct, cv) = prev[k], cand[k]
            if pt == ct and pt in ("d", "r") and pv < cv <= pv + 3 and rest_ok:
                return True
        else:
            # A child of the previous heading; any first number (earlier siblings may have been missed).
            return cand[k][0] == "d" and rest_ok
    return False


# --------------------------------------------------------------------------------------------
# sections


@dataclass
class _Section:
    path: list[str]
    start: int  # offset in G of the heading line (or of the text, for the preamble)
    end: int
    body_start: int  # offset in G just after the heading line(s)
    units: list[tuple[int, int]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    soft: bool = True  # only unnumbered capitals above: title pages and other front matter


@dataclass
class _PathState:
    stack: list[tuple[int, str, bool]] = field(default_factory=list)  # (level, text, soft)
    last_number: tuple[tuple[str, int], ...] | None = None

    def path(self) -> list[str]:
        return [text for _, text, _ in self.stack]

    def push(self, level: int, text: str, soft: bool) -> None:
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text, soft))

    def soft_only(self) -> bool:
        return all(soft for _, _, soft in self.stack)

    def hard_depth(self) -> int:
        hard = [lvl for lvl, _, soft in self.stack if not soft]
        return hard[-1] if hard else 0


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def _sections(g: str) -> list[_Section]:
    lines = _lines_with_offsets(g)
    state = _PathState()
    sections: list[_Section] = [_Section(path=[], start=0, end=len(g), body_start=0)]
    i = 0
    n = len(lines)
    while i < n:
        offset, line = lines[i]
        heading = detect_heading(line) if line.strip() else None
        if heading is None:
            i += 1
            continue
        nxt = next((ln for _, ln in lines[i + 1:i + 4] if ln.strip()), "")
        title_caps = _is_caps(heading.title) if heading.title else False
        if heading.kind in ("numbered", "roman", "letter") and nxt[:1].islower() and not title_caps:
            i += 1  # a wrapped paragraph that merely starts with a number
            continue
        key = _number_key(heading.number) if heading.kind == "numbered" else None
        if key is not None and not _plausible_next(state.last_number, key):
            i += 1
            continue
        text = heading.text
        consumed = 1
        # Headings wrapped over several lines: capitals continue in capitals (up to four lines);
        # an annex or part whose title is on the next line takes that line.
        while i + consumed < n and consumed < 4:
            next_line = " ".join(lines[i + consumed][1].split())
            nxt_heading = detect_heading(next_line) if next_line else None
            if not next_line or len(next_line) > 90 or (nxt_heading is not None and nxt_heading.kind != "caps"):
                break
            wrapped = not heading.title or (title_caps and heading.title.rstrip(":") not in _HARD_CAPS)
            # Digits are allowed in a continuation of several words ("PDE FOR 2-METHYLTETRAHYDROFURAN,").
            digits_ok = len(next_line.split()) >= 2 or not any(c.isdigit() for c in next_line)
            if wrapped and _is_caps(next_line) and digits_ok:
                text, consumed = f"{text} {next_line}", consumed + 1
            elif not heading.title and consumed == 1 and heading.kind in ("annex", "part") and _title_ok(next_line):
                text, consumed = f"{text} {next_line}", 2
                break
            else:
                break
        if heading.kind == "numbered":
            state.last_number = key
            state.push(heading.level, text, soft=False)
        elif heading.kind in ("annex", "part"):
            state.last_number = None  # numbering restarts inside an annex or part
            state.push(heading.level, text, soft=False)
        elif heading.kind == "roman":
            state.push(heading.level, text, soft=False)
        elif heading.kind == "caps" and heading.title.rstrip(":") in _HARD_CAPS:
            state.push(1, text, soft=False)
        else:
            # Lettered items and other capitals nest under the current numbered section.
            state.push(state.hard_depth() + 1, text, soft=True)
        end_line = lines[i + consumed - 1]
        body_start = end_line[0] + len(end_line[1])
        sections[-1].end = offset
        sections.append(_Section(path=state.path(), start=offset, end=len(g), body_start=body_start,
                                 soft=state.soft_only()))
        i += consumed
    return sections


# --------------------------------------------------------------------------------------------
# units

_ABBREVIATIONS = _wordset(
    "e.g i.e etc vs no nos fig figs ref refs vol approx al cf dr mr ms st p pp ca incl resp sect "
    "para art eq ph eur u.s e.u viz corp inc ltd co"
)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9•])")
_LIST_LINE = re.compile(r"^(?:[•▪➢✓◦\-–o]\s|\(?[a-zA-Z0-9]{1,3}[.)]\s|\(?[ivx]{1,4}\)\s)")


def _strip_range(g: str, s: int, e: int) -> tuple[int, int] | None:
    while s < e and g[s].isspace():
        s += 1
    while e > s and g[e - 1].isspace():
        e -= 1
    return (s, e) if s < e else None


def _blocks(g: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut [start, end) at blank lines, before list items and after lines ending in ':' or ';'."""
    cuts = [start]
    prev_line = ""
    for off, line in _lines_with_offsets(g[start:end]):
        pos = start + off
        stripped = line.strip()
        if pos > start and (not stripped or _LIST_LINE.match(stripped) or prev_line.endswith((":", ";"))):
            cuts.append(pos)
        prev_line = stripped
    cuts.append(end)
    out = []
    for s, e in itertools.pairwise(cuts):
        r = _strip_range(g, s, e)
        if r:
            out.append(r)
    return out


def _sentences(g: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence ranges of one block; abbreviations, initials and list numbers do not end a sentence."""
    out = []
    s = start
    for m in _SENTENCE_END.finditer(g, start, end):
        punct, stop = m.start(), m.end()
        word = re.search(r"[^\s(\[\"'“‘]*$", g[max(start, punct - 30):punct])
        last_word = (word.group(0) if word else "").lower()
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
            continue  # "e.g. Part", initials "D. W. Gaylor"
        line_start = max(start, g.rfind("\n", start, stop) + 1)
        if re.fullmatch(r"\(?[\dA-Za-z]{1,4}(?:\.[\dA-Za-z]{1,3})*[.)]", g[line_start:stop].strip()):
            continue  # a list or heading number such as "1." at the start of a line
        r = _strip_range(g, s, stop)
        if r:
            out.append(r)
        s = stop
    r = _strip_range(g, s, end)
    if r:
        out.append(r)
    return out


def _split_long(
    g: str, s: int, e: int, n_tokens: int, count_tokens: Callable[[str], int], budget: int
) -> list[tuple[int, int, int]]:
    """Cut a unit over `budget` at line breaks, then between words; returns (start, end, tokens)."""
    if n_tokens <= budget:
        return [(s, e, n_tokens)]
    pieces: list[tuple[int, int, int]] = []
    lines = [r for off, line in _lines_with_offsets(g[s:e]) if (r := _strip_range(g, s + off, s + off + len(line)))]
    if len(lines) > 1:
        for ls, le in lines:
            pieces.extend(_split_long(g, ls, le, count_tokens(g[ls:le]), count_tokens, budget))
        return pieces
    # One long line: pack words, counting each word once (sums match WordPiece-style tokenizers);
    # each piece is then counted whole, so no unit can exceed the budget.
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", g[s:e])]
    if len(words) == 1:
        return _split_chars(g, s, e, n_tokens, count_tokens, budget)
    groups: list[tuple[int, int]] = []
    cur_start, cur_end, cur_tokens = words[0][0], words[0][0], 0
    for ws, we in words:
        t = count_tokens(g[ws:we])
        if cur_tokens and cur_tokens + t > budget:
            groups.append((cur_start, cur_end))
            cur_start, cur_tokens = ws, 0
        cur_end, cur_tokens = we, cur_tokens + t
    groups.append((cur_start, cur_end))
    if len(groups) == 1:  # the word counts summed under the budget but the whole is over it
        mid = words[len(words) // 2][0]
        groups = [(s, words[len(words) // 2 - 1][1]), (mid, e)]
    for gs, ge in groups:
        pieces.extend(_split_long(g, gs, ge, count_tokens(g[gs:ge]), count_tokens, budget))
    return pieces


def _split_chars(
    g: str, s: int, e: int, n_tokens: int, count_tokens: Callable[[str], int], budget: int
) -> list[tuple[int, int, int]]:
    """Last resort for one "word" over the budget (a formula, a URL): equal character slices."""
    n = math.ceil(n_tokens / budget) + 1
    step = max(1, math.ceil((e - s) / n))
    pieces = []
    for a in range(s, e, step):
        b = min(e, a + step)
        t = count_tokens(g[a:b])
        if t > budget and b - a > 1:
            pieces.extend(_split_chars(g, a, b, t, count_tokens, budget))
        else:
            pieces.append((a, b, t))
    return pieces


def _fill_units(g: str, section: _Section, count_tokens: Callable[[str], int], budget: int) -> None:
    ranges: list[tuple[int, int]] = []
    head = _strip_range(g, section.start, section.body_start)
    if head and section.body_start > section.start:
        ranges.append(head)
        body = section.body_start
    else:
        body = section.start
    for bs, be in _blocks(g, body, section.end):
        ranges.extend(_sentences(g, bs, be))
    for s, e in ranges:
        for ps, pe, t in _split_long(g, s, e, count_tokens(g[s:e]), count_tokens, budget):
            section.units.append((ps, pe))
            section.tokens.append(t)


# --------------------------------------------------------------------------------------------
# packing


@dataclass
class _Unit:
    start: int
    end: int
    tokens: int
    path: tuple[str, ...]
    section: int


def _runs(sections: list[_Section], min_tokens: int, max_tokens: int) -> list[list[_Unit]]:
    """Group sections into runs that are chunked together (see module docstring, step 4)."""
    runs: list[list[_Unit]] = []
    run_paths: list[tuple[str, ...]] = []
    run_tokens = 0
    run_soft = False

    def add(units: list[_Unit], path: tuple[str, ...], soft: bool) -> None:
        nonlocal run_paths, run_tokens, run_soft
        total = sum(u.tokens for u in units)
        related = bool(_common_prefix([*run_paths, path])) or (run_soft and soft)
        if runs and related and (run_tokens < min_tokens or total < min_tokens) and run_tokens + total <= max_tokens:
            runs[-1].extend(units)
            run_paths.append(path)
            run_tokens += total
            run_soft = run_soft and soft
        else:
            runs.append(list(units))
            run_paths, run_tokens, run_soft = [path], total, soft

    pending: list[_Unit] = []  # a heading with no body, waiting for its first child
    pending_path: tuple[str, ...] = ()
    pending_soft = False
    for idx, sec in enumerate(sections):
        path = tuple(sec.path)
        units = [_Unit(s, e, t, path, idx) for (s, e), t in zip(sec.units, sec.tokens, strict=True)]
        if not units:
            continue
        heading_only = sec.body_start > sec.start and all(u.start < sec.body_start for u in units)
        if pending:
            if len(path) > len(pending_path) and path[: len(pending_path)] == pending_path:
                # The bare parent heading joins its child and takes the child's (longer) path.
                units = [_Unit(u.start, u.end, u.tokens, path, idx) for u in pending] + units
            else:
                add(pending, pending_path, pending_soft)
            pending = []
        if heading_only:
            pending, pending_path, pending_soft = units, path, sec.soft
            continue
        add(units, path, sec.soft)
    if pending:
        add(pending, pending_path, pending_soft)
    return runs


def _common_prefix(paths: Sequence[Sequence[str]]) -> tuple[str, ...]:
    if not paths:
        return ()
    first = paths[0]
    n = min(len(p) for p in paths)
    k = 0
    while k < n and all(p[k] == first[k] for p in paths):
        k += 1
    return tuple(first[:k])


def _word_tail(
    g: str, unit: _Unit, overlap_tokens: int, count_tokens: Callable[[str], int]
) -> tuple[int, int] | None:
    """The start offset and token count of the last words of `unit` worth ≤ overlap_tokens."""
    words = [m.start() + unit.start for m in re.finditer(r"\S+", g[unit.start:unit.end])]
    if len(words) < 2 or overlap_tokens <= 0:
        return None
    k = max(1, min(len(words) - 1, int(len(words) * overlap_tokens / max(unit.tokens, 1) * 0.9)))
    for _ in range(6):
        start = words[len(words) - k]
        t = count_tokens(g[start:unit.end])
        if t <= overlap_tokens:
            return start, t
        k = max(1, int(k * overlap_tokens / t * 0.9)) if k > 1 else 0
        if k == 0:
            return None
    return None


def _pack(
    g: str, units: list[_Unit], count_tokens: Callable[[str], int],
    max_tokens: int, overlap_tokens: int, min_tokens: int,
) -> list[tuple[int, int, list[_Unit], int]]:
    """Greedy, balanced packing of one run; returns (start, end, units, verified tokens) per chunk."""
    out: list[tuple[int, int, list[_Unit], int]] = []
    i = 0
    n = len(units)
    prev_last: int | None = None
    while i < n:
        # Overlap: whole trailing units of the previous chunk, same section, within the budget.
        ov_units: list[_Unit] = []
        ov_tokens = 0
        ov_start: int | None = None
        if prev_last is not None and overlap_tokens > 0:
            j = prev_last
            section = units[i].section
            while j >= 0 and units[j].section == section and ov_tokens + units[j].tokens <= overlap_tokens:
                ov_tokens += units[j].tokens
                j -= 1
            ov_units = units[j + 1:prev_last + 1]
            if not ov_units and units[prev_last].section == section:
                tail = _word_tail(g, units[prev_last], overlap_tokens, count_tokens)
                if tail is not None:
                    ov_start, ov_tokens = tail
            # The overlap never swallows a whole previous chunk.
            if ov_units and out and ov_units[0].start <= out[-1][0]:
                ov_units, ov_tokens = ov_units[1:], sum(u.tokens for u in ov_units[1:])
        remaining = sum(u.tokens for u in units[i:])
        room = max_tokens - ov_tokens
        if remaining > room:
            n_chunks = math.ceil(remaining / max(1, max_tokens - min(overlap_tokens, max_tokens // 4)))
            target = min(room, math.ceil(remaining / max(1, n_chunks)) + max_tokens // 10)
        else:
            target = room
        tokens = 0
        j = i
        # Fill to the balanced target, and past it (within the room) while the chunk is still
        # small: a heading alone, or half a target, is not a useful chunk.
        while j < n and (
            tokens == 0 or tokens + units[j].tokens <= target or tokens < max(min_tokens, target // 2)
        ):
            if tokens + units[j].tokens > room and tokens > 0:
                break
            tokens += units[j].tokens
            j += 1
        if tokens > room:  # a unit that only fits without overlap
            ov_units, ov_start, ov_tokens = [], None, 0
        last = j - 1
        # Verify against the real tokenizer; sums of parts can differ slightly from the whole.
        while True:
            start = ov_units[0].start if ov_units else (ov_start if ov_start is not None else units[i].start)
            end = units[last].end
            real = count_tokens(g[start:end])
            if real <= max_tokens:
                break
            if ov_units or ov_start is not None:
                ov_units, ov_start = [], None
            elif last > i:
                last -= 1
            else:
                break  # a single unit counted ≤ budget alone; accept the tokenizer's verdict
        out.append((start, end, ov_units + units[i:last + 1], real))
        prev_last = last
        i = last + 1
    return out


# --------------------------------------------------------------------------------------------
# public entry point


def _spans(a: int, b: int, bounds: list[tuple[int, int, int]]) -> list[PageSpan]:
    spans = []
    for number, s, e in bounds:
        if e <= a:
            continue
        if s >= b:
            break
        lo, hi = max(a, s), min(b, e)
        if lo < hi:
            spans.append(PageSpan(page=number, start=lo - s, end=hi - s))
    return spans


def chunk_pages(
    doc_id: str,
    pages: list[Page],
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_tokens: int = 24,
    min_tokens: int = 40,
) -> list[Chunk]:
    """Cut a document's cleaned pages into chunks (see the module docstring for the rules).

    Every chunk stays within one section (tiny sections may share a chunk, which then carries
    their common parent path), has at most `max_tokens` tokens by `count_tokens`, repeats about
    `overlap_tokens` tokens of the previous chunk of the same section, and satisfies
    ``chunk.text == "\\n".join(page.text[s.start:s.end] for s in chunk.spans)``. TOC pages are
    skipped. `count_tokens` is called once per sentence and once per chunk.
    """
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    overlap_tokens = max(0, min(overlap_tokens, max_tokens // 2))
    included = [p for p in sorted(pages, key=lambda p: p.number) if not p.is_toc and p.text.strip()]
    bounds: list[tuple[int, int, int]] = []
    pos = 0
    for p in included:
        bounds.append((p.number, pos, pos + len(p.text)))
        pos += len(p.text) + 1
    g = "\n".join(p.text for p in included)
    if not g.strip():
        return []

    sections = _sections(g)
    for sec in sections:
        _fill_units(g, sec, count_tokens, max_tokens)

    chunks: list[Chunk] = []
    for run in _runs(sections, min_tokens, max_tokens):
        for start, end, units, n_tok in _pack(g, run, count_tokens, max_tokens, overlap_tokens, min_tokens):
            text = g[start:end]
            if not any(c.isalnum() for c in text):
                continue
            ordinal = len(chunks)
            chunks.append(Chunk(
                chunk_id=f"{doc_id}:{ordinal:04d}",
                doc_id=doc_id,
                ordinal=ordinal,
                text=text,
                section_path=list(_common_prefix([u.path for u in units])),
                spans=_spans(start, end, bounds),
                n_tokens=n_tok,
            ))
    log.debug("%s: %d chunks from %d pages", doc_id, len(chunks), len(included))
    return chunks
