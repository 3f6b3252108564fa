"""The HTTP API: one router per feature, over `atmp_rag.service.Engine` (routes only, no retrieval logic).

Run with `atmp-rag serve`; OpenAPI at /docs. Errors: 422 with field errors for invalid input
(including filter values that name no indexed document), 404 for unknown ids, 401 without a valid
API key (when one is configured), 413 for a body over `service.max_body_bytes`, 429 when the
evaluation queue is full, 503 while no index is loaded, 500 (JSON, the connection kept) for anything
unexpected. Error responses never echo the request: a 422 lists type, location and message of each
field error, never the offending input (it may be 64 KiB, NaN or invalid Unicode).

Routers: `search` (search, ask), `documents` (catalog, outline, page text and image), `citations`
(passages, cite one, cite many), `evaluation` (evaluation runs as jobs).
"""

from atmp_rag.api.app import create_app

__all__ = ["create_app"]
