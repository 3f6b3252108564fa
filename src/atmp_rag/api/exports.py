"""Routes: reference baskets and exports (DOCX, Markdown, BibTeX, RIS, CSL-JSON) of a basket or an answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response

from atmp_rag.api.common import answers_of, attachment, loaded_of
from atmp_rag.export import UnknownEntries, basket_citations, export
from atmp_rag.models import ExportFormat
from atmp_rag.schemas import BasketIn, BasketItem, BasketOut, ExportRequest

router = APIRouter(tags=["exports"])
BasketId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                               description="A client-chosen id (e.g. a UUID), 8–64 letters, digits, - or _.")]
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the export file, with a download file name",
          "content": {f.media_type.split(";")[0]: {} for f in ExportFormat}},
    404: {"description": "an answer id that names no stored answer"},
    422: {"description": "invalid body, unknown passages or citation numbers"},
}


@router.post("/exports", response_class=Response, responses=_EXPORT_RESPONSES)
def create_export(body: ExportRequest, request: Request) -> Response:
    """Export passages (`chunk_ids`), an answer (`answer_id`) or a basket's entries (`items`) as a file.

    docx and md: each quote as a quotation with its reference number, draft/superseded warnings, a
    reference list at the end; bibtex, ris, csl-json: one record per document with its cited pages.
    """
    answers = answers_of(request)
    title = body.title
    if body.answer_id is not None and not title:
        stored = answers.answer(body.answer_id)
        title = stored.question if stored is not None else ""
    try:
        pairs = basket_citations(body.basket_items(), loaded_of(request).store, answers)
    except UnknownEntries as exc:
        raise HTTPException(404 if exc.answers_missing else 422, str(exc)) from None
    out = export(pairs, body.format, title=title, accessed=date.today())
    return Response(out.content, media_type=out.media_type, headers=attachment(out.filename))


@router.put("/baskets/{basket_id}", response_model=BasketOut)
def save_basket(basket_id: BasketId, body: BasketIn, request: Request) -> BasketOut:
    """Store a basket's entries in order (replacing what was stored): the UI keeps its basket here."""
    updated = answers_of(request).save_basket(basket_id, [i.model_dump(exclude_none=True) for i in body.items])
    return BasketOut(basket_id=basket_id, items=body.items, updated_at=updated)


@router.get("/baskets/{basket_id}", response_model=BasketOut)
def get_basket(basket_id: BasketId, request: Request) -> BasketOut:
    """A stored basket; a basket never saved is empty (a new session starts with one)."""
    found = answers_of(request).basket(basket_id)
    if found is None:
        return BasketOut(basket_id=basket_id, items=[])
    items, updated = found
    return BasketOut(basket_id=basket_id, items=[BasketItem.model_validate(i) for i in items], updated_at=updated)
