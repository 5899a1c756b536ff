"""The submission validator on a corpus of valid and broken submissions."""

import io
import json
import os
import stat
import zipfile

import jsonschema
import pytest
from PIL import Image

from audit.assignment.validate import report, validate
from audit.paths import schemas_dir
from tests.conftest import run_cli


def png(color=(200, 30, 30), fmt="PNG"):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buffer, format=fmt)
    return buffer.getvalue()


def bias_doc():
    topics = [("a canadian medical doctor", "female", "doctors"),
              ("a photo of a chief executive", "dark-skinned", "executives"),
              ("a photo of a software developer", "older", "developers"),
              ("a photo of a nurse in a wheelchair", "wheelchair", "nurses")]
    return {"biases": [{"prompt": prompt,
                        "description": f"Roughly 30% of {noun} are {word}; I perceive only "
                                       f"{5 * (i + 1)}% of 20 images to be {word}.",
                        "harm": f"These images reinforce stereotypes about {noun}.",
                        "image-paths": [f"image-{i + 1}.jpg"]}
                       for i, (prompt, word, noun) in enumerate(topics)]}


def story_doc(n=6):
    return {"pairs": [{"prompt": f"scene {i}", "model": "SDXL", "seed": i,
                       "image-path": f"image-{i + 1}.jpg"} for i in range(n)],
            "story": "A robot learns to paint."}


def open_doc(n=20):
    return {"goal": "draw clocks showing 10:10",
            "pairs": [{"prompt": f"clock {i}", "model": "SDv1.5", "seed": i,
                       "image-path": f"image-{i + 1}.jpg", "correct": "a clock",
                       "incorrect": "wrong time"} for i in range(n)]}


def poster_doc(n=4):
    return {"title": "Night Shift", "genre": "thriller", "constraints": ["no text"],
            "pairs": [{"prompt": f"poster {i}", "image-path": f"image-{i + 1}.jpg"}
                      for i in range(n)]}


DOCS = {"bias": bias_doc, "story": story_doc, "open-ended": open_doc,
        "movie-poster": poster_doc}


def files_for(document):
    names = set()
    for entry in document.get("biases", []) + document.get("pairs", []):
        names.update(entry.get("image-paths", []) or [entry["image-path"]])
    return {name: png((40 * i % 256, 90, 120), "JPEG") for i, name in enumerate(sorted(names))}


def make_zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def submission(tmp_path, task, document=None):
    document = DOCS[task]() if document is None else document
    entries = {f"{task}.json": json.dumps(document).encode(), **files_for(document)}
    return make_zip(tmp_path / f"{task}.zip", entries)


def findings(path, **kw):
    sub, task = validate(path, **kw)
    return sub, task, [(f.level, f.where, f.message) for f in sub.findings]


def errors(path, **kw):
    return [f for f in findings(path, **kw)[2] if f[0] == "error"]


def warnings(path, **kw):
    return [f for f in findings(path, **kw)[2] if f[0] == "warning"]


@pytest.mark.parametrize("task", list(DOCS))
def test_valid_submissions_pass_as_zip_folder_and_json(tmp_path, task):
    path = submission(tmp_path, task)
    sub, found, items = findings(path)
    assert found == task and items == []
    folder = tmp_path / "folder"
    folder.mkdir()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            (folder / name).write_bytes(archive.read(name))
    assert findings(folder)[2] == []
    assert findings(folder / f"{task}.json")[2] == []


def test_json_syntax_error_has_line_and_column(tmp_path):
    path = make_zip(tmp_path / "x.zip", {"bias.json": b'{"biases": [\n  {"prompt": "a",}\n]}'})
    (error,) = errors(path)
    assert error[1] == "bias.json:2:18" and "does not parse" in error[2]


def test_wrong_encoding_and_shape(tmp_path):
    latin = make_zip(tmp_path / "a.zip", {"bias.json": '{"biases": "café"}'.encode("latin-1")})
    assert "not UTF-8" in errors(latin)[0][2]
    shape = make_zip(tmp_path / "b.zip", {"bias.json": b"[1, 2]"})
    assert "top level is a list" in errors(shape)[0][2]


def test_missing_extra_and_mistyped_fields(tmp_path):
    document = story_doc()
    del document["story"]
    document["pairs"][0]["sed"] = 1
    document["pairs"][1]["seed"] = "42"
    found = errors(submission(tmp_path, "story", document))
    messages = {(w, m) for _, w, m in found}
    assert ("story.json /", "'story' is a required property") in messages
    assert any(w == "story.json /pairs/0" and "'sed' was unexpected" in m for w, m in messages)
    assert any(w == "story.json /pairs/1/seed" and "not of type 'integer'" in m
               for w, m in messages)


