"""Routes: a stored passage, its citation, and several citations formatted at once.

Both cite routes serve the citation itself, with its media type and a download file name, so that
`curl -OJ …/cite?format=bibtex` saves a .bib file; `Accept: application/json` gets the JSON form
(`CiteOut`: text, media type, file name and, for several citations, each one on its own).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from atmp_rag.api.common import attachment, engine_of, loaded_of, wants_json
from atmp_rag.cite import citation_filename, citation_from_passage, format_citation, format_citations
from atmp_rag.models import CitationFormat, Document
from atmp_rag.schemas import CiteOut, CiteRequest, PassageOut

router = APIRouter(tags=["citations"])
ChunkId = Annotated[str, Path(max_length=300)]
_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the citation in the requested format (JSON form with Accept: application/json)",
          "content": {**{f.media_type.split(";")[0]: {} for f in CitationFormat},
                      "application/json": {"schema": {"$ref": "#/components/schemas/CiteOut"}}}},
}


def _serve(request: Request, text: str, fmt: CitationFormat, filename: str, items: list[str],
           filenames: list[str]) -> Response:
    if wants_json(request):
        out = CiteOut(format=fmt.value, media_type=fmt.media_type, filename=filename, citation=text, items=items,
                      filenames=filenames)
        return Response(out.model_dump_json(), media_type="application/json")
    return Response(text, media_type=fmt.media_type, headers=attachment(filename))


@router.get("/passages/{chunk_id}", response_model=PassageOut, responses={404: {"description": "unknown passage"}})
def passage(chunk_id: ChunkId, request: Request) -> PassageOut:
    """One stored passage (chunk) with its provenance."""
    p = engine_of(request).passage(chunk_id, loaded=loaded_of(request))
    if p is None:
        raise HTTPException(404, f"unknown passage: {chunk_id}")
    return PassageOut.of(p, ranked=False)


@router.get("/passages/{chunk_id}/cite", response_class=Response,
            responses={**_FILE_RESPONSES, 404: {"description": "unknown passage"}})
def cite(chunk_id: ChunkId, request: Request,
         format: Annotated[CitationFormat, Query(description="citation format")] = CitationFormat.text) -> Response:
    """The passage as a citation in text, Markdown, BibTeX, RIS or CSL-JSON (a file to save)."""
    p = engine_of(request).passage(chunk_id, loaded=loaded_of(request))
    if p is None:
        raise HTTPException(404, f"unknown passage: {chunk_id}")
    citation = citation_from_passage(p)
    text = format_citation(citation, p.document, format.value, accessed=date.today())
    filename = citation_filename(citation, format.value)
    return _serve(request, text, format, filename, [text], [filename])


@router.post("/cite", response_class=Response,
             responses={**_FILE_RESPONSES, 422: {"description": "invalid body or a document not in the index"}})
def cite_many(body: CiteRequest, request: Request) -> Response:
    """Several citations (e.g. all of an answer's) as one bibliography in one format, each also on its own.

    The citations are the ones `/v1/ask` returned; each document's catalog entry (successor, dates)
    is taken from the index.
    """
    loaded = loaded_of(request)
    unknown = sorted({c.doc_id for c in body.citations} - set(loaded.store.documents))
    if unknown:
        raise HTTPException(422, f"citations of documents not in the index: {', '.join(unknown)}")
    pairs: list[tuple[Any, Document]] = [(c, loaded.store.documents[c.doc_id]) for c in body.citations]
    fmt, today = body.format, date.today()
    items = [format_citation(c, d, fmt.value, accessed=today) for c, d in pairs]
    text = format_citations(pairs, fmt.value, accessed=today)
    several = len(pairs) > 1
    return _serve(request, text, fmt, citation_filename(body.citations[0], fmt.value, several=several), items,
                  [citation_filename(c, fmt.value) for c in body.citations])
