"""Exports of a reference basket or an answer: DOCX, Markdown with footnotes, BibTeX, RIS, CSL-JSON.

A regulatory writer collects verified quotes over an afternoon and pastes them into a study plan or
briefing book. The DOCX and Markdown exports put each quote, verbatim (its whitespace as one space),
as a quotation with a numbered reference, the draft/superseded warning under it where one applies,
and the reference list at the end. The bibliography formats (BibTeX, RIS, CSL-JSON) hold one record
per *document* with every cited page, because a reference manager cites documents, not passages.

References themselves are `atmp_rag.cite`'s (one definition of how a guideline is cited); this module
only arranges them into files. `basket_citations` turns basket entries (passages by chunk id, quotes
of stored answers) into the citations to export.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from atmp_rag.answers_store import AnswerStore
from atmp_rag.cite import citation_from_passage, format_citation, format_citations, markdown_escape, one_line, page_url
from atmp_rag.cite import status_warning as document_warning
from atmp_rag.models import Citation, Document, ExportFormat
from atmp_rag.schemas import BasketItem

if TYPE_CHECKING:  # the store pulls in FAISS; formatting alone must not
    from atmp_rag.store import IndexStore

log = logging.getLogger(__name__)

DEFAULT_TITLE = "Guideline quotations"
# Characters XML 1.0 cannot hold (lxml refuses them): a title or PDF text carrying one must not fail the export.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class UnknownEntries(LookupError):
    """Basket entries that name no stored passage or answer (each with why)."""

    def __init__(self, problems: list[str], answers_missing: bool = False) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        #: Every problem is an unknown answer id (the route answers 404 rather than 422).
        self.answers_missing = answers_missing


@dataclass(frozen=True)
class ExportFile:
    """An export ready to serve: its bytes, media type and download file name."""

    content: bytes
    media_type: str
    filename: str


# ------------------------------------------------------------------ basket entries -> citations

def _document_of(citation: Citation, store: IndexStore) -> Document:
    """The citation's document as the index served now knows it (its status may have changed since the answer)."""
    doc = store.documents.get(citation.doc_id)
    if doc is not None:
        return doc
    return Document(doc_id=citation.doc_id, file=citation.file, issuer=citation.issuer, reference=citation.reference,
                    title=citation.title, version=citation.version, status=citation.status)


def basket_citations(items: Sequence[BasketItem], store: IndexStore,
                     answers: AnswerStore) -> list[tuple[Citation, Document]]:
    """The citations of basket entries in order, numbered 1..N; raises UnknownEntries naming every bad entry.

    A passage (chunk id) is cited whole, from the index served now; a quote of a stored answer is cited
    as it was verified when the answer was given (its offsets and page labels), with the warning of its
    document's current status.
    """
    out: list[tuple[Citation, Document]] = []
    problems: list[str] = []
    missing_answers = 0
    cache: dict[str, list[Citation] | None] = {}
    for i, item in enumerate(items, start=1):
        if item.chunk_id is not None:
            passage = store.passage(item.chunk_id)
            if passage is None:
                problems.append(f"entry {i}: unknown passage {item.chunk_id} (not in the index served now)")
                continue
            out.append((citation_from_passage(passage), passage.document))
            continue
        assert item.answer_id is not None
        if item.answer_id not in cache:
            stored = answers.answer(item.answer_id)
            cache[item.answer_id] = None if stored is None else stored.response.citations
        citations = cache[item.answer_id]
        if citations is None:
            problems.append(f"entry {i}: unknown answer {item.answer_id}")
            missing_answers += 1
            continue
        if item.n is not None:
            chosen = [c for c in citations if c.n == item.n]
            if not chosen:
                numbers = ", ".join(str(c.n) for c in citations) or "none: it abstained"
                problems.append(f"entry {i}: answer {item.answer_id} has no citation [{item.n}] (it has {numbers})")
                continue
        else:
            chosen = citations
            if not chosen:
                problems.append(f"entry {i}: answer {item.answer_id} abstained; it has no quotes to export")
                continue
        for c in chosen:
            doc = _document_of(c, store)
            out.append((c.model_copy(update={"status": doc.status, "warning": document_warning(doc)}), doc))
    if problems:
        raise UnknownEntries(problems, answers_missing=missing_answers == len(problems))
    return [(c.model_copy(update={"n": n}), d) for n, (c, d) in enumerate(out, start=1)]


# ------------------------------------------------------------------ one record per document

