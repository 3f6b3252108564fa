"""Ingest engines: where the documents that need work are extracted, chunked and encoded.

`local` (the default, `ingest.LocalEngine`) does it in the ingest process. `ray` (`engines.ray`,
optional extra `atmp-rag[ray]`) sends the same per-document work (`ingest.prepare_document`) to Ray
CPU tasks and the encoding to a pool of Ray actors that each load the model once. Both hand their
results to the same reuse decision, store writer and atomic publish in `ingest`.
"""
