"""End to end in a real browser: `atmp-rag ui` against a real service, driven in headless Debian Chromium.

Asks a question, waits for the cited answer, opens the first source and checks that the page it
shows is the page the API cites, rendered by the service with the quote marked, in view. The app
runs from an empty folder knowing only the service's URL, and its process never maps torch, FAISS or
PDFium. Screenshots and the Enter-to-answer time go to test-artifacts/. To time the full corpus,
point ATMP_RAG_TEST_API_URL at a service over the full index.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.servers import free_tcp_port, running
from tests.test_ui import ANSWERED, api_ask

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
TARGET_SECONDS = 3.0


@pytest.fixture(scope="module")
def ui_server(api_service: str, tmp_path_factory: pytest.TempPathFactory):
    """`atmp-rag ui` on a free port, started in an empty folder with no setting but the service's URL."""
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("atmp-rag")), "ui", "--port", str(port), "--api-url", api_service]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATMP_RAG_")}
    elsewhere = tmp_path_factory.mktemp("ui-elsewhere")
    with running(cmd, env, f"{url}/_stcore/health", tmp_path_factory.mktemp("ui") / "ui.log", elsewhere,
                 timeout=90) as proc:
        yield url, proc


def idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the app's script run has finished, as a user waits for the page to settle before clicking.

    Streamlit keeps a running page's widgets clickable (streamlit/streamlit#156); a click that lands while a
    rerun is still rendering can be folded into that rerun, so each click here waits for the idle page.
    """
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=timeout_ms)


def mapped_heavy_libraries(pid: int) -> list[str]:
    """Shared objects of torch, FAISS or PDFium mapped into a process (and its children)."""
    import psutil

    heavy = re.compile(r"libtorch|_swigfaiss|libfaiss|pdfium|sentence_transformers", re.IGNORECASE)
    found = set()
    for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        with open(f"/proc/{p.pid}/maps") as fh:
            found |= {line.split()[-1] for line in fh if heavy.search(line)}
    return sorted(found)


@pytest.mark.timeout(300)
def test_question_to_cited_answer_in_chromium(ui_server, api_service: str) -> None:
    ui_url, ui_proc = ui_server
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import expect, sync_playwright

    expected = api_ask(api_service, ANSWERED)
    assert expected["citations"], "the service should answer this question"
    first = expected["citations"][0]
    pdf_page = first["pages"][0]
    ready = httpx.get(f"{api_service}/readyz", timeout=10).json()
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(ui_url)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(timeout=60_000)
            expect(page.get_by_text("Try an example")).to_be_visible(timeout=30_000)
            box.fill(ANSWERED)

            started = time.perf_counter()
            box.press("Enter")
            source = page.locator("[data-testid=stExpander] summary", has_text="[1]").first
            source.wait_for(timeout=30_000)
            seconds = time.perf_counter() - started

            timing = {"question": ANSWERED, "enter_to_cited_answer_s": round(seconds, 3),
                      "target_s": TARGET_SECONDS, "index": ready["index"], "chunks": ready["chunks"],
                      "documents": ready["documents"]}
            (ARTIFACTS / "browser-timing.json").write_text(json.dumps(timing, indent=2))
            print(f"\nEnter to cited answer: {seconds:.2f} s (target ≤ {TARGET_SECONDS} s; "
                  f"{ready['documents']} documents, {ready['chunks']} chunks)")

            # The answer carries the marker, and the source names the page the API cites.
            expect(page.locator(".answer .cite-n", has_text="[1]").first).to_be_visible()
            assert f"PDF p. {pdf_page}" in source.inner_text()
            source.click()
            panel = page.locator("[data-testid=stExpander]", has_text="[1] ").first
            expect(panel.get_by_text(f"(PDF page {pdf_page})")).to_be_visible()
            quote_start = " ".join(first["quote"].split()[:5])
            expect(panel.locator("mark.quote")).to_contain_text(quote_start)
            expect(panel.get_by_text("Cite this")).to_be_visible()
            page.wait_for_timeout(700)  # let the expander's opening animation finish before the screenshot
            page.screenshot(path=str(ARTIFACTS / "browser-chat.png"), full_page=True)

            # The same page opens in the Documents viewer, at the viewer: the page image, rendered by the
            # service with the cited sentence marked, is in view without scrolling.
            idle(page)
            panel.get_by_role("button", name="Open page in Documents").click()
            expect(page.get_by_text(f"(PDF page {pdf_page} of")).to_be_visible(timeout=30_000)
            image = page.get_by_test_id("stImage").first
            expect(image).to_be_visible(timeout=30_000)
            expect(page.get_by_text("the cited text is marked in yellow")).to_be_visible()
            box = image.bounding_box()
            assert box is not None and box["y"] < 1800, box  # within the first screen (viewport 1800 px high)
            page.screenshot(path=str(ARTIFACTS / "browser-documents.png"), full_page=False)

            # Every page also opens from its own URL (a bookmark or a reload) without an exception.
            for path, title in (("documents", "Documents"), ("evaluation", "Evaluation"), ("", "Ask the guidelines")):
                page.goto(f"{ui_url}/{path}")
                expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=30_000)
                expect(page.get_by_test_id("stException")).to_have_count(0)
        finally:
            browser.close()
    # Every page ran, the page image included: the app's process still holds no model, index or PDF engine.
    assert mapped_heavy_libraries(ui_proc.pid) == []


@pytest.mark.timeout(300)
def test_basket_survives_a_reload_and_exports_docx_in_chromium(ui_server, api_service: str, tmp_path: Path) -> None:
    """Add two citations to the basket, reload, export DOCX from the Basket page, open the file."""
    ui_url, _ = ui_server
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium package (.ci/run does)")
    import docx
    from playwright.sync_api import expect, sync_playwright

    from atmp_rag.cite import one_line

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
            page.goto(ui_url)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(timeout=60_000)
            added: list[str] = []  # the first words of each quote added, in order
            for question in (ANSWERED, "What are the recommended long-term stability storage conditions?"):
                expected = api_ask(api_service, question)
                assert expected["citations"], question
                box.fill(question)
                box.press("Enter")
                turn = len(added) + 1
                for c in expected["citations"][: 2 - len(added)]:
                    # The source panel of citation [n] of this turn (by its title: "All citations" holds "[n]" too).
                    sources = page.locator("[data-testid=stExpander]").filter(
                        has=page.locator("summary", has_text=f"[{c['n']}] "))
                    expect(sources).to_have_count(turn, timeout=60_000)
                    panel = sources.nth(turn - 1)
                    idle(page)
                    expect(page.get_by_test_id("stToast")).to_have_count(0, timeout=30_000)  # the last one is gone
                    panel.locator("summary").click()
                    panel.get_by_role("button", name="Add to basket").wait_for()
                    page.wait_for_timeout(700)  # the expander's opening animation, as a reader's eye would wait
                    # What the user sees: the toast of this citation. Under a starved CPU (the CI machine runs the
                    # service, the app and the browser on two cores) a click has been seen to bring no rerun at all;
                    # a user who sees no toast clicks again, and so does this test, once.
                    toast = page.get_by_test_id("stToast").filter(has_text=f"[{c['n']}] added to the basket")
                    for attempt in range(2):
                        panel.get_by_role("button", name="Add to basket").click()
                        try:
                            expect(toast).to_have_count(1, timeout=15_000)
                            break
                        except AssertionError:
                            ARTIFACTS.mkdir(exist_ok=True)
                            page.screenshot(path=str(ARTIFACTS / f"browser-basket-no-toast-{turn}-{attempt}.png"))
                            if attempt:
                                raise
                    added.append(" ".join(c["quote"].split()[:6]))
                    # The click is stored by the service under the basket id in the page's URL.
                    basket_id = re.search(r"basket=([\w-]+)", page.url)
                    assert basket_id, page.url
                    for _ in range(100):
                        items = httpx.get(f"{api_service}/v1/baskets/{basket_id.group(1)}", timeout=10).json()["items"]
                        if len(items) == len(added):
                            break
                        time.sleep(0.2)
                    assert len(items) == len(added), items
                if len(added) == 2:
                    break
            assert len(added) == 2
            assert "basket=" in page.url
            page.reload()
            page.get_by_test_id("stSidebarNav").get_by_text("Basket", exact=True).click()
            expect(page.get_by_role("heading", name="Reference basket")).to_be_visible(timeout=30_000)
            for start in added:
                expect(page.get_by_text(start, exact=False).first).to_be_visible()
            page.get_by_role("button", name="Word (DOCX)").click()
            download_button = page.get_by_role("button", name=re.compile(r"Download .*\.docx"))
            download_button.wait_for(timeout=30_000)
            with page.expect_download(timeout=30_000) as info:
                download_button.click()
            path = tmp_path / info.value.suggested_filename
            ARTIFACTS.mkdir(exist_ok=True)
            info.value.save_as(path)
            page.screenshot(path=str(ARTIFACTS / "browser-basket.png"), full_page=True)
        finally:
            browser.close()
    document = docx.Document(str(path))
    quotes = [one_line(par.runs[0].text) for par in document.paragraphs if par.style.name == "Quote"]
    assert len(quotes) == 2
    for quote, start in zip(quotes, added, strict=True):
        assert quote.startswith(start)
    assert "References" in [par.text for par in document.paragraphs]
