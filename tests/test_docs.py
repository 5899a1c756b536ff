"""The documentation: the site builds in strict mode (a broken link or a
missing page fails), its generated parts come from the code, the README stays
a front door, and architecture.md names only files that exist."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_site_builds_in_strict_mode_with_generated_references(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                             str(site)], cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    cli = (site / "cli" / "index.html").read_text()
    import importlib.util

    spec = importlib.util.spec_from_file_location("hook", REPO / "docs/hooks/reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    sections = re.findall(r"^## `(audit [^`]+)`", hook.markdown(), flags=re.M)
    assert {"audit run", "audit stats", "audit labels import", "audit probes list"} <= set(
        sections)
    for name in sections:
        assert name in cli, name
    assert "--ray-actors" in cli and "--max-cost" in cli  # options, from the commands' help
    api = (site / "api" / "index.html").read_text()
    assert "Generate every item x seed" in api  # audit.generate's docstring
    scorers = (site / "scorers" / "index.html").read_text()
    assert "upsample" in scorers  # face_attributes' declared option


def test_the_readme_is_a_front_door_not_a_manual():
    readme = (REPO / "README.md").read_text().splitlines()
    assert len(readme) <= 200
    text = "\n".join(readme)
    assert 'pip install -e . && audit demo' in text
    assert 'pip install -e ".[dev,nsfw,faces,api,ray]" && python -m pytest' in text
    for link in re.findall(r"\]\(((?:docs|benchmarks)/[^)#]+)", text):
        assert (REPO / link).is_file(), link


def _exists(dotted: str) -> bool:
    """``audit.stats.assess.is_diagnostic``: the longest module prefix is a
    file or package, and what follows is defined in it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:cut])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else (
            base / "__init__.py" if base.is_dir() else None)
        if source is None:
            continue
        rest = parts[cut:]
        if not rest:
            return True
        text = source.read_text()
        return bool(re.search(rf"^\s*(def|class) {rest[0]}\b|^{rest[0]}\b.*=|"
                              rf"import .*\b{rest[0]}\b|\"{rest[0]}\"", text, flags=re.M))
    return False


def test_architecture_names_only_modules_that_exist():
    text = (REPO / "docs" / "architecture.md").read_text()
    paths = set(re.findall(r"`(audit/[\w/]+(?:\.py|/)?)`", text))
    dotted = {m.rstrip(".") for m in re.findall(r"`(audit\.[\w.]+)", text)}
    assert len(paths) > 20 and len(dotted) > 5
    missing = [p for p in sorted(paths) if not (REPO / p).exists()]
    missing += [d for d in sorted(dotted) if not _exists(d)]
    assert not missing, missing
