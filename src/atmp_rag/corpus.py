"""The guideline catalog and the PDFs behind it: read, sync from a mirror or official URLs, verify."""

from __future__ import annotations

import csv
import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

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
                    # A row without a file name is still a document to get: it is stored as <id>.pdf.
                    file=row["file"].strip() or f"{doc_id}.pdf",
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


def feed(h: Any, fh: BinaryIO) -> None:
    """Stream a binary file into a hash object in 1 MiB blocks (the project's one streaming hash loop)."""
    for block in iter(lambda: fh.read(1 << 20), b""):
        h.update(block)


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
        feed(h, fh)
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
    manual = "manual download"  # the catalog has no PDF URL: only a person can fetch it
    not_pdf = "not a PDF"  # the server answered with something else (an HTML landing page)
    failed = "download failed"
    hash_mismatch = "hash mismatch"


@dataclass(frozen=True)
class SyncResult:
    """One row of the `corpus sync` table; `detail` says in words why a document is not there."""

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


# ---------------------------------------------------------------- downloads

class NotAPdf(OSError):
    """The server answered 200 but with something that is not a PDF (typically an HTML landing page)."""


class DownloadRefused(OSError):
    """The server answered with an error that retrying cannot fix (404, 403, 410…)."""


class _RetryableStatus(OSError):
    """A status worth retrying (408, 429, 5xx)."""


#: Statuses that may succeed on a later attempt.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: A PDF starts with this marker within its first 1024 bytes (PDF 1.7, 7.5.2: leading bytes are tolerated).
PDF_MAGIC = b"%PDF-"


def manual_reason(doc: Document, corpus_dir: Path) -> str:
    """What to tell the user about a document only a person can fetch."""
    target = corpus_dir / (doc.file or f"{doc.doc_id}.pdf")
    if doc.landing_url:
        return f"no PDF URL in catalog — download by hand from {doc.landing_url} and save it as {target}"
    name = " ".join(x for x in (doc.issuer, doc.reference) if x) or doc.doc_id
    return (f"no PDF URL or landing page in catalog — find {name} ({doc.title or 'untitled'}) on the issuer's site "
            f"and save it as {target}")


def _not_pdf_reason(content_type: str, head: bytes, url: str) -> str:
    kind = content_type.split(";")[0].strip() or "no content type"
    if "html" in kind or head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return (f"the server sent an HTML page ({kind}), not a PDF — probably a landing page; "
                f"download by hand from {url}")
    return f"the server sent {kind}, not a PDF (no %PDF- header)"


def _transient(exc: BaseException) -> bool:
    """Worth another attempt: timeouts, broken transfers, 408/429/5xx. Never 4xx, HTML or no network."""
    import httpx

    if isinstance(exc, _RetryableStatus):
        return True
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | NotAPdf | DownloadRefused):
        return False
    return isinstance(exc, httpx.TimeoutException | httpx.RemoteProtocolError | httpx.ReadError)


def _fetch_once(client: Any, url: str, dest: Path) -> str:
    """One attempt: stream `url` into a temp file next to `dest`, check it is a PDF, rename it into place."""
    import httpx

    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".dl-", suffix=".part")
    try:
        try:
            with client.stream("GET", url) as response, os.fdopen(fd, "wb") as out:
                if response.status_code >= 400:
                    error = _RetryableStatus if response.status_code in RETRY_STATUSES else DownloadRefused
                    raise error(f"HTTP {response.status_code} {response.reason_phrase} from {response.url}")
                head = b""
                for block in response.iter_bytes(1 << 16):
                    if len(head) < 1024:  # refuse a landing page at its first kilobyte, not after all of it
                        head += block[: 1024 - len(head)]
                        if len(head) >= 1024 and PDF_MAGIC not in head:
                            raise NotAPdf(_not_pdf_reason(response.headers.get("content-type", ""), head, url))
                    out.write(block)
                if PDF_MAGIC not in head:
                    raise NotAPdf(_not_pdf_reason(response.headers.get("content-type", ""), head, url))
                final = str(response.url)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NetworkUnreachable(f"network unreachable ({exc})") from exc
        os.replace(tmp, dest)
        return final
    finally:
        Path(tmp).unlink(missing_ok=True)  # an interrupted or refused transfer leaves no partial file


