"""Citation formatting: turn a retrieved passage into a reference users can paste elsewhere.

Users copy guideline passages into study plans, IMPDs and briefing books, and import references
into Zotero/EndNote/LaTeX. Every format therefore carries the same facts — issuer, reference,
title, version/date, section, printed page label(s) and a link to the exact PDF page — and each
one is written so that the consuming tool parses it without manual repair.

This module depends only on `atmp_rag.models`.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from .models import Citation, CitationFormat, Document, Passage, Status

#: Format names, in the order users are offered them (`models.CitationFormat` is the one definition).
FORMATS: tuple[str, ...] = tuple(f.value for f in CitationFormat)

_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
# Longest names first so "sept" wins over "sep" and "june" over "jun" in the alternation.
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th)?"
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"\b(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\b"), ("y", "m", "d")),
    (
        re.compile(rf"\b(\d{{1,2}}){_ORD}\s+({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.IGNORECASE),
        ("d", "m", "y"),
    ),
    (
        re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})\b", re.IGNORECASE),
        ("m", "d", "y"),
    ),
    (re.compile(rf"\b({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.IGNORECASE), ("m", "y")),
    # Numeric dates as covers print them: "2025/04/02" (Health Canada), "01.02.2023" (Swissmedic), and
    # "14/08/2025" read day first, as regulators outside the US print it ("08/14/2025" can only be US order).
    (re.compile(r"(?<![\d/.])(\d{4})/(\d{1,2})/(\d{1,2})(?![\d/])"), ("y", "m", "d")),
    (re.compile(r"(?<![\d/.])(\d{1,2})[./](\d{1,2})[./](\d{4})(?![\d/.])"), ("d", "m", "y")),
    (re.compile(r"(?<![\d/.])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/.])"), ("m", "d", "y")),
    # "Stand: 03/2025": a month.
    (re.compile(r"(?<![\d/.])(0?[1-9]|1[0-2])/(\d{4})(?![\d/.])"), ("m", "y")),
    # Bounded to plausible publication years so "Step 4" or a document number is not a year.
    (re.compile(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)"), ("y",)),
)

# A leading section number: "4.3 Risk Assessment", "4. General …", "IV.2 …", "A.1 …".
_SECTION_NUMBER_RE = re.compile(r"^((?:\d+|[IVXLC]+|[A-Z](?=\.\d))(?:\.\d+)*)\.?(?:\s|$)")
# Headings that already name their own kind read better without a "section" prefix.
_SELF_NAMED_RE = re.compile(r"^(?:annex|appendix|chapter|part|section|attachment)\b", re.IGNORECASE)

_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# One pass over the string, so the braces introduced by \textbackslash{} are not escaped again.
_BIBTEX_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _BIBTEX_SPECIAL))
_MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>])")
# C0/C1 control characters (NUL from PDF metadata, form feeds from extraction) and lone surrogates:
# BibTeX, RIS and reference managers choke on them, and no format needs them.
_UNPRINTABLE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# The RIS specification ends every line with CR LF; every importer also reads LF, none requires it.
RIS_NEWLINE = "\r\n"


# ---------------------------------------------------------------------------------------------
# Building a citation
# ---------------------------------------------------------------------------------------------


def page_url(document: Document, page: int) -> str:
    """Return the official URL of `document` opened at 1-based PDF page `page`.

    The PDF URL gets a ``#page=N`` fragment (honoured by browser PDF viewers and Acrobat); a
    landing page is returned as is because a fragment there would mean nothing. Returns ``""``
    when the catalog has neither URL.
    """
    if page < 1:
        raise ValueError(f"page must be a 1-based PDF page index, got {page}")
    if document.pdf_url:
        # An existing fragment (e.g. "#view=FitH") would make the page jump ambiguous.
        return f"{document.pdf_url.split('#', 1)[0]}#page={page}"
    return document.landing_url or ""


def citation_from_passage(passage: Passage, quote: str | None = None, n: int = 1, verified: bool = True) -> Citation:
    """Build the `Citation` for a retrieved passage.

    `quote` defaults to the whole chunk text. Pages are the chunk's PDF pages; page labels are the
    printed labels retrieval attached to the passage, falling back to the PDF page numbers. The
    URL opens the first page. A warning is set for draft and superseded guidelines so that no
    caller can present them as current requirements by accident.
    """
    chunk, document = passage.chunk, passage.document
    pages = chunk.pages
    labels = list(passage.page_labels)
    if len(labels) == len(pages):
        # Extraction may not find a printed label on every page; keep positions aligned.
        labels = [label or str(p) for label, p in zip(labels, pages, strict=True)]
    elif not labels:
        labels = [str(p) for p in pages]
    return Citation(
        n=n,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        file=document.file,
        title=document.title,
        issuer=document.issuer,
        reference=document.reference,
        version=document.version,
        status=document.status,
        section=chunk.section,
        pages=pages,
        page_labels=labels,
        quote=chunk.text if quote is None else quote,
        url=page_url(document, pages[0]) if pages else "",
        verified=verified,
        warning=status_warning(document),
    )


def _status_note(document: Document) -> str:
    """The catalog's status note when it says more than the status and successor already do.

    "superseded (by Q3C(R9), 2024)" adds only the year to "Superseded: … replaced by ICH Q3C(R9)";
    repeating it verbatim read as a stutter in chat and on the Documents page.
    """
    note = " ".join(document.status_note.split())
    if not note:
        return ""
    rest = note.lower()
    successor = document.superseded_by.lower()
    for said in (successor, successor.replace("ich ", ""), "superseded", "replaced", "draft", "by", "see"):
        if said:
            rest = rest.replace(said, " ")
    rest = re.sub(r"[\s(),.;:]+", " ", rest).strip()
    if not rest:
        return ""
    if re.fullmatch(r"(?:19|20)\d{2}", rest):
        return f" ({rest})"
    return f" {note}"


def status_warning(document: Document) -> str:
    """The warning shown with a draft or superseded guideline ("" for a final one)."""
    name = source_label(document.issuer, document.reference) or document.title or document.doc_id
    note = _status_note(document)
    if document.status == Status.draft:
        return (
            f"Draft guideline: {name} was released for consultation and may change before "
            f"adoption; it does not state current requirements.{note}"
        )
    if document.status == Status.superseded:
        if document.superseded_by:
            if note.startswith(" ("):
                return f"Superseded: {name} has been replaced by {document.superseded_by}{note}."
            return f"Superseded: {name} has been replaced by {document.superseded_by}.{note}"
        return f"Superseded: {name} is no longer current; check for the version in force.{note}"
    return ""


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------


def parse_date(*texts: str) -> tuple[int, ...] | None:
    """Parse the first date found in `texts`, as (year, month, day), (year, month) or (year,).

    Accepts ISO dates ("2018-03-22"), day-month-year ("Step 4, 9 November 2005"),
    month-day-year ("November 9, 2005"), month-year, numeric dates ("2025/04/02", "01.02.2023",
    "14/08/2025" day first, "03/2025") and a bare year. Texts are tried in order,
    so pass the most authoritative one (the version string) first. Returns None if none has a
    date.
    """
    for text in texts:
        if not text:
            continue
        for pattern, order in _DATE_PATTERNS:
            for match in pattern.finditer(text):
                parts = dict(zip(order, match.groups(), strict=True))
                parsed = _validated(parts)
                if parsed:
                    return parsed
    return None


def _validated(parts: dict[str, str | None]) -> tuple[int, ...] | None:
    year = int(parts["y"] or 0)
    month_raw = parts.get("m")
    month = int(month_raw) if month_raw and month_raw.isdigit() else _MONTHS.get((month_raw or "").lower(), 0)
    day = int(parts.get("d") or 0)
    try:
        # date() rejects 2018-13-01 and 31 February rather than emitting an impossible date.
        date(year, month or 1, day or 1)
    except ValueError:
        return None
    if day:
        return (year, month, day)
    if month:
        return (year, month)
    return (year,)


def source_label(issuer: str, reference: str) -> str:
    """Issuer and reference as cited: ICH + Q9 -> "ICH Q9"; EMA + EMA/CAT/… -> the reference."""
    issuer, reference = issuer.strip(), reference.strip()
    if not reference:
        return issuer
    if not issuer or reference.lower().startswith(issuer.lower()):
        return reference
    # An acronym reads as part of the reference ("ICH Q9"); a full name needs a separator.
    return f"{issuer} {reference}" if " " not in issuer else f"{issuer}, {reference}"


def _section_label(section: str) -> str:
    """The most specific heading of a section path, as "section 4.3" or "Annex I"."""
    if not section.strip():
        return ""
    heading = section.split(" › ")[-1].strip()
    match = _SECTION_NUMBER_RE.match(heading)
    if match:
        return f"section {match.group(1)}"
    if _SELF_NAMED_RE.match(heading):
        return heading
    return f"section {heading}"


def _dedupe(labels: list[str]) -> list[str]:
    # A label can repeat when a chunk has several spans on one page.
    return [x for x in dict.fromkeys(label.strip() for label in labels) if x]


def _page_ranges(labels: list[str]) -> list[tuple[str, str]]:
    """Group page labels into (first, last) ranges: ["9", "10", "12"] -> [("9", "10"), ("12", "12")].

    Non-numeric labels (roman front matter, "A-3") cannot be checked for gaps; a chunk is a
    contiguous stretch of pages, so they collapse to a single first–last range.
    """
    labels = _dedupe(labels)
    if not labels:
        return []
    if not all(x.isdigit() for x in labels):
        return [(labels[0], labels[-1])]
    ranges: list[tuple[str, str]] = []
    for label in labels:
        if ranges and int(label) == int(ranges[-1][1]) + 1:
            ranges[-1] = (ranges[-1][0], label)
        else:
            ranges.append((label, label))
    return ranges


def _pages_string(labels: list[str], dash: str) -> str:
    return ", ".join(a if a == b else f"{a}{dash}{b}" for a, b in _page_ranges(labels))


def _pages_phrase(labels: list[str]) -> str:
    """Page phrase for prose: "p. 9", "pp. 9–10" or "pp. 9, 12"."""
    ranges = _page_ranges(labels)
    if not ranges:
        return ""
    single = len(ranges) == 1 and ranges[0][0] == ranges[0][1]
    return f"{'p.' if single else 'pp.'} {_pages_string(labels, '–')}"


def _status_phrase(citation: Citation, document: Document) -> str:
    if citation.status == Status.draft and "draft" not in citation.version.lower():
        return "draft"
    if citation.status == Status.superseded:
        by = document.superseded_by.strip()
        return f"superseded by {by}" if by else "superseded"
    return ""


def _printable_text(text: str) -> str:
    # Line breaks and tabs become spaces like any control character; the formats are single-line per field.
    return _UNPRINTABLE_RE.sub(" ", text) if _UNPRINTABLE_RE.search(text) else text


def _printable(model: Citation | Document) -> Any:
    """A copy of a citation or document with control characters replaced in every text field."""
    update: dict[str, Any] = {}
    for name, value in model:
        if isinstance(value, str):
            clean = _printable_text(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            clean = [_printable_text(v) for v in value]
        else:
            continue
        if clean != value:
            update[name] = clean
    return model.model_copy(update=update) if update else model


def one_line(text: str) -> str:
    """`text` with every run of whitespace (the PDF's line breaks too) as one space."""
    # Chunk text keeps the PDF's line breaks; every output format here wants a single line.
    return " ".join(text.split())


def _date_of(citation: Citation, document: Document) -> tuple[int, ...] | None:
    return parse_date(citation.version, document.version, document.effective_date)


def _name(citation: Citation) -> str:
    return source_label(citation.issuer, citation.reference)


def _citation_key(citation: Citation, document: Document) -> str:
    """BibTeX key / CSL id from reference + year, e.g. "ICH_Q9_2005"."""
    tokens = re.findall(r"[A-Za-z0-9]+", _name(citation)) or re.findall(r"[A-Za-z0-9]+", citation.doc_id)
    parsed = _date_of(citation, document)
    if parsed and (not tokens or tokens[-1] != str(parsed[0])):
        tokens.append(str(parsed[0]))
    return "_".join(tokens) or "guideline"


def _note_parts(citation: Citation, document: Document) -> list[str]:
    parts = [
        citation.version.strip(),
        _status_phrase(citation, document).capitalize(),
        _section_label(citation.section),
    ]
    return [p for p in parts if p]


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------


def _reference_parts(citation: Citation, document: Document) -> list[str]:
    parts = [
        _name(citation),
        citation.title.strip(),
        citation.version.strip(),
        _status_phrase(citation, document),
        _section_label(citation.section),
    ]
    if not parts[0] and not parts[1]:
        parts[0] = citation.file or citation.doc_id
    return [p for p in parts if p]


def _format_text(citation: Citation, document: Document, with_quote: bool) -> str:
    parts = _reference_parts(citation, document)
    pages = _pages_phrase(citation.page_labels)
    if pages:
        parts.append(pages)
    reference = ", ".join(parts)
    if with_quote and citation.quote.strip():
        return f'"{one_line(citation.quote)}" ({reference})'
    return f"{reference}."


def markdown_escape(text: str) -> str:
    """Escape the characters Markdown would read as markup (backslash, backtick, *, _, brackets, <>)."""
    return _MARKDOWN_SPECIAL_RE.sub(r"\\\1", text)


def _md_url(url: str) -> str:
    # Spaces and parentheses would end a Markdown link target early.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _format_markdown(citation: Citation, document: Document, with_quote: bool) -> str:
    name = _name(citation)
    title = citation.title.strip()
    url = _md_url(citation.url)
    pages = _pages_phrase(citation.page_labels)
    # Link the page when the URL jumps to it; a landing page only identifies the document.
    link_pages = bool(url and pages and "#page=" in url)
    parts = [markdown_escape(name)] if name else []
    if title:
        shown = f"*{markdown_escape(title)}*"
        parts.append(f"[{shown}]({url})" if url and not link_pages else shown)
    if not parts:
        parts.append(markdown_escape(citation.file or citation.doc_id))
    parts += [
        markdown_escape(p)
        for p in (
            citation.version.strip(),
            _status_phrase(citation, document),
            _section_label(citation.section),
        )
        if p
    ]
    if pages:
        parts.append(f"[{pages}]({url})" if link_pages else pages)
    reference = ", ".join(parts)
    if with_quote and citation.quote.strip():
        return f'"{markdown_escape(one_line(citation.quote))}" ({reference})'
    return f"{reference}."


def bibtex_escape(text: str) -> str:
    """Escape the characters LaTeX treats specially ({}%&$#_ and \\ ~ ^) in a BibTeX value."""
    return _BIBTEX_SPECIAL_RE.sub(lambda m: _BIBTEX_SPECIAL[m.group(0)], one_line(text))


def _format_bibtex(
    citation: Citation,
    document: Document,
    with_quote: bool,
    accessed: date | None,
    key: str,
) -> str:
    issuer = citation.issuer.strip()
    parsed = _date_of(citation, document)
    fields: list[tuple[str, str]] = []
    if citation.title.strip():
        # Double braces keep styles from lower-casing acronyms such as ATMP or GMP.
        fields.append(("title", "{" + bibtex_escape(citation.title) + "}"))
    if issuer:
        # @techreport requires institution; @misc has no institution, so use organization.
        fields.append(("institution", bibtex_escape(issuer)))
        fields.append(
            (
                "type",
                "Draft guideline" if citation.status == Status.draft else "Guideline",
            )
        )
    else:
        fields.append(("organization", bibtex_escape(citation.file or citation.doc_id)))
    if citation.reference.strip():
        fields.append(("number", bibtex_escape(citation.reference)))
    if parsed:
        fields.append(("year", str(parsed[0])))
    note = _note_parts(citation, document)
    if note:
        fields.append(("note", bibtex_escape("; ".join(note))))
    pages = _pages_string(citation.page_labels, "--")
    if pages:
        fields.append(("pages", bibtex_escape(pages)))
    if citation.url:
        # url/urldate are read verbatim by \url (url, hyperref, biblatex); escaping "#" or "%"
        # there would break the link. Braces cannot occur in a valid URL; encode them anyway.
        fields.append(("url", citation.url.replace("{", "%7B").replace("}", "%7D")))
        if accessed:
            fields.append(("urldate", accessed.isoformat()))
    if with_quote and citation.quote.strip():
        # annote is the standard field for a per-entry remark and is not printed by most styles.
        fields.append(("annote", bibtex_escape(f'"{citation.quote}"')))
    entry_type = "techreport" if issuer else "misc"
    width = max(len(name) for name, _ in fields)
    body = ",\n".join(f"  {name.ljust(width)} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{key},\n{body}\n}}\n"


def _format_ris(citation: Citation, document: Document, with_quote: bool, accessed: date | None) -> str:
    lines: list[tuple[str, str]] = [("TY", "RPRT")]
    title = citation.title.strip() or _name(citation) or citation.doc_id
    lines.append(("TI", title))
    issuer = citation.issuer.strip()
    if issuer:
        # No comma, so importers keep the corporate name whole instead of "Last, First".
        lines.append(("AU", issuer.replace(",", "")))
        lines.append(("PB", issuer))
    if citation.reference.strip():
        # The report number goes in IS (RIS "number"; rispy: `number`), not SN, which importers read as ISBN/ISSN.
        lines.append(("IS", citation.reference.strip()))
    lines.append(("M3", "Draft guideline" if citation.status == Status.draft else "Guideline"))
    parsed = _date_of(citation, document)
    if parsed:
        lines.append(("PY", str(parsed[0])))
        lines.append(("DA", _ris_date(parsed)))
    ranges = _page_ranges(citation.page_labels)
    if ranges:
        lines.append(("SP", ranges[0][0]))
        if ranges[-1][1] != ranges[0][0]:
            lines.append(("EP", ranges[-1][1]))
    if citation.url:
        lines.append(("UR", citation.url))
        if accessed:
            lines.append(("Y2", accessed.strftime("%Y/%m/%d")))
    if citation.version.strip():
        lines.append(("N1", f"Version: {citation.version.strip()}"))
    status = _status_phrase(citation, document)
    if status:
        lines.append(("N1", status.capitalize()))
    if citation.section.strip():
        lines.append(("N1", f"Section: {citation.section.strip()}"))
    if with_quote and citation.quote.strip():
        lines.append(("N1", f'Quote: "{citation.quote}"'))
    lines.append(("ER", ""))
    return "".join(f"{tag}  - {one_line(value)}{RIS_NEWLINE}" for tag, value in lines)


def _ris_date(parts: tuple[int, ...]) -> str:
    # RIS dates are "YYYY/MM/DD/other"; unknown parts stay empty, not zero.
    fields = [f"{parts[0]:04d}", *(f"{x:02d}" for x in parts[1:])]
    return "/".join(fields + [""] * (3 - len(fields)))


def _date_parts(parts: tuple[int, ...]) -> dict[str, list[list[int]]]:
    return {"date-parts": [list(parts)]}


def _csl_item(
    citation: Citation,
    document: Document,
    with_quote: bool,
    accessed: date | None,
    key: str,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": key,
        "type": "report",
        "title": citation.title.strip(),
    }
    if not item["title"]:
        item["title"] = _name(citation) or citation.doc_id
    issuer = citation.issuer.strip()
    if issuer:
        # A literal name keeps the corporate author whole; styles then cite "ICH (2005)".
        item["author"] = [{"literal": issuer}]
        item["publisher"] = issuer
        item["authority"] = issuer
    if citation.reference.strip():
        item["number"] = citation.reference.strip()
    item["genre"] = "Draft guideline" if citation.status == Status.draft else "Guideline"
    if citation.version.strip():
        item["version"] = citation.version.strip()
    status = _status_phrase(citation, document)
    if status:
        item["status"] = status
    parsed = _date_of(citation, document)
    if parsed:
        item["issued"] = _date_parts(parsed)
    pages = _pages_string(citation.page_labels, "-")
    if pages:
        item["page"] = pages
    if citation.url:
        item["URL"] = citation.url
    if accessed:
        item["accessed"] = _date_parts((accessed.year, accessed.month, accessed.day))
    note = [p for p in (_section_label(citation.section),) if p]
    if with_quote and citation.quote.strip():
        note.append(f'"{one_line(citation.quote)}"')
    if note:
        item["note"] = "; ".join(note)
    return item


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown citation format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def format_citation(
    citation: Citation,
    document: Document,
    fmt: str,
    accessed: date | None = None,
    *,
    with_quote: bool = True,
) -> str:
    """Render one citation in `fmt` (one of `FORMATS`).

    `document` supplies what the citation does not carry (superseded_by, effective date).
    `accessed` is the access date for the URL (BibTeX urldate, RIS Y2, CSL accessed); it is left
    out when None rather than claiming an access that did not happen. `with_quote` puts the
    verbatim quote in front of the text/Markdown reference, and into the note of the others.
    CSL-JSON is an array (of one item here), as bibliography files and citeproc processors expect.
    Raises ValueError for an unknown format.
    """
    return _render([(citation, document)], fmt, accessed, with_quote, single=True)


def format_citations(
    pairs: list[tuple[Citation, Document]],
    fmt: str,
    accessed: date | None = None,
    *,
    with_quote: bool = True,
) -> str:
    """Render several citations at once in `fmt`.

    text/markdown: a numbered list "[n] …" using each citation's `n`; bibtex/ris: concatenated
    records (BibTeX keys are made unique); csl-json: a JSON array. Raises ValueError for an
    unknown format.
    """
    return _render(pairs, fmt, accessed, with_quote, single=False)


def _unique_keys(pairs: list[tuple[Citation, Document]]) -> list[str]:
    # Several passages of one guideline share reference and year; a bibliography needs
    # distinct keys, so later ones get a numeric suffix.
    counts: dict[str, int] = {}
    keys = []
    for citation, document in pairs:
        key = _citation_key(citation, document)
        counts[key] = counts.get(key, 0) + 1
        keys.append(key if counts[key] == 1 else f"{key}_{counts[key]}")
    return keys


def _render(
    pairs: list[tuple[Citation, Document]],
    fmt: str,
    accessed: date | None,
    with_quote: bool,
    single: bool,
) -> str:
    _check_format(fmt)
    pairs = [(_printable(c), _printable(d)) for c, d in pairs]
    if fmt in ("text", "markdown"):
        render = _format_text if fmt == "text" else _format_markdown
        if single:
            return render(*pairs[0], with_quote)
        sep = "\n" if fmt == "text" else "\n\n"  # a blank line keeps Markdown entries apart
        return sep.join(f"[{c.n}] {render(c, d, with_quote)}" for c, d in pairs)
    keys = _unique_keys(pairs)
    if fmt == "bibtex":
        return "\n".join(_format_bibtex(c, d, with_quote, accessed, k) for (c, d), k in zip(pairs, keys, strict=True))
    if fmt == "ris":
        return "".join(_format_ris(c, d, with_quote, accessed) for c, d in pairs)
    items = [_csl_item(c, d, with_quote, accessed, k) for (c, d), k in zip(pairs, keys, strict=True)]
    return json.dumps(items, ensure_ascii=False, indent=2)


def citation_filename(citation: Citation, fmt: str, several: bool = False) -> str:
    """Download file name: 'ICH_Q9_p6_1.ris' for one citation, 'ICH_Q9_citations.bib' for several."""
    _check_format(fmt)
    ref = re.sub(r"[^A-Za-z0-9]+", "_", _name(citation) or citation.doc_id).strip("_") or "citation"
    extension = CitationFormat(fmt).extension
    if several:
        return f"{ref}_citations.{extension}"
    label = re.sub(r"[^A-Za-z0-9]+", "-", (citation.page_labels or [""])[0]).strip("-")
    page = label or (str(citation.pages[0]) if citation.pages else "")
    return f"{ref}_p{page}_{citation.n}.{extension}" if page else f"{ref}_{citation.n}.{extension}"
