"""``audit.import_images``: a folder of images made elsewhere -> a run directory."""

from __future__ import annotations

from pathlib import Path

from audit.importing.build import ImportResult


def import_images(*, folder: Path, out: Path, manifest: Path | None = None,
                  model: str | None = None, group_by: list[str] | None = None,
                  name: str | None = None, reference: str | list[str] | None = None,
                  attributes: list[str] | None = None, link: bool = False,
                  command: str = "audit.import_images") -> ImportResult:
    """Read each image's metadata (A1111/Forge, ComfyUI, InvokeAI, EXIF, this
    package's chunk) and the ``manifest`` (CSV/JSONL, wins over the files),
    group prompts into items (``group_by`` templates such as "a photo of
    {occupation|a}", a manifest's group column, else one item per prompt),
    and copy the files byte for byte into ``out``. Importing a grown folder
    again adds only files not imported before (by sha256).

    ``model`` names the model for every image (e.g. "SDXL", as the course's
    JSON wants it); ``reference`` and ``attributes`` are what a suite would
    say (e.g. "bls-cps-2025" with slot occupation; several names, a list or
    comma-separated, are tried in order per attribute; "uniform" is parity).
    Without a reference, shares get intervals but no test against one. How
    each item's slot values matched the reference's rows is in
    ``reference_matches``."""
    from audit.importing.build import import_folder

    return import_folder(Path(folder), Path(out), manifest=Path(manifest) if manifest else None,
                         model=model, group_by=group_by, name=name, reference=reference,
                         attributes=attributes, link=link, command=command)
