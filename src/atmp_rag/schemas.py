"""The JSON shapes of the API and the CLI's `--json`: requests, passages, answers, citations, pages.

Pure pydantic (no FastAPI): the API validates and serialises with these, the CLI prints them, and a
client (the Streamlit app) may parse them. One shape per idea: a passage is always `PassageOut`,
whether it comes from a search, an answer's related reading or `/v1/passages/{id}`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from atmp_rag.cite import page_url
from atmp_rag.models import (
    Answer,
    Citation,
    CitationFormat,
    Document,
    ExportFormat,
    PageSpan,
    Passage,
    RetrievalMode,
    Status,
    Turn,
)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain some non-whitespace text")
    return value


def _valid_unicode(value: str) -> str:
    # JSON may carry lone surrogates ("\ud800"); no answer containing one could be encoded as UTF-8.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains invalid Unicode (a lone surrogate)") from None
    return value


#: Request text: valid Unicode only.
Text = Annotated[str, AfterValidator(_valid_unicode)]
#: The question text of search and ask; `query` is still accepted as its old name in search.
QUESTION_DESCRIPTION = "The question or search text (1–2000 characters). `query` is accepted as an alias."


# ------------------------------------------------------------------ requests

class Filters(BaseModel):
    """Restrict retrieval; values are checked against the indexed documents (422 lists unknown ones)."""

    model_config = ConfigDict(extra="forbid")

    issuers: list[Annotated[Text, Field(max_length=200)]] = Field(default_factory=list, max_length=50)
    doc_ids: list[Annotated[Text, Field(max_length=200)]] = Field(default_factory=list, max_length=200)
    statuses: list[Status] = Field(default_factory=list, max_length=3)


class SearchRequest(BaseModel):
    """Body of POST /v1/search."""

    model_config = ConfigDict(extra="forbid")

    question: Text = Field(min_length=1, max_length=2000, validation_alias=AliasChoices("question", "query"),
                           description=QUESTION_DESCRIPTION)
    k: int = Field(10, ge=1, le=50, strict=True)  # strict: "5" and true are not counts
    mode: RetrievalMode = RetrievalMode.hybrid
    filters: Filters = Field(default_factory=Filters)

    _check_question = field_validator("question")(_not_blank)


class AskRequest(BaseModel):
    """Body of POST /v1/ask."""

    model_config = ConfigDict(extra="forbid")

    question: Text = Field(min_length=1, max_length=2000, validation_alias=AliasChoices("question", "query"),
                           description=QUESTION_DESCRIPTION)
    k: int = Field(5, ge=1, le=50, strict=True)
    mode: RetrievalMode = RetrievalMode.hybrid
    filters: Filters = Field(default_factory=Filters)
    answer_mode: Literal["extractive", "generative"] = "extractive"
    history: list[Turn] = Field(default_factory=list, max_length=10,
                                description="Earlier turns, oldest first: a follow-up question is searched in "
                                            "their context and prefers the documents they cited.")

    _check_question = field_validator("question")(_not_blank)


class CiteRequest(BaseModel):
    """Body of POST /v1/cite: citations (as an answer returned them) to format together."""

    model_config = ConfigDict(extra="forbid")

    format: CitationFormat = CitationFormat.text
    citations: list[Citation] = Field(min_length=1, max_length=50)


# ------------------------------------------------------------------ passages and answers

class PassageOut(BaseModel):
    """A stored chunk with its document's identity and a link to its first page.

    `rank`, `score`, `dense_score` and `lexical_score` are set for retrieved passages (search, an
    answer's related reading) and null for a passage read by id.
    """

    chunk_id: str
    doc_id: str
    file: str | None
    title: str
    issuer: str
    reference: str
    version: str
    status: Status
    section: str
    section_path: list[str]
    pages: list[int]
    page_labels: list[str]
    spans: list[PageSpan]
    url: str
    text: str
    rank: int | None = None
    score: float | None = None
    dense_score: float | None = None
    lexical_score: float | None = None

    @classmethod
    def of(cls, p: Passage, ranked: bool = True) -> PassageOut:
        """Flatten a Passage (`ranked=False`: a passage read by id, without rank and scores)."""
        c, d = p.chunk, p.document
        scores: dict[str, Any] = ({"rank": p.rank, "score": p.score, "dense_score": p.dense_score,
                                   "lexical_score": p.lexical_score} if ranked else {})
        return cls(chunk_id=c.chunk_id, doc_id=c.doc_id, file=d.file, title=d.title, issuer=d.issuer,
                   reference=d.reference, version=d.version, status=d.status, section=c.section,
                   section_path=c.section_path, pages=c.pages, page_labels=p.page_labels, spans=c.spans,
                   url=page_url(d, c.pages[0]) if c.pages else "", text=c.text, **scores)


class SearchResponse(BaseModel):
    """Results of POST /v1/search."""

    question: str
    query: str = Field(description="The same text as `question` (its old name, kept for existing clients).")
    mode: str
    k: int
    index: str
    results: list[PassageOut]


class CitationExcerpt(BaseModel):
    """The stored page text around a citation's quote: what a reader checks the quote against.

    `before + quote + after` is verbatim page text (a quote over a page break joins its pages with a
    line break), so a client can show the quote highlighted in its surroundings without further calls.
    """

    n: int
    before: str
    quote: str
    after: str


class AskResponse(BaseModel):
    """An answer with its citations, the page text around each quote, and related reading."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    excerpts: list[CitationExcerpt] = Field(default_factory=list)
    related: list[PassageOut] = Field(default_factory=list)
    mode: str = "extractive"
    message: str = ""
    warnings: list[str] = Field(default_factory=list)
    retrieval_query: str = ""
    dropped_quotes: int = 0
    index: str = ""
    answer_id: str = Field("", description="The stored answer's id: GET /v1/answers/{answer_id} reopens it.")

    @classmethod
    def of(cls, answer: Answer, excerpts: list[CitationExcerpt], index: str) -> AskResponse:
        """The response for an `Answer` of the library."""
        data = answer.model_dump(exclude={"related"})
        return cls(**data, excerpts=excerpts, related=[PassageOut.of(p) for p in answer.related], index=index)


class StoredAnswerOut(AskResponse):
    """GET /v1/answers/{answer_id}: an answer as it was given, and whether the index has changed since."""

    created_at: str
    settings_hash: str = Field(description="Settings hash of the index the answer was given from.")
    current_index: str = Field(description="The index served now.")
    index_changed: bool = Field(description="The index served now is not the one the answer was given from: "
                                            "asking again may give another answer.")


class CiteOut(BaseModel):
    """A formatted citation (or bibliography) with how to save it: the JSON form of the cite routes."""

    format: str
    media_type: str
    filename: str
    citation: str
    items: list[str] = Field(default_factory=list, description="Each citation on its own (POST /v1/cite).")
    filenames: list[str] = Field(default_factory=list, description="A download file name for each item.")


# ------------------------------------------------------------------ documents

class DocumentInfo(Document):
    """A catalogued guideline with whether it is indexed and how many chunks it has."""

    indexed: bool = False
    chunks: int = 0
    status_warning: str = ""  # how chat and the Documents page word a draft or superseded status


class DocumentsResponse(BaseModel):
    """GET /v1/documents."""

    index: str
    documents: list[DocumentInfo]


class OutlineEntry(BaseModel):
    """A section of a document and the PDF page where it starts."""

    section_path: list[str]
    section: str
    first_page: int
    first_page_label: str
    url: str


class DocumentDetail(BaseModel):
    """GET /v1/documents/{doc_id}."""

    document: DocumentInfo
    outline: list[OutlineEntry]


class PageOut(BaseModel):
    """GET /v1/documents/{doc_id}/pages/{n}."""

    doc_id: str
    number: int
    label: str
    text: str
    is_toc: bool
    kind: str = "content"  # content, toc, title, history or contact: only content pages are quoted
    url: str
    image: bool = Field(False, description="Whether the service can render this page as an image "
                                           "(it holds the indexed edition of the PDF).")


class Ready(BaseModel):
    """GET /readyz when an index is loaded."""

    status: str = "ready"
    index: str
    chunks: int
    documents: int
    built_at: str
    generative: bool = False  # an LLM endpoint is configured for answer_mode "generative"
    answer_calibrated: bool = True  # the answer scorer and abstention threshold were fitted on these index settings
    warnings: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ answers, baskets, exports, feedback

#: A stored answer's id (as /v1/ask returned it).
AnswerId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ChunkIdText = Annotated[str, Field(min_length=1, max_length=300)]


class BasketItem(BaseModel):
    """One entry of a basket or export: a stored passage, a quote of a stored answer, or a whole answer.

    `chunk_id`: the passage's whole text is the quote. `answer_id` with `n`: that citation of the answer
    (its verified quote, with its offsets); `answer_id` alone: every citation of the answer.
    """

    model_config = ConfigDict(extra="forbid")

    chunk_id: ChunkIdText | None = None
    answer_id: AnswerId | None = None
    n: int | None = Field(None, ge=1, le=50, strict=True)

    @model_validator(mode="after")
    def _one_source(self) -> BasketItem:
        if (self.chunk_id is None) == (self.answer_id is None):
            raise ValueError("give either chunk_id or answer_id (with an optional citation number n)")
        if self.chunk_id is not None and self.n is not None:
            raise ValueError("n numbers a citation of an answer; it cannot go with chunk_id")
        return self


class ExportRequest(BaseModel):
    """Body of POST /v1/exports: exactly one of `chunk_ids`, `answer_id` or `items`, and a format."""

    model_config = ConfigDict(extra="forbid")

    format: ExportFormat
    chunk_ids: list[ChunkIdText] | None = Field(None, min_length=1, max_length=200)
    answer_id: AnswerId | None = None
    items: list[BasketItem] | None = Field(None, min_length=1, max_length=200,
                                           description="A basket's entries, in the order they are cited.")
    title: Annotated[Text, Field(max_length=300)] = ""

    @model_validator(mode="after")
    def _one_source(self) -> ExportRequest:
        given = [name for name in ("chunk_ids", "answer_id", "items") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of chunk_ids, answer_id or items (given: {', '.join(given) or 'none'})")
        return self

    def basket_items(self) -> list[BasketItem]:
        """The entries to export, whichever way they were given."""
        if self.chunk_ids is not None:
            return [BasketItem(chunk_id=c) for c in self.chunk_ids]
        if self.answer_id is not None:
            return [BasketItem(answer_id=self.answer_id)]
        return list(self.items or [])


class BasketIn(BaseModel):
    """Body of PUT /v1/baskets/{basket_id}: the basket's entries in order (replacing the stored ones)."""

    model_config = ConfigDict(extra="forbid")

    items: list[BasketItem] = Field(default_factory=list, max_length=200)


class BasketOut(BaseModel):
    """A stored basket."""

    basket_id: str
    items: list[BasketItem]
    updated_at: str = ""


class FeedbackIn(BaseModel):
    """Body of POST /v1/feedback."""

    model_config = ConfigDict(extra="forbid")

    answer_id: AnswerId
    rating: Literal["up", "down"]
    comment: Annotated[Text, Field(max_length=2000)] = ""


class FeedbackOut(BaseModel):
    """One feedback entry with the answer's question and index."""

    id: int
    answer_id: str
    rating: Literal["up", "down"]
    comment: str
    created_at: str
    question: str
    index: str


class FeedbackList(BaseModel):
    """GET /v1/feedback: the most recent first."""

    feedback: list[FeedbackOut]


class DraftPage(BaseModel):
    """A page the user says answers the question."""

    model_config = ConfigDict(extra="forbid")

    doc_id: Annotated[Text, Field(min_length=1, max_length=200)]
    page: int = Field(ge=1, le=100_000, strict=True)


class EvalDraftIn(BaseModel):
    """Body of POST /v1/eval/drafts: an evaluation question draft, saved for review (never into the gold set)."""

    model_config = ConfigDict(extra="forbid")

    question: Text = Field(min_length=1, max_length=2000)
    pages: list[DraftPage] = Field(min_length=1, max_length=50)
    answer_id: AnswerId | None = None
    note: Annotated[Text, Field(max_length=2000)] = ""

    _check_question = field_validator("question")(_not_blank)


class EvalDraftOut(BaseModel):
    """A saved evaluation question draft."""

    id: int
    question: str
    answer_id: str | None = None
    pages: list[DraftPage]
    note: str = ""
    created_at: str


class EvalDraftList(BaseModel):
    """GET /v1/eval/drafts: the most recent first."""

    drafts: list[EvalDraftOut]
