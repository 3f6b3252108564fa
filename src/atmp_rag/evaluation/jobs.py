"""Evaluation runs as background jobs of the service: submit, follow progress and ETA, read saved results.

An evaluation takes from seconds (BM25 on the regulatory set) to many minutes (a first dense run on
a BEIR corpus); a front end must not hold a request open or load a model for it. `EvalJobs` runs
one job at a time in a worker thread of the service, with the service's encoder, and saves each
finished run under ``<eval.dir>/runs/<id>/`` (result.json, report.md, charts). The job id is that
folder name, so a finished job and a saved run are the same thing to a client.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from atmp_rag.config import Settings
from atmp_rag.evaluation.datasets import REGULATORY, SPLITS, is_beir_folder
from atmp_rag.evaluation.report import REPORT_FILE, RESULT_FILE, write_report
from atmp_rag.evaluation.runs import EVAL_MODES, EvaluationResult, parse_modes, run_evaluation

log = logging.getLogger(__name__)

#: Jobs waiting behind the running one; more are refused (the service is not a batch cluster).
MAX_QUEUED = 4
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class JobStatus(StrEnum):
    """Where a job is."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class EvalRequest(BaseModel):
    """What to evaluate (body of POST /v1/eval/runs)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(REGULATORY, max_length=120, description="'regulatory' or a BEIR dataset the service has.")
    modes: list[str] = Field(default_factory=lambda: ["bm25", "dense", "hybrid"], min_length=1, max_length=4)
    split: str = Field("all", description="dev, test or all (BEIR: all = test).")
    k: int = Field(10, ge=1, le=100, description="Cutoff of nDCG/MRR/MAP/Recall.")
    limit: int | None = Field(None, ge=1, description="Only the first N queries (quick checks; not comparable).")
    answers: bool = Field(True, description="Regulatory set: also judge the extractive answers.")


class EvalJob(BaseModel):
    """A submitted or saved evaluation run."""

    id: str
    status: JobStatus
    request: EvalRequest
    progress: float = 0.0
    message: str = ""
    submitted_at: str = ""
    started_at: str = ""
    finished_at: str = ""
    elapsed_seconds: float = 0.0
    eta_seconds: float | None = None
    error: str = ""
    summary: dict[str, dict[str, float]] = Field(default_factory=dict)
    n_queries: int | None = None
    index: str = ""


class UnknownJob(LookupError):
    """No job or saved run has this id."""


class JobsBusy(RuntimeError):
    """Too many jobs are waiting."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def available_datasets(settings: Settings) -> list[str]:
    """'regulatory' and the BEIR folders under `eval.benchmarks_dir`."""
    root = settings.eval.benchmarks_dir
    beir = sorted(p.name for p in root.iterdir() if p.is_dir() and is_beir_folder(p)) if root.is_dir() else []
    return [REGULATORY, *beir]


def available_modes(settings: Settings) -> list[str]:
    """Evaluation modes this service can run (the rerank mode needs a cross-encoder)."""
    return [m for m in EVAL_MODES if not m.endswith("+rerank") or settings.retrieval.rerank_model]


