"""The app factory: middleware, error mapping, health routes, and the /v1 routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from atmp_rag.answers_store import AnswerStore
from atmp_rag.api import answers, citations, documents, evaluation, exports, search
from atmp_rag.api.common import (
    BodyLimit,
    RequestLog,
    SafeJSONResponse,
    api_key_dependency,
    loaded_of,
    single_valued_query,
    validation_detail,
)
from atmp_rag.config import Settings
from atmp_rag.evaluation.jobs import EvalJobs, JobsBusy, UnknownJob
from atmp_rag.schemas import Ready
from atmp_rag.service import Engine, NoPageImage, NotReady, UnknownFilterValues

log = logging.getLogger("atmp_rag.api")


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
    app.state.answers = AnswerStore(settings.service.answers_db)
    # Evaluation jobs share the service's encoder (loaded once) instead of loading their own.
    app.state.eval_jobs = EvalJobs(settings, embedder=lambda: engine.embedder)
    if settings.service.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.service.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                           expose_headers=["Content-Disposition", "X-Highlight-Boxes", "X-Highlight-Found"])
    app.add_middleware(BodyLimit, max_bytes=settings.service.max_body_bytes)
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

    @app.exception_handler(NoPageImage)
    async def no_page_image(request: Request, exc: NoPageImage) -> JSONResponse:
        return SafeJSONResponse({"detail": f"no page image: {exc}"}, status_code=404)

    @app.exception_handler(UnknownJob)
    async def unknown_job(request: Request, exc: UnknownJob) -> JSONResponse:
        return SafeJSONResponse({"detail": f"unknown or unfinished evaluation run: {exc}"}, status_code=404)

    @app.exception_handler(JobsBusy)
    async def jobs_busy(request: Request, exc: JobsBusy) -> JSONResponse:
        return SafeJSONResponse({"detail": str(exc)}, status_code=429)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=Ready, responses={503: {"description": "no index loaded"}})
    def readyz(request: Request) -> Any:
        """An index is loaded: its name, chunk count and build time."""
        try:
            loaded = loaded_of(request)
        except NotReady as exc:
            return JSONResponse({"status": "not ready", "detail": str(exc)}, status_code=503)
        answerer = loaded.answerer
        warnings = [] if answerer.calibrated else [
            f"the answer scorer and abstention threshold were fitted on an index with settings "
            f"{answerer.scorer.settings_hash}; this index has {loaded.store.settings_hash}: answers may abstain "
            "too often or too rarely until eval/fit_answer_scorer.py is rerun"]
        return Ready(index=loaded.name, chunks=len(loaded.store.chunks), built_at=loaded.built_at,
                     documents=sum(1 for d in loaded.chunk_counts if loaded.chunk_counts[d]),
                     generative=bool(settings.generation.url), answer_calibrated=answerer.calibrated,
                     warnings=warnings)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(api_key_dependency(settings)), Depends(single_valued_query)],
                   responses={401: {"description": "missing or invalid API key"},
                              503: {"description": "no index loaded"}})
    for feature in (search, documents, citations, evaluation, answers, exports):
        v1.include_router(feature.router)
    app.include_router(v1)
    return app
