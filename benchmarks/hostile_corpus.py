"""The hostile-input corpus (tests/hostile/corpus.py) run case by case in
fresh interpreters under a time limit and an address-space cap, counted per
surface: clear (the promised exit code and words), other clear lines (one
``error:`` line, another code or wording), internal errors, hangs and
memory blow-ups.

    python benchmarks/hostile_corpus.py                 # this checkout
    python benchmarks/hostile_corpus.py --tree OLD_CHECKOUT   # the same cases, older code

Takes about ten minutes on 2 cores (one interpreter per case)."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile.corpus import all_cases  # noqa: E402

LIMIT_S = 60
MEMORY = 6 << 30  # bytes of address space: torch imports in ~3 GB of it
RUN = "import sys; from audit.cli import main; main(sys.argv[1:])"


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def outcome(case, tree: Path) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        work, home = Path(scratch) / "case", Path(scratch) / "home"
        work.mkdir()
        home.mkdir()
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
        args = [a.replace("{dir}", str(work)) for a in case.args]
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENAI_API_KEY", "STABILITY_API_KEY")}
        env.update(HOME=str(home), PYTHONPATH=str(tree), COLUMNS="200")
        try:
            done = subprocess.run([sys.executable, "-c", RUN, *args], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=LIMIT_S,
                                  preexec_fn=_cap)
        except subprocess.TimeoutExpired:
            return "hang"
    text = done.stdout + done.stderr
    if "MemoryError" in text or done.returncode in (-9, 137):
        return "memory"
    if done.returncode == 3 or "Traceback" in text:
        return "internal error"
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    if done.returncode == case.code and case.words in text:
        return "clear"
    if done.returncode in (1, 2) and len(errors) == 1:
        return "clear, other wording or code"
    return "wrong exit code" if done.returncode == 0 else "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="checkout whose code runs")
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    options = parser.parse_args()
    cases = [c for c in all_cases() if options.k in c.name]
    table: dict[str, Counter[str]] = defaultdict(Counter)
    start = time.monotonic()
    for case in cases:
        table[case.name.split("-")[0]][outcome(case, options.tree.resolve())] += 1
    kinds = ["clear", "clear, other wording or code", "internal error", "hang", "memory",
             "wrong exit code", "other"]
    print(f"{len(cases)} cases, code from {options.tree}, {time.monotonic() - start:.0f} s")
    print("| surface | cases | " + " | ".join(kinds) + " |")
    print("|---" * (len(kinds) + 2) + "|")
    for surface, counts in sorted(table.items()):
        print(f"| {surface} | {sum(counts.values())} | "
              + " | ".join(str(counts[k]) for k in kinds) + " |")
    total = sum(table.values(), Counter())
    print(f"| all | {len(cases)} | " + " | ".join(str(total[k]) for k in kinds) + " |")


if __name__ == "__main__":
    main()
