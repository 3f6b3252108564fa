"""What every route shares: JSON that always serialises, field errors without input, body limit, request
log, the API key, and the engine of the running app."""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Annotated, Any

from fastapi import HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from atmp_rag.answers_store import AnswerStore
from atmp_rag.cite import status_warning
from atmp_rag.config import Settings
from atmp_rag.models import Document
from atmp_rag.retrieve import SearchFilters
from atmp_rag.schemas import DocumentInfo, Filters
from atmp_rag.service import Engine, Loaded

log = logging.getLogger("atmp_rag.api")


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


def engine_of(request: Request) -> Engine:
    """The engine of the app serving this request."""
    return request.app.state.engine


def answers_of(request: Request) -> AnswerStore:
    """The service's store of answers, feedback, baskets and evaluation drafts."""
    return request.app.state.answers


def loaded_of(request: Request) -> Loaded:
    """The index this request is served from (checked for a newer publish at most once per interval)."""
    return engine_of(request).current()


def document_info(loaded: Loaded, doc: Document) -> DocumentInfo:
    """A document with its index state and status warning."""
    return DocumentInfo(**doc.model_dump(), indexed=loaded.indexed(doc.doc_id),
                        chunks=loaded.chunk_counts.get(doc.doc_id, 0), status_warning=status_warning(doc))


def search_filters(engine: Engine, loaded: Loaded, f: Filters) -> SearchFilters:
    """Validated filters (UnknownFilterValues names values that match no indexed document)."""
    return engine.filters(loaded, f.issuers, f.doc_ids, f.statuses)


#: Security schemes: they put the key into the OpenAPI document, so /docs can send it ("Authorize").
BEARER = HTTPBearer(auto_error=False, description="The API key (ATMP_RAG_API_KEY) as a Bearer token.")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key (ATMP_RAG_API_KEY).")


def api_key_dependency(settings: Settings) -> Callable[..., None]:
    """A dependency that requires the configured API key as a Bearer token or X-API-Key (no-op without one)."""
    expected = (settings.service.api_key or "").encode()

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


def wants_json(request: Request) -> bool:
    """Whether the client asked for the JSON form of a route that serves a file (Accept: application/json)."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == "application/json" for part in accept.split(","))


def attachment(filename: str) -> dict[str, str]:
    """A Content-Disposition header that makes browsers and `curl -OJ` save under `filename`."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)
    return {"Content-Disposition": f'attachment; filename="{safe}"'}
