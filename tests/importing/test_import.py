"""``audit import``: metadata of every tool we read, grouping, manifests,
growing folders, and the round trips generate -> strip -> import and import
-> score -> stats -> export -> validate."""

import json
import shutil
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image, PngImagePlugin

from audit.importing.metadata import read_metadata
from tests.conftest import run_cli

A1111 = {
    "plain": ("a photo of a nurse\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, "
              "Size: 64x64, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly",
              {"prompt": "a photo of a nurse", "negative_prompt": "", "seed": 1234,
               "steps": 20, "guidance": 7.0, "sampler": "Euler a",
               "model": "v1-5-pruned-emaonly", "model_hash": "6ce0161689"}, {}),
    "negative, schedule type, extras": (
        "a photo of a pilot, (smiling:1.2)\nNegative prompt: blurry, lowres\nSteps: 30, "
        "Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 42, Size: 64x64, "
        'Model: sd_xl_base_1.0, Lora hashes: "detail: 1a2b, style: 3c4d", Version: v1.10.1',
        {"prompt": "a photo of a pilot, (smiling:1.2)", "negative_prompt": "blurry, lowres",
         "seed": 42, "steps": 30, "guidance": 5.5, "sampler": "DPM++ 2M",
         "schedule_type": "Karras"},
        {"Lora hashes": "detail: 1a2b, style: 3c4d", "Version": "v1.10.1"}),
    "multi-line, non-ASCII": (
        "ein Foto einer Ärztin\nim Krankenhaus, 東京\nNegative prompt: unscharf\nzweite Zeile\n"
        "Steps: 12, Sampler: DDIM, CFG scale: 4, Seed: 7, Size: 64x64",
        {"prompt": "ein Foto einer Ärztin\nim Krankenhaus, 東京",
         "negative_prompt": "unscharf\nzweite Zeile", "seed": 7, "steps": 12, "guidance": 4.0,
         "sampler": "DDIM"}, {}),
}
COMFY_GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 77, "steps": 25, "cfg": 6.5, "sampler_name": "dpmpp_2m", "scheduler": "karras",
        "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0],
        "model": ["10", 0]}},
    "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "lora_name": "x"}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a chef"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark"}},
}


def noise(seed=0, size=64):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3),
                                                                dtype=np.uint8))


def png(path, seed=0, **chunks):
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    noise(seed).save(path, pnginfo=info)
    return path


def exif_image(path, text, encoding="utf-16-be", fmt=None):
    image = noise(3)
    exif = image.getexif()
    prefix = b"UNICODE\0" if encoding.startswith("utf-16") else b"ASCII\0\0\0"
    exif[0x8769] = {0x9286: prefix + text.encode(encoding)}
    image.save(path, exif=exif, format=fmt)
    return path


@pytest.mark.parametrize("case", list(A1111))
def test_a1111_parameters_chunks(tmp_path, case):
    text, fields, extra = A1111[case]
    found = read_metadata(png(tmp_path / "a.png", parameters=text))
    assert found.source == "a1111" and found.notes == []
    assert {k: found.fields.get(k) for k in fields} == fields
    assert found.fields["width"] == found.fields["height"] == 64
    assert found.extra == extra


@pytest.mark.parametrize("name, encoding, fmt", [("a.jpg", "utf-16-be", None),
                                                 ("b.jpg", "utf-16-le", None),
                                                 ("c.webp", "utf-16-be", "WEBP"),
                                                 ("d.jpg", "ascii", None)])
def test_exif_user_comment_of_jpeg_and_webp(tmp_path, name, encoding, fmt):
    text = "a photo of a doctor\nSteps: 30, Sampler: Euler, CFG scale: 5, Seed: 99, Size: 64x64"
    found = read_metadata(exif_image(tmp_path / name, text, encoding, fmt))
    assert found.source == "exif"
    assert (found.fields["prompt"], found.fields["seed"], found.fields["steps"]) == (
        "a photo of a doctor", 99, 30)


