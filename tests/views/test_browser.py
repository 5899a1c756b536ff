"""The viewer and the static report in a real browser (Debian's chromium,
driven by Playwright; CI installs chromium). Screenshots go to
test-artifacts/."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from audit.cli.report import free_port
from audit.paths import viewer_app
from audit.rundir import RunDir
from audit.views.static_report import write_report
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def viewer(scored_run, tmp_path_factory):
    port = free_port()
    env = {**os.environ, "T2I_AUDIT_RUNS": str(scored_run),
           "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(viewer_app()),
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("streamlit did not start")
    yield url
    process.terminate()
    process.wait(timeout=10)


# page -> a heading only that page shows once it has rendered
PAGES = {"Overview": "Images by status", "Bias": "Tests", "Images": "Relabel",
         "Labels": "Human review", "Compare": "Compare", "Safety": "Safety",
         "Validate": "Validate a submission", "Export": "Export"}


def test_every_viewer_page_in_chromium(browser, viewer):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(viewer)
    page.get_by_text("t2i-audit", exact=True).first.wait_for(timeout=60000)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    for name, expected in PAGES.items():
        page.locator("section[data-testid='stSidebar']").get_by_text(name, exact=True).click()
        page.get_by_role("heading", name=expected, exact=True).wait_for(timeout=60000)
        page.wait_for_timeout(500)  # let tables and charts paint for the screenshot
        page.screenshot(path=str(ARTIFACTS / f"viewer-{name.lower()}.png"), full_page=True)
        if name == "Overview":  # the suite's markdown shows as text, fetches nothing
            assert page.get_by_text("**bold** ![pixel](http://127.0.0.1:9/pixel.png)",
                                    exact=False).count() == 1
            assert page.locator("img[src*='pixel.png']").count() == 0
            assert page.locator(".katex").count() == 0
    assert not errors, errors
    assert not [u for u in requests if "pixel.png" in u]


def test_static_report_runs_no_script_and_logs_no_error(browser, scored_run, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    report = write_report(RunDir(scored_run), tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    console = []
    page.on("console", lambda message: console.append((message.type, message.text)))
    page.on("pageerror", lambda exc: console.append(("pageerror", str(exc))))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None
    assert page.get_by_text("<script>window.__pwned=1</script>", exact=False).count() >= 1
    assert page.locator("img").count() >= 12
    broken = page.evaluate("[...document.images].filter(i => !i.complete || "
                           "i.naturalWidth === 0).length")
    assert broken == 0
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert [c for c in console if c[0] in ("error", "pageerror")] == []

