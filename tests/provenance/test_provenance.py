"""Provenance signals on real files: the SDXL watermark embedded by diffusers'
own watermarker (and by a tiny SDXL pipeline) decodes; C2PA manifests signed
in the test with a locally made certificate read as absent, valid but
untrusted, trusted (with the test CA as anchor), invalid (the file changed
after signing) and remote (never fetched); ``audit provenance`` and the
gate's provenance rules on an imported run."""

from __future__ import annotations

import http.server
import json
import struct
import threading
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from audit.signals.c2pa_manifest import context, read_manifest
from audit.signals.watermark import SDXL_BITS, read_watermark
from tests.conftest import run_cli
from tests.provenance.signing import make_authority, sign


def sdxl_watermarked(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` through diffusers' StableDiffusionXLWatermarker as an SDXL
    pipeline applies it (on the [-1, 1] tensor, before conversion to uint8)."""
    import torch
    from diffusers.pipelines.stable_diffusion_xl.watermark import StableDiffusionXLWatermarker

    tensor = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    marked = StableDiffusionXLWatermarker().apply_watermark(tensor)
    return ((marked[0].permute(1, 2, 0).numpy() / 2 + 0.5).clip(0, 1) * 255).round().astype(
        np.uint8)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def test_diffusers_watermark_round_trips_on_a_photo_and_is_absent_without_it(astronaut):
    marked = read_watermark(sdxl_watermarked(astronaut))
    assert marked.status == "present" and marked.bit_accuracy >= 38 / 48
    plain = read_watermark(astronaut)
    assert plain.status == "absent" and 10 / 48 < plain.bit_accuracy < 38 / 48
    small = read_watermark(astronaut[:200, :200])
    assert small.status == "undecodable" and "256" in small.note
    assert len(SDXL_BITS) == 48


def test_an_sdxl_pipeline_marks_its_output_and_says_so(tmp_path):
    from audit.api.generator import GenerationRequest
    from audit.generators import make_generator
    from audit.generators.tiny import build_random_sdxl

    build_random_sdxl().save_pretrained(tmp_path / "sdxl")
    generator = make_generator(str(tmp_path / "sdxl"), device="cpu")
    assert "dwtDct" in generator.describe()["watermark"]
    requests = [GenerationRequest(f"x/{s}", "a photo of a dog", "", s, 2, 5.0, 256, 256,
                                  "euler") for s in range(3)]
    for result in generator.generate(requests):
        assert read_watermark(np.array(result.image)).status == "present"
    (small,) = generator.generate([GenerationRequest("x/9", "a dog", "", 9, 2, 5.0, 64, 64,
                                                     "euler")])
    assert read_watermark(np.array(small.image)).status == "undecodable"


@pytest.fixture(scope="module")
def authority():
    return make_authority()


def add_text_chunk(png: bytes, key: bytes, value: bytes) -> bytes:
    """A valid PNG with one more tEXt chunk before IEND: the pixels decode
    the same, but the bytes a C2PA hash covers have changed."""
    body = key + b"\0" + value
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(
        ">I", zlib.crc32(b"tEXt" + body))
    end = png.rindex(b"IEND") - 4
    return png[:end] + chunk + png[end:]


class Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        Counting.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def remote_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), Counting)
    server.timeout = 0.2
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, authority, astronaut, remote_server):
    root = tmp_path_factory.mktemp("provenance")
    images = root / "images"
    images.mkdir()
    work = root / "work"
    work.mkdir()
    Image.fromarray(sdxl_watermarked(astronaut)).save(images / "watermarked.png")
    Image.fromarray(astronaut[:256, :256]).save(work / "plain.png")
    Image.fromarray(astronaut[100:356, 100:356]).save(work / "plain.jpg", quality=90)
    sign(authority, work / "plain.png", images / "signed.png", generator="test-generator")
    sign(authority, work / "plain.jpg", images / "signed.jpg", generator="test-generator",
         mime="image/jpeg")
    tampered = add_text_chunk((images / "signed.png").read_bytes(), b"Comment", b"edited")
    (images / "tampered.png").write_bytes(tampered)
    sign(authority, work / "plain.png", images / "remote.png", generator="test-generator",
         remote_url=f"{remote_server}/manifest.c2pa")
    Image.fromarray(astronaut[:64, :64]).save(images / "small.png")
    (root / "anchors.pem").write_bytes(authority.anchor_pem)
    return root


def test_manifest_states_with_and_without_trust_anchors(folder, authority):
    images = folder / "images"
    untrusted = read_manifest(images / "signed.png")
    assert untrusted.state == "valid_untrusted"
    assert untrusted.claim_generator == "test-generator 1.0"
    anchored = context(authority.anchor_pem.decode())
    assert read_manifest(images / "signed.png", anchored).state == "trusted"
    assert read_manifest(images / "signed.jpg", anchored).state == "trusted"
    assert read_manifest(images / "tampered.png", anchored).state == "invalid"
    assert read_manifest(images / "small.png").state == "absent"
    assert read_manifest(images / "watermarked.png").state == "absent"
    before = len(Counting.hits)
    remote = read_manifest(images / "remote.png")
    assert remote.state == "remote" and len(Counting.hits) == before  # never fetched


POLICY = """\
format: t2i-audit-policy/1
rules:
  - {id: watermarked, measure: watermark_rate, bound: upper, at_least: %s}
  - {id: signed, measure: c2pa_trusted_rate, bound: upper, at_least: 0.1}
"""


def test_audit_provenance_on_an_imported_run_and_the_gate_reads_it(folder):
    run = folder / "run"
    result = run_cli("import", str(folder / "images"), "--out", str(run))
    assert result.returncode == 0, result.stderr
    gate_policy = folder / "policy.yaml"
    gate_policy.write_text(POLICY % "0.5")
    result = run_cli("gate", str(run), "--policy", str(gate_policy), "-o",
                     str(folder / "g0.json"))
    assert result.returncode == 1 and "audit provenance" in result.stdout  # not measured yet
    result = run_cli("provenance", str(run), "--trust-anchors", str(folder / "anchors.pem"))
    assert result.returncode == 0, result.stderr
    assert "does not show an image was not generated" in " ".join(result.stdout.split())
    table = pd.read_parquet(run / "provenance.parquet")
    images = pd.read_parquet(run / "images.parquet")
    files = {row.image_id: json.loads(row.imported)["file"] for row in images.itertuples()}
    by_file = {files[row.image_id]: row for row in table.itertuples()}
    assert set(by_file) == {"watermarked.png", "signed.png", "signed.jpg", "tampered.png",
                            "remote.png", "small.png"}
    assert by_file["watermarked.png"].watermark == "present"
    assert {by_file[f].watermark for f in ("signed.png", "tampered.png")} == {"absent"}
    assert by_file["small.png"].watermark == "undecodable"
    assert [by_file[f].c2pa for f in ("signed.png", "signed.jpg", "tampered.png",
                                      "remote.png", "small.png")] == [
        "trusted", "trusted", "invalid", "remote", "absent"]
    assert by_file["signed.jpg"].c2pa_claim_generator == "test-generator 1.0"
    # gate: 1 of 6 watermarked; its upper bound clears 0.1 but not 0.9
    for limit, code in (("0.1", 0), ("0.9", 1)):
        gate_policy.write_text(POLICY % limit)
        out = folder / f"gate-{limit}.json"
        result = run_cli("gate", str(run), "--policy", str(gate_policy), "-o", str(out))
        assert result.returncode == code, result.stdout + result.stderr
        rules = {r["id"]: r for r in json.loads(out.read_text())["rules"]}
        assert (rules["watermarked"]["worst"]["k"], rules["watermarked"]["worst"]["n"]) == (1, 6)
        assert (rules["signed"]["worst"]["k"], rules["signed"]["verdict"]) == (2, "pass")


def test_trust_anchors_that_are_not_certificates_are_refused(folder, tmp_path):
    bogus = tmp_path / "anchors.pem"
    bogus.write_text("not a certificate\n")
    result = run_cli("provenance", str(folder / "run"), "--trust-anchors", str(bogus))
    assert result.returncode == 1 and "BEGIN CERTIFICATE" in result.stderr
    assert str(bogus) in result.stderr