def test_comfyui_graph_is_followed_through_links(tmp_path):
    found = read_metadata(png(tmp_path / "c.png", prompt=json.dumps(COMFY_GRAPH),
                              workflow="{}"))
    assert found.source == "comfyui"
    assert {k: found.fields[k] for k in ("prompt", "negative_prompt", "seed", "steps",
                                         "guidance", "sampler", "schedule_type", "model")} == {
        "prompt": "a photo of a chef", "negative_prompt": "watermark", "seed": 77, "steps": 25,
        "guidance": 6.5, "sampler": "dpmpp_2m", "schedule_type": "karras",
        "model": "sdxl.safetensors"}
    graph = json.loads(json.dumps(COMFY_GRAPH))
    graph["6"] = {"class_type": "StringConcat", "inputs": {"a": "x", "b": "y"}}
    graph["3"]["inputs"]["seed"] = ["11", 0]
    found = read_metadata(png(tmp_path / "d.png", prompt=json.dumps(graph)))
    assert "prompt" not in found.fields and "seed" not in found.fields
    assert found.notes == ["comfyui: seed comes from another node; not resolved",
                           "comfyui: the positive text is not a plain text node"]


def test_invokeai_metadata_both_generations(tmp_path):
    v3 = {"positive_prompt": "a photo of a janitor", "negative_prompt": "", "seed": 5,
          "steps": 30, "cfg_scale": 7.5, "width": 64, "height": 64, "scheduler": "euler",
          "model": {"name": "stable-diffusion-xl-base-1-0"}}
    found = read_metadata(png(tmp_path / "i3.png", invokeai_metadata=json.dumps(v3)))
    assert (found.source, found.fields["prompt"], found.fields["seed"],
            found.fields["model"]) == ("invokeai", "a photo of a janitor", 5,
                                       "stable-diffusion-xl-base-1-0")
    v2 = {"model_weights": "sd-1.5", "image": {"prompt": [{"prompt": "a photo of a ceo"}],
                                              "seed": 6, "steps": 20, "cfg_scale": 7,
                                              "sampler": "k_euler"}}
    found = read_metadata(png(tmp_path / "i2.png", **{"sd-metadata": json.dumps(v2)}))
    assert (found.fields["prompt"], found.fields["seed"], found.fields["model"]) == (
        "a photo of a ceo", 6, "sd-1.5")


