"""The guideline catalog and the PDFs behind it: read, sync from a mirror or official URLs, verify."""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from atmp_rag.models import Document, Status

log = logging.getLogger(__name__)

CATALOG_FIELDS = (
    "id",
    "issuer",
    "reference",
    "title",
    "version",
    "status",
    "status_note",
    "superseded_by",
    "effective_date",
    "landing_url",
    "pdf_url",
    "sha256",
    "file",
    "topics",
)


class CatalogError(ValueError):
    """The catalog file is missing or malformed."""


def load_catalog(path: Path) -> list[Document]:
    """Read `corpus/catalog.csv` into Documents; raises CatalogError with the offending row."""
    if not path.exists():
        raise CatalogError(f"catalog not found: {path}")
    docs: list[Document] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(CATALOG_FIELDS) - set(reader.fieldnames or [])
        if missing:
            raise CatalogError(f"{path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            doc_id = row["id"].strip()
            if not doc_id or doc_id in seen:
                raise CatalogError(f"{path}:{line}: empty or duplicate id {doc_id!r}")
            seen.add(doc_id)
            try:
                status = Status(row["status"].strip() or "final")
            except ValueError as exc:
                raise CatalogError(f"{path}:{line}: status must be final|draft|superseded") from exc
            docs.append(
                Document(
                    doc_id=doc_id,
                    file=row["file"].strip() or None,
                    issuer=row["issuer"].strip(),
                    reference=row["reference"].strip(),
                    title=row["title"].strip(),
                    version=row["version"].strip(),
                    status=status,
                    status_note=row["status_note"].strip(),
                    superseded_by=row["superseded_by"].strip(),
                    effective_date=row["effective_date"].strip(),
                    landing_url=row["landing_url"].strip(),
                    pdf_url=row["pdf_url"].strip(),
                    sha256=row["sha256"].strip().lower(),
                    topics=[t for t in row["topics"].split(";") if t],
                )
            )
    return docs


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class SyncState(StrEnum):
    """Outcome of syncing one catalog entry."""

    present = "present"
    copied = "copied"
    downloaded = "downloaded"
    missing = "missing"
    hash_mismatch = "hash mismatch"


@dataclass(frozen=True)
class SyncResult:
    """One row of the `corpus sync` table."""

    doc_id: str
    file: str | None
    state: SyncState
    detail: str = ""


def _verified(path: Path, expected: str) -> bool:
    return not expected or sha256_file(path) == expected


def _atomic_copy(src: Path, dest: Path) -> None:
    # A temp file in the destination folder, then rename: a crash never leaves half a PDF.
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".sync-", suffix=".part")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def download(url: str, dest: Path, timeout: float, retries: int) -> None:
    """Download `url` to `dest` through a temp file, retrying with backoff; raises OSError."""
    last: Exception | None = None
    for attempt in range(1, retries + 1):
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".dl-", suffix=".part")
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "atmp-rag corpus sync"})
            with urllib.request.urlopen(req, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(resp, out)
            os.replace(tmp, dest)
            return
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            last = exc
            log.warning("download %s failed (attempt %d/%d): %s", url, attempt, retries, exc)
            if attempt < retries:
                time.sleep(min(2**attempt, 10))
        finally:
            Path(tmp).unlink(missing_ok=True)
    raise OSError(f"download failed after {retries} attempts: {last}")


def sync_corpus(
    documents: list[Document],
    corpus_dir: Path,
    mirror: Path | None = None,
    download_missing: bool = True,
    timeout: float = 60.0,
    retries: int = 3,
    progress: Callable[[str], None] | None = None,
) -> list[SyncResult]:
    """Fill `corpus_dir` with the catalog's PDFs: keep verified files, copy from `mirror`, else download."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    results: list[SyncResult] = []
    for doc in documents:
        if progress:
            progress(doc.doc_id)
        if not doc.file:
            results.append(SyncResult(doc.doc_id, None, SyncState.missing, "no file name in catalog"))
            continue
        dest = corpus_dir / doc.file
        if dest.exists():
            if _verified(dest, doc.sha256):
                results.append(SyncResult(doc.doc_id, doc.file, SyncState.present))
                continue
            results.append(
                SyncResult(doc.doc_id, doc.file, SyncState.hash_mismatch, "local file differs from catalog sha256")
            )
            continue
        source = mirror / doc.file if mirror else None
        if source is not None and source.exists():
            if not _verified(source, doc.sha256):
                results.append(
                    SyncResult(doc.doc_id, doc.file, SyncState.hash_mismatch, f"mirror copy {source} differs")
                )
                continue
            _atomic_copy(source, dest)
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.copied, str(source)))
            continue
        if not doc.pdf_url:
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.missing, "no official PDF URL known"))
            continue
        if not download_missing:
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.missing, "not in mirror; download disabled"))
            continue
        try:
            download(doc.pdf_url, dest, timeout, retries)
        except OSError as exc:
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.missing, str(exc)))
            continue
        if not _verified(dest, doc.sha256):
            dest.unlink()
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.hash_mismatch, "download differs from catalog"))
            continue
        results.append(SyncResult(doc.doc_id, doc.file, SyncState.downloaded, doc.pdf_url))
    return results


def uncatalogued_document(path: Path, metadata: dict[str, str]) -> Document:
    """A Document for a PDF found in the corpus folder that the catalog does not list."""
    title = metadata.get("title") or path.stem.replace("-", " ").replace("_", " ")
    return Document(
        doc_id=path.stem,
        file=path.name,
        issuer=metadata.get("author", ""),
        reference=path.stem,
        title=title,
        version=metadata.get("creation_date", ""),
        catalogued=False,
    )


def corpus_documents(catalog: list[Document], corpus_dir: Path) -> tuple[list[Document], list[Path]]:
    """Catalog documents whose PDF is present, and PDFs in the folder the catalog does not know."""
    known = {d.file for d in catalog if d.file}
    present = [d for d in catalog if d.file and (corpus_dir / d.file).is_file()]
    extra = sorted(p for p in corpus_dir.glob("*.pdf") if p.name not in known) if corpus_dir.is_dir() else []
    return present, extra
