"""``audit import``: images made elsewhere become a run directory."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from audit.reference_names import unmatched_text

console = Console()


def import_(
    folder: Path = typer.Argument(..., help="Folder of images (PNG, JPEG, WebP, ...)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to create or grow."),
    manifest: Path | None = typer.Option(None, "--manifest", help="CSV or JSONL with image "
                                         "(path in the folder), prompt, seed, model, "
                                         "negative_prompt, steps, guidance, width, height, "
                                         "group and slot columns; wins over the files."),
    model: str | None = typer.Option(None, "--model", "-m", help="The model every image "
                                     "comes from (e.g. SDXL), over what the files say."),
    group_by: list[str] | None = typer.Option(None, "--group-by", help="Template matched "
                                              "against prompts, e.g. 'a photo of "
                                              "{occupation|a}': the slot values become items "
                                              "(repeatable; the first match wins)."),
    name: str | None = typer.Option(None, "--name", help="Suite name of the run (default "
                                    "import-FOLDER)."),
    reference: str | None = typer.Option(None, "--reference", help="Named reference the "
                                         "shares are tested against (bls-cps-2025 with an "
                                         "occupation slot; uniform for parity; several, "
                                         "comma-separated, tried in order per attribute). "
                                         "None: intervals without a test."),
    attributes: str | None = typer.Option(None, "--attributes", help="Comma-separated "
                                          "attributes to audit (default: every one scored)."),
    link: bool = typer.Option(False, "--link", help="Hard-link files instead of copying "
                              "(same file system)."),
) -> None:
    """Make a run of images from a WebUI, ComfyUI, InvokeAI, the course's
    generator or any folder, reading prompts, seeds and settings from each
    file's metadata and an optional manifest; then score, stats, report, view
    and export work on it. Nothing missing is guessed: it is listed.

    Example: audit import outputs/ --out runs/mine --model SDXL
    --group-by "a photo of {occupation|a}"
    """
    import audit
    from audit.cli.render import print_table

    result = audit.import_images(
        folder=folder, out=out, manifest=manifest, model=model, group_by=group_by, name=name,
        reference=reference, link=link,
        attributes=[a.strip() for a in attributes.split(",") if a.strip()] if attributes
        else None, command=shlex.join(["audit", *sys.argv[1:]]))
    console.print(f"imported {result.added} image(s) into {result.run_dir} "
                  f"({result.items} item(s)); {result.already} already there; "
                  f"{result.errors} unreadable", markup=False)
    if result.sources:
        console.print("metadata from: " + ", ".join(f"{k} {v}" for k, v in
                                                    sorted(result.sources.items())),
                      markup=False)
    if result.missing:
        print_table(console, ("field", "images without it"),
                    sorted(result.missing.items()),
                    title="Missing (recorded as missing, never guessed)")
    for note, count in sorted(result.notes.items()):
        console.print(f"not resolved ({count}x): {note}", markup=False)
    if result.ungrouped:
        console.print(f"{result.ungrouped} image(s) matched no --group-by template: grouped "
                      "by their whole prompt", markup=False)
    print_matches(result.reference_matches, reference)
    console.print(f"next: audit score {result.run_dir}", markup=False)


def print_matches(matches: list[dict[str, Any]], reference: str | None) -> None:
    if reference is None:
        console.print("no --reference: shares get intervals but no test against a reference "
                      "(--reference bls-cps-2025 for occupations, --reference uniform for "
                      "parity)", markup=False)
        return
    matched = [m for m in matches if m["row"] is not None]
    renamed = [f"{m['keys'][0]} -> {m['row']}" for m in matched
               if m["how"] in ("alias", "normalised")]
    if matches:
        console.print(f"reference {reference}: {len(matched)} of {len(matches)} item(s) "
                      "matched a row" + (f" ({', '.join(renamed)})" if renamed else ""),
                      markup=False, soft_wrap=True)
    for m in matches:
        if m["row"] is None:
            console.print(unmatched_text(m, reference), markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
