"""Typed domain objects that travel unchanged from extraction to the API response.

This module imports nothing else of atmp_rag: every other layer depends on it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    """Regulatory status of a guideline document."""

    final = "final"
    draft = "draft"
    superseded = "superseded"


class RetrievalMode(StrEnum):
    """How passages are retrieved: the one list of modes for the library, API, CLI, UI and evaluation."""

    bm25 = "bm25"
    dense = "dense"
    hybrid = "hybrid"


class CitationFormat(StrEnum):
    """Export formats of a citation, each with its media type and file extension."""

    text = "text"
    markdown = "markdown"
    bibtex = "bibtex"
    ris = "ris"
    csl_json = "csl-json"

    @property
    def media_type(self) -> str:
        """The MIME type a download of this format is served with."""
        return _CITATION_MEDIA[self.value][0]

    @property
    def extension(self) -> str:
        """The file extension reference managers expect."""
        return _CITATION_MEDIA[self.value][1]

    @property
    def label(self) -> str:
        """How the format is named to users."""
        return _CITATION_MEDIA[self.value][2]


class ExportFormat(StrEnum):
    """File formats of an export (a basket or an answer), each with its media type and file extension."""

    docx = "docx"
    md = "md"
    bibtex = "bibtex"
    ris = "ris"
    csl_json = "csl-json"

    @property
    def media_type(self) -> str:
        """The MIME type the export is served with."""
        if self is ExportFormat.docx:
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        return self.citation_format.media_type

    @property
    def extension(self) -> str:
        """The file extension of the export."""
        return "docx" if self is ExportFormat.docx else self.citation_format.extension

    @property
    def citation_format(self) -> CitationFormat:
        """The citation format whose media type and extension a text export shares (docx: markdown's)."""
        return CitationFormat.markdown if self in (ExportFormat.docx, ExportFormat.md) else CitationFormat(self.value)


_CITATION_MEDIA = {
    "text": ("text/plain; charset=utf-8", "txt", "Text"),
    "markdown": ("text/markdown; charset=utf-8", "md", "Markdown"),
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib", "BibTeX"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris", "RIS"),
    "csl-json": ("application/vnd.citationstyles.csl+json; charset=utf-8", "json", "CSL-JSON"),
}


class Document(BaseModel):
    """One guideline (a catalog row, possibly with its PDF present on disk)."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str
    file: str | None = None
    issuer: str = ""
    reference: str = ""
    title: str = ""
    version: str = ""
    status: Status = Status.final
    status_note: str = ""
    superseded_by: str = ""
    effective_date: str = ""
    landing_url: str = ""
    pdf_url: str = ""
    sha256: str = ""
    topics: list[str] = Field(default_factory=list)
    catalogued: bool = True
    pages: int | None = None


class PageKind(StrEnum):
    """What a page holds; only content pages are chunked, embedded and quoted."""

    content = "content"
    toc = "toc"
    title = "title"
    history = "history"
    contact = "contact"


class Page(BaseModel):
    """Cleaned text of one PDF page; `number` is the 1-based PDF page index."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str
    number: int
    label: str = ""
    text: str
    kind: PageKind = PageKind.content

    @property
    def is_toc(self) -> bool:
        """A table-of-contents page."""
        return self.kind is PageKind.toc

    @property
    def is_content(self) -> bool:
        """A page of guideline text (not a title, TOC, history or contact page)."""
        return self.kind is PageKind.content


class PageSpan(BaseModel):
    """A character range [start, end) in the cleaned text of one page."""

    model_config = ConfigDict(extra="forbid")

    page: int
    start: int
    end: int


class Chunk(BaseModel):
    """A retrievable unit: text from one section of one document, with exact provenance.

    `text` equals ``"\\n".join(page_text[s.start:s.end] for s in spans)``, so any quote taken
    from the chunk can be located and verified on its page.
    """

    model_config = ConfigDict(extra="forbid")

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    section_path: list[str] = Field(default_factory=list)
    spans: list[PageSpan]
    n_tokens: int = 0

    @property
    def pages(self) -> list[int]:
        """1-based PDF page indices covered by this chunk, in order."""
        return sorted({s.page for s in self.spans})

    @property
    def section(self) -> str:
        """Section path joined for display."""
        return " › ".join(self.section_path)


