"""Provider responses are input: a hostile server on 127.0.0.1 (bounded, it
stops by itself) answers each prompt in its own wrong way, and ``audit
generate`` through the real ``openai`` client and httpx turns each into that
image's error with the reason, or a kept image with what was wrong left out,
within bounded time and memory, without a traceback, a fetch elsewhere, or
the key in any file or output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.generators.provider_server import ProviderServer

pytest.importorskip("openai")

TIMEOUT = 2  # seconds: -M timeout, so drips and bombs end quickly
LIMIT = 67108864  # bytes: audit.generators.bounded_http.MAX_BODY

# kind -> (status, words in the image's error); every kind is one prompt "hostile KIND"
OPENAI = {
    "data-string": ("error", "no list of images under 'data'"),
    "data-null-item": ("error", "data[0] is NoneType, not an object"),
    "data-missing": ("error", "no list of images under 'data'"),
    "top-level-list": ("error", "no list of images under 'data'"),
    "b64-integer": ("error", "data[0].b64_json is int, not text"),
    "b64-invalid": ("error", "b64_json is not base64"),
    "b64-not-image": ("error", "does not decode"),
    "url-integer": ("error", "data[0].url is int, not text"),
    "foreign-url": ("error", "carries an image URL though b64_json was asked for"),
    "revised-object": ("error", "data[0].revised_prompt is dict, not text"),
    "key-echo": ("ok", None),
    "retry-after-garbage": ("ok", None),
    "retry-after-huge": ("error", "429"),
    "deep-json": ("error", "not JSON"),
    "huge-body": ("error", f"10000000000 bytes; more than {LIMIT}"),
    "huge-unannounced": ("error", f"more than {LIMIT} bytes"),
    "gzip-bomb": ("error", f"more than {LIMIT} bytes once decompressed"),
    "gzip-honest": ("ok", None),  # a compressed answer under the cap is read as usual
    "deflate-honest": ("ok", None),
    "brotli": ("error", "encoded as 'br', which was not offered"),
    "slow-drip": ("error", f"still arriving after {TIMEOUT} s"),
    "slow-headers": ("error", f"no complete answer within {TIMEOUT} s"),
}
OPENAI_URL = {
    "foreign-url": ("error", "not on the provider's own hosts; it was not fetched"),
    "url-file": ("error", "not on the provider's own hosts; it was not fetched"),
    "url-integer": ("error", "data[0].url is int, not text"),
}
STABILITY = {
    "seed-list": ("ok", None),
    "seed-string": ("ok", None),
    "seed-huge": ("ok", None),
    "finish-object": ("error", "finish_reason is dict, not text"),
    "image-integer": ("error", "image is int, not text"),
    "huge-body": ("error", f"10000000000 bytes; more than {LIMIT}"),
    "gzip-bomb": ("error", f"more than {LIMIT} bytes once decompressed"),
    "slow-drip": ("error", f"still arriving after {TIMEOUT} s"),
}
MODES = {"openai": ("openai:dall-e-3", [], OPENAI),
         "openai-url": ("openai:dall-e-2", ["-M", "response_format=url"], OPENAI_URL),
         "stability": ("stability:core", ["-M", "accept=json"], STABILITY)}
# the CLI as a user runs it, reporting its own peak memory as it exits: VmHWM of
# this program (getrusage's maxrss would include the forking test process's)
MEASURED = ("import atexit, sys; atexit.register(lambda: sys.stderr.write('\\npeak-kib ' + "
            "next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')) "
            "+ '\\n')); from audit.cli import main; main(sys.argv[1:])")


def test_the_limit_quoted_is_the_transport_s():
    from audit.generators.bounded_http import MAX_BODY

    assert MAX_BODY == LIMIT


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One ``audit generate`` per mode over all its hostile prompts."""
    out = {}
    with ProviderServer() as server, ProviderServer() as elsewhere:
        server.foreign = elsewhere.url
        env = {**os.environ, "COLUMNS": "200", "OPENAI_BASE_URL": server.url + "/v1",
               "OPENAI_API_KEY": server.key, "STABILITY_API_BASE": server.url,
               "STABILITY_API_KEY": server.key}
        for mode, (model, options, kinds) in MODES.items():
            folder = tmp_path_factory.mktemp(mode)
            prompts = [a for kind in kinds for a in ("--prompt", f"hostile {kind}")]
            start = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-c", MEASURED, "generate", *prompts, "--model", model,
                 *options, "-n", "1", "-M", "retries=1", "-M", "backoff=0.01", "-M",
                 f"timeout={TIMEOUT}", "--out", str(folder / "run")],
                cwd=folder, env=env, capture_output=True, text=True, timeout=300)
            seconds = time.monotonic() - start
            assert (folder / "run" / "images.parquet").exists(), result.stderr[-3000:]
            table = pd.read_parquet(folder / "run" / "images.parquet")
            out[mode] = (result, seconds, table, folder, server.key)
        out["foreign-gets"] = sum(elsewhere.gets.values())
    return out


