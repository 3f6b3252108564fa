"""Routes: evaluation runs as jobs of the service (submit, follow, list, read results)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from atmp_rag.evaluation.datasets import SPLITS
from atmp_rag.evaluation.jobs import EvalJob, EvalJobs, EvalRequest, available_datasets, available_modes

router = APIRouter(prefix="/eval", tags=["evaluation"])
RunId = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class EvalOptions(BaseModel):
    """What can be evaluated on this service."""

    datasets: list[str]
    modes: list[str]
    splits: list[str]


class EvalRuns(BaseModel):
    """Queued, running and failed jobs, then saved runs, newest first."""

    runs: list[EvalJob]


def _jobs(request: Request) -> EvalJobs:
    return request.app.state.eval_jobs


@router.get("/datasets", response_model=EvalOptions)
def options(request: Request) -> EvalOptions:
    """Datasets (the regulatory set and BEIR folders the service has), modes and splits."""
    settings = request.app.state.settings
    return EvalOptions(datasets=available_datasets(settings), modes=available_modes(settings), splits=list(SPLITS))


@router.post("/runs", response_model=EvalJob, status_code=202,
             responses={422: {"description": "unknown dataset, mode or split"},
                        429: {"description": "too many runs waiting"}})
def submit(body: EvalRequest, request: Request) -> EvalJob:
    """Start an evaluation run; follow it at GET /v1/eval/runs/{id} (progress, ETA, then the summary)."""
    try:
        return _jobs(request).submit(body)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/runs", response_model=EvalRuns)
def runs(request: Request) -> EvalRuns:
    """Every run this service knows: live jobs first, then saved runs (newest first)."""
    return EvalRuns(runs=_jobs(request).list())


@router.get("/runs/{run_id}", response_model=EvalJob, responses={404: {"description": "unknown run"}})
def run(run_id: RunId, request: Request) -> EvalJob:
    """One run: status, progress (0–1), message, elapsed time and ETA; the metric summary once done."""
    return _jobs(request).get(run_id)


@router.get("/runs/{run_id}/result", response_class=FileResponse,
            responses={200: {"content": {"application/json": {}}}, 404: {"description": "unknown or unfinished run"}})
def result(run_id: RunId, request: Request) -> Any:
    """The full result of a finished run (metrics, per-query details, comparisons) as JSON."""
    return FileResponse(_jobs(request).result_file(run_id), media_type="application/json",
                        filename=f"{run_id}-result.json")


@router.get("/runs/{run_id}/report", response_class=FileResponse,
            responses={200: {"content": {"text/markdown": {}}}, 404: {"description": "unknown or unfinished run"}})
def report(run_id: RunId, request: Request) -> Any:
    """The Markdown report of a finished run."""
    return FileResponse(_jobs(request).report_file(run_id), media_type="text/markdown; charset=utf-8",
                        filename=f"{run_id}-report.md")
