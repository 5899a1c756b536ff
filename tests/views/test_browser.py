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
    yield from serve(scored_run, tmp_path_factory)


@pytest.fixture(scope="module")
def own_run(scored_run, tmp_path_factory):
    """A copy of the scored run a test may write labels into, in which the
    answering scorer reads the first prompt's second image as male (the
    random CLIP reads every image alike)."""
    copy = tmp_path_factory.mktemp("own") / "run"
    shutil.copytree(scored_run, copy)
    run = RunDir(copy)
    images = run.read_images()
    second = images[images.item_id == images.item_id.iloc[0]].sort_values("seed").image_id.iloc[1]
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(run.scores.decisions)  # rewritten with its own schema and metadata
    decisions = table.to_pandas()
    decisions.loc[(decisions.image_id == second) & (decisions.scorer == "clip")
                  & (decisions.attribute == "gender_presentation"), "label"] = "male"
    pq.write_table(pa.Table.from_pandas(decisions, schema=table.schema, preserve_index=False),
                   run.scores.decisions)
    return copy


@pytest.fixture(scope="module")
def own_viewer(own_run, tmp_path_factory):
    yield from serve(own_run, tmp_path_factory)


def serve(run, tmp_path_factory):
    port = free_port()
    env = {**os.environ, "T2I_AUDIT_RUNS": str(run),
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
         "Quality": "Image quality and prompt adherence", "Release": "Before release",
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



def open_page(browser, url, name, heading):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(url)
    page.get_by_text("t2i-audit", exact=True).first.wait_for(timeout=60000)
    page.locator("section[data-testid='stSidebar']").get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=60000)
    page.wait_for_timeout(1000)
    return page


# (scrollWidth, clientWidth) of every table's scrolling area: a wider content
# than its box is a column cut off at the edge
OVERFLOW = """[...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
              .map(e => [e.scrollWidth, e.clientWidth])"""


def test_no_column_of_the_tests_table_is_cut_at_1280_px(browser, viewer):
    page = open_page(browser, viewer, "Bias", "Tests")
    page.screenshot(path=str(ARTIFACTS / "viewer-bias-1280.png"), full_page=True)
    widths = page.evaluate(OVERFLOW)
    assert widths and all(scroll <= client + 1 for scroll, client in widths), widths
    assert page.get_by_text("p_adjusted", exact=True).count() >= 1


def test_the_image_detail_enlarges_and_wraps_its_parameters(browser, viewer):
    page = open_page(browser, viewer, "Images", "Detail")
    page.screenshot(path=str(ARTIFACTS / "viewer-images-detail.png"), full_page=True)
    enlarged = page.locator("[data-testid='stImage'] img").evaluate_all(
        "images => images.map(i => i.getBoundingClientRect().width)")
    assert max(enlarged) >= 380, enlarged  # thumbnails are 160 px
    code = page.locator("[data-testid='stCode'] pre").first
    assert code.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    assert page.get_by_text("Captions show the answering scorer's label", exact=False).count()


def test_relabel_starts_at_the_shown_label_and_saves_only_on_the_button(browser, own_viewer,
                                                                        own_run):
    from audit.views.data import RunView

    view = RunView(own_run)
    valid = view.images[view.images.status == "ok"]
    shown_ids = list(valid[valid.item_id == valid.item_id.iloc[0]].sort_values("seed").image_id)
    attribute = next(a for a in view.audited if view.label_choices(a))
    said = view.decisions[view.decisions.attribute == attribute].set_index("image_id").label
    first_choice = view.label_choices(attribute)[0]
    # an image whose label is not the list's first: preselection is then visible
    index, image_id = next((i, x) for i, x in enumerate(shown_ids)
                           if said.get(x) not in (None, first_choice))
    page = open_page(browser, own_viewer, "Images", "Relabel")
    page.get_by_role("button", name="select", exact=True).nth(index).click()
    page.wait_for_timeout(1500)
    box = page.locator("[data-testid='stSelectbox']").filter(
        has_text="Label (as you perceive it)").locator("input")
    assert box.input_value() == said[image_id] != first_choice
    reviewer = page.get_by_label("Reviewer")
    reviewer.fill("ana")
    reviewer.press("Enter")
    page.wait_for_timeout(2000)
    assert RunDir(own_run).read_labels().empty  # Enter wrote nothing
    page.get_by_role("button", name="Save label").click()
    page.get_by_text("saved:", exact=False).wait_for(timeout=30000)
    labels = RunDir(own_run).read_labels()
    assert list(zip(labels.image_id, labels.attribute, labels.label, labels.reviewer,
                    strict=True)) == [(image_id, attribute, said[image_id], "ana")]


@pytest.fixture(scope="module")
def sampled_run(scored_run, tmp_path_factory):
    """A copy of the scored run with a label sample: the first prompt's
    images after the first two drawn."""
    from audit.review.sample import write_sample

    copy = tmp_path_factory.mktemp("sampled") / "run"
    shutil.copytree(scored_run, copy)
    write_sample(RunDir(copy), n=2, per_group=True, seed=1)
    return copy


def test_the_label_sample_comes_first_on_the_images_page(browser, sampled_run,
                                                          tmp_path_factory):
    from audit.review.sample import read_sample

    sample = read_sample(RunDir(sampled_run))
    first_prompt = RunDir(sampled_run).read_images().item_id.iloc[0]
    queued = sample[sample.group == first_prompt]
    for url in serve(sampled_run, tmp_path_factory):
        page = open_page(browser, url, "Images", "Relabel")
        assert page.get_by_text("image(s) of the label sample still to label",
                                exact=False).count()
        captions = page.locator("[data-testid='stText']").all_inner_texts()
        marked = [c for c in captions if c.startswith("seed ")]
        assert all("to label" in c for c in marked[:len(queued)]), marked
        assert not any("to label" in c for c in marked[len(queued):]), marked
