"""End to end in a real browser: `rag ui` on a free port, Debian's chromium driven by playwright. Upload a
document, ask about it (answer with a citation and a source card with the supporting sentence highlighted),
then ask what it does not cover (abstention). Screenshots of both are kept in tests/artifacts/."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCUMENT = ("Harbour office notice.\n\nThe harbour office opens at 07:30 on weekdays and closes at 16:00. "
            "Ferry tickets to Kestrel Island are sold at the harbour office only.\n\n"
            "<script>document.title='pwned'</script> Lockers cost 4 euros per day.")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed "
                                "(scripts/system-deps.sh installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ui_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / ".rag"), "RAG_EMBEDDING__MODEL": "default",
           "RAG_DEFAULT_COLLECTION": "notices", "RAG_GENERATOR__MODEL": "extractive"}
    server = subprocess.Popen([sys.executable, "-c", "from rag.cli import main; main()", "ui", "--port",
                               str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("rag ui did not start: " + server.stdout.read().decode()[-2000:])
    yield url
    server.terminate()
    server.wait(timeout=20)
    with pytest.raises(OSError):  # stopping `rag ui` stops its server: no orphan keeps the port
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)


def test_upload_ask_cite_and_abstain_in_a_real_browser(ui_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)

    ARTIFACTS.mkdir(exist_ok=True)
    notice = tmp_path / "harbour-notice.txt"
    notice.write_text(DOCUMENT)
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, viewport={"width": 1280,
                                                                                         "height": 1400},
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{ui_server}/documents")
        page.locator("input[type=file]").set_input_files(str(notice))
        page.get_by_role("button", name="Ingest").click()
        expect(page.get_by_text("1 ingested")).to_be_visible()

        page.goto(ui_server)
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("When does the harbour office open?")
        box.press("Enter")
        answer = page.get_by_test_id("stChatMessageContent").nth(1)
        expect(answer).to_contain_text("07:30")
        expect(answer).to_contain_text("[1]")
        page.screenshot(path=str(ARTIFACTS / "browser-answer.png"), full_page=True)
        card = answer.get_by_test_id("stExpander").locator("summary").first
        expect(card).to_contain_text("[1]")
        card.click()
        highlighted = page.locator("span", has_text="The harbour office opens at 07:30").last
        expect(highlighted).to_be_visible()
        assert "background" in (highlighted.get_attribute("style") or "") + (highlighted.get_attribute("class") or "")
        page.screenshot(path=str(ARTIFACTS / "browser-answer.png"), full_page=True)
        assert page.title() != "pwned"  # the document's <script> stayed text

        box.fill("What is the capital of Australia?")
        box.press("Enter")
        expect(page.get_by_test_id("stChatMessageContent").nth(3)).to_contain_text(
            "The documents don't answer this question")
        page.screenshot(path=str(ARTIFACTS / "browser-abstention.png"), full_page=True)
        browser.close()