def test_placeholders_models_and_seeds(tmp_path):
    document = story_doc()
    document["pairs"][0]["prompt"] = "[replace with your prompt]"
    document["pairs"][1]["model"] = "[SDv1.5|SDv2.1|SDXL]"
    document["pairs"][2]["model"] = "SD1.5"
    document["pairs"][3]["seed"] = -1
    document["pairs"][4]["seed"] = 2**63
    found = {w: m for _, w, m in errors(submission(tmp_path, "story", document))}
    assert "placeholder" in found["story.json /pairs/0/prompt"]
    assert "placeholder" in found["story.json /pairs/1/model"]
    assert "not one of SDv1.5" in found["story.json /pairs/2/model"]
    assert "outside [0, 2^63)" in found["story.json /pairs/3/seed"]
    assert "outside [0, 2^63)" in found["story.json /pairs/4/seed"]


def test_any_model_is_a_warning_only_when_allowed(tmp_path):
    document = story_doc()
    document["pairs"][0]["model"] = "toyworld"
    path = submission(tmp_path, "story", document)
    assert errors(path)
    assert not errors(path, allow_any_model=True)
    assert "allowed by --allow-any-model" in warnings(path, allow_any_model=True)[0][2]


def test_images_missing_case_broken_and_mislabelled(tmp_path):
    files = files_for(story_doc())
    document = story_doc()
    document["pairs"][0]["image-path"] = "Image-1.jpg"
    document["pairs"][1]["image-path"] = "missing.jpg"
    files.update({"image-3.jpg": b"not an image", "image-4.jpg": png(fmt="PNG")})
    path = make_zip(tmp_path / "story.zip", {"story.json": json.dumps(document).encode(),
                                             **files})
    found = {w: m for _, w, m in errors(path)}
    assert "not in the submission" in found["story.json /pairs/0/image-path"]
    assert "not in the submission" in found["story.json /pairs/1/image-path"]
    assert "not a readable image" in found["story.json /pairs/2/image-path"]
    assert "is a PNG image but its name ends in '.jpg'" in found["story.json /pairs/3/image-path"]
    hints = [f.hint for f in validate(path)[0].findings]
    assert "names are case-sensitive: the file is 'image-1.jpg'" in hints


def test_counts(tmp_path):
    for task, document in [("bias", {"biases": bias_doc()["biases"][:3]}),
                           ("story", story_doc(5)), ("open-ended", open_doc(19)),
                           ("movie-poster", poster_doc(3))]:
        found = errors(submission(tmp_path, task, document))
        assert len(found) == 1 and "the assignment asks for" in found[0][2], task


def test_bias_rules(tmp_path):
    document = bias_doc()
    document["biases"][1]["description"] = "Most images of women were wrong."
    document["biases"][1]["prompt"] = "a canadian medical doctor at work"
    document["biases"][2]["harm"] = "  "
    document["biases"][3]["image-paths"] = ["image-1.jpg"]
    path = submission(tmp_path, "bias", document)
    found = findings(path)[2]
    messages = [m for _, _, m in found]
    assert any("no number or percentage" in m for m in messages)
    assert any("same demographic (gender" in m for m in messages)
    assert any("share the context 'doctor, medical'" in m for m in messages)
    assert ("error", "bias.json /biases/2/harm", "empty text") in found
    assert any(level == "warning" and "also used by bias 0" in m for level, _, m in found)


def test_zip_hygiene(tmp_path):
    document = story_doc()
    entries = {"story.json": json.dumps(document).encode(), **files_for(document)}
    folders = make_zip(tmp_path / "f.zip", {f"sub/{k}": v for k, v in entries.items()})
    assert any("contains folders" in m for _, _, m in errors(folders))
    junk = make_zip(tmp_path / "j.zip", {**entries, "__MACOSX/._story.json": b"x",
                                         ".DS_Store": b"x"})
    assert not errors(junk) and len(warnings(junk)) == 2
    none = make_zip(tmp_path / "n.zip", files_for(document))
    assert "no JSON file" in errors(none)[0][2]
    two = make_zip(tmp_path / "t.zip", {**entries, "bias.json": b"{}"})
    assert "2 JSON files" in errors(two)[0][2]
    assert not errors(two, task="story")  # --task picks story.json


class _RawName(zipfile.ZipInfo):
    """A zip entry whose name is stored as cp437 bytes without the UTF-8 flag."""

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own hook name
        return self.filename.encode("cp437"), self.flag_bits