class UnitKind(StrEnum):
    """The shape of a quotable unit."""

    sentence = "sentence"
    list = "list"  # a lead-in sentence with the list items that follow it
    item = "item"  # one list item that reads on its own (its lead-in is the context)
    table = "table"  # a small table quoted whole
    row = "row"  # one row of a larger table (caption and column headers are the context)
    definition = "definition"  # the definition of a glossary term (the term is the context)


class QuoteUnit(BaseModel):
    """A verbatim statement of a guideline that an answer may quote, with exact provenance.

    `text` equals ``"\\n".join(page_text[s.start:s.end] for s in spans)``; `context` (a glossary
    term, a table's caption and headers, a list's lead-in) is verbatim page text too, shown before
    the quote so that it reads on its own. `chunk_ids` are the chunks that hold the unit.
    """

    model_config = ConfigDict(extra="forbid")

    unit_id: str
    doc_id: str
    ordinal: int
    kind: UnitKind
    text: str
    spans: list[PageSpan]
    context: str = ""
    context_spans: list[PageSpan] = Field(default_factory=list)
    section_path: list[str] = Field(default_factory=list)
    chunk_ids: list[str] = Field(default_factory=list)
    note: str = ""

    @property
    def pages(self) -> list[int]:
        """1-based PDF pages of the quote and its context, in order."""
        return sorted({s.page for s in self.spans} | {s.page for s in self.context_spans})

    @property
    def section(self) -> str:
        """Section path joined for display."""
        return " › ".join(self.section_path)


class Passage(BaseModel):
    """A chunk returned by retrieval, with its document and score."""

    model_config = ConfigDict(extra="forbid")

    chunk: Chunk
    document: Document
    score: float
    rank: int
    page_labels: list[str] = Field(default_factory=list)
    dense_score: float | None = None
    lexical_score: float | None = None


class Citation(BaseModel):
    """A verbatim quote tied to document, section and page."""

    model_config = ConfigDict(extra="forbid")

    n: int
    chunk_id: str
    doc_id: str
    file: str | None
    title: str
    issuer: str
    reference: str
    version: str
    status: Status
    section: str
    pages: list[int]
    page_labels: list[str]
    quote: str
    url: str
    verified: bool
    warning: str = ""
    context: str = ""  # verbatim text shown before the quote: a term, table headers, a list's lead-in
    note: str = ""  # e.g. how many list items follow beyond the quoted ones
    kind: str = "sentence"
    unit_id: str = ""
    # Where the quote lies: `"\n".join(page_text[s.start:s.end])` is the quote, so a reader (or the page
    # image route's highlight) finds it on the page without searching.
    spans: list[PageSpan] = Field(default_factory=list)


class Turn(BaseModel):
    """An earlier turn of a conversation: what was asked and which passages its answer cited."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    chunk_ids: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=50)


class Answer(BaseModel):
    """A grounded answer: every statement carries a [n] marker into `citations`."""

    model_config = ConfigDict(extra="forbid")

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    related: list[Passage] = Field(default_factory=list)
    mode: str = "extractive"
    message: str = ""
    warnings: list[str] = Field(default_factory=list)
    # A follow-up is searched with terms of the earlier question(s): the query actually used, else "".
    retrieval_query: str = ""
    # Quotes the answerer selected but left out because their text no longer matched the stored page
    # text at their offsets (0 on a healthy index; evaluation reports it).
    dropped_quotes: int = 0


class SkippedFile(BaseModel):
    """A PDF that ingest could not index, with the reason."""

    file: str
    reason: str


class IngestReport(BaseModel):
    """What one `ingest` run did; the `--json` contract of the CLI."""

    index_dir: str
    documents_indexed: int
    documents_reused: int
    pages: int
    chunks: int
    skipped: list[SkippedFile] = Field(default_factory=list)
    uncatalogued: list[str] = Field(default_factory=list)
    seconds: float
    encode_seconds: float = 0.0
    published: bool = True
