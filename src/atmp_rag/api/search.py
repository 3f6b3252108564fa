"""Routes: POST /v1/search and POST /v1/ask."""

from __future__ import annotations

from fastapi import APIRouter, Request

from atmp_rag.api.common import answers_of, engine_of, loaded_of, search_filters
from atmp_rag.schemas import AskRequest, AskResponse, PassageOut, SearchRequest, SearchResponse

router = APIRouter()


@router.post("/search", response_model=SearchResponse, tags=["retrieval"],
             responses={422: {"description": "invalid body or unknown filter values"}})
def search(body: SearchRequest, request: Request) -> SearchResponse:
    """Retrieve the `k` best passages (bm25, dense or hybrid) with optional filters."""
    engine, loaded = engine_of(request), loaded_of(request)
    hits = engine.search(body.question, k=body.k, mode=body.mode,
                         filters=search_filters(engine, loaded, body.filters), loaded=loaded)
    return SearchResponse(question=body.question, query=body.question, mode=body.mode, k=body.k, index=loaded.name,
                          results=[PassageOut.of(p) for p in hits])


@router.post("/ask", response_model=AskResponse, tags=["answers"],
             responses={422: {"description": "invalid body or unknown filter values"}})
def ask(body: AskRequest, request: Request) -> AskResponse:
    """A grounded answer of verified verbatim quotes with [n] citations (each with the page text around it),
    or an abstention with related reading. The answer is stored: its `answer_id` reopens it at
    GET /v1/answers/{answer_id}, also after a restart or a new index."""
    engine, loaded = engine_of(request), loaded_of(request)
    answer = engine.ask(body.question, k=body.k, mode=body.mode,
                        filters=search_filters(engine, loaded, body.filters), answer_mode=body.answer_mode,
                        loaded=loaded, history=body.history)
    response = AskResponse.of(answer, engine.excerpts(answer.citations, loaded=loaded), loaded.name)
    return answers_of(request).save_answer(response, loaded.store.settings_hash).response
