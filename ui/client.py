"""The only place the UI speaks HTTP: a small client of the atmp-rag API.

The app is a pure client: everything it shows (answers, page text and images, citations in every
format, evaluation runs) comes from the service, so it runs on a machine without models, indexes or
PDFs (`pip install atmp-rag[ui]`). Every failure becomes one of a few exceptions carrying a message a
scientist can act on (start the service, build an index, set the key).
"""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class ServiceError(RuntimeError):
    """The service could not answer; `str(exc)` is meant for the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServiceDown(ServiceError):
    """Nothing answers at the configured URL (or it timed out)."""


class NotReady(ServiceError):
    """The service runs but has no index loaded (HTTP 503)."""


class Unauthorized(ServiceError):
    """The service requires an API key and ours is missing or wrong (HTTP 401)."""


def _detail(response: httpx.Response) -> str:
    """The API's error detail as one line (FastAPI gives a string or a list of field errors)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail)


class ApiClient:
    """Synchronous client of the atmp-rag API (`/readyz`, `/v1/...`)."""

    def __init__(self, base_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0,
                 http: httpx.Client | None = None) -> None:
        """`http` replaces the connection pool (e.g. FastAPI's TestClient, which is an httpx.Client)."""
        self.base_url = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key} if api_key else {}
        # Short connect timeout: a stopped service should be reported at once, not after a minute.
        self._http = http or httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout, connect=3.0))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ------------------------------------------------------------ plumbing
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ServiceDown(f"The atmp-rag service is not reachable at {self.base_url}. Start it with "
                              "`atmp-rag serve` (or `atmp-rag up` for service and app together), or set "
                              "ATMP_RAG_UI__API_URL to where it runs.") from exc
        except httpx.TimeoutException as exc:
            raise ServiceDown(f"The atmp-rag service at {self.base_url} did not answer in time ({exc}).") from exc
        except httpx.HTTPError as exc:
            raise ServiceDown(f"Could not talk to the atmp-rag service at {self.base_url}: {exc}") from exc
        if response.status_code == 401:
            raise Unauthorized("The service requires an API key: set ATMP_RAG_API_KEY (or ATMP_RAG_UI__API_KEY) to "
                               "the key it was started with.", 401)
        if response.status_code == 503:
            raise NotReady(f"The service is running but has no index loaded ({_detail(response)}). Build one with "
                           "`atmp-rag ingest`; the service picks it up by itself.", 503)
        if response.status_code >= 400:
            raise ServiceError(f"{method} {path} failed ({response.status_code}): {_detail(response)}",
                               response.status_code)
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    # ------------------------------------------------------------ answers
    def ready(self) -> dict[str, Any]:
        """`/readyz`: the loaded index's name, chunk and document counts, build time."""
        return self._request("GET", "/readyz")

    def ask(self, question: str, *, k: int = 5, mode: str = "hybrid", answer_mode: str = "extractive",
            issuers: list[str] | None = None, doc_ids: list[str] | None = None,
            statuses: list[str] | None = None, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """POST /v1/ask: an answer with citations and the page text around each quote (`excerpts`), or an
        abstention with related reading. `history`: earlier turns, oldest first, as {"question", "chunk_ids"}."""
        body = {"question": question, "k": k, "mode": mode, "answer_mode": answer_mode,
                "filters": {"issuers": issuers or [], "doc_ids": doc_ids or [], "statuses": statuses or []},
                "history": history or []}
        return self._request("POST", "/v1/ask", json=body)

    def cite(self, citations: list[dict[str, Any]], fmt: str) -> dict[str, Any]:
        """POST /v1/cite (JSON form): {"citation": the bibliography, "items": each citation, "filename",
        "media_type"} — one call for all of an answer's citations."""
        return self._request("POST", "/v1/cite", json={"format": fmt, "citations": citations},
                             headers={"Accept": "application/json"})

    def answer(self, answer_id: str) -> dict[str, Any]:
        """GET /v1/answers/{id}: a stored answer as it was given, with `index_changed` and `current_index`."""
        return self._request("GET", f"/v1/answers/{answer_id}")

    def feedback(self, answer_id: str, rating: str, comment: str = "") -> dict[str, Any]:
        """POST /v1/feedback: a thumbs "up" or "down" on a stored answer, with an optional comment."""
        return self._request("POST", "/v1/feedback", json={"answer_id": answer_id, "rating": rating,
                                                           "comment": comment})

    def feedback_list(self, limit: int = 50) -> list[dict[str, Any]]:
        """GET /v1/feedback: recent feedback, newest first, with question, answer id and index."""
        return self._request("GET", "/v1/feedback", params={"limit": limit})["feedback"]

    # ------------------------------------------------------------ basket and exports
    def basket(self, basket_id: str) -> list[dict[str, Any]]:
        """GET /v1/baskets/{id}: the basket's entries in order ({"answer_id", "n"} or {"chunk_id"})."""
        items = self._request("GET", f"/v1/baskets/{basket_id}")["items"]
        return [{k: v for k, v in item.items() if v is not None} for item in items]

    def save_basket(self, basket_id: str, items: list[dict[str, Any]]) -> None:
        """PUT /v1/baskets/{id}: store the basket's entries in order."""
        self._request("PUT", f"/v1/baskets/{basket_id}", json={"items": items})

    def export(self, items: list[dict[str, Any]], fmt: str, title: str = "") -> tuple[bytes, str, str]:
        """POST /v1/exports of basket entries: (file bytes, download file name, media type)."""
        response = self._send("POST", "/v1/exports", json={"items": items, "format": fmt, "title": title})
        disposition = response.headers.get("content-disposition", "")
        filename = f"export.{fmt}"
        if 'filename="' in disposition:
            filename = disposition.split('filename="', 1)[-1].rstrip('"')
        return response.content, filename, response.headers.get("content-type", "application/octet-stream")

    def eval_draft(self, question: str, pages: list[dict[str, Any]], answer_id: str | None = None,
                   note: str = "") -> dict[str, Any]:
        """POST /v1/eval/drafts: save an evaluation question draft for review (never into the gold set)."""
        return self._request("POST", "/v1/eval/drafts", json={"question": question, "pages": pages,
                                                              "answer_id": answer_id, "note": note})

    def eval_drafts(self) -> list[dict[str, Any]]:
        """GET /v1/eval/drafts: saved evaluation question drafts, newest first."""
        return self._request("GET", "/v1/eval/drafts")["drafts"]

    # ------------------------------------------------------------ documents
    def documents(self) -> list[dict[str, Any]]:
        """GET /v1/documents: every catalogued guideline with `indexed`, `pages` and `chunks`."""
        return self._request("GET", "/v1/documents")["documents"]

    def document(self, doc_id: str) -> dict[str, Any]:
        """GET /v1/documents/{doc_id}: the document and its section outline."""
        return self._request("GET", f"/v1/documents/{doc_id}")

    def page(self, doc_id: str, number: int) -> dict[str, Any]:
        """GET /v1/documents/{doc_id}/pages/{n}: stored text and printed label of one PDF page."""
        return self._request("GET", f"/v1/documents/{doc_id}/pages/{number}")

    def page_image(self, doc_id: str, number: int, highlight: list[tuple[int, int]] | None = None,
                   scale: float = 1.5) -> bytes:
        """GET /v1/documents/{doc_id}/pages/{n}/image: the rendered page (PNG), `highlight` ranges marked."""
        params: dict[str, Any] = {"scale": scale}
        if highlight:
            params["highlight"] = ",".join(f"{a}-{b}" for a, b in highlight)
        return self._send("GET", f"/v1/documents/{doc_id}/pages/{number}/image", params=params).content

    def passage(self, chunk_id: str) -> dict[str, Any]:
        """GET /v1/passages/{chunk_id}: one stored passage with its provenance."""
        return self._request("GET", f"/v1/passages/{chunk_id}")

    # ------------------------------------------------------------ evaluation
    def eval_options(self) -> dict[str, Any]:
        """GET /v1/eval/datasets: datasets, modes and splits the service can evaluate."""
        return self._request("GET", "/v1/eval/datasets")

    def eval_start(self, **request: Any) -> dict[str, Any]:
        """POST /v1/eval/runs: start a run (dataset, modes, split, k, limit, answers); returns the job."""
        return self._request("POST", "/v1/eval/runs", json=request)

    def eval_runs(self) -> list[dict[str, Any]]:
        """GET /v1/eval/runs: live jobs, then saved runs, newest first."""
        return self._request("GET", "/v1/eval/runs")["runs"]

    def eval_run(self, run_id: str) -> dict[str, Any]:
        """GET /v1/eval/runs/{id}: status, progress, ETA, and the summary once done."""
        return self._request("GET", f"/v1/eval/runs/{run_id}")

    def eval_result(self, run_id: str) -> dict[str, Any]:
        """GET /v1/eval/runs/{id}/result: the full result (per-query details) of a finished run."""
        return self._request("GET", f"/v1/eval/runs/{run_id}/result")

    def eval_file(self, run_id: str, name: str) -> bytes:
        """The bytes of a finished run's `result` (JSON) or `report` (Markdown), for downloads."""
        return self._send("GET", f"/v1/eval/runs/{run_id}/{name}").content
