"""FastAPI service: routes only. Retrieval, answering and index reload live in `atmp_rag.service.Engine`.

Run with `atmp-rag serve`. OpenAPI UI at /docs. Errors: 422 with field errors for invalid input
(including filter values that name no indexed document), 404 for unknown ids, 401 without a valid
API key (when `ATMP_RAG_API_KEY` is set), 413 for a body over `max_body_bytes`, 503 while no index
is loaded, 500 (JSON, the connection kept) for anything unexpected.

Error responses never echo the request: a 422 lists type, location and message of each field
error, never the offending input (it may be 64 KiB, NaN or invalid Unicode).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from atmp_rag.cite import FORMATS, citation_from_passage, format_citation, page_url, status_warning
from atmp_rag.config import Settings
from atmp_rag.models import Answer, Document, PageSpan, Passage, Status, Turn
from atmp_rag.retrieve import SearchFilters
from atmp_rag.service import Engine, Loaded, NotReady, UnknownFilterValues

log = logging.getLogger("atmp_rag.api")

MEDIA_TYPES = {
    "text": "text/plain",
    "markdown": "text/markdown",
    "bibtex": "application/x-bibtex",
    "ris": "application/x-research-info-systems",
    "csl-json": "application/vnd.citationstyles.csl+json",
}
CiteFormat = Literal["text", "markdown", "bibtex", "ris", "csl-json"]
assert set(MEDIA_TYPES) == set(FORMATS)


# ------------------------------------------------------------------ request and response models

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


class Filters(BaseModel):
    """Restrict retrieval; values are checked against the indexed documents (422 lists unknown ones)."""

    model_config = ConfigDict(extra="forbid")

    issuers: list[Annotated[Text, Field(max_length=200)]] = Field(default_factory=list, max_length=50)
    doc_ids: list[Annotated[Text, Field(max_length=200)]] = Field(default_factory=list, max_length=200)
    statuses: list[Status] = Field(default_factory=list, max_length=3)


class SearchRequest(BaseModel):
    """Body of POST /v1/search."""

    model_config = ConfigDict(extra="forbid")

    query: Text = Field(min_length=1, max_length=2000)
    k: int = Field(10, ge=1, le=50, strict=True)  # strict: "5" and true are not counts
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"
    filters: Filters = Field(default_factory=Filters)

    _check_query = field_validator("query")(_not_blank)


class AskRequest(BaseModel):
    """Body of POST /v1/ask."""

    model_config = ConfigDict(extra="forbid")

    question: Text = Field(min_length=1, max_length=2000)
    k: int = Field(5, ge=1, le=50, strict=True)
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"
    filters: Filters = Field(default_factory=Filters)
    answer_mode: Literal["extractive", "generative"] = "extractive"
    history: list[Turn] = Field(default_factory=list, max_length=10,
                                description="Earlier turns, oldest first: a follow-up question is searched in "
                                            "their context and prefers the documents they cited.")

    _check_question = field_validator("question")(_not_blank)


class PassageOut(BaseModel):
    """A stored chunk with its document's identity and a link to its first page."""

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

    @classmethod
    def of(cls, p: Passage, **extra: Any) -> PassageOut:
        """Flatten a Passage."""
        c, d = p.chunk, p.document
        return cls(chunk_id=c.chunk_id, doc_id=c.doc_id, file=d.file, title=d.title, issuer=d.issuer,
                   reference=d.reference, version=d.version, status=d.status, section=c.section,
                   section_path=c.section_path, pages=c.pages, page_labels=p.page_labels, spans=c.spans,
                   url=page_url(d, c.pages[0]) if c.pages else "", text=c.text, **extra)


class SearchHit(PassageOut):
    """One search result."""

    rank: int
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None


class SearchResponse(BaseModel):
    """Results of POST /v1/search."""

    query: str
    mode: str
    k: int
    index: str
    results: list[SearchHit]


class AskResponse(Answer):
    """An Answer plus the index it came from."""

    index: str = ""


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


class CiteResponse(BaseModel):
    """GET /v1/passages/{chunk_id}/cite."""

    format: str
    citation: str
    media_type: str


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


