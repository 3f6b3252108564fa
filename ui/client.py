"""The only place the UI speaks HTTP: a small typed client of the atmp-rag FastAPI service.

Pages call these methods and render what comes back; every failure becomes one of a few
exceptions carrying a message a scientist can act on (start the service, build an index, set the key).
"""

from __future__ import annotations

from typing import Any

import httpx

from atmp_rag.models import Citation, Document

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
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, headers=self._headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ServiceDown(f"The atmp-rag service is not reachable at {self.base_url}. Start it with "
                              "`atmp-rag serve` (or `atmp-rag up` for service and app together), or set "
                              "ATMP_RAG_API_URL to where it runs.") from exc
        except httpx.TimeoutException as exc:
            raise ServiceDown(f"The atmp-rag service at {self.base_url} did not answer in time ({exc}).") from exc
        except httpx.HTTPError as exc:
            raise ServiceDown(f"Could not talk to the atmp-rag service at {self.base_url}: {exc}") from exc
        if response.status_code == 401:
            raise Unauthorized("The service requires an API key: set ATMP_RAG_API_KEY to the key it was started "
                               "with.", 401)
        if response.status_code == 503:
            raise NotReady(f"The service is running but has no index loaded ({_detail(response)}). Build one with "
                           "`atmp-rag ingest`; the service picks it up by itself.", 503)
        if response.status_code >= 400:
            raise ServiceError(f"{method} {path} failed ({response.status_code}): {_detail(response)}",
                               response.status_code)
        return response.json()

    # ------------------------------------------------------------ routes
    def ready(self) -> dict[str, Any]:
        """`/readyz`: the loaded index's name, chunk and document counts, build time."""
        return self._request("GET", "/readyz")

    def ask(self, question: str, *, k: int = 5, mode: str = "hybrid", answer_mode: str = "extractive",
            issuers: list[str] | None = None, doc_ids: list[str] | None = None,
            statuses: list[str] | None = None, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """POST /v1/ask: an answer with citations, or an abstention with related reading.

        `history`: earlier turns, oldest first, as {"question", "chunk_ids"} (follow-up questions).
        """
        body = {"question": question, "k": k, "mode": mode, "answer_mode": answer_mode,
                "filters": {"issuers": issuers or [], "doc_ids": doc_ids or [], "statuses": statuses or []},
                "history": history or []}
        return self._request("POST", "/v1/ask", json=body)

    def documents(self) -> list[dict[str, Any]]:
        """GET /v1/documents: every catalogued guideline with `indexed`, `pages` and `chunks`."""
        return self._request("GET", "/v1/documents")["documents"]

    def document(self, doc_id: str) -> dict[str, Any]:
        """GET /v1/documents/{doc_id}: the document and its section outline."""
        return self._request("GET", f"/v1/documents/{doc_id}")

    def page(self, doc_id: str, number: int) -> dict[str, Any]:
        """GET /v1/documents/{doc_id}/pages/{n}: stored text and printed label of one PDF page."""
        return self._request("GET", f"/v1/documents/{doc_id}/pages/{number}")

    def passage(self, chunk_id: str) -> dict[str, Any]:
        """GET /v1/passages/{chunk_id}: one stored passage with its provenance."""
        return self._request("GET", f"/v1/passages/{chunk_id}")


# ---------------------------------------------------------------- API JSON -> domain models

def as_citation(data: dict[str, Any]) -> Citation:
    """A `Citation` from an /v1/ask citation (fields the model does not know are dropped)."""
    return Citation.model_validate({k: v for k, v in data.items() if k in Citation.model_fields})


def as_document(data: dict[str, Any]) -> Document:
    """A `Document` from a /v1/documents row (drops `indexed`, `chunks`)."""
    return Document.model_validate({k: v for k, v in data.items() if k in Document.model_fields})
