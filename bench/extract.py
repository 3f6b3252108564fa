"""Extraction benchmark: speed and split-word rate of each PDF backend, in one run.

Usage: python bench/extract.py [--pdfs DIR] [--repeat N]

For every backend (pypdfium2, pypdf default mode, pypdf layout mode) the whole corpus goes through
`extract_pages` (backend + the shared cleaning pipeline, i.e. what ingest gets). Reported:

* pages/s: pages divided by the best of `--repeat` wall-clock runs, and the ratio of that speed
  to pypdfium2's, measured in the same process and run (so machine load affects both alike).
* split-word rate: the fraction of words that are a fragment of a word broken by a spurious space
  ("on ly", "busines s", "mark eting").

How split words are counted (designed to be judge-free and symmetric across backends):

1. Words are whitespace-separated tokens stripped of surrounding punctuation, lowercased, kept only
   if purely alphabetic. Pairs are formed from adjacent tokens on the same line.
2. Known words: a word is known if it occurs in the cleaned output of at least two of the three
   backends (a consensus vocabulary: a fragment produced by one backend's layout error rarely
   appears in another's output), plus every word of /usr/share/dict/words when that file exists.
3. A pair (a, b) is a split when a+b is a known word but a and b are not both known: "mark eting"
   counts ("eting" is unknown), "in formation" does not (both halves are words, so the pair is
   ambiguous and is left alone). Each split contributes its two fragments to the numerator.
4. rate = fragments / all words of that backend.

Limits: a fragment that two backends produce identically becomes "known" and is missed
(undercount), and a split into two real words is never counted; both bias towards a lower rate,
equally for every backend. Words glued together (a missing space) are a different error and are
not counted here.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from atmp_rag.extract import BACKENDS as REGISTRY
from atmp_rag.extract import PypdfBackend, extract_pages

DEFAULT_PDFS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pdf"
DICT_WORDS = Path("/usr/share/dict/words")

#: Bench name -> backend registry name. "pypdf (default)" is pypdf's plain extract_text().
BENCH_BACKENDS = {
    "pypdfium2": "pypdfium2",
    "pypdf (default)": "pypdf-plain",
    "pypdf (layout)": "pypdf",
}

_TOKEN_STRIP = "\"'“”‘’()[]{}.,;:!?*•–—-/"
_ALPHA = re.compile(r"^[^\W\d_]+$")


@dataclass
class Result:
    """Measurements of one backend."""

    name: str
    pages: int
    seconds: float
    texts: list[str]
    splits: int = 0
    words: int = 0

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else float("inf")

    @property
    def split_rate(self) -> float:
        return 2 * self.splits / self.words if self.words else 0.0


def line_words(line: str) -> list[str]:
    """Alphabetic, lowercased tokens of one line, in order (non-words break adjacency)."""
    out: list[str] = []
    for raw in line.split():
        tok = raw.strip(_TOKEN_STRIP).lower()
        out.append(tok if _ALPHA.match(tok) else "")
    return out


def vocabulary(texts_by_backend: dict[str, list[str]]) -> set[str]:
    """Words seen in the output of at least two backends, plus the system dictionary if any."""
    seen: Counter[str] = Counter()
    for texts in texts_by_backend.values():
        words = {w for t in texts for line in t.split("\n") for w in line_words(line) if w}
        seen.update(words)
    vocab = {w for w, n in seen.items() if n >= 2}
    if DICT_WORDS.is_file():
        vocab |= {w.strip().lower() for w in DICT_WORDS.read_text(errors="ignore").split() if w.isalpha()}
    return vocab


def count_splits(texts: list[str], vocab: set[str]) -> tuple[int, int]:
    """(split pairs, words) for one backend's output."""
    splits = words = 0
    for text in texts:
        for line in text.split("\n"):
            toks = line_words(line)
            words += sum(1 for t in toks if t)
            for a, b in itertools.pairwise(toks):
                if a and b and (a + b) in vocab and not (a in vocab and b in vocab):
                    splits += 1
    return splits, words


def run_backend(name: str, registry_name: str, pdfs: list[Path], repeat: int) -> Result:
    """Extract every PDF with one backend; keep the best wall-clock time of `repeat` runs."""
    best = float("inf")
    texts: list[str] = []
    pages = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_texts: list[str] = []
        for pdf in pdfs:
            run_texts.extend(p.text for p in extract_pages(pdf, pdf.stem, backend=registry_name))
        best = min(best, time.perf_counter() - t0)
        texts, pages = run_texts, len(run_texts)
    return Result(name=name, pages=pages, seconds=best, texts=texts)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pdfs", type=Path, default=DEFAULT_PDFS, help="folder of PDFs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend; the best time counts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # "Rotated text discovered" on figures

    assert isinstance(REGISTRY["pypdf"], PypdfBackend) and REGISTRY["pypdf"].layout
    pdfs = sorted(args.pdfs.glob("*.pdf"))
    if not pdfs:
        print(f"no PDFs in {args.pdfs}", file=sys.stderr)
        return 1
    results = [run_backend(n, r, pdfs, args.repeat) for n, r in BENCH_BACKENDS.items()]
    vocab = vocabulary({r.name: r.texts for r in results})
    for r in results:
        r.splits, r.words = count_splits(r.texts, vocab)

    base = results[0].pages_per_s
    print(f"{len(pdfs)} PDFs, best of {args.repeat} run(s); vocabulary {len(vocab)} words"
          f"{' (+ /usr/share/dict/words)' if DICT_WORDS.is_file() else ' (no /usr/share/dict/words)'}")
    header = (f"{'backend':<17}{'pages':>6}{'seconds':>9}{'pages/s':>9}{'vs pdfium':>10}"
              f"{'words':>9}{'splits':>8}{'split rate':>12}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.name:<17}{r.pages:>6}{r.seconds:>9.2f}{r.pages_per_s:>9.1f}{r.pages_per_s / base:>9.3f}x"
              f"{r.words:>9}{r.splits:>8}{r.split_rate:>11.3%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