# ------------------------------------------------------------------ middleware and helpers

def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """JSON that always serialises: on lone surrogates or NaN it falls back to ASCII escapes and null."""

    def render(self, content: Any) -> bytes:
        """UTF-8 JSON as usual; never raises for content made of JSON types."""
        try:
            return super().render(content)
        except (UnicodeEncodeError, ValueError):
            return json.dumps(_finite(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def _safe_text(value: object, limit: int) -> str:
    text = str(value)
    text = text if len(text) <= limit else text[:limit] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def validation_detail(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Field errors as type, loc and msg only: never the input or ctx values, which may be huge or unencodable."""
    detail = []
    for e in errors:
        msg = str(e.get("msg", "invalid value"))
        ctx = e.get("ctx")
        if e.get("type") == "json_invalid" and isinstance(ctx, Mapping) and isinstance(ctx.get("error"), str):
            msg = f"{msg}: {ctx['error']}"  # the parser's reason, e.g. "Expecting value"
        loc = [x if isinstance(x, int) and not isinstance(x, bool) else _safe_text(x, 100) for x in e.get("loc", ())]
        detail.append({"type": _safe_text(e.get("type", "value_error"), 60), "loc": loc, "msg": _safe_text(msg, 300)})
    return detail


class BodyLimit:
    """Pure ASGI middleware: 413 (JSON) for a request body over `max_bytes`, never buffering more than that.

    A declared Content-Length over the limit is answered before the body is read; a streamed body is
    counted as it arrives. (FastAPI's own `max_body_size` answers plain text whenever a length is
    declared, which would break the JSON error contract of this API.)
    """

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> HTTPException:
        return HTTPException(413, f"request body too large: the limit is {self.max_bytes} bytes")

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # Answered without reading: uvicorn discards the rest of the body and keeps the connection
            # (closing it with unread data would reset it under a client that is still sending).
            await SafeJSONResponse({"detail": self._too_large().detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> MutableMapping[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()  # FastAPI re-raises HTTPException from body reading: a 413
            return message

        await self.app(scope, limited_receive, send)


class RequestLog:
    """Pure ASGI middleware: one `key=value` log line per request with its latency (no body buffering).

    It also turns any unexpected exception into a JSON 500 without re-raising it: Starlette's own
    error middleware re-raises after answering, and uvicorn then drops the keep-alive connection.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = uuid.uuid4().hex[:12]
        status = {"code": 500, "started": False}

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if status["started"]:
                raise  # half a response is out: only closing the connection is still valid HTTP
            log.exception("unhandled error rid=%s on %s %s", rid, scope.get("method"), scope.get("path"))
            await SafeJSONResponse({"detail": "internal server error"}, status_code=500)(scope, receive, send_wrapper)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info("request rid=%s method=%s path=%s status=%d ms=%.2f client=%s", rid, scope.get("method"),
                     scope.get("path"), status["code"], (time.perf_counter() - started) * 1000, client[0])


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _loaded(request: Request) -> Loaded:
    return _engine(request).current()


def _document_info(loaded: Loaded, doc: Document) -> DocumentInfo:
    return DocumentInfo(**doc.model_dump(), indexed=loaded.indexed(doc.doc_id),
                        chunks=loaded.chunk_counts.get(doc.doc_id, 0), status_warning=status_warning(doc))


def _filters(engine: Engine, loaded: Loaded, f: Filters) -> SearchFilters:
    return engine.filters(loaded, f.issuers, f.doc_ids, f.statuses)


#: Security schemes: they put the key into the OpenAPI document, so /docs can send it ("Authorize").
BEARER = HTTPBearer(auto_error=False, description="The API key (ATMP_RAG_API_KEY) as a Bearer token.")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key (ATMP_RAG_API_KEY).")


def api_key_dependency(settings: Settings) -> Callable[..., None]:
    """A dependency that requires the configured API key as a Bearer token or X-API-Key (no-op without one)."""
    expected = (settings.api_key or "").encode()

    def require_api_key(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
        x_api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
    ) -> None:
        if not expected:
            return
        given = x_api_key or ""
        if bearer is not None:
            given = bearer.credentials.strip()
        # Header values arrive decoded as latin-1; re-encoding gives the raw bytes, so a UTF-8 key works.
        # compare_digest on bytes: constant time, and no TypeError on non-ASCII input.
        try:
            raw = given.encode("latin-1")
        except UnicodeEncodeError:
            raw = given.encode()
        if not given or not hmac.compare_digest(raw, expected):
            raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})

    return require_api_key


def single_valued_query(request: Request) -> None:
    """422 for a repeated query parameter (`?format=text&format=ris`): taking one silently would be a guess."""
    params = request.query_params
    repeated = sorted({k for k in params if len(params.getlist(k)) > 1})
    if repeated:
        raise RequestValidationError([{"type": "repeated_parameter", "loc": ("query", k),
                                       "msg": "given more than once; give it once"} for k in repeated])


# ------------------------------------------------------------------ app factory

def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API application. The index and encoder load once at start-up (lifespan) and reload on publish."""
    settings = settings or Settings()
    engine = engine or Engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not engine.start():
            log.warning("starting without an index (%s); /readyz answers 503 until one is published",
                        engine.last_error)
        yield

    app = FastAPI(title="atmp-rag", version="0.1.0", lifespan=lifespan,
                  description="Regulatory answers for ATMPs from EMA/ICH guidelines, with verbatim page citations.")
    app.state.engine = engine
    app.state.settings = settings
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog)

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"detail": f"no index loaded: {exc}"}, status_code=503)

    @app.exception_handler(UnknownFilterValues)
    async def unknown_filters(request: Request, exc: UnknownFilterValues) -> JSONResponse:
        detail = [{"type": "value_error", "loc": ["body", "filters", field], "input": values,
                   "msg": f"unknown {field} (not in the index): {', '.join(values)}"}
                  for field, values in exc.unknown.items()]
        return SafeJSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return SafeJSONResponse({"detail": validation_detail(exc.errors())}, status_code=422)


    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=Ready, responses={503: {"description": "no index loaded"}})
    def readyz(request: Request) -> Any:
        """An index is loaded: its name, chunk count and build time."""
        try:
            loaded = _loaded(request)
        except NotReady as exc:
            return JSONResponse({"status": "not ready", "detail": str(exc)}, status_code=503)
        answerer = loaded.answerer
        warnings = [] if answerer.calibrated else [
            f"the answer scorer and abstention threshold were fitted on an index with settings "
            f"{answerer.scorer.settings_hash}; this index has {loaded.store.settings_hash}: answers may abstain "
            "too often or too rarely until eval/fit_answer_scorer.py is rerun"]
        return Ready(index=loaded.name, chunks=len(loaded.store.chunks), built_at=loaded.built_at,
                     documents=sum(1 for d in loaded.chunk_counts if loaded.chunk_counts[d]),
                     generative=bool(settings.llm_url), answer_calibrated=answerer.calibrated, warnings=warnings)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(api_key_dependency(settings)), Depends(single_valued_query)],
                   responses={401: {"description": "missing or invalid API key"},
                              503: {"description": "no index loaded"}})

    @v1.post("/search", response_model=SearchResponse, tags=["retrieval"],
             responses={422: {"description": "invalid body or unknown filter values"}})
    def search(body: SearchRequest, request: Request) -> SearchResponse:
        """Retrieve the `k` best passages (bm25, dense or hybrid) with optional filters."""
        engine_, loaded = _engine(request), _loaded(request)
        hits = engine_.search(body.query, k=body.k, mode=body.mode, filters=_filters(engine_, loaded, body.filters),
                              loaded=loaded)
        return SearchResponse(query=body.query, mode=body.mode, k=body.k, index=loaded.name,
                              results=[SearchHit.of(p, rank=p.rank, score=p.score, dense_score=p.dense_score,
                                                    lexical_score=p.lexical_score) for p in hits])

    @v1.post("/ask", response_model=AskResponse, tags=["answers"],
             responses={422: {"description": "invalid body or unknown filter values"}})
    def ask(body: AskRequest, request: Request) -> AskResponse:
        """A grounded answer of verified verbatim quotes with [n] citations, or an abstention."""
        engine_, loaded = _engine(request), _loaded(request)
        answer = engine_.ask(body.question, k=body.k, mode=body.mode, filters=_filters(engine_, loaded, body.filters),
                             answer_mode=body.answer_mode, loaded=loaded, history=body.history)
        return AskResponse(**answer.model_dump(), index=loaded.name)

    @v1.get("/documents", response_model=DocumentsResponse, tags=["documents"])
    def documents(request: Request) -> DocumentsResponse:
        """The catalog: every guideline, whether it is indexed, its page and chunk counts."""
        loaded = _loaded(request)
        return DocumentsResponse(index=loaded.name, documents=[
            _document_info(loaded, d) for d in sorted(loaded.store.documents.values(), key=lambda d: d.doc_id)])

    @v1.get("/documents/{doc_id}", response_model=DocumentDetail, tags=["documents"],
            responses={404: {"description": "unknown document"}})
    def document(doc_id: Annotated[str, Path(max_length=300)], request: Request) -> DocumentDetail:
        """One guideline and its section outline (ordered unique section paths with their first page)."""
        loaded = _loaded(request)
        doc = loaded.store.documents.get(doc_id)
        if doc is None:
            raise HTTPException(404, f"unknown document: {doc_id}")
        outline = [OutlineEntry(section_path=e.section_path, section=e.section, first_page=e.first_page,
                                first_page_label=loaded.store.labels.get((doc_id, e.first_page), str(e.first_page)),
                                url=page_url(doc, e.first_page))
                   for e in _engine(request).outline(doc_id, loaded=loaded)]
        return DocumentDetail(document=_document_info(loaded, doc), outline=outline)

    @v1.get("/documents/{doc_id}/pages/{n}", response_model=PageOut, tags=["documents"],
            responses={404: {"description": "unknown document or page"}})
    def page(doc_id: Annotated[str, Path(max_length=300)], n: Annotated[int, Path(ge=1, le=100_000)],
             request: Request) -> PageOut:
        """The stored text of one PDF page (1-based), its printed label and a link to it."""
        loaded = _loaded(request)
        doc = loaded.store.documents.get(doc_id)
        if doc is None:
            raise HTTPException(404, f"unknown document: {doc_id}")
        p = loaded.store.page(doc_id, n)
        if p is None:
            raise HTTPException(404, f"{doc_id} has no page {n}")
        return PageOut(doc_id=doc_id, number=n, label=p.label, text=p.text, is_toc=p.is_toc, kind=p.kind.value,
                       url=page_url(doc, n))

    @v1.get("/passages/{chunk_id}", response_model=PassageOut, tags=["retrieval"],
            responses={404: {"description": "unknown passage"}})
    def passage(chunk_id: Annotated[str, Path(max_length=300)], request: Request) -> PassageOut:
        """One stored passage (chunk) with its provenance."""
        p = _engine(request).passage(chunk_id, loaded=_loaded(request))
        if p is None:
            raise HTTPException(404, f"unknown passage: {chunk_id}")
        return PassageOut.of(p)

    @v1.get("/passages/{chunk_id}/cite", response_model=CiteResponse, tags=["retrieval"],
            responses={404: {"description": "unknown passage"}})
    def cite(chunk_id: Annotated[str, Path(max_length=300)], request: Request,
             format: Annotated[CiteFormat, Query(description="citation format")] = "text") -> CiteResponse:
        """The passage as a citation in text, Markdown, BibTeX, RIS or CSL-JSON."""
        p = _engine(request).passage(chunk_id, loaded=_loaded(request))
        if p is None:
            raise HTTPException(404, f"unknown passage: {chunk_id}")
        text = format_citation(citation_from_passage(p), p.document, format, accessed=date.today())
        return CiteResponse(format=format, citation=text, media_type=MEDIA_TYPES[format])

    app.include_router(v1)
    return app
