"""The OpenAI and Stability backends against a real HTTP server on
127.0.0.1, driven by the real ``openai`` client and httpx: success, content
filtering, 429 with Retry-After, repeated 5xx, timeouts, malformed bodies,
key redaction, resume without paying twice, and the cost guard."""

import json
import time

import pytest
from PIL import Image

import audit
from audit.errors import UsageError
from tests.conftest import run_cli
from tests.generators.provider_server import ProviderServer

pytest.importorskip("openai")

FAST = {"backoff": 0.01}


@pytest.fixture
def server(monkeypatch):
    with ProviderServer() as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", running.key)
        monkeypatch.setenv("STABILITY_API_BASE", running.url)
        monkeypatch.setenv("STABILITY_API_KEY", running.key)
        yield running


def generate(tmp_path, model, prompts, n=1, **options):
    return audit.generate(model=model, prompts=prompts, n=n, out=tmp_path / "run",
                          model_options={**FAST, **options})


def rows(result):
    table = result.images()
    table = table.astype(object).where(table.notna(), None)
    return {r["image_id"]: r for r in table.to_dict("records")}


def test_openai_b64_records_revised_prompts_and_counts_refusals_as_filtered(server, tmp_path):
    result = generate(tmp_path, "openai:dall-e-3", ["a photo of a doctor", "a forbidden act"],
                      n=2)
    assert result.statuses == {"ok": 2, "filtered": 2}
    table = rows(result)
    doctor = table["a-photo-of-a-doctor/0"]
    assert doctor["revised_prompt"].startswith("A detailed, photorealistic image of a photo")
    assert json.loads(doctor["provider"])["size"] == "1024x1024"  # 512x512 asked: the nearest size
    with Image.open(tmp_path / "run" / doctor["path"]) as image:
        assert image.size == (1024, 1024)
    refused = table["a-forbidden-act/0"]
    assert refused["path"] is None
    assert refused["error"] == ("refused by OpenAI: Your request was rejected as a result of "
                                "our safety system.")
    assert json.loads(refused["provider"])["billed"] is False
    card = json.loads((tmp_path / "run" / "run.json").read_text())
    assert card["model"]["reproducible_by_seed"] is False
    assert card["model"]["id"] == "openai:dall-e-3"
    cost = card["history"][-1]["cost"]
    assert cost["estimated"] == pytest.approx(4 * 0.04)
    assert cost["spent"] == pytest.approx(2 * 0.04)  # refusals are not billed


def test_openai_url_responses_are_fetched(server, tmp_path):
    result = generate(tmp_path, "openai:dall-e-2", ["a photo of a chef"],
                      response_format="url")
    (row,) = rows(result).values()
    assert row["status"] == "ok" and row["revised_prompt"] is None  # only dall-e-3 rewrites
    with Image.open(tmp_path / "run" / row["path"]) as image:
        assert image.size == (512, 512)  # a quick run is 512x512, one of dall-e-2's sizes
    assert server.counts["a photo of a chef"] == 1


def test_429_with_retry_after_is_honoured_then_succeeds(server, tmp_path):
    start = time.perf_counter()
    result = generate(tmp_path, "openai:dall-e-3", ["a busy street"])
    assert time.perf_counter() - start >= 1.0  # Retry-After: 1, not the 0.01 s backoff
    (row,) = rows(result).values()
    assert row["status"] == "ok" and json.loads(row["provider"])["attempts"] == 2
    assert server.counts["a busy street"] == 2


def test_repeated_500_timeouts_and_malformed_bodies_end_as_error_after_the_budget(server,
                                                                                   tmp_path):
    result = generate(tmp_path, "openai:dall-e-3",
                      ["a broken thing", "a slow thing", "a garbled thing"], retries=2,
                      timeout=0.5)
    table = rows(result)
    assert result.statuses == {"error": 3}
    assert "500" in table["a-broken-thing/0"]["error"]
    assert "Timeout" in table["a-slow-thing/0"]["error"]
    assert "malformed" in table["a-garbled-thing/0"]["error"] \
        or "Validation" in table["a-garbled-thing/0"]["error"]
    assert [server.counts[p] for p in ("a broken thing", "a slow thing", "a garbled thing")] \
        == [3, 3, 3]
    # an error is not done: a rerun asks again
    generate(tmp_path, "openai:dall-e-3", ["a broken thing", "a slow thing",
                                           "a garbled thing"], retries=0, timeout=0.5)
    assert server.counts["a broken thing"] == 4


