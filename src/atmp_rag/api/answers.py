"""Routes: stored answers (permalinks), feedback on them, and evaluation question drafts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request

from atmp_rag.answers_store import UnknownAnswer
from atmp_rag.api.common import answers_of, loaded_of
from atmp_rag.schemas import (
    EvalDraftIn,
    EvalDraftList,
    EvalDraftOut,
    FeedbackIn,
    FeedbackList,
    FeedbackOut,
    StoredAnswerOut,
)

router = APIRouter(tags=["answers"])
AnswerIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/answers/{answer_id}", response_model=StoredAnswerOut,
            responses={404: {"description": "no answer stored under this id"}})
def stored_answer(answer_id: AnswerIdPath, request: Request) -> StoredAnswerOut:
    """An answer as /v1/ask gave it, with `index_changed` when the index served now is another one."""
    stored = answers_of(request).answer(answer_id)
    if stored is None:
        raise HTTPException(404, f"unknown answer: {answer_id}")
    current = loaded_of(request).name
    return StoredAnswerOut(**stored.response.model_dump(), created_at=stored.created_at,
                           settings_hash=stored.settings_hash, current_index=current,
                           index_changed=current != stored.index)


@router.post("/feedback", response_model=FeedbackOut, status_code=201, tags=["feedback"],
             responses={404: {"description": "no answer stored under this id"}})
def add_feedback(body: FeedbackIn, request: Request) -> FeedbackOut:
    """A thumbs up or down, with an optional comment (≤ 2000 characters), on a stored answer."""
    try:
        record = answers_of(request).add_feedback(body.answer_id, body.rating, body.comment)
    except UnknownAnswer:
        raise HTTPException(404, f"unknown answer: {body.answer_id}") from None
    return FeedbackOut(**record.model_dump())


@router.get("/feedback", response_model=FeedbackList, tags=["feedback"])
def list_feedback(request: Request,
                  limit: Annotated[int, Query(ge=1, le=1000, description="entries at most")] = 100,
                  rating: Annotated[Literal["up", "down"] | None, Query(description="only this rating")] = None,
                  ) -> FeedbackList:
    """Recent feedback, newest first, with each answer's question and index (the API key when one is set)."""
    records = answers_of(request).feedback(limit=limit, rating=rating)
    return FeedbackList(feedback=[FeedbackOut(**r.model_dump()) for r in records])


@router.post("/eval/drafts", response_model=EvalDraftOut, status_code=201, tags=["evaluation"],
             responses={404: {"description": "answer_id given but no answer stored under it"}})
def add_draft(body: EvalDraftIn, request: Request) -> EvalDraftOut:
    """Save an evaluation question draft (the question and the pages that answer it) for review.

    Drafts are kept in the service's database; they never enter the regulatory gold set by themselves.
    """
    store = answers_of(request)
    if body.answer_id is not None and store.answer(body.answer_id) is None:
        raise HTTPException(404, f"unknown answer: {body.answer_id}")
    index = loaded_of(request).store
    # A draft names pages a reviewer can open: each must be a page of a document in the index served now.
    bad = [f"{p.doc_id} p. {p.page}" + ("" if p.doc_id in index.documents else " (document not in the index)")
           for p in body.pages if index.page(p.doc_id, p.page) is None]
    if bad:
        raise HTTPException(422, f"pages not in the index: {', '.join(bad)}")
    draft = store.add_draft(body.question, [p.model_dump() for p in body.pages], body.answer_id, body.note)
    return EvalDraftOut.model_validate(draft.model_dump())


@router.get("/eval/drafts", response_model=EvalDraftList, tags=["evaluation"])
def list_drafts(request: Request,
                limit: Annotated[int, Query(ge=1, le=1000, description="drafts at most")] = 100) -> EvalDraftList:
    """Evaluation question drafts awaiting review, newest first."""
    return EvalDraftList(drafts=[EvalDraftOut.model_validate(d.model_dump())
                                 for d in answers_of(request).drafts(limit)])
