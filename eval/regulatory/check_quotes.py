#!/usr/bin/env python3
"""Standalone checker for eval/regulatory/questions.jsonl.

For every question it verifies:
  * required fields, unique ids, allowed split/style values;
  * answerable questions have gold pages and >=1 evidence quote per gold file;
  * unanswerable questions have empty gold and evidence;
  * every evidence page lies within the gold pages of the same file;
  * every evidence quote is 8-40 words and occurs (whitespace-normalised)
    in the pypdfium2 text of that exact (1-based) page.

Usage:
    python check_quotes.py [questions.jsonl] [--pdf-dir DIR]
Exits non-zero and prints a list of failures if anything is wrong.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_Q = os.path.join(HERE, "questions.jsonl")
# The shared corpus next to the repository checkout (../shared/corpus/pdf from the repository root).
DEFAULT_PDF_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "corpus", "pdf"))
STYLES = {"paraphrase", "keyword", "which-guideline", "multi-doc", "numeric",
          "definition", "unanswerable", "off-topic"}
SPLITS = {"dev", "test"}


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", nargs="?", default=DEFAULT_Q)
    ap.add_argument("--pdf-dir", default=DEFAULT_PDF_DIR)
    args = ap.parse_args()

    import pypdfium2 as pdfium  # imported late so --help works without it

    cache = {}

    def page_text(fname, page):
        if fname not in cache:
            path = os.path.join(args.pdf_dir, fname)
            if not os.path.exists(path):
                cache[fname] = None
            else:
                pdf = pdfium.PdfDocument(path)
                cache[fname] = [norm(pdf[i].get_textpage().get_text_range())
                                for i in range(len(pdf))]
        pages = cache[fname]
        if pages is None or not (1 <= page <= len(pages)):
            return None
        return pages[page - 1]

    failures = []
    seen = set()
    n = 0
    with open(args.questions, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            n += 1
            try:
                q = json.loads(line)
            except json.JSONDecodeError as e:
                failures.append(f"line {lineno}: invalid JSON ({e})")
                continue
            qid = q.get("id", f"<line {lineno}>")
            for k in ("id", "question", "split", "style", "answerable", "gold", "evidence"):
                if k not in q:
                    failures.append(f"{qid}: missing field '{k}'")
            if qid in seen:
                failures.append(f"{qid}: duplicate id")
            seen.add(qid)
            if q.get("split") not in SPLITS:
                failures.append(f"{qid}: bad split {q.get('split')!r}")
            if q.get("style") not in STYLES:
                failures.append(f"{qid}: bad style {q.get('style')!r}")
            gold = q.get("gold") or []
            ev = q.get("evidence") or []
            if not q.get("answerable"):
                if gold or ev:
                    failures.append(f"{qid}: unanswerable question has gold/evidence")
                if q.get("style") not in ("unanswerable", "off-topic"):
                    failures.append(f"{qid}: unanswerable question with style {q.get('style')}")
                continue
            if not gold:
                failures.append(f"{qid}: answerable but no gold")
            gold_pages = {}
            for g in gold:
                f = g.get("file")
                pages = g.get("pages") or []
                if f in gold_pages:
                    failures.append(f"{qid}: file {f} listed twice in gold")
                gold_pages.setdefault(f, set()).update(pages)
                if not pages:
                    failures.append(f"{qid}: gold file {f} without pages")
                for p in pages:
                    if page_text(f, p) is None:
                        failures.append(f"{qid}: gold page {f} p{p} does not exist")
            if q.get("style") == "multi-doc" and len(gold_pages) < 2:
                failures.append(f"{qid}: multi-doc question with <2 gold files")
            ev_files = set()
            for e in ev:
                f, p, quote = e.get("file"), e.get("page"), e.get("quote", "")
                ev_files.add(f)
                if f not in gold_pages or p not in gold_pages[f]:
                    failures.append(f"{qid}: evidence page {f} p{p} not in gold pages")
                nw = len(norm(quote).split(" "))
                if not 8 <= nw <= 40:
                    failures.append(f"{qid}: quote has {nw} words (want 8-40): {quote[:60]!r}")
                txt = page_text(f, p)
                if txt is None:
                    failures.append(f"{qid}: evidence page {f} p{p} does not exist")
                elif norm(quote) not in txt:
                    failures.append(f"{qid}: quote not found on {f} p{p}: {quote[:80]!r}")
            for f in gold_pages:
                if f not in ev_files:
                    failures.append(f"{qid}: no evidence quote for gold file {f}")

    if failures:
        print(f"FAIL: {len(failures)} problem(s) in {n} questions")
        for fl in failures:
            print("  -", fl)
        sys.exit(1)
    print(f"OK: {n} questions, all ids unique, all evidence quotes found on their gold pages")


if __name__ == "__main__":
    main()
