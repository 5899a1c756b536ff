"""Every case of the hostile-input corpus through the real CLI entry point:
the promised exit code, one readable line with the expected words, never an
internal error or a traceback, and nothing written outside the case's folder."""

import os
import tempfile
import time
from pathlib import Path

import pytest

from audit.cli import main
from tests.hostile.corpus import all_cases

CASES = all_cases()
LIMIT_S = 120  # seconds, generous on 2 busy cores: a hang or an exact search ran for minutes


def test_the_corpus_is_large_enough():
    """The command-line cases here, and the inputs of the other hostile
    suites (provider responses, image metadata, adversarial text)."""
    from tests.hostile import test_import_metadata, test_provider_responses

    assert len({c.name for c in CASES}) == len(CASES) >= 200
    others = len(test_provider_responses.CASES) + len(test_import_metadata.CHUNKS) + 5
    assert len(CASES) + others >= 250


def _snapshot(*folders: Path) -> set[str]:
    return {str(p) for folder in folders if folder.exists() for p in folder.iterdir()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case, tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "case"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for key in ("OPENAI_API_KEY", "STABILITY_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(work)
    for name, data in case.files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    for name, target in case.specials.items():
        if target == "fifo":
            os.mkfifo(work / name)
        elif target == "sparse":
            with open(work / name, "wb") as handle:
                handle.truncate(300 << 20)
        else:
            (work / name).symlink_to(target)
    temp = Path(tempfile.gettempdir())
    before = _snapshot(temp, home)
    args = [a.replace("{dir}", str(work)) for a in case.args]
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert time.monotonic() - start < LIMIT_S, "a hostile input must not run long"
    out = capsys.readouterr()
    text = out.out + out.err
    assert exit_info.value.code == case.code, text
    assert case.words in text, text
    assert "internal error" not in text and "Traceback" not in text
    errors = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1, errors
    assert all(len(line) < 1000 for line in text.splitlines())
    new = _snapshot(temp, home) - before
    assert not [p for p in new if "t2i-audit" in p or p.startswith(str(home))], new
    assert not list(work.rglob(".*.tmp"))
    os.environ.pop("T2I_AUDIT_VERBOSE", None)