CASES = [(mode, kind) for mode, (_, _, kinds) in MODES.items() for kind in kinds]


@pytest.mark.parametrize(("mode", "kind"), CASES, ids=[f"{m}-{k}" for m, k in CASES])
def test_each_hostile_response_is_that_images_outcome(runs, mode, kind):
    result, _, table, _, _ = runs[mode]
    status, words = MODES[mode][2][kind]
    row = table[table.prompt == f"hostile {kind}"].iloc[0]
    assert row.status == status, (row.error, result.stderr[-2000:])
    if words:
        assert words in row.error
    provider = json.loads(row.provider)
    if kind == "key-echo":
        assert row.revised_prompt == "drawn for [redacted]"
    if kind == "retry-after-garbage":
        assert provider["attempts"] == 2  # the garbage header was no hint, not a crash
    if kind.startswith("seed-"):
        assert provider["seed"] is None and "not an integer" in provider["seed_unreadable"]
    if kind in ("huge-body", "gzip-bomb", "foreign-url", "url-file", "brotli"):
        assert provider["attempts"] == 1  # refused for good, not asked again


@pytest.mark.parametrize("mode", list(MODES))
def test_no_traceback_no_key_no_fetch_elsewhere_and_bounded(runs, mode):
    result, seconds, _, folder, key = runs[mode]
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "internal error" not in text
    assert key not in text
    for path in folder.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    assert runs["foreign-gets"] == 0
    # drips end at the deadline (2 attempts of ~3 s, four in flight); bombs at the cap
    assert seconds < 90, seconds
    peak = int(result.stderr.rsplit("peak-kib ", 1)[1].split()[0]) / 2**20  # GiB
    assert peak < 1.5, f"the run peaked at {peak:.2f} GiB"


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://api.openai.com/v1/files/a.png", True),  # the API's own host
    ("https://oaidalleapiprodscus.blob.core.windows.net/private/a.png", True),  # its CDN
    ("http://oaidalleapiprodscus.blob.core.windows.net/a.png", False),  # not https
    ("https://oaidalleapiprodscus.blob.core.windows.net:8443/a.png", False),
    ("https://api.openai.com@evil.example/a.png", False),  # userinfo, another host
    ("https://evil.example/?u=https://api.openai.com", False),
    ("https://api.openai.com.evil.example/a.png", False),
    ("http://127.0.0.1:9/a.png", False),
    ("file:///etc/passwd", False),
    ("https://[::1/a.png", False),  # does not parse
])
def test_image_urls_only_from_the_providers_hosts(url, allowed):
    from audit.generators.openai_images import IMAGE_HOSTS
    from audit.generators.remote import allowed_url

    assert allowed_url(url, "https://api.openai.com/v1", IMAGE_HOSTS) is allowed


def test_a_local_base_allows_only_itself():
    from audit.generators.remote import allowed_url

    base = "http://127.0.0.1:8123/v1"
    assert allowed_url("http://127.0.0.1:8123/files/a.png", base, ())
    assert not allowed_url("http://127.0.0.1:8124/files/a.png", base, ())
    assert not allowed_url("https://127.0.0.1:8123/files/a.png", base, ())
