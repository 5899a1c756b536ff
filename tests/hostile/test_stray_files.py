"""Nothing lands outside the run or --out (issue 32): onnxruntime writes a
telemetry database under ~/.cache and a ``mat-debug-PID.log`` in $TMPDIR when
it is imported, whether by a scorer (NudeNet, faces) or by diffusers while it
loads a pipeline (and NudeNet a ``.ses`` file). Fresh interpreters with their
own home and temp folder."""

import pytest
from PIL import Image

from tests.conftest import run_cli

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("command", ["score-onnx", "generate"])
def test_home_and_temp_stay_empty(tmp_path, command):
    home, temp, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "work"
    for folder in (home, temp, work):
        folder.mkdir()
    (work / "in").mkdir()
    Image.new("RGB", (32, 32), (90, 60, 30)).save(work / "in" / "a.png")
    args = (["score", "--images", "in", "--out", "s.parquet", "--scorers",
             "nudenet,face_attributes"] if command == "score-onnx" else
            ["generate", "--prompt", "a cat", "--model", "toyworld", "-n", "1", "--out", "run"])
    result = run_cli(*args, cwd=work, env={"HOME": str(home), "TMPDIR": str(temp),
                                           "XDG_CACHE_HOME": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p.name for p in home.rglob("*")] == []
    # torch makes its compile cache folder (torchinductor_USER) when diffusers or
    # open_clip import it; kept: it is reused across runs by --compile
    assert [p.name for p in temp.rglob("*") if not p.name.startswith("torchinductor_")] == []