def test_a_wrong_key_stops_the_run_and_never_reaches_a_file(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-that-must-not-leak-42")
    with pytest.raises(UsageError) as error:
        generate(tmp_path, "openai:dall-e-3", ["a photo of a pilot"])
    assert "401" in str(error.value) and "[redacted]" in str(error.value)
    assert "sk-wrong-key-that-must-not-leak-42" not in str(error.value)
    assert "must-not" not in str(error.value)
    result = run_cli("generate", "--prompt", "a photo of a pilot", "--model", "openai:dall-e-3",
                     "--out", str(tmp_path / "cli"), env={"OPENAI_API_KEY": "sk-wrong-key-"
                     "that-must-not-leak-42", "OPENAI_BASE_URL": server.url + "/v1"})
    assert result.returncode == 2
    assert "sk-wrong-key" not in result.stdout + result.stderr
    for path in (tmp_path).rglob("*"):
        if path.is_file():
            assert b"must-not-leak" not in path.read_bytes(), path


def test_a_hard_stop_keeps_what_was_saved_and_a_resume_never_pays_twice(server, tmp_path):
    prompts = [f"a photo of person {i}" for i in range(5)]
    server.fail_after = 3  # the account runs dry after three images
    with pytest.raises(UsageError, match="rerun the same command"):
        generate(tmp_path, "openai:dall-e-3", prompts, concurrency=1)
    saved = {p for p in prompts if server.counts[p] == 1}
    assert len(saved) == 4  # three made, the fourth refused with 401, the fifth never asked
    server.fail_after = None
    result = generate(tmp_path, "openai:dall-e-3", prompts, concurrency=1)
    assert result.statuses == {"ok": 5} and result.skipped == 3
    assert sum(server.counts[p] for p in prompts) == 4 + 2  # only the two missing asked again
    again = generate(tmp_path, "openai:dall-e-3", prompts, concurrency=1)
    assert again.skipped == 5 and sum(server.counts[p] for p in prompts) == 6


def test_cost_guard_refuses_before_anything_is_written(server, tmp_path):
    out = tmp_path / "guarded"
    refused = run_cli("generate", "--prompt", "a photo of a doctor", "--n", "3", "--model",
                      "openai:dall-e-3", "-M", "quality=hd", "--max-cost", "0.2", "--out",
                      str(out), env={"OPENAI_API_KEY": server.key,
                                     "OPENAI_BASE_URL": server.url + "/v1"})
    assert refused.returncode == 2
    assert "estimated cost USD 0.24 for 3 images is above --max-cost 0.20" in refused.stderr
    assert server.counts["a photo of a doctor"] == 0
    assert not (out / "run.json").exists() and not (out / "images.parquet").exists()
    confirmed = run_cli("generate", "--prompt", "a photo of a doctor", "--n", "3", "--model",
                        "openai:dall-e-3", "-M", "quality=hd", "--max-cost", "0.2", "--yes",
                        "-M", "backoff=0.01", "--out", str(out),
                        env={"OPENAI_API_KEY": server.key, "OPENAI_BASE_URL": server.url + "/v1"})
    assert confirmed.returncode == 0, confirmed.stderr
    assert "cost: USD 0.24 spent" in confirmed.stdout


@pytest.mark.parametrize("accept", ["image", "json"])
def test_stability_image_and_json_responses_seeds_and_filtering(server, tmp_path, accept):
    result = audit.generate(model="stability:sd3-turbo", prompts=[
        "a photo of a doctor", "a forbidden scene", "moderated words"], n=1, seed=42,
        out=tmp_path / "run", model_options={**FAST, "accept": accept},
        generation={"width": 1344, "height": 768})
    table = rows(result)
    doctor = json.loads(table["a-photo-of-a-doctor/42"]["provider"])
    assert table["a-photo-of-a-doctor/42"]["status"] == "ok"
    assert doctor["seed"] == doctor["seed_sent"] == 42 and doctor["finish_reason"] == "SUCCESS"
    assert doctor["aspect_ratio"] == "16:9"
    filtered = table["a-forbidden-scene/42"]
    assert filtered["status"] == "filtered" and filtered["path"] is not None  # image kept
    assert "CONTENT_FILTERED" in filtered["error"]
    moderated = table["moderated-words/42"]
    assert moderated["status"] == "filtered" and moderated["path"] is None
    assert "content moderation" in moderated["error"]
    card = json.loads((tmp_path / "run" / "run.json").read_text())
    assert card["model"]["form_model"] == "sd3.5-large-turbo"
    assert card["model"]["reproducible_by_seed"] is True
    assert card["history"][-1]["cost"]["spent"] == pytest.approx(2 * 0.04)


def test_stability_retries_and_a_bad_request_stops(server, tmp_path):
    result = generate(tmp_path, "stability:core", ["a busy market", "a broken thing"],
                      retries=1)
    assert result.statuses == {"ok": 1, "error": 1}
    with pytest.raises(UsageError, match="400 aspect_ratio: invalid"):
        audit.generate(model="stability:core", prompts=["badrequest"], n=1,
                       out=tmp_path / "bad", model_options=FAST)


def test_audit_run_smoke_on_a_closed_model_end_to_end(server, tmp_path):
    """The course's closed-model audit: every stage on openai:dall-e-3, with
    the server refusing the nurse prompts."""
    server.refuse = {"nurse"}
    out = tmp_path / "smoke"
    result = run_cli("run", "smoke", "--model", "openai:dall-e-3", "-M", "backoff=0.01",
                     "-S", "clip.model=tiny-random", "-S", "clip.pretrained=none",
                     "-S", "clip_concepts.model=tiny-random",
                     "-S", "clip_concepts.pretrained=none", "--out", str(out),
                     env={"OPENAI_API_KEY": server.key, "OPENAI_BASE_URL": server.url + "/v1"})
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "stats.json").read_text())
    funnel = {r["group"]: r for r in stats["funnel"]}
    assert funnel["face--nurse"]["filtered"] == 2 and funnel["face--nurse"]["valid"] == 0
    assert funnel["face--software-developer"]["filtered"] == 0
    report = (out / "report.html").read_text()
    assert "not reproducible by seed" in report
    assert "rewritten" in report


def test_a_169_megapixel_provider_image_is_refused_from_its_header(server, tmp_path):
    """Issue 33: it was decoded and stored; now that image is an error (paid
    for, not retried) and the header is all that was read."""
    result = generate(tmp_path, "openai:dall-e-2", ["a hugeimage", "a photo of a chef"])
    table = rows(result)
    huge = table["a-hugeimage/0"]
    assert huge["status"] == "error" and huge["path"] is None
    # the header's size, or Pillow's guard where its limit is lower than the image
    assert huge["error"].startswith("the provider's image is ")
    assert "more than 40000000" in huge["error"] and "refused" in huge["error"]
    assert server.counts["a hugeimage"] == 1  # not retried
    assert table["a-photo-of-a-chef/0"]["status"] == "ok"
