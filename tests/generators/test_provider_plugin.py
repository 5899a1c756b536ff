"""A provider added by another package: one HostedGenerator subclass and one
entry point make ``--model NAME:MODEL`` work, with the paid-API behaviour
(cost guard, images stored as they arrive, no claimed sampler) coming from
the class it derives from."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from PIL import Image

from tests.conftest import plugin_site

REPO = Path(__file__).resolve().parents[2]

PLUGIN = '''
from PIL import Image

from audit.api.generator import GeneratedImage, HostedGenerator


class Echo(HostedGenerator):
    """Draws a flat colour per seed: stands in for a provider's HTTP API."""

    name = "echo"
    example_model = "flat"

    def __init__(self, model, *, device="auto", dtype="auto"):
        self.model = model.split(":", 1)[1]

    def price(self, request):
        return 0.25

    def iter_generate(self, requests):
        for index, request in enumerate(reversed(requests)):
            shade = (request.seed * 40) % 256
            image = Image.new("RGB", (request.width, request.height), (shade, 90, 200))
            image.putpixel((0, 0), (0, 0, 0))
            yield GeneratedImage(request, image, "ok", None, 0.0, index, len(requests),
                                 extra={"billed": True, "price_usd": 0.25})

    def generate(self, requests):
        return sorted(self.iter_generate(requests), key=lambda r: r.batch_index)

    def describe(self):
        return {"id": f"echo:{self.model}", "provider": "echo", "model": self.model}
'''


def test_a_plugin_provider_works_with_the_name_model_syntax(tmp_path):
    site = plugin_site(tmp_path, "echo_provider", PLUGIN,
                       "[t2i_audit.generators]\necho = echo_provider:Echo\n")
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)

    out = tmp_path / "run"
    quick = ("generate", "--prompt", "a photo of a nurse", "--n", "3", "--size", "64x64",
             "--out", str(out))
    refused = run(*quick, "--model", "echo:flat", "--max-cost", "0.5")
    assert refused.returncode == 2, refused.stderr
    assert "estimated cost USD 0.75 for 3 images" in refused.stderr
    assert not (out / "images.parquet").exists()

    done = run(*quick, "--model", "echo:flat", "--max-cost", "1")
    assert done.returncode == 0, done.stderr
    images = pd.read_parquet(out / "images.parquet")
    assert list(images.status) == ["ok"] * 3
    card = json.loads((out / "run.json").read_text())
    assert card["model"]["id"] == "echo:flat"
    assert card["history"][-1]["cost"]["spent"] == 0.75
    with Image.open(out / images.path.iloc[0]) as png:
        parameters = png.text["parameters"]
    assert parameters == "a photo of a nurse\nModel: echo:flat"  # no steps or sampler claimed

    bare = run(*quick, "--model", "echo")
    assert bare.returncode == 2
    assert "--model echo:MODEL names the provider's model, e.g. echo:flat" in bare.stderr
    ray = run(*quick, "--model", "echo:flat", "--ray", "local")
    assert ray.returncode == 2 and "a paid API runs from this machine" in ray.stderr
