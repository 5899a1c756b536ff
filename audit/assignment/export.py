"""Build assignment zips from a finished run; every export passes validate.

Bias findings come from stats.json: demographic results that hold after
correction against a reference, in distinct contexts and attributes; the
description carries the statistic and the harm sentence is a careful default
the user must read and edit. Other tasks take images chosen by image id from
the run's records.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.assignment import MODELS
from audit.errors import InvalidInput, UsageError
from audit.generators.loading import ALIASES
from audit.rundir import RunDir
from audit.rundir.atomic import write_bytes
from audit.rundir.card import RunCard
from audit.stats.run_tables import PERSON, SAFETY_ATTRIBUTES

WORDS = {"gender_presentation": "perceived gender presentation",
         "skin_tone_group": "perceived skin tone", "monk_tone": "Monk skin tone (colorimetry)",
         "age_group": "perceived age group"}
# Default harm sentences, filled with the prompt (quoted) and the category, so
# they read as English whatever the group is called. The user must edit them.
HARMS = {
    "gender_presentation": "Images for \u201c{prompt}\u201d rarely show {category}-presenting "
                           "people, which reinforces the stereotype that this role is not "
                           "theirs (representation harm).",
    "skin_tone_group": "Images for \u201c{prompt}\u201d show people with {category} skin less "
                       "often than the reference, erasing them from this picture "
                       "(erasure and stereotyping).",
    "monk_tone": "Images for \u201c{prompt}\u201d skew the skin tones shown, with Monk tone "
                 "{category} under-represented (representation harm).",
    "age_group": "Images for \u201c{prompt}\u201d rarely show {category} people, a stereotyped "
                 "picture of who this is (representation harm).",
}
GENERIC_HARM = ("Images for \u201c{prompt}\u201d under-represent '{category}' ({words}), a "
                "stereotyped picture of who this is (representation harm).")


def default_harm(attribute: str, category: str, prompt: str) -> str:
    template = HARMS.get(attribute, GENERIC_HARM)
    words = WORDS.get(attribute, attribute.replace("_", " "))
    return template.format(prompt=prompt, category=category.replace("_", " "), words=words)


@dataclass(frozen=True)
class BiasFinding:
    item_id: str
    attribute: str
    category: str


def course_model_name(card: RunCard, allow_any_model: bool) -> str:
    model = card.model_id or ""
    if model in MODELS:
        return model
    for alias, hub_id in ALIASES.items():
        if alias in MODELS and model == hub_id:
            return alias
    if not allow_any_model:
        raise InvalidInput(f"model '{model}' is not one of {', '.join(MODELS)}, the only "
                           "names the course accepts; pass --allow-any-model to export anyway "
                           "(the zip will then need 'audit validate --allow-any-model')",
                           where="run.json /model/id")
    return model


def _zip(path: Path, document: dict[str, Any], json_name: str, images: dict[str, Path]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(json_name, json.dumps(document, indent=2, ensure_ascii=False))
        for name, source in images.items():
            archive.write(source, name)
    write_bytes(path, buffer.getvalue())


def _image_name(image_id: str, item_id: str, path: str) -> str:
    """item-seed (or the imported file's name) with the file's own extension:
    an imported JPEG stays a .jpg, as the validator checks."""
    tail = image_id.rsplit("/", 1)[-1]
    return f"{item_id}-{tail}{Path(path).suffix.lower() or '.png'}"


# Not demographic: whether a person is in the image, and safety attributes
# (NudeNet's labels, the nsfw flag, CLIP's unsafe concepts), whose unsafe
# rates are reported apart and never framed as representation.
NOT_DEMOGRAPHIC = {PERSON, *SAFETY_ATTRIBUTES}


def candidates(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows that could be a bias finding: a demographic attribute tested
    against a reference (named or asked-for parity), a category shown less
    often than the reference says; ranked named references first, then by
    adjusted p-value, then by effect."""
    rows = [r for r in stats["proportions"]
            if r["attribute"] not in NOT_DEMOGRAPHIC and r["reference"] is not None and r["n"]
            and r["p_adjusted"] is not None and r["log_odds"] is not None and r["log_odds"] < 0]
    rows.sort(key=lambda r: (r["reference"].startswith("uniform"), r["p_adjusted"],
                             -abs(r["log_odds"])))
    return rows


def choose_findings(stats: dict[str, Any], count: int = 4) -> list[BiasFinding]:
    """Up to ``count`` findings that hold after correction (adjusted p at or
    below the run's alpha), distinct in item (context) and, while possible,
    in attribute (demographic). Never one that does not hold: with fewer,
    fewer are returned and the caller says so."""
    alpha = stats["settings"]["alpha"]
    rows = [r for r in candidates(stats) if r["p_adjusted"] <= alpha]
    chosen: list[BiasFinding] = []
    for distinct_attribute in (True, False):
        for row in rows:
            if len(chosen) == count:
                return chosen
            if any(c.item_id == row["group"] or (distinct_attribute and
                                                  c.attribute == row["attribute"])
                   for c in chosen):
                continue
            chosen.append(BiasFinding(row["group"], row["attribute"], row["category"]))
    return chosen


def to_probe(stats: dict[str, Any], chosen: list[BiasFinding], limit: int = 4) -> list[str]:
    """The strongest results that do not hold yet, one per item and
    attribute, each with what ``audit plan`` needs to size a rerun."""
    taken = {(f.item_id, f.attribute) for f in chosen}
    alpha = stats["settings"]["alpha"]
    lines = []
    for row in candidates(stats):
        key = (row["group"], row["attribute"])
        if key in taken or row["p_adjusted"] <= alpha:  # chosen, or holds in a used prompt
            continue
        taken.add(key)
        reference = float(row["reference"].partition("=")[2])
        lines.append(f"{row['group']}:{row['attribute']}:{row['category']} "
                     f"({row['k']}/{row['n']}, reference {reference:.2f}, adjusted p "
                     f"{row['p_adjusted']:.2g}; images per prompt for 80% power: audit plan "
                     f"--p0 {reference:.2f} --p1 {max(row['estimate'], 0.01):.2f})")
        if len(lines) == limit:
            break
    return lines


def resolve_finding(finding: BiasFinding, stats: dict[str, Any], images: Any,
                    where: str) -> BiasFinding:
    """A finding whose item is given as the prompt's slot value ("nurse") as
    well as the item id ("a-photo-of--nurse"); an unknown one is refused
    naming the ids that exist."""
    groups = list(dict.fromkeys(r["group"] for r in stats["proportions"]))
    item = finding.item_id
    if item not in groups:
        from audit.reference_names import normalise

        by_value = {}
        for item_id, slots in images.drop_duplicates("item_id")[["item_id", "slots"]].values:
            for value in json.loads(slots or "{}").values():
                by_value.setdefault(normalise(str(value)), set()).add(item_id)
        found = sorted(by_value.get(normalise(item), set()) & set(groups))
        if len(found) > 1:
            raise InvalidInput(f"--finding '{item}' names several items ({', '.join(found)}); "
                               "give the item id", where=where)
        if not found:
            from audit.registry import suggest

            raise InvalidInput(f"--finding: no item '{item}'{suggest(item, groups)} (items: "
                               f"{', '.join(groups[:8])}{', ...' if len(groups) > 8 else ''}; "
                               "a slot value such as 'nurse' works too)", where=where)
        item = found[0]
    rows = [r for r in stats["proportions"] if r["group"] == item]
    attributes = sorted({r["attribute"] for r in rows})
    if finding.attribute not in attributes:
        raise InvalidInput(f"--finding: item '{item}' has no attribute '{finding.attribute}' "
                           f"(it has {', '.join(attributes)})", where=where)
    categories = [r["category"] for r in rows if r["attribute"] == finding.attribute]
    if finding.category not in categories:
        raise InvalidInput(f"--finding: {finding.attribute} has no category "
                           f"'{finding.category}' (it has {', '.join(categories)})",
                           where=where)
    return BiasFinding(item, finding.attribute, finding.category)


def describe(row: dict[str, Any], prompt: str, generated: int, model: str,
             alpha: float = 0.05) -> str:
    words = WORDS.get(row["attribute"], row["attribute"])
    seen = (f"using the prompt \"{prompt}\" to generate {generated} images with {model}, "
            f"{row['k']} of {row['n']} confidently labelled images ({row['estimate']:.0%}, "
            f"95% CI {row['ci_low']:.0%}-{row['ci_high']:.0%}) were perceived as "
            f"{row['category']}")
    caveat = " Labels are perceptions by a classifier, not identities."
    if row["reference"] is None or row["p_value"] is None:
        return (f"For '{row['category']}' ({words}), no reference covers this prompt, so "
                f"nothing was tested: {seen[0].upper()}{seen[1:]}.{caveat}")
    source, _, share = row["reference"].partition("=")
    ref_text = (f"a uniform split would give {float(share):.0%}" if source == "uniform" else
                f"the reference ({source}) gives {float(share):.0%}")
    holds = row["p_adjusted"] is not None and row["p_adjusted"] <= alpha
    verdict = "" if holds else (" This is not significant after correction: these images "
                                "do not show a difference from the reference.")
    return (f"For '{row['category']}' ({words}), {ref_text}. "
            f"{'However, ' + seen if holds else seen[0].upper() + seen[1:]}; "
            f"{row['test']} p = {row['p_value']:.2g}, adjusted p = {row['p_adjusted']:.2g}."
            f"{verdict}{caveat}")


@dataclass(frozen=True)
class BiasExport:
    notes: list[str]
    complete: bool  # False: fewer than four findings hold; the zip has what holds


def export_bias(run_dir: Path, out: Path, *, findings: list[BiasFinding] | None = None,
                harms: list[str] | None = None, descriptions: list[str] | None = None,
                images_per_bias: int = 6, strict: bool = False) -> BiasExport:
    """bias.zip from the run's statistics; ``harms`` and ``descriptions``
    replace the drafted texts, in the findings' order. Chosen findings are
    only ones that hold after correction; when fewer than four do, the zip
    holds those and the notes list what to probe next (``strict``: refuse).
    A finding the user names is exported as it is, its description saying
    whether it holds (``strict``: refused when it does not)."""
    run = RunDir(run_dir).require()
    stats_path = run.stats_json
    stats = run.require_fresh_stats()
    notes = []
    if stats is None:  # a scored run without statistics yet: assess it, in memory only
        if not run.is_scored():
            raise UsageError("not scored yet: run 'audit score RUN' first", where=str(run_dir))
        from audit.pipeline.assessment import assess

        try:
            stats = assess(run=Path(run_dir), write=False).document
        except UsageError as exc:  # its fix names audit stats' flags, not export's
            said = exc.message.split("; say which")[0]
            raise UsageError(f"{said}: say which with 'audit stats {run_dir} --answer "
                             "ATTRIBUTE=SCORER' (or the suite's answers:), then export",
                             where=exc.where) from None
        notes.append(f"no {stats_path}: assessed in memory with default settings and not "
                     "saved ('audit stats RUN' writes it, with other settings if you like)")
    card = run.card()
    model = card.model_id or "the model"
    if course_model_name(card, allow_any_model=True) not in MODELS:
        notes.append(f"model '{model}' is not one the course's Space lists "
                     f"({', '.join(MODELS)}): check that the course accepts findings from it")
    images = run.read_images()
    alpha = stats["settings"]["alpha"]
    where = str(stats_path)
    lookup = {(r["group"], r["attribute"], r["category"]): r for r in stats["proportions"]}
    if findings:
        findings = [resolve_finding(f, stats, images, where) for f in findings]
        weak = [f for f in findings
                if (lookup[(f.item_id, f.attribute, f.category)]["p_adjusted"] or 1) > alpha]
        if weak and strict:
            raise InvalidInput(f"--strict: {len(weak)} named finding(s) do not hold after "
                               f"correction at alpha {alpha}: " + ", ".join(
                                   f"{f.item_id}:{f.attribute}:{f.category}" for f in weak),
                               where=where)
        for f in weak:
            notes.append(f"{f.item_id}:{f.attribute}:{f.category} does not hold after "
                         "correction; its description says so")
    else:
        findings = choose_findings(stats)
        if len(findings) < 4:
            probe = to_probe(stats, findings)
            used = {f.item_id for f in findings}
            also = len({(r["group"], r["attribute"]) for r in candidates(stats)
                        if r["p_adjusted"] <= alpha and r["group"] in used}) - len(findings)
            said = (f"{len(findings)} of the 4 biases the course asks for hold after "
                    f"{stats['multiplicity']['method']} correction at alpha {alpha} in "
                    "different prompts" + (f" ({also} more hold in prompts already used)"
                                           if also > 0 else ""))
            more = ("; to probe next (more images, or other prompts): " + "; ".join(probe)
                    if probe else "; no other demographic result was tested against a "
                    "reference (a suite or --reference names one)")
            if strict or not findings:
                raise InvalidInput(said + more, where=where)
            notes.append(f"only {said}: the zip holds those and does not pass audit validate "
                         f"until it has 4{more}")
    biases, files = [], {}
    for index, finding in enumerate(findings):
        row = lookup[(finding.item_id, finding.attribute, finding.category)]
        item = images[(images.item_id == finding.item_id) & (images.status == "ok")]
        if item.empty:
            raise InvalidInput(f"no valid images for item '{finding.item_id}'",
                               where=str(run.images_table))
        prompt = item.prompt.iloc[0]
        chosen = item.sort_values("seed").head(images_per_bias)
        for image in chosen.itertuples():
            files[_image_name(image.image_id, image.item_id, image.path)] = run.image_file(
                image.path)
        harm = (harms[index] if harms and index < len(harms) else
                default_harm(finding.attribute, finding.category, prompt))
        if not harms or index >= len(harms):
            notes.append(f"bias {index}: default harm sentence written; read and edit it")
        description = (descriptions[index] if descriptions and index < len(descriptions)
                       else describe(row, prompt, len(item), model, alpha))
        biases.append({"prompt": prompt, "description": description,
                       "harm": harm,
                       "image-paths": [_image_name(i.image_id, i.item_id, i.path)
                                       for i in chosen.itertuples()]})
    _zip(out, {"biases": biases}, "bias.json", files)
    return BiasExport(notes, complete=len(biases) == 4)


def bias_drafts(run_dir: Path, findings: list[BiasFinding]) -> list[tuple[str, str]]:
    """(description, harm) as export_bias would draft them, for editing."""
    run = RunDir(run_dir).require()
    stats = run.read_stats() or {"proportions": [], "settings": {"alpha": 0.05}}
    model = run.card().model_id or "the model"
    images = run.read_images()
    lookup = {(r["group"], r["attribute"], r["category"]): r for r in stats["proportions"]}
    drafts = []
    for finding in findings:
        row = lookup.get((finding.item_id, finding.attribute, finding.category))
        item = images[(images.item_id == finding.item_id) & (images.status == "ok")]
        prompt = item.prompt.iloc[0] if len(item) else finding.item_id
        drafts.append((describe(row, prompt, len(item), model, stats["settings"]["alpha"])
                       if row else "",
                       default_harm(finding.attribute, finding.category, prompt)))
    return drafts


def selection_from_picks(picks: list[str], **texts: str | None) -> dict[str, Any]:
    """``--pick ITEM/SEED ...`` (and --story / --goal) as a selection."""
    return {"pairs": [{"image": pick} for pick in picks],
            **{k: v for k, v in texts.items() if v is not None}}


def export_pairs(task: str, run_dir: Path, selection: Path | dict[str, Any], out: Path, *,
                 allow_any_model: bool = False) -> None:
    """story / open-ended / movie-poster from a YAML selection of image ids
    (or the same as a dict, e.g. from ``selection_from_picks``)."""
    from audit.data_files import read_yaml

    spec = selection if isinstance(selection, dict) else read_yaml(selection,
                                                                   what="selection")
    selection = "--pick" if isinstance(selection, dict) else selection
    if not isinstance(spec, dict) or not isinstance(spec.get("pairs"), list):
        raise InvalidInput("a selection needs a 'pairs' list of {image: IMAGE_ID, ...}",
                           where=f"{selection} /pairs")
    run = RunDir(run_dir).require()
    images = run.read_images().set_index("image_id")
    model = course_model_name(run.card(), allow_any_model) if task != "movie-poster" \
        else None
    pairs, files = [], {}
    for index, entry in enumerate(spec["pairs"]):
        image_id = entry.get("image") if isinstance(entry, dict) else None
        if not isinstance(image_id, str):
            raise InvalidInput(f"expected an image id such as ITEM/SEED, got "
                               f"{str(image_id)[:80]!r}",
                               where=f"{selection} /pairs/{index}/image")
        if image_id not in images.index:
            raise InvalidInput(f"image '{image_id}' is not in the run",
                               where=f"{selection} /pairs/{index}/image")
        row = images.loc[image_id]
        if row.status != "ok":
            raise InvalidInput(f"image '{image_id}' has status {row.status}",
                               where=f"{selection} /pairs/{index}/image")
        name = _image_name(image_id, row.item_id, row.path)
        files[name] = run.image_file(row.path)
        if not isinstance(row.prompt, str):
            raise InvalidInput(f"image '{image_id}' has no recorded prompt (an import without "
                               "one: give it in a --manifest)",
                               where=f"{selection} /pairs/{index}/image")
        pair: dict[str, Any] = {"prompt": row.prompt}
        if task != "movie-poster":
            if row.seed is None or row.seed != row.seed:  # null or NaN
                raise InvalidInput(f"image '{image_id}' has no recorded seed, which the "
                                   f"{task} JSON needs (give it in an import --manifest)",
                                   where=f"{selection} /pairs/{index}/image")
            pair.update(model=model, seed=int(row.seed))
        pair["image-path"] = name
        if task == "open-ended":
            pair.update(correct=entry.get("correct", ""), incorrect=entry.get("incorrect", ""))
        pairs.append(pair)
    if task == "story":
        document = {"pairs": pairs, "story": spec.get("story", "")}
    elif task == "open-ended":
        document = {"goal": spec.get("goal", ""), "pairs": pairs}
    else:
        document = {"title": spec.get("title", ""), "genre": spec.get("genre", ""),
                    "constraints": list(spec.get("constraints", [])), "pairs": pairs}
    _zip(out, document, f"{task}.json", files)


def parse_finding(text: str) -> BiasFinding:
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"--finding must be ITEM:ATTRIBUTE:CATEGORY, got '{text}'")
    return BiasFinding(*parts)



