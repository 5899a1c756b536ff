"""Where bundled data lives, for a source checkout and for an installed wheel.

The wheel carries the top-level ``probes/`` and ``schemas/`` folders inside
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


def viewer_app() -> Path:
    """The Streamlit viewer's script."""
    return _PACKAGE / "views" / "app.py"


def package_data_dir() -> Path:
    """Data that belongs to the code (reference tables, attribute prompts)."""
    return _PACKAGE / "data"
