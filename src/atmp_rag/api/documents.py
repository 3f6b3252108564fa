"""Routes: the catalog, a document's outline, a page's stored text and its rendered image."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from atmp_rag.api.common import document_info, engine_of, loaded_of
from atmp_rag.cite import page_url
from atmp_rag.schemas import DocumentDetail, DocumentsResponse, OutlineEntry, PageOut
from atmp_rag.service import NoPageImage

router = APIRouter(tags=["documents"])
DocId = Annotated[str, Path(max_length=300)]
PageNo = Annotated[int, Path(ge=1, le=100_000)]
_RANGES_RE = re.compile(r"^\d{1,7}-\d{1,7}(?:,\d{1,7}-\d{1,7}){0,19}$")


@router.get("/documents", response_model=DocumentsResponse)
def documents(request: Request) -> DocumentsResponse:
    """The catalog: every guideline, whether it is indexed, its page and chunk counts."""
    loaded = loaded_of(request)
    return DocumentsResponse(index=loaded.name, documents=[
        document_info(loaded, d) for d in sorted(loaded.store.documents.values(), key=lambda d: d.doc_id)])


@router.get("/documents/{doc_id}", response_model=DocumentDetail, responses={404: {"description": "unknown document"}})
def document(doc_id: DocId, request: Request) -> DocumentDetail:
    """One guideline and its section outline (ordered unique section paths with their first page)."""
    loaded = loaded_of(request)
    doc = loaded.store.documents.get(doc_id)
    if doc is None:
        raise HTTPException(404, f"unknown document: {doc_id}")
    outline = [OutlineEntry(section_path=e.section_path, section=e.section, first_page=e.first_page,
                            first_page_label=loaded.store.labels.get((doc_id, e.first_page), str(e.first_page)),
                            url=page_url(doc, e.first_page))
               for e in engine_of(request).outline(doc_id, loaded=loaded)]
    return DocumentDetail(document=document_info(loaded, doc), outline=outline)


@router.get("/documents/{doc_id}/pages/{n}", response_model=PageOut,
            responses={404: {"description": "unknown document or page"}})
def page(doc_id: DocId, n: PageNo, request: Request) -> PageOut:
    """The stored text of one PDF page (1-based), its printed label, a link to it, and whether an image exists."""
    engine, loaded = engine_of(request), loaded_of(request)
    doc = loaded.store.documents.get(doc_id)
    if doc is None:
        raise HTTPException(404, f"unknown document: {doc_id}")
    p = loaded.store.page(doc_id, n)
    if p is None:
        raise HTTPException(404, f"{doc_id} has no page {n}")
    try:
        engine.source_pdf(doc_id, loaded)
        image = True
    except NoPageImage:
        image = False
    return PageOut(doc_id=doc_id, number=n, label=p.label, text=p.text, is_toc=p.is_toc, kind=p.kind.value,
                   url=page_url(doc, n), image=image)


@router.get("/documents/{doc_id}/pages/{n}/image", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "the rendered page (PNG)"},
                       404: {"description": "unknown document or page, or the service holds no copy of the PDF"},
                       422: {"description": "a highlight range outside the page text"}})
def page_image(doc_id: DocId, n: PageNo, request: Request,
               highlight: Annotated[str | None, Query(max_length=400, description=(
                   "Character ranges of the stored page text to mark, as start-end[,start-end…] (a citation's "
                   "`spans` on this page)."))] = None,
               scale: Annotated[float, Query(ge=0.5, le=3.0, description="Pixels per PDF point.")] = 1.5) -> Response:
    """The page rendered from the indexed PDF as PNG, with the given ranges of its text marked in yellow.

    Headers: `X-Highlight-Boxes` (rectangles drawn), `X-Highlight-Found` (false when some range could
    not be located on the printed page, e.g. text the PDF draws as an image).
    """
    ranges: list[tuple[int, int]] = []
    if highlight:
        if not _RANGES_RE.match(highlight):
            raise HTTPException(422, "highlight must be start-end[,start-end…] with at most 20 ranges")
        ranges = [(int(a), int(b)) for a, b in (r.split("-") for r in highlight.split(","))]
    engine, loaded = engine_of(request), loaded_of(request)
    if doc_id not in loaded.store.documents:
        raise HTTPException(404, f"unknown document: {doc_id}")
    try:
        rendered = engine.page_image(doc_id, n, ranges, scale=scale, loaded=loaded)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return Response(rendered.png, media_type="image/png", headers={
        "X-Highlight-Boxes": str(len(rendered.boxes)), "X-Highlight-Found": str(rendered.found).lower(),
        "Cache-Control": "private, max-age=300"})
