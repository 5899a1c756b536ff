"""Check a course-assignment submission and report every problem at once.

Each finding says where (file, JSON pointer, or line:column) and what to do.
Errors make the submission invalid; warnings are things a marker may frown
at (a description without a number, images shared between biases).
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from audit.assignment import MODELS, TASKS
from audit.assignment.submission import MAX_JSON_BYTES, Submission, read_submission
from audit.paths import schemas_dir
from audit.registry import suggest

COUNTS = {"bias": (4, 4, "biases"), "story": (6, 6, "pairs"), "open-ended": (20, None, "pairs"),
          "movie-poster": (4, 4, "pairs")}
PLACEHOLDER = re.compile(r"\[(replace|insert|your|add|describe|fill)[^\]]*\]|"
                         r"\[SDv1\.5\s*\|\s*SDv2\.1\s*\|\s*SDXL\]", re.IGNORECASE)
FORMATS = {"PNG": (".png",), "JPEG": (".jpg", ".jpeg"), "WEBP": (".webp",), "GIF": (".gif",),
           "BMP": (".bmp",)}
NUMBER = re.compile(r"\d")
MAX_PIXELS = 40_000_000  # checked from the header; decoding more is refused
# Words that name a demographic axis, for the "different demographic" heuristic.
DEMOGRAPHICS = {
    "gender": {"gender", "female", "male", "woman", "women", "man", "men", "girl", "boy",
               "feminine", "masculine"},
    "skin tone / race": {"skin", "race", "racial", "white", "black", "asian", "ethnicity",
                         "ethnic", "lighter", "darker", "light-skinned", "dark-skinned"},
    "age": {"age", "old", "older", "young", "younger", "elderly", "aged"},
    "body": {"weight", "fat", "thin", "body", "disabled", "disability", "wheelchair"},
    "religion": {"religion", "religious", "muslim", "christian", "jewish", "hindu"},
}
GENERIC = {"group", "person", "present"}


@cache
def demographic_axes() -> dict[str, frozenset[str]]:
    """The fixed axes above plus one per attribute of the bundled attribute
    files (its name's words and its label names), so a world with its own
    attributes (the toy world's 'presentation') gets the same check."""
    from audit.data_files import clip_attributes
    from audit.paths import package_data_dir

    axes = {axis: frozenset(words) for axis, words in DEMOGRAPHICS.items()}
    for path in sorted((package_data_dir() / "attributes").glob("*attributes.yaml")):
        for name, spec in clip_attributes(path)["attributes"].items():
            if spec.get("gate"):
                continue
            words = set(name.split("_")) - GENERIC
            words |= {label.lower() for label in spec["labels"] if len(label) > 2}
            axes[name] = axes.get(name, frozenset()) | frozenset(words)
    return axes


STOPWORDS = {"a", "an", "the", "of", "photo", "picture", "image", "portrait", "face", "in",
             "on", "with", "and", "at", "to", "person", "people", "canadian", "american"}


@cache
def _schema(task: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(
        (schemas_dir() / "assignment" / f"{task}.schema.json").read_text()))


def infer_task(name: str, document: Any) -> str | None:
    stem = Path(name).stem.lower().replace("_", "-")
    if stem in TASKS:
        return stem
    if isinstance(document, dict):
        keys = set(document)
        for task, key in (("bias", "biases"), ("story", "story"), ("open-ended", "goal"),
                          ("movie-poster", "title")):
            if key in keys:
                return task
    return None


def _pointer(path: Any) -> str:
    return "/" + "/".join(str(p) for p in path)


class Checker:
    def __init__(self, sub: Submission, json_name: str, task: str, document: Any,
                 allow_any_model: bool) -> None:
        self.sub, self.json_name, self.task = sub, json_name, task
        self.document, self.allow_any_model = document, allow_any_model

    def at(self, pointer: str) -> str:
        return f"{self.json_name} {pointer}"

    def run(self) -> None:
        errors = sorted(_schema(self.task).iter_errors(self.document),
                        key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            self.sub.error(self.at(_pointer(error.absolute_path)), error.message,
                           self._schema_hint(error))
        if not isinstance(self.document, dict):
            return
        self._placeholders(self.document, "")
        self._counts()
        self._pairs()
        referenced = self._images()
        if self.task == "bias":
            self._bias_rules()
        self._unreferenced(referenced)

    def _schema_hint(self, error: Any) -> str:
        if error.validator == "additionalProperties":
            return "remove the extra field or fix its spelling"
        if error.validator == "required":
            return "add the missing field (see the course template)"
        if error.validator == "type" and error.validator_value == "integer":
            return "write the number without quotes, e.g. 42"
        return f"see schemas/assignment/{self.task}.schema.json"

    def _placeholders(self, value: Any, pointer: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._placeholders(item, f"{pointer}/{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._placeholders(item, f"{pointer}/{index}")
        elif isinstance(value, str):
            match = PLACEHOLDER.search(value)
            if match:
                self.sub.error(self.at(pointer), f"template placeholder left in: "
                               f"'{match.group(0)}'", "replace it with your own text")
            elif not value.strip():
                self.sub.error(self.at(pointer), "empty text", "fill it in")

    def _counts(self) -> None:
        low, high, key = COUNTS[self.task]
        items = self.document.get(key)
        if not isinstance(items, list):
            return
        if len(items) < low or (high is not None and len(items) > high):
            wanted = f"exactly {low}" if low == high else f"at least {low}"
            self.sub.error(self.at(f"/{key}"), f"{len(items)} {key}; the assignment asks for "
                           f"{wanted}", None)

    def _entries(self) -> list[tuple[str, dict[str, Any]]]:
        key = COUNTS[self.task][2]
        items = self.document.get(key)
        if not isinstance(items, list):
            return []
        return [(f"/{key}/{i}", item) for i, item in enumerate(items) if isinstance(item, dict)]

    def _pairs(self) -> None:
        for pointer, item in self._entries():
            if "model" in item and isinstance(item["model"], str) and not PLACEHOLDER.search(
                    item["model"]) and item["model"] not in MODELS:
                message = f"model '{item['model']}' is not one of {', '.join(MODELS)}"
                hint = f"use the course's name{suggest(item['model'], list(MODELS))}"
                if self.allow_any_model:
                    self.sub.warning(self.at(f"{pointer}/model"), message + " (allowed by "
                                     "--allow-any-model)", hint)
                else:
                    self.sub.error(self.at(f"{pointer}/model"), message, hint)
            seed = item.get("seed")
            if isinstance(seed, int) and not isinstance(seed, bool) and not 0 <= seed < 2**63:
                self.sub.error(self.at(f"{pointer}/seed"), f"seed {seed} is outside "
                               "[0, 2^63)", "use the seed the image was generated with")

    def _image_refs(self) -> list[tuple[str, str]]:
        refs = []
        for pointer, item in self._entries():
            paths = item.get("image-paths") if self.task == "bias" else [item.get("image-path")]
            if self.task == "bias" and isinstance(paths, list):
                refs += [(f"{pointer}/image-paths/{i}", p) for i, p in enumerate(paths)
                         if isinstance(p, str)]
                if not paths:
                    self.sub.error(self.at(f"{pointer}/image-paths"), "no images",
                                   "back the bias up with the images it describes")
            elif isinstance(paths, list) and isinstance(paths[0], str):
                refs.append((f"{pointer}/image-path", paths[0]))
        return refs

    def _images(self) -> set[str]:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = 64_000_000  # decompression-bomb guard
        seen: dict[str, str] = {}
        for pointer, name in self._image_refs():
            if name not in self.sub.files:
                lowered = {n.lower(): n for n in self.sub.files}
                hint = (f"names are case-sensitive: the file is '{lowered[name.lower()]}'"
                        if name.lower() in lowered else "add the image or fix the name")
                self.sub.error(self.at(pointer), f"image '{name}' is not in the submission",
                               hint)
                continue
            if self.task == "bias" and name in seen and seen[name] != pointer.split("/")[2]:
                self.sub.warning(self.at(pointer), f"image '{name}' is also used by bias "
                                 f"{seen[name]}", "use different images unless intended")
            seen.setdefault(name, pointer.split("/")[2])
            try:
                with Image.open(io.BytesIO(self.sub.files[name])) as image:
                    width, height = image.size  # from the header, before decoding
                    if width * height > MAX_PIXELS:
                        self.sub.error(self.at(pointer), f"'{name}' is {width}x{height} "
                                       f"pixels; more than {MAX_PIXELS} is refused",
                                       "resize it (a few megapixels is plenty)")
                        continue
                    image.load()
                    kind = image.format
            except Exception as exc:  # any decoder failure is a finding
                self.sub.error(self.at(pointer), f"'{name}' is not a readable image "
                               f"({type(exc).__name__})", "export the image again as PNG/JPEG")
                continue
            if Path(name).suffix.lower() not in FORMATS.get(kind, ()):
                self.sub.error(self.at(pointer), f"'{name}' is a {kind} image but its name "
                               f"ends in '{Path(name).suffix}'",
                               f"rename it to end in {FORMATS.get(kind, ('?',))[0]}")
        return set(seen) | {name for _, name in self._image_refs()}

    def _unreferenced(self, referenced: set[str]) -> None:
        if self.sub.kind == "json":
            return
        for name in self.sub.files:
            if name != self.json_name and name not in referenced and not name.endswith(
                    ".json"):
                self.sub.warning(f"{self.sub.source}!{name}", "file is not referenced by the "
                                 "JSON", "remove it or reference it")

    def _bias_rules(self) -> None:
        described: list[tuple[int, set[str], set[str]]] = []
        for pointer, item in self._entries():
            index = int(pointer.split("/")[2])
            description = str(item.get("description", ""))
            if description.strip() and not NUMBER.search(description):
                self.sub.warning(self.at(f"{pointer}/description"), "no number or percentage "
                                 "in the description", "back the bias up with statistics, "
                                 "e.g. 'only 25% of 20 images'")
            words = set(re.findall(r"[a-z][a-z-]*", f"{item.get('prompt', '')}".lower()))
            text = set(re.findall(r"[a-z][a-z-]*", description.lower()))
            axes = {axis for axis, keys in demographic_axes().items() if keys & (text | words)}
            context = words - STOPWORDS - set().union(*demographic_axes().values())
            described.append((index, axes, context))
        for i, (a, axes_a, context_a) in enumerate(described):
            for b, axes_b, context_b in described[i + 1:]:
                same = axes_a & axes_b
                if same:
                    self.sub.warning(self.at(f"/biases/{b}"), f"biases {a} and {b} seem to be "
                                     f"about the same demographic ({', '.join(sorted(same))})",
                                     "the four biases should differ in demographic")
                shared = context_a & context_b
                if shared:
                    self.sub.warning(self.at(f"/biases/{b}/prompt"), f"biases {a} and {b} share "
                                     f"the context '{', '.join(sorted(shared))}'",
                                     "the four biases should differ in context")


def validate(path: Path, *, task: str | None = None, allow_any_model: bool = False
             ) -> tuple[Submission, str | None]:
    """All findings for a submission; raises Unreadable when it cannot be read."""
    sub, candidates = read_submission(path)
    if task is not None and len(candidates) > 1 and f"{task}.json" in candidates:
        candidates = [f"{task}.json"]
    if len(candidates) != 1:
        if len(candidates) > 1:
            sub.error(str(path), f"{len(candidates)} JSON files ({', '.join(candidates)})",
                      "submit exactly one JSON file per zip")
        elif sub.kind != "json":
            sub.error(str(path), "no JSON file in the submission",
                      "add bias.json, story.json, open-ended.json or movie-poster.json")
        return sub, task
    name = candidates[0]
    raw = sub.files.get(name) if sub.kind != "json" else path.read_bytes()
    task = task or infer_task(name, None)  # from the file name, even if the JSON is broken
    if raw is None or len(raw) > MAX_JSON_BYTES:
        sub.error(name, f"JSON larger than {MAX_JSON_BYTES} bytes", "this is not a submission")
        return sub, task
    if raw.startswith(b"\xef\xbb\xbf"):
        sub.warning(name, "file starts with a UTF-8 byte-order mark", "save as UTF-8 without BOM")
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        sub.error(name, f"not UTF-8 encoded (byte {exc.start})", "save the file as UTF-8")
        return sub, task
    try:
        document = json.loads(text)
    except RecursionError:
        sub.error(name, "JSON nested too deeply to be a submission", "start from the course "
                  "template")
        return sub, task
    except json.JSONDecodeError as exc:
        sub.error(f"{name}:{exc.lineno}:{exc.colno}", f"JSON does not parse: {exc.msg}",
                  "check commas, quotes and brackets near there")
        return sub, task
    task = task or infer_task(name, document)
    if task is None:
        sub.error(name, "cannot tell which task this is", "name the file bias.json, story.json, "
                  "open-ended.json or movie-poster.json, or pass --task")
        return sub, None
    if not isinstance(document, dict):
        sub.error(f"{name} /", f"top level is a {type(document).__name__}, not an object",
                  "start from the course template")
        return sub, task
    Checker(sub, name, task, document, allow_any_model).run()
    return sub, task


def report(path: Path, sub: Submission, task: str | None) -> dict[str, Any]:
    errors = [f for f in sub.findings if f.level == "error"]
    return {"path": str(path), "task": task, "valid": not errors, "errors": len(errors),
            "warnings": len(sub.findings) - len(errors),
            "findings": [vars(f) for f in sub.findings]}