def corpus(folder):
    """A folder as a student might have: WebUI PNGs, a ComfyUI PNG, a JPEG
    with EXIF, a file without metadata, a broken file."""
    folder.mkdir()
    png(folder / "00001.png", 1, parameters=A1111["plain"][0])
    png(folder / "00002.png", 2, parameters=A1111["negative, schedule type, extras"][0])
    png(folder / "comfy.png", 3, prompt=json.dumps(COMFY_GRAPH))
    exif_image(folder / "phone.jpg", "a photo of a doctor\nSteps: 30, Sampler: Euler, "
               "CFG scale: 5, Seed: 99, Size: 64x64")
    noise(5).save(folder / "bare.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    return folder


def test_import_a_folder_groups_prompts_and_lists_what_is_missing(tmp_path):
    folder = corpus(tmp_path / "outputs")
    run = tmp_path / "run"
    result = run_cli("import", str(folder), "--out", str(run), "--model", "SDXL",
                     "--group-by", "a photo of {occupation|a}")
    assert result.returncode == 0, result.stderr
    assert "imported 5 image(s)" in result.stdout and "1 unreadable" in result.stdout
    assert "metadata from: a1111 2, comfyui 1, exif 1, none 1" in result.stdout
    images = pd.read_parquet(run / "images.parquet").set_index("image_id")
    assert set(images.index) == {"a-photo-of--nurse/1234", "a-photo-of--pilot-smiling-1-2/42",
                                 "a-photo-of--chef/77", "a-photo-of--doctor/99",
                                 "no-prompt/bare", "unreadable/broken-png"}
    nurse = images.loc["a-photo-of--nurse/1234"]
    assert json.loads(nurse.slots) == {"occupation": "nurse"}
    assert (nurse.steps, nurse.guidance, nurse.scheduler, nurse.model) == (20, 7.0, "Euler a",
                                                                           "SDXL")
    record = json.loads(nurse.imported)
    assert record["extra"]["model in file"] == "v1-5-pruned-emaonly"
    assert record["fields"]["seed"] == "a1111" and record["fields"]["model"] == "--model"
    bare = json.loads(images.loc["no-prompt/bare"].imported)
    assert set(bare["missing"]) == {"prompt", "negative_prompt", "seed", "steps", "guidance",
                                    "sampler"}
    assert images.loc["unreadable/broken-png"].status == "error"
    # byte for byte, never re-encoded
    for image_id, name in (("a-photo-of--doctor/99", "phone.jpg"),
                           ("a-photo-of--nurse/1234", "00001.png")):
        assert (run / images.loc[image_id].path).read_bytes() == (folder / name).read_bytes()
    card = json.loads((run / "run.json").read_text())
    assert card["model"]["id"] == "SDXL" and card["config"]["import"]["group_by"] == [
        "a photo of {occupation|a}"]

    # the folder grows: only the new file is added
    png(folder / "00003.png", 9, parameters="a photo of a nurse\nSteps: 20, Seed: 5")
    again = run_cli("import", str(folder), "--out", str(run), "--model", "SDXL",
                    "--group-by", "a photo of {occupation|a}")
    assert again.returncode == 0 and "imported 1 image(s)" in again.stdout
    assert "6 already there; 0 unreadable" in again.stdout  # the broken file too
    assert len(pd.read_parquet(run / "images.parquet")) == 7


def test_a_manifest_fills_and_overrides_and_gives_slots(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(3):
        noise(i).save(folder / f"{i}.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,prompt,seed,model,group,occupation\n"
                        "0.png,a photo of a nurse,10,SDv2.1,nurses,nurse\n"
                        "1.png,a photo of a nurse,11,SDv2.1,nurses,nurse\n"
                        "2.png,a photo of a pilot,12,SDv2.1,,pilot\n")
    run = tmp_path / "run"
    assert run_cli("import", str(folder), "--out", str(run), "--manifest", str(manifest),
                   "--group-by", "a photo of {occupation|a}").returncode == 0
    images = pd.read_parquet(run / "images.parquet").set_index("image_id")
    assert set(images.index) == {"nurses/10", "nurses/11", "a-photo-of--pilot/12"}
    assert json.loads(images.loc["nurses/10"].slots) == {"occupation": "nurse"}
    assert images.loc["nurses/10"].model == "SDv2.1"
    assert json.loads(images.loc["nurses/10"].imported)["fields"]["seed"] == "manifest"


@pytest.mark.parametrize("text, message", [
    ("image,prompt\nmissing.png,x\n", "m.csv:2: field image: 'missing.png' is not an image"),
    ("image,seed\n0.png,ten\n", "m.csv:2: field seed: 'ten' is not a number"),
    ("image,prompt\n0.png,a\n0.png,b\n", "m.csv:3: field image: '0.png' appears twice"),
    ("prompt\nx\n", "missing column(s) image"),
])
def test_a_bad_manifest_is_one_line_and_imports_nothing(tmp_path, text, message):
    folder = tmp_path / "plain"
    folder.mkdir()
    noise().save(folder / "0.png")
    (tmp_path / "m.csv").write_text(text)
    result = run_cli("import", str(folder), "--out", str(tmp_path / "run"), "--manifest",
                     str(tmp_path / "m.csv"))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert message in line
    assert not (tmp_path / "run").exists()


def test_generated_images_stripped_of_our_chunk_import_back_the_same(tmp_path, tiny_generator):
    from audit.stages.generate import run_generate
    from audit.suites import load_suite

    suite = tmp_path / "s.yaml"
    suite.write_text(textwrap.dedent("""\
        name: roundtrip
        version: 0.1.0
        description: round trip
        images_per_item: 2
        seed: 3
        negative_prompt: "blurry, lowres"
        generation: {steps: 2, guidance: 4.5, width: 32, height: 32, scheduler: euler}
        attributes: [gender_presentation]
        templates:
          - {id: photo, text: "a photo of {occupation|a}"}
        slots:
          occupation: [nurse, pilot]
        """))
    made = tmp_path / "made"
    run_generate(load_suite(suite), tiny_generator, made)
    original = pd.read_parquet(made / "images.parquet").set_index("image_id")
    webui = tmp_path / "webui"
    webui.mkdir()
    for row in original.itertuples():
        with Image.open(made / row.path) as image:
            info = PngImagePlugin.PngInfo()
            info.add_text("parameters", image.text["parameters"])  # only the A1111 chunk
            image.save(webui / f"{row.item_id}-{row.seed}.png", pnginfo=info)
    run = tmp_path / "run"
    assert run_cli("import", str(webui), "--out", str(run), "--group-by",
                   "a photo of {occupation|a}").returncode == 0
    back = pd.read_parquet(run / "images.parquet").set_index("image_id")
    assert len(back) == len(original)
    for row in back.itertuples():
        first = original[(original.prompt == row.prompt) & (original.seed == row.seed)]
        assert len(first) == 1, row.prompt
        source = first.iloc[0]
        for column in ("negative_prompt", "steps", "guidance", "width", "height", "model"):
            assert getattr(row, column) == source[column], column
        assert json.loads(row.slots) == json.loads(source.slots)


def test_import_score_stats_export_validate(tmp_path, tiny_generator):
    """A WebUI-style folder becomes a validated bias.zip."""
    import audit
    from audit.assignment.export import export_bias
    from audit.assignment.validate import validate
    from audit.rundir import RunDir
    from tests.assignment.test_export import LABELS, SKEWS

    folder = tmp_path / "webui"
    folder.mkdir()
    occupations = ["nurse", "software developer", "chief executive", "janitor"]
    for occupation in occupations:
        article = "an" if occupation[0] in "aeiou" else "a"
        for seed in range(8):
            png(folder / f"{occupation[:4]}-{seed}.png", hash((occupation, seed)) % 1000,
                parameters=f"a photo of the face of {article} {occupation}\nSteps: 20, "
                           f"Sampler: Euler a, CFG scale: 7, Seed: {seed}, Size: 64x64")
    run = tmp_path / "run"
    audit.import_images(folder=folder, out=run, model="SDXL",
                        reference=["bls-cps-2025", "uniform"],
                        group_by=["a photo of the face of {occupation|a}"],
                        attributes=["person_present", *LABELS])
    images = pd.read_parquet(run / "images.parquet")
    rows = []
    for image in images.itertuples():
        item = "face--" + image.item_id.split("--", 1)[1]
        rows.append({"image_id": image.image_id, "scorer": "clip",
                     "attribute": "person_present", "label": "person", "confidence": 0.9})
        for attribute, labels in LABELS.items():
            label = SKEWS.get((item, attribute), labels[image.seed % len(labels)])
            scorer = "skin_tone" if attribute == "monk_tone" else "clip"
            rows.append({"image_id": image.image_id, "scorer": scorer, "attribute": attribute,
                         "label": label, "confidence": None})
    RunDir(run).write_scores({"decisions": rows, "measurements": [], "inputs": []})
    stats = audit.assess(run=run).document
    nurse = next(r for r in stats["proportions"] if r["group"].endswith("--nurse")
                 and r["category"] == "female")
    assert nurse["reference"].startswith("bls-cps-2025=")
    out = tmp_path / "bias.zip"
    export_bias(run, out)
    sub, task = validate(out)
    assert task == "bias" and [f for f in sub.findings if f.level == "error"] == []
    document = json.loads(zipfile.ZipFile(out).read("bias.json"))
    assert len(document["biases"]) == 4
    # import, score, export: the export assesses a scored run without stats.json in
    # memory, says so, and writes no stats.json as a side effect
    (run / "stats.json").unlink()
    notes = export_bias(run, tmp_path / "again.zip").notes
    assert any("assessed in memory" in n and "not saved" in n for n in notes)
    assert not (run / "stats.json").exists()
    shutil.rmtree(run)


def test_a_generated_run_is_not_imported_into(tmp_path, scored_run):
    folder = tmp_path / "f"
    folder.mkdir()
    noise().save(folder / "0.png")
    copy = tmp_path / "run"
    shutil.copytree(scored_run, copy)
    result = run_cli("import", str(folder), "--out", str(copy))
    assert result.returncode == 2 and "not an import" in result.stderr


def test_an_imported_jpeg_run_exports_a_story_with_jpg_names(tmp_path):
    folder = tmp_path / "phone"
    folder.mkdir()
    for seed in range(6):  # a story has six pairs
        exif_image(folder / f"IMG_{seed}.jpg", f"a photo of a doctor\nSteps: 20, Sampler: "
                   f"Euler, CFG scale: 7, Seed: {seed}, Size: 64x64")
    noise(8).save(folder / "no-seed.jpg")
    run = tmp_path / "run"
    assert run_cli("import", str(folder), "--out", str(run), "--model", "SDXL",
                   "--manifest", str(_manifest(tmp_path))).returncode == 0
    out = tmp_path / "story.zip"
    item = "prompt--a-photo-of-a-doctor-"
    images = pd.read_parquet(run / "images.parquet")
    ids = sorted(i for i in images.image_id if i.startswith(item))
    result = run_cli("export", "story", str(run), "-o", str(out), "--story", "A doctor.",
                     *[a for i in ids for a in ("--pick", i)])
    assert result.returncode == 0, result.stdout + result.stderr
    names = zipfile.ZipFile(out).namelist()
    assert sorted(n for n in names if n.endswith(".jpg")) == sorted(
        f"{i.split('/')[0]}-{i.split('/')[1]}.jpg" for i in ids)
    seedless = images[images.seed.isna()].image_id.iloc[0]
    result = run_cli("export", "story", str(run), "-o", str(out), "--pick", seedless)
    assert result.returncode == 1 and "has no recorded seed" in result.stderr


def _manifest(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"image": "no-seed.jpg", "prompt": "a photo of a cat"}) + "\n")
    return path