def per_document(pairs: Sequence[tuple[Citation, Document]]) -> list[tuple[Citation, Document]]:
    """One citation per document, in order of first citation, carrying every page cited from it.

    Pages are sorted by PDF page with their printed labels; a section is kept only when all of the
    document's quotes share it; the quote is dropped (a bibliography record cites the document).
    """
    groups: dict[str, list[tuple[Citation, Document]]] = {}
    for c, d in pairs:
        groups.setdefault(c.doc_id, []).append((c, d))
    merged: list[tuple[Citation, Document]] = []
    for n, group in enumerate(groups.values(), start=1):
        first, doc = group[0]
        labelled: dict[int, str] = {}
        for c, _ in group:
            labels = c.page_labels if len(c.page_labels) == len(c.pages) else [str(p) for p in c.pages]
            for page, label in zip(c.pages, labels, strict=True):
                labelled.setdefault(page, label or str(page))
        pages = sorted(labelled)
        sections = {c.section for c, _ in group}
        merged.append((first.model_copy(update={
            "n": n, "pages": pages, "page_labels": [labelled[p] for p in pages],
            "section": first.section if len(sections) == 1 else "", "quote": "", "context": "", "note": "",
            "spans": [], "unit_id": "", "url": page_url(doc, pages[0]) if pages and (doc.pdf_url or doc.landing_url)
            else first.url}), doc))
    return merged


# ------------------------------------------------------------------ formats

def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:60].strip("-")


def export_filename(title: str, fmt: ExportFormat) -> str:
    """Download name: the title as a slug ("Shelf-life-of-biotech-products.docx"), else "atmp-rag-references"."""
    return f"{_slug(title) or 'atmp-rag-references'}.{fmt.extension}"


def _reference(citation: Citation, document: Document, fmt: str) -> str:
    """The reference of a numbered list entry: cite.py's text or Markdown reference, without the quote."""
    return format_citation(citation, document, fmt, with_quote=False)


def _markdown(pairs: Sequence[tuple[Citation, Document]], title: str) -> str:
    lines = [f"# {markdown_escape(one_line(title))}", ""]
    for c, _ in pairs:
        lines.append(f"> {markdown_escape(one_line(c.quote))}[^{c.n}]")
        lines.append("")
        if c.note:
            lines += [f"*{markdown_escape(one_line(c.note))}*", ""]
        if c.warning:
            lines += [f"**Warning:** {markdown_escape(one_line(c.warning))}", ""]
    lines += ["## References", ""]
    lines += [f"[^{c.n}]: {_reference(c, d, 'markdown')}" for c, d in pairs]
    return "\n".join(lines) + "\n"


def _xml_text(text: str) -> str:
    """`text` on one line without the characters an XML document cannot hold."""
    return _NOT_XML_RE.sub("", one_line(text))


def _docx(pairs: Sequence[tuple[Citation, Document]], title: str, accessed: date | None) -> bytes:
    # Imported here: python-docx is a service dependency, and the bibliography formats never need it.
    import docx
    from docx.shared import Pt, RGBColor

    document = docx.Document()
    document.core_properties.title = _xml_text(title)
    document.core_properties.author = "atmp-rag"
    document.add_heading(_xml_text(title), level=1)
    for c, _ in pairs:
        quote = document.add_paragraph(style="Quote")
        # The quote is its own run, so its text is exactly the verified quote (whitespace as one space).
        quote.add_run(_xml_text(c.quote))
        marker = quote.add_run(f"[{c.n}]")
        marker.font.superscript = True
        if c.note:
            document.add_paragraph(_xml_text(c.note)).runs[0].italic = True
        if c.warning:
            run = document.add_paragraph().add_run(f"Warning: {_xml_text(c.warning)}")
            run.bold = True
            run.font.color.rgb = RGBColor(0x9C, 0x2B, 0x00)
    document.add_heading("References", level=2)
    for c, d in pairs:
        entry = document.add_paragraph()
        entry.add_run(f"[{c.n}] ")
        entry.add_run(_xml_text(_reference(c, d, "text")))
        if c.url:
            entry.add_run(f" {_xml_text(c.url)}").font.size = Pt(9)
        if accessed and c.url:
            entry.add_run(f" (accessed {accessed.isoformat()})").font.size = Pt(9)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def export(pairs: Sequence[tuple[Citation, Document]], fmt: ExportFormat | str, title: str = "",
           accessed: date | None = None) -> ExportFile:
    """The export of numbered citations in `fmt` (docx, md, bibtex, ris or csl-json).

    docx and md: every quote with its reference number, warnings under the quote, the reference list at
    the end. bibtex, ris and csl-json: one record per document with all its cited pages (`per_document`).
    Raises ValueError for no citations or an unknown format.
    """
    fmt = ExportFormat(fmt)
    if not pairs:
        raise ValueError("nothing to export: no citations")
    title = title.strip() or DEFAULT_TITLE
    if fmt is ExportFormat.docx:
        content = _docx(pairs, title, accessed)
    elif fmt is ExportFormat.md:
        content = _markdown(pairs, title).encode()
    else:
        content = format_citations(per_document(pairs), fmt.citation_format.value, accessed=accessed,
                                   with_quote=False).encode()
    return ExportFile(content=content, media_type=fmt.media_type, filename=export_filename(title, fmt))
