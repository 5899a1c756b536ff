"""Where bundled data lives, for a source checkout and for an installed wheel.

The wheel carries the top-level ``probes/``, ``schemas/`` and ``reports/`` folders inside
``audit/_data`` (see pyproject.toml); a checkout or editable install reads
them from the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def probes_dir() -> Path:
    return _bundled("probes")


def schemas_dir() -> Path:
    return _bundled("schemas")


def reports_dir() -> Path:
    """The Streamlit viewer's scripts."""
    return _bundled("reports")


def package_data_dir() -> Path:
    """Data that belongs to the code (reference tables, attribute prompts)."""
    return _PACKAGE / "data"