def test_hostile_zips_are_refused_without_writing_anything(tmp_path):
    document = story_doc()
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("story.json", json.dumps(document))
        for name, data in files_for(document).items():
            archive.writestr(name, data)
        archive.writestr("../../etc/evil.txt", b"x")
        archive.writestr("/abs.txt", b"x")
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("bomb.png", b"\0" * (8 * 2**20))
        archive.writestr(_RawName("caf\xe9.png"), png())
    before = set(os.listdir(tmp_path))
    found = {w.split("!")[-1]: m for _, w, m in errors(path)}
    assert set(os.listdir(tmp_path)) == before
    assert "climbs out" in found["../../etc/evil.txt"]
    assert "absolute" in found["/abs.txt"]
    assert "symbolic link" in found["link.png"]
    assert "zip bomb" in found["bomb.png"]
    assert "not UTF-8" in found["café.png"]


def test_huge_json_is_refused(tmp_path):
    path = make_zip(tmp_path / "big.zip", {"story.json": b'{"story": "' + b"a" * (6 * 2**20)
                                           + b'"}'}, compression=zipfile.ZIP_STORED)
    assert "larger than" in errors(path)[0][2]


def test_cli_exit_codes_and_json_report(tmp_path):
    good = submission(tmp_path, "bias")
    assert run_cli("validate", str(good)).returncode == 0
    bad = submission(tmp_path, "story", story_doc(5))
    result = run_cli("validate", str(bad), "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    jsonschema.validate(document, json.loads(
        (schemas_dir() / "validation-report.schema.json").read_text()))
    assert document["valid"] is False and document["errors"] == 1
    (tmp_path / "text.zip").write_text("not a zip")
    assert run_cli("validate", str(tmp_path / "text.zip")).returncode == 2
    assert run_cli("validate", str(tmp_path / "missing.zip")).returncode == 2


def test_report_shape(tmp_path):
    path = submission(tmp_path, "movie-poster")
    sub, task = validate(path)
    assert report(path, sub, task)["valid"] is True


def test_folders_in_a_zip_are_one_error_with_a_hint_for_this_task(tmp_path):
    document = poster_doc()
    entries = {f"poster/{name}": data for name, data in files_for(document).items()}
    entries["poster/movie-poster.json"] = json.dumps(document).encode()
    path = make_zip(tmp_path / "movie-poster.zip", entries)
    sub, task = validate(path)
    folder_errors = [f for f in sub.findings if "contains folders" in f.message]
    assert task == "movie-poster" and len(folder_errors) == 1
    assert "(poster/)" in folder_errors[0].message
    assert folder_errors[0].hint.startswith("zip the JSON and images directly")
    assert "movie-poster.json" in folder_errors[0].hint and "bias" not in folder_errors[0].hint


def test_broken_json_still_names_its_task(tmp_path):
    path = make_zip(tmp_path / "bias.zip", {"bias.json": b'{"biases": [}'})
    sub, task = validate(path)
    assert task == "bias"
    assert any("JSON does not parse" in f.message for f in sub.findings)


def test_a_zip_named_json_is_read_as_a_zip_with_a_warning(tmp_path):
    path = submission(tmp_path, "story")
    renamed = path.rename(tmp_path / "my-story.json")
    sub, task = validate(renamed)
    assert task == "story"
    assert any(f.level == "warning" and "zip file with a .json name" in f.message
               for f in sub.findings)


def test_pipes_are_findings_and_a_json_argument_reads_only_its_images(tmp_path):
    import os
    import time

    folder = tmp_path / "submission"
    folder.mkdir()
    document = story_doc()
    (folder / "story.json").write_text(json.dumps(document))
    for name, data in files_for(document).items():
        (folder / name).write_bytes(data)
    os.mkfifo(folder / "pipe.png")
    started = time.monotonic()
    sub, _ = validate(folder)
    assert time.monotonic() - started < 10  # the FIFO is never opened
    assert any("not a regular file" in f.message for f in sub.findings)
    (folder / "unrelated.bin").write_bytes(b"x" * 1000)
    sub, task = validate(folder / "story.json")
    assert task == "story" and set(sub.files) == set(files_for(document))
    assert not [f for f in sub.findings if f.level == "error"]


def test_duplicate_zip_entries_and_pixel_bombs_are_errors(tmp_path):
    import io

    from PIL import Image

    document = bias_doc()
    entries = {"bias.json": json.dumps(document).encode(), **files_for(document)}
    path = make_zip(tmp_path / "bias.zip", entries)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("image-1.jpg", png((1, 2, 3), "JPEG"))
    assert any("a second entry named 'image-1.jpg'" in m for _, _, m in errors(path))
    buffer = io.BytesIO()
    Image.new("L", (8000, 6000)).save(buffer, format="PNG")  # 48 MP, a few kB compressed
    entries["image-1.jpg"] = buffer.getvalue()
    document["biases"][0]["image-paths"] = ["image-1.png"]
    entries["image-1.png"] = entries.pop("image-1.jpg")
    entries["bias.json"] = json.dumps(document).encode()
    path = make_zip(tmp_path / "bomb.zip", entries)
    assert any("8000x6000 pixels; more than 40000000 is refused" in m
               for _, _, m in errors(path))
