"""The guideline catalog and the PDFs behind it: read, sync from a mirror or official URLs, verify."""

from __future__ import annotations

import csv
import errno
import hashlib
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from atmp_rag.models import Document, SkippedFile, Status

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


class EmptyCorpus(ValueError):
    """No PDF in the corpus folder can be indexed; the message says how to provide them."""

    def __init__(self, corpus_dir: Path, skipped: list[SkippedFile] | None = None) -> None:
        found = (f"none of the {len(skipped)} PDF(s) in {corpus_dir} can be indexed ("
                 + "; ".join(f"{s.file}: {s.reason}" for s in skipped) + ")") if skipped \
            else f"no PDFs to index in {corpus_dir}"
        super().__init__(
            f"{found}. Provide the guideline PDFs in one of three ways: `make up MIRROR=/path/to/pdfs` "
            f"(or `atmp-rag corpus sync --mirror DIR`); copy PDF files into {corpus_dir}; or allow network "
            "access and run `atmp-rag corpus sync` to download them from their official URLs"
        )
        self.corpus_dir = corpus_dir
        self.skipped = skipped or []


class NotARegularFile(OSError):
    """A corpus entry that is not a regular file (a directory, FIFO, socket or device)."""


class NetworkUnreachable(OSError):
    """A download failed before any HTTP exchange (DNS, refused or timed-out connection)."""


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
    """Hex sha256 of a regular file, streamed; raises NotARegularFile (never blocks on a FIFO)."""
    h = hashlib.sha256()
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def entry_problem(path: Path) -> str | None:
    """Why a corpus folder entry cannot be a PDF to index (None when it is a readable regular file).

    Symbolic links are followed; nothing is opened, so a FIFO or device can never block the scan.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "dangling symbolic link (its target does not exist)" if path.is_symlink() else "file vanished"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot read: {exc.strerror or exc}"
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    for test, kind in kinds:
        if test(mode):
            return f"{kind}, not a regular file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "cannot read: permission denied"
    return None


def pdf_page_count(path: Path) -> int | None:
    """Number of pages PDFium sees in a file, or None when it cannot open it (extraction then says why)."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError):
        return None
    try:
        return len(doc)
    finally:
        doc.close()


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


def _unreachable(exc: BaseException) -> bool:
    """Whether a failed request never reached an HTTP server (no DNS, no route, refused, connect timed out)."""
    # urlopen wraps connection failures in URLError; a timeout while reading a body is a slow server.
    if isinstance(exc, urllib.error.HTTPError) or not isinstance(exc, urllib.error.URLError):
        return False
    reason = exc.reason
    if isinstance(reason, socket.gaierror | ConnectionRefusedError | TimeoutError):
        return True
    return isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN)


def download(url: str, dest: Path, timeout: float, retries: int) -> None:
    """Download `url` to `dest` through a temp file, retrying with backoff; raises OSError.

    Raises NetworkUnreachable at once, without retries, when no connection could be made at all.
    """
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
            if _unreachable(exc):
                raise NetworkUnreachable(f"network unreachable ({getattr(exc, 'reason', exc)})") from exc
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
    """Fill `corpus_dir` with the catalog's PDFs: keep verified files, copy from `mirror`, else download.

    When the first download cannot reach the network at all, the remaining ones are not attempted.
    """
    corpus_dir.mkdir(parents=True, exist_ok=True)
    results: list[SyncResult] = []
    offline = ""
    for doc in documents:
        if progress:
            progress(doc.doc_id)
        if not doc.file:
            results.append(SyncResult(doc.doc_id, None, SyncState.missing, "no file name in catalog"))
            continue
        dest = corpus_dir / doc.file
        if dest.exists() or dest.is_symlink():
            problem = entry_problem(dest)
            if problem is not None:  # never hash (or block on) a FIFO, directory or dangling link
                results.append(SyncResult(doc.doc_id, doc.file, SyncState.missing, f"{dest} is unusable: {problem}"))
                continue
            if _verified(dest, doc.sha256):
                results.append(SyncResult(doc.doc_id, doc.file, SyncState.present))
                continue
            results.append(
                SyncResult(doc.doc_id, doc.file, SyncState.hash_mismatch, "local file differs from catalog sha256")
            )
            continue
        source = mirror / doc.file if mirror else None
        if source is not None and source.exists() and entry_problem(source) is None:
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
        if offline:
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.missing, f"not downloaded: {offline}"))
            continue
        try:
            download(doc.pdf_url, dest, timeout, retries)
        except NetworkUnreachable as exc:
            offline = str(exc)
            log.warning("%s; skipping the remaining downloads. Give a mirror folder (--mirror, make up MIRROR=...) "
                        "or copy the PDFs into %s", offline, corpus_dir)
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.missing, offline))
            continue
        except OSError as exc:
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.missing, str(exc)))
            continue
        if not _verified(dest, doc.sha256):
            dest.unlink()
            results.append(SyncResult(doc.doc_id, doc.file, SyncState.hash_mismatch, "download differs from catalog"))
            continue
        results.append(SyncResult(doc.doc_id, doc.file, SyncState.downloaded, doc.pdf_url))
    return results


#: C0/C1 control characters and lone surrogates: PDF metadata may carry NULs that break exports.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable(text: str) -> str:
    return " ".join(_UNPRINTABLE.sub(" ", text).split())


def uncatalogued_document(path: Path, metadata: dict[str, str]) -> Document:
    """A Document for a PDF found in the corpus folder that the catalog does not list."""
    title = _printable(metadata.get("title", "")) or path.stem.replace("-", " ").replace("_", " ")
    return Document(
        doc_id=path.stem,
        file=path.name,
        issuer=_printable(metadata.get("author", "")),
        reference=path.stem,
        title=title,
        version=_printable(metadata.get("creation_date", "")),
        catalogued=False,
    )


def corpus_documents(catalog: list[Document], corpus_dir: Path) -> tuple[list[Document], list[Path]]:
    """Catalog documents whose PDF is present, and PDFs in the folder the catalog does not know."""
    present, extra, _ = scan_corpus(catalog, corpus_dir)
    return present, extra


def scan_corpus(catalog: list[Document], corpus_dir: Path) -> tuple[list[Document], list[Path], list[SkippedFile]]:
    """Candidates to index and entries rejected with a reason.

    Returns catalog documents whose file is a regular file (or a link to one), uncatalogued `*.pdf`
    regular files, and every entry under a catalog name or `*.pdf` that is not a readable regular
    file (directory, FIFO, socket, device, dangling link) with why. Nothing is opened.
    """
    if not corpus_dir.is_dir():
        return [], [], []
    known = {d.file for d in catalog if d.file}
    present: list[Document] = []
    rejected: list[SkippedFile] = []
    for d in catalog:
        path = corpus_dir / str(d.file)
        if not d.file or not (path.exists() or path.is_symlink()):
            continue  # not downloaded: a missing catalog document, not a bad file
        problem = entry_problem(path)
        if problem is None:
            present.append(d)
        else:
            rejected.append(SkippedFile(file=path.name, reason=problem))
    extra: list[Path] = []
    for path in sorted(corpus_dir.glob("*.pdf")):
        if path.name in known:
            continue
        problem = entry_problem(path)
        if problem is None:
            extra.append(path)
        else:
            rejected.append(SkippedFile(file=path.name, reason=problem))
    return present, extra, rejected
