"""Hostile metadata and names at ``audit import`` (issues 32 and 33): a value
that is not a usable number is a missing field with a note, never an
unreadable image; a graph too deep or of the wrong shape is a note; XMP,
A1111 fields and ``--group-by`` take linear time on adversarial text; names
from files are bounded; a manifest stops at its first bad row unread."""

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, PngImagePlugin

from audit.cli import main
from audit.importing.grouping import Template
from audit.importing.metadata import read_metadata, split_fields, xmp_text


def audit(*args: str) -> int:
    """The CLI's exit code (it returns on success, exits otherwise)."""
    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code
    return 0


def png(path, **chunks):
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (200, 100, 50)).save(path, pnginfo=info)
    return path


DEEP = "[" * 100_000 + "]" * 100_000
CHUNKS = {
    "a1111-seed-past-int64": ({"parameters": "a cat\nSteps: 20, Seed: 99999999999999999999999, "
                                             "Size: 16x16"}, "seed",
                              "a1111: unusable value of seed"),
    "a1111-steps-past-int64": ({"parameters": "a cat\nSteps: 99999999999999999999999, "
                                              "Seed: 3, Size: 16x16"}, "steps",
                               "a1111: unusable value of steps"),
    "a1111-seed-nan": ({"parameters": "a cat\nSteps: 20, Seed: nan, Size: 16x16"}, "seed",
                       "a1111: unusable value of seed"),
    "a1111-cfg-inf": ({"parameters": "a cat\nSteps: 20, CFG scale: inf, Seed: 1"}, "guidance",
                      "a1111: unusable value of guidance"),
    "comfyui-deep": ({"prompt": DEEP}, "prompt", "comfyui: not readable (RecursionError)"),
    "comfyui-list": ({"prompt": "[1, 2, 3]"}, "prompt",
                     "comfyui: the 'prompt' chunk is not a node graph"),
    "comfyui-inputs-list": ({"prompt": json.dumps({"3": {"class_type": "KSampler",
                                                         "inputs": [1, 2]}})}, "prompt",
                            "comfyui: not readable (AttributeError)"),
    "comfyui-seed-infinity": ({"prompt": json.dumps({"3": {"class_type": "KSampler", "inputs": {
        "seed": float("inf"), "steps": 20}}})}, "seed", "comfyui: unusable value of seed"),
    "invokeai-inf": ({"invokeai_metadata": '{"positive_prompt": "a cat", "seed": Infinity, '
                                           '"steps": 20}'}, "seed",
                     "invokeai: unusable value of seed"),
    "invokeai-list": ({"invokeai_metadata": "[1]"}, "prompt", None),
}


@pytest.mark.parametrize("case", list(CHUNKS))
def test_unusable_metadata_is_a_missing_field_with_a_note(tmp_path, case):
    chunks, field, note = CHUNKS[case]
    found = read_metadata(png(tmp_path / "a.png", **chunks))
    assert field not in found.fields
    assert found.fields["width"] == 16  # the pixels were read
    if note:
        assert any(note in n for n in found.notes), found.notes


def test_an_exact_19_digit_seed_survives(tmp_path):
    found = read_metadata(png(tmp_path / "a.png", parameters="a cat\nSteps: 20, "
                                                             "Seed: 9223372036854775807"))
    assert found.fields["seed"] == 2**63 - 1  # through a float it became 2**63


def test_import_keeps_those_images_with_status_ok(tmp_path, capsys):
    for case, (chunks, _, _) in CHUNKS.items():
        png(tmp_path / "in" / f"{case}.png", **chunks)
    assert audit("import", str(tmp_path / "in"), "--out", str(tmp_path / "run")) == 0, \
        capsys.readouterr()
    table = pd.read_parquet(tmp_path / "run" / "images.parquet")
    assert len(table) == len(CHUNKS) and set(table.status) == {"ok"}  # they were "error"
    notes = [n for r in table.imported for n in json.loads(r)["notes"]]
    assert any("unusable value of seed" in n for n in notes)


@pytest.mark.parametrize(("what", "call"), [
    ("xmp start tags", lambda: xmp_text("<dc:description>" * 60_000)),
    ("xmp items", lambda: xmp_text("<dc:description>" + "<rdf:li>" * 100_000
                                   + "</dc:description>")),
    ("a1111 keys", lambda: split_fields("a " * 500_000)),
    ("a1111 quotes", lambda: split_fields('k: "' * 250_000)),
    ("group-by", lambda: Template("a photo of {a} in {b} at {c} in {d} at {e}!").match(
        "a photo of " + "x in y at " * 100_000)),
])
def test_adversarial_text_takes_linear_time(what, call):
    start = time.perf_counter()
    call()
    assert time.perf_counter() - start < 2.0, what  # a backtracking pattern took minutes


def test_a_file_name_past_the_file_system_limit_is_bounded_and_kept(tmp_path, capsys):
    name = "b" * 250 + ".png"
    png(tmp_path / "in" / name)
    assert audit("import", str(tmp_path / "in"), "--out", str(tmp_path / "run")) == 0, \
        capsys.readouterr()
    row = pd.read_parquet(tmp_path / "run" / "images.parquet").iloc[0]
    assert row.status == "ok" and len(row.path.rsplit("/", 1)[1]) <= 84
    assert json.loads(row.imported)["file"] == name  # the original name is kept


def bytes_read() -> int:
    """Bytes this process has read through read() so far (Linux)."""
    line = next(x for x in Path("/proc/self/io").read_text().splitlines()
                if x.startswith("rchar:"))
    return int(line.split()[1])


def test_a_manifest_stops_at_its_first_bad_row_without_reading_the_rest(tmp_path, capsys):
    png(tmp_path / "in" / "a.png")
    head = "image,seed\na.png,1\na.png,2\n"  # line 3: the same image twice
    small, manifest = tmp_path / "small.csv", tmp_path / "m.csv"
    small.write_text(head)
    with manifest.open("w") as handle:
        handle.write(head)
        handle.write("x.png,1\n" * 6_000_000)  # 48 MB nobody needs to read
    for path in (small, manifest):  # the first call imports what the command needs
        before = bytes_read()
        with pytest.raises(SystemExit) as code:
            main(["import", str(tmp_path / "in"), "--out", str(tmp_path / "run"),
                  "--manifest", str(path)])
        assert code.value.code == 1
        assert f"{path.name}:3: field image: 'a.png' appears twice" in capsys.readouterr().err
    assert bytes_read() - before < 8_000_000  # it read all 48 MB into 1.6 GB for 55 s