class EvalJobs:
    """The service's evaluation queue: one worker thread, jobs in memory, results on disk."""

    def __init__(self, settings: Settings, embedder: Callable[[], Any] | None = None) -> None:
        """`embedder` returns the encoder to share (the service's), loaded only when a dense mode needs it."""
        self.settings = settings
        self.runs_dir = settings.eval.dir / "runs"
        self._embedder = embedder
        self._jobs: dict[str, EvalJob] = {}
        self._started: dict[str, float] = {}
        self._queue: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------ submitting
    def validate(self, request: EvalRequest) -> EvalRequest:
        """The request with its modes normalised; raises ValueError naming what is wrong."""
        if request.dataset not in available_datasets(self.settings):
            raise ValueError(f"unknown dataset {request.dataset!r}; available: "
                             f"{', '.join(available_datasets(self.settings))}")
        if request.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}")
        modes = parse_modes(request.modes)
        missing = [m for m in modes if m not in available_modes(self.settings)]
        if missing:
            raise ValueError(f"mode {', '.join(missing)} needs a cross-encoder (ATMP_RAG_RETRIEVAL__RERANK_MODEL)")
        return request.model_copy(update={"modes": modes})

    def submit(self, request: EvalRequest) -> EvalJob:
        """Queue a run; returns the job (status queued). Raises ValueError or JobsBusy."""
        request = self.validate(request)
        with self._lock:
            waiting = sum(1 for j in self._jobs.values() if j.status == JobStatus.queued)
            if waiting >= MAX_QUEUED:
                raise JobsBusy(f"{waiting} evaluation runs are already waiting; try again when one has finished")
            job_id = self._new_id(request)
            job = EvalJob(id=job_id, status=JobStatus.queued, request=request, submitted_at=_now(),
                          message="waiting for the running evaluation to finish" if self._busy() else "starting")
            self._jobs[job_id] = job
            self._queue.put(job_id)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="eval-jobs", daemon=True)
                self._worker.start()
        return job.model_copy()

    def _busy(self) -> bool:
        return any(j.status in (JobStatus.queued, JobStatus.running) for j in self._jobs.values())

    def _new_id(self, request: EvalRequest) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        suffix = f"-{request.split}" if request.dataset == REGULATORY and request.split != "all" else ""
        base = f"{stamp}-{request.dataset}{suffix}"
        job_id, n = base, 1
        while job_id in self._jobs or (self.runs_dir / job_id).exists():
            n += 1
            job_id = f"{base}-{n}"
        return job_id

    # ------------------------------------------------------------ running
    def _work(self) -> None:
        while True:
            try:
                job_id = self._queue.get(timeout=30)
            except queue.Empty:
                return  # idle: the next submit starts a new worker
            self._run(job_id)

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs[job_id]
            self._jobs[job_id] = job.model_copy(update=changes)

    def _run(self, job_id: str) -> None:
        request = self._jobs[job_id].request
        started = time.monotonic()
        self._started[job_id] = started
        self._update(job_id, status=JobStatus.running, started_at=_now(), message="starting")

        def progress(fraction: float, message: str) -> None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            elapsed = time.monotonic() - started
            # An estimate only once there is something to extrapolate from.
            eta = elapsed * (1 - fraction) / fraction if fraction >= 0.02 and elapsed >= 1 else None
            self._update(job_id, progress=fraction, message=message, elapsed_seconds=round(elapsed, 1),
                         eta_seconds=None if eta is None else round(eta, 1))

        try:
            embedder = self._embedder() if self._embedder and any(m != "bm25" for m in request.modes) else None
            result = run_evaluation(request.dataset, request.modes, self.settings, progress, k=request.k,
                                    split=request.split, answers=request.answers, limit=request.limit,
                                    embedder=embedder)
            write_report(result, self.runs_dir / job_id)
        except Exception as exc:  # a failed run is reported to the client, never kills the service
            log.exception("evaluation %s failed", job_id)
            self._update(job_id, status=JobStatus.failed, error=str(exc) or type(exc).__name__, finished_at=_now(),
                         elapsed_seconds=round(time.monotonic() - started, 1), eta_seconds=None)
            return
        self._update(job_id, status=JobStatus.done, progress=1.0, message="done", finished_at=_now(),
                     elapsed_seconds=round(time.monotonic() - started, 1), eta_seconds=0.0,
                     summary=result.summary(), n_queries=result.n_queries, index=str(result.index.get("name", "")))

    # ------------------------------------------------------------ reading
    def get(self, job_id: str) -> EvalJob:
        """A job in memory, or a saved run; raises UnknownJob."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None and job.status != JobStatus.done:
            return job.model_copy()
        saved = self._saved(job_id)
        if saved is None:
            raise UnknownJob(job_id)
        return saved

    def list(self) -> list[EvalJob]:
        """Queued, running and failed jobs of this service, then every saved run, newest first."""
        with self._lock:
            live = [j.model_copy() for j in self._jobs.values() if j.status != JobStatus.done]
        saved = []
        if self.runs_dir.is_dir():
            for folder in self.runs_dir.iterdir():
                if (folder / RESULT_FILE).is_file():
                    job = self._saved(folder.name)
                    if job is not None:
                        saved.append(job)
        return sorted(live, key=lambda j: j.id, reverse=True) + sorted(saved, key=lambda j: j.id, reverse=True)

    def folder(self, job_id: str) -> Path:
        """The saved run's folder; raises UnknownJob."""
        if not _ID_RE.match(job_id) or not (self.runs_dir / job_id / RESULT_FILE).is_file():
            raise UnknownJob(job_id)
        return self.runs_dir / job_id

    def result_file(self, job_id: str) -> Path:
        """result.json of a finished run."""
        return self.folder(job_id) / RESULT_FILE

    def report_file(self, job_id: str) -> Path:
        """report.md of a finished run."""
        path = self.folder(job_id) / REPORT_FILE
        if not path.is_file():
            raise UnknownJob(job_id)
        return path

    def _saved(self, job_id: str) -> EvalJob | None:
        try:
            path = self.folder(job_id) / RESULT_FILE
        except UnknownJob:
            return None
        stat = path.stat()
        return _saved_job(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _saved_job(path: str, mtime_ns: int, size: int) -> EvalJob | None:
    """The job view of a saved result.json (cached by modification time: results hold every query)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        result = EvaluationResult.model_validate(_nan_p_values(data))
    except (OSError, ValueError) as exc:
        log.warning("unreadable saved run %s: %s", path, exc)
        return None
    folder = Path(path).parent
    request = EvalRequest(dataset=result.dataset, modes=result.modes, split=result.split, k=result.k,
                          answers=any("citation_precision" in r.metrics for r in result.results.values()))
    finished = ""
    with contextlib.suppress(ValueError):
        started = datetime.strptime(result.started_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        finished = datetime.fromtimestamp(started.timestamp() + result.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return EvalJob(id=folder.name, status=JobStatus.done, request=request, progress=1.0, message="done",
                   submitted_at=result.started_at, started_at=result.started_at,
                   finished_at=finished, elapsed_seconds=result.seconds, eta_seconds=0.0,
                   summary=result.summary(), n_queries=result.n_queries, index=str(result.index.get("name", "")))


def _nan_p_values(data: dict[str, Any]) -> dict[str, Any]:
    # JSON has no NaN: a significance test without a p-value (identical runs) is saved as null.
    for c in data.get("comparisons", []):
        if c.get("p_value") is None:
            c["p_value"] = float("nan")
    return data
