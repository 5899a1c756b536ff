"""C2PA manifests, read and validated offline by c2pa-python.

Without a trust list a well-signed manifest is ``valid_untrusted``: the
claim is intact, but who signed it is not vouched for. Remote manifests and
OCSP are never fetched (an audit reads only the files it was given): a file
that points to a manifest elsewhere is ``remote``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ABSENT, VALID_UNTRUSTED, TRUSTED, INVALID, REMOTE, UNREADABLE = (
    "absent", "valid_untrusted", "trusted", "invalid", "remote", "unreadable")
_STATES = {"Valid": VALID_UNTRUSTED, "Trusted": TRUSTED, "Invalid": INVALID}


@dataclass(frozen=True)
class ManifestReading:
    state: str
    claim_generator: str | None = None
    note: str | None = None


def context(trust_anchors: str | None = None):  # noqa: ANN201 (c2pa.Context)
    """A reader context that stays offline; ``trust_anchors``: PEM text of
    the certificates a manifest's signer must chain to for ``trusted``."""
    import c2pa

    settings: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
        settings["verify"]["verify_trust"] = True
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def _generator(document: dict) -> str | None:
    active = (document.get("manifests") or {}).get(document.get("active_manifest") or "") or {}
    info = active.get("claim_generator_info") or []
    if info and isinstance(info[0], dict) and info[0].get("name"):
        version = info[0].get("version")
        return f"{info[0]['name']} {version}" if version else str(info[0]["name"])
    generator = active.get("claim_generator")
    return str(generator) if generator else None


def read_manifest(path: Path, reader_context=None) -> ManifestReading:  # noqa: ANN001
    import c2pa

    try:
        reader = c2pa.Reader(str(path), context=reader_context or context())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            return ManifestReading(ABSENT)
        if str(exc).startswith("Remote"):  # the file names a manifest stored elsewhere
            return ManifestReading(REMOTE, note="its C2PA manifest is remote (not fetched)")
        return ManifestReading(UNREADABLE, note=f"{type(exc).__name__}: {str(exc)[:200]}")
    try:
        state = _STATES.get(reader.get_validation_state() or "", INVALID)
        return ManifestReading(state, _generator(json.loads(reader.json())))
    finally:
        reader.close()