@pytest.mark.parametrize("name", ["x.jpg", "x.png"])
def test_prompts_in_xmp(tmp_path, name):
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
              '02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
              '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">a photo of a nurse &amp; '
              'a cat\nSteps: 20, Seed: 3</rdf:li></rdf:Alt></dc:description></rdf:Description>'
              '</rdf:RDF></x:xmpmeta>')
    image = noise(4)
    if name.endswith(".png"):
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet)
        image.save(tmp_path / name, pnginfo=info)
    else:
        image.save(tmp_path / name, xmp=packet.encode())
    found = read_metadata(tmp_path / name)
    assert found.source == "xmp"
    assert (found.fields["prompt"], found.fields["seed"]) == ("a photo of a nurse & a cat", 3)


def test_an_image_past_40_megapixels_is_an_unreadable_file_not_imported(tmp_path):
    """Issue 33: 45.5-megapixel imports were accepted (scoring refuses them);
    the header says the size before anything is decoded."""
    from PIL import Image

    folder = tmp_path / "big"
    folder.mkdir()
    Image.new("L", (7000, 6500)).save(folder / "huge.png")
    noise(1).save(folder / "fine.png")
    run = tmp_path / "run"
    result = run_cli("import", str(folder), "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert "imported 1 image(s)" in result.stdout and "1 unreadable" in result.stdout
    images = pd.read_parquet(run / "images.parquet")
    huge = images[images.error.fillna("").str.contains("7000x6500")]
    assert len(huge) == 1 and huge.status.iloc[0] == "error"
    assert "more than 40000000 is refused" in huge.error.iloc[0]
