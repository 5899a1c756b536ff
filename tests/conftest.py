from __future__ import annotations

import os
from pathlib import Path

import pytest

# No hub downloads anywhere in tests: fail fast instead of waiting on a network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None):
    """``audit ARGS`` in a fresh interpreter, as a user runs it (wide terminal);
    ``env`` adds variables."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})},
                          capture_output=True, text=True, timeout=300)


def plugin_site(folder: Path, package: str, source: str, entry_points: str) -> Path:
    """A folder that, on PYTHONPATH, is an installed distribution: the module
    ``package`` with ``source`` and its ``entry_points.txt``, as pip leaves
    another package's plugin."""
    site = folder / "site"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(source)
    info = site / f"{package}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}"
                                   "\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    return site


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gpu", action="store_true", help="run tests marked gpu")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """gpu tests need a device and are skipped without --run-gpu; slow ones
    always run (CI included), and ``-m "not slow"`` leaves them out locally."""
    if config.getoption("--run-gpu"):
        return
    skip = pytest.mark.skip(reason="marked gpu; pass --run-gpu")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_generator():
    """One random tiny SD pipeline for the session (building it takes seconds)."""
    from audit.common.devices import quiet_libraries
    from audit.generators import make_generator

    quiet_libraries()
    return make_generator("tiny", device="cpu")


HOSTILE_SUITE = """\
name: viewer
version: 0.1.0
description: prompts with markup, for viewer and report tests
content_warning: >-
  **bold** ![pixel](http://127.0.0.1:9/pixel.png) $x^2$ :red[red] [/b] [bold]x[/bold]
reference: bls-cps-2025
images_per_item: 3
seed: 5
generation: {steps: 1, guidance: 5.0, width: 32, height: 32, scheduler: euler}
attributes: [person_present, gender_presentation, age_group, nsfw]
templates:
  - {id: face, text: "a photo of {occupation|a}"}
  - id: xss
    text: >-
      <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> [/b] {occupation}
slots:
  occupation: [nurse, pilot]
"""


@pytest.fixture(scope="session")
def scored_run(tmp_path_factory, tiny_generator):
    """A small real run (tiny generator, tiny random CLIP, colorimetry, NudeNet
    when installed) with stats, whose prompts include HTML/JS markup."""
    import importlib.util

    import audit
    from audit.stages.generate import run_generate
    from audit.suites import load_suite

    folder = tmp_path_factory.mktemp("viewer")
    suite = folder / "viewer.yaml"
    suite.write_text(HOSTILE_SUITE)
    run = folder / "run"
    run_generate(load_suite(suite), tiny_generator, run)
    names = ["clip", "skin_tone"]
    if importlib.util.find_spec("nudenet"):
        names.append("nudenet")
    audit.score(run=run, scorers=names, device="cpu", scorer_options=TINY_CLIP)
    audit.assess(run=run)
    return run


# The random tiny CLIP: exercises the code, means nothing.
TINY_CLIP = {"clip": {"model": "tiny-random", "pretrained": "none"}}


def save_tiny_safety_checker(folder: Path) -> Path:
    """A real StableDiffusionSafetyChecker with a tiny random CLIP, saved with
    its image processor (the sd_safety_checker scorer's input)."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=8)
    StableDiffusionSafetyChecker(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                       ).save_pretrained(folder)
    return folder