def download(url: str, dest: Path, timeout: float, retries: int, backoff: float = 1.0) -> str:
    """Download `url` to `dest` (temp file + rename), following redirects; returns the final URL.

    httpx does the HTTP (redirects, timeouts, proxies from the environment) and tenacity the
    retrying: timeouts, broken transfers and 408/429/5xx are retried with exponential back-off
    (`backoff`, 2·`backoff`, … at most 10 s). Raises NetworkUnreachable at once when no connection
    can be made at all, DownloadRefused for other HTTP errors, NotAPdf when the body is not a PDF,
    and OSError naming the last error after `retries` attempts.
    """
    import httpx
    from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

    def warn(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("download %s failed (attempt %d/%d): %s", url, state.attempt_number, retries, exc)

    headers = {"User-Agent": "atmp-rag corpus sync"}
    with httpx.Client(follow_redirects=True, max_redirects=10, timeout=timeout, headers=headers) as client:
        retrying = Retrying(stop=stop_after_attempt(retries), wait=wait_exponential(multiplier=backoff, max=10),
                            retry=retry_if_exception(_transient), before_sleep=warn, reraise=True)
        try:
            return retrying(_fetch_once, client, url, dest)
        except (NetworkUnreachable, NotAPdf, DownloadRefused):
            raise
        except (httpx.HTTPError, OSError) as exc:
            raise OSError(f"download failed after {retries} attempts: {exc}") from exc


def sync_corpus(
    documents: list[Document],
    corpus_dir: Path,
    mirror: Path | None = None,
    download_missing: bool = True,
    timeout: float = 60.0,
    retries: int = 3,
    progress: Callable[[str], None] | None = None,
    backoff: float = 1.0,
) -> list[SyncResult]:
    """Fill `corpus_dir` with the catalog's PDFs: keep verified files, copy from `mirror`, else download.

    Nothing is downloaded unless `download_missing` (the CLI turns it off with a mirror or in offline
    mode). A document whose catalog row has no PDF URL is a "manual download" naming where to get it.
    When the first download cannot reach the network at all, the remaining ones are not attempted.
    """
    corpus_dir.mkdir(parents=True, exist_ok=True)
    results: list[SyncResult] = []
    offline = ""
    for doc in documents:
        if progress:
            progress(doc.doc_id)
        file = doc.file or f"{doc.doc_id}.pdf"
        dest = corpus_dir / file
        if dest.exists() or dest.is_symlink():
            problem = entry_problem(dest)
            if problem is not None:  # never hash (or block on) a FIFO, directory or dangling link
                results.append(SyncResult(doc.doc_id, file, SyncState.missing, f"{dest} is unusable: {problem}"))
                continue
            if _verified(dest, doc.sha256):
                results.append(SyncResult(doc.doc_id, file, SyncState.present))
                continue
            results.append(SyncResult(doc.doc_id, file, SyncState.hash_mismatch,
                                      f"{dest} differs from the catalog's sha256 (another edition?); remove it to "
                                      "sync again"))
            continue
        source = mirror / file if mirror else None
        if source is not None and source.exists() and entry_problem(source) is None:
            if not _verified(source, doc.sha256):
                results.append(SyncResult(doc.doc_id, file, SyncState.hash_mismatch,
                                          f"mirror copy {source} differs from the catalog's sha256; not installed"))
                continue
            _atomic_copy(source, dest)
            results.append(SyncResult(doc.doc_id, file, SyncState.copied, str(source)))
            continue
        if not doc.pdf_url:
            results.append(SyncResult(doc.doc_id, file, SyncState.manual, manual_reason(doc, corpus_dir)))
            continue
        if not download_missing:
            where = f"not in the mirror {mirror}" if mirror else "downloads are off (offline mode or --no-download)"
            results.append(SyncResult(doc.doc_id, file, SyncState.missing,
                                      f"{where}; not downloaded — its PDF is at {doc.pdf_url}"))
            continue
        if offline:
            results.append(SyncResult(doc.doc_id, file, SyncState.missing, f"not downloaded: {offline}"))
            continue
        try:
            final = download(doc.pdf_url, dest, timeout, retries, backoff)
        except NetworkUnreachable as exc:
            offline = str(exc)
            log.warning("%s; skipping the remaining downloads. Give a mirror folder (--mirror, make up MIRROR=...) "
                        "or copy the PDFs into %s", offline, corpus_dir)
            results.append(SyncResult(doc.doc_id, file, SyncState.missing, offline))
            continue
        except NotAPdf as exc:
            results.append(SyncResult(doc.doc_id, file, SyncState.not_pdf, str(exc)))
            continue
        except OSError as exc:
            results.append(SyncResult(doc.doc_id, file, SyncState.failed, str(exc)))
            continue
        if not _verified(dest, doc.sha256):
            dest.unlink()
            results.append(SyncResult(doc.doc_id, file, SyncState.hash_mismatch,
                                      f"the download from {final} differs from the catalog's sha256; not installed"))
            continue
        results.append(SyncResult(doc.doc_id, file, SyncState.downloaded, final))
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
        # (the day the file was made: its time of day is no part of a citation's version)
        version=_printable(metadata.get("creation_date", ""))[:10],
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
