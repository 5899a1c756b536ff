"""Peak memory of the CLI on hostile inputs (target: under 500 MB each).

Each input runs in its own process; its peak resident size comes from
os.wait4's rusage. Prints one row per input, the ratio to the target, and
what the input adds over the same command on an ordinary input (scoring
imports torch, whose own footprint is most of its peak).

    python benchmarks/hostile_memory.py
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from PIL import Image

TARGET_MB = 500


def peak_mb(args: list[str], cwd: Path) -> tuple[int, float]:
    process = subprocess.Popen([sys.executable, "-m", "audit.cli", *args], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024  # kB on Linux


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
            for i in range(9))
        (root / "laughs.yaml").write_text(bomb)
        (root / "big.yaml").write_text("# " + "x" * (50 << 20) + "\n")
        buffer = io.BytesIO()
        Image.new("L", (11000, 11000)).save(buffer, format="PNG")  # 121 MP, small on disk
        with zipfile.ZipFile(root / "bias.zip", "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("bias.json", '{"biases": [{"prompt": "p", "description": "1", '
                             '"harm": "h", "image-paths": ["a.png"]}]}')
            archive.writestr("a.png", buffer.getvalue())
        (root / "deep.json").write_text("[" * 1_000_000)
        images = root / "images"
        images.mkdir()
        (images / "huge.png").write_bytes(buffer.getvalue())
        plain = root / "plain"
        plain.mkdir()
        Image.effect_noise((64, 64), 40).convert("RGB").save(plain / "a.png")
        (root / "plain.yaml").write_text("name: x\n")
        score = ["score", "--out", "s.parquet", "--scorers", "skin_tone",
                 "-S", "skin_tone.faces=none", "--images"]
        cases = {  # name: (hostile command, the same command on an ordinary input)
            "nested YAML aliases (probes validate)": (
                ["probes", "validate", "laughs.yaml"], ["probes", "validate", "plain.yaml"]),
            "50 MB suite (probes validate)": (
                ["probes", "validate", "big.yaml"], ["probes", "validate", "plain.yaml"]),
            "121-megapixel PNG in a zip (validate)": (
                ["validate", "bias.zip"], ["validate", "plain.yaml"]),
            "deeply nested JSON (validate)": (
                ["validate", "deep.json"], ["validate", "plain.yaml"]),
            "121-megapixel PNG (score --images)": ([*score, "images"], [*score, "plain"]),
        }
        print(f"{'input':40} {'exit':>4} {'peak MB':>8} {'of target':>9} {'added MB':>9}")
        for name, (hostile, ordinary) in cases.items():
            code, peak = peak_mb(hostile, root)
            _, base = peak_mb(ordinary, root)
            print(f"{name:40} {code:>4} {peak:8.0f} {peak / TARGET_MB:9.2f} "
                  f"{peak - base:9.0f}")


if __name__ == "__main__":
    main()
