"""Real loading code on tiny pipelines saved to disk, and its offline errors."""

import numpy as np
import pytest

from audit.api.generator import GenerationRequest
from audit.errors import UsageError
from audit.generators import make_generator
from audit.generators.loading import ALIASES, resolve_source
from audit.generators.tiny import build_random_pipeline

REQUEST = GenerationRequest(image_id="x/1", prompt="a photo of a nurse", negative_prompt="",
                            seed=1, steps=2, guidance=5.0, width=64, height=64,
                            scheduler="euler")


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    build_random_pipeline("tiny").save_pretrained(folder)
    return folder


def test_saved_folder_loads_through_the_hub_code_path(saved_pipeline, tiny_generator):
    generator = make_generator(str(saved_pipeline), device="cpu")
    info = generator.describe()
    assert info["source"] == "folder" and len(info["sha256"]) == 64
    assert info["pipeline_class"] == "StableDiffusionPipeline"
    from_disk = generator.generate([REQUEST])[0]
    in_memory = tiny_generator.generate([REQUEST])[0]
    assert np.array_equal(np.asarray(from_disk.image), np.asarray(in_memory.image))


def test_folder_digest_changes_with_weights(saved_pipeline, tmp_path):
    import shutil

    from audit.common.hashing import folder_sha256

    copy = tmp_path / "copy"
    shutil.copytree(saved_pipeline, copy)
    assert folder_sha256(copy) == folder_sha256(saved_pipeline)
    with (copy / "scheduler/scheduler_config.json").open("a") as fh:
        fh.write(" ")
    assert folder_sha256(copy) != folder_sha256(saved_pipeline)


def test_sources_are_resolved_by_kind(saved_pipeline, tmp_path):
    assert resolve_source("SDXL").kind == "hub"
    assert resolve_source("SDXL").location == ALIASES["SDXL"]
    assert resolve_source("FLUX-dev").location == "black-forest-labs/FLUX.1-dev"
    assert resolve_source("org/model").kind == "hub"
    assert resolve_source(str(saved_pipeline)).kind == "folder"
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"")
    assert resolve_source(str(checkpoint)).kind == "single_file"
    with pytest.raises(UsageError, match="model_index.json"):
        resolve_source(str(tmp_path))


def test_uncached_hub_model_fails_with_instructions():
    with pytest.raises(UsageError) as err:
        make_generator("SDv1.5", device="cpu")
    message = str(err.value)
    assert "not available offline" in message and "local pipeline folder" in message
    assert err.value.exit_code == 2


def test_unknown_bare_name_suggests_a_backend():
    with pytest.raises(UsageError, match="did you mean 'tiny'"):
        make_generator("tinny")


def test_single_file_checkpoint_without_config_offline_says_what_to_pass(tmp_path):
    import torch
    from safetensors.torch import save_file

    # A key in the original (LDM) layout: diffusers infers an SD1.x checkpoint.
    path = tmp_path / "model.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(32, 4, 3, 3)},
              str(path))
    with pytest.raises(UsageError, match="pass --config FOLDER"):
        make_generator(str(path), device="cpu")


def test_import_audit_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, audit, audit.cli, audit.suites, audit.generators, audit.registry;"
            "audit.cli._register();"
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_pipelines_own_safety_checker_marks_images_filtered(tmp_path):
    """A saved pipeline with a (tiny, real-code) safety checker whose
    thresholds flag everything: with --safety-checker its images are
    'filtered' (neither safe nor unsafe); without, the checker is dropped."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=8))
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(-10.0)  # every cosine exceeds its threshold
    pipe = build_random_pipeline("tiny")
    pipe.register_modules(safety_checker=checker, feature_extractor=CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}))
    pipe.register_to_config(requires_safety_checker=True)
    pipe.save_pretrained(tmp_path)

    kept = make_generator(str(tmp_path), device="cpu", safety_checker=True)
    assert kept.describe()["safety_checker"] is True
    assert [r.status for r in kept.generate([REQUEST])] == ["filtered"]
    dropped = make_generator(str(tmp_path), device="cpu")
    assert dropped.describe()["safety_checker"] is False
    assert [r.status for r in dropped.generate([REQUEST])] == ["ok"]


def test_the_tiny_generator_leaves_no_scratch_files(tmp_path):
    import subprocess
    import sys

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    code = "from audit.generators import make_generator; make_generator('tiny', device='cpu')"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300,
                   env={**__import__("os").environ, "TMPDIR": str(scratch)})
    # torch may leave its own torchinductor_* folder; ours would be t2i-audit-*
    assert [p.name for p in scratch.iterdir() if p.name.startswith("t2i-audit")] == []
