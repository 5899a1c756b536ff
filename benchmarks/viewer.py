"""Viewer overview latency on a large run: builds a synthetic 10,000-image run
(tables only; the overview draws no thumbnails) and times the Overview page
in Streamlit's AppTest, cold (first load) and warm (cached), in one run.
Target: the overview of a 10,000-image run in under 3 s.

    python benchmarks/viewer.py [--images 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import audit
from audit.paths import viewer_app
from audit.rundir import RunDir
from audit.rundir.images_table import COLUMNS


def synthetic_run(folder: Path, images: int, per_item: int = 100) -> Path:
    rng = np.random.default_rng(0)
    items = [f"face--occupation-{i:03d}" for i in range(images // per_item)]
    rows = []
    for item in items:
        for seed in range(per_item):
            rows.append({c: None for c in COLUMNS} | {
                "image_id": f"{item}/{seed}", "suite": "bench", "item_id": item,
                "template": "a photo of {occupation|a}", "role": "probe",
                "slots": json.dumps({"occupation": item}), "reference_keys": "{}",
                "prompt": f"a photo of {item}", "model": "bench", "seed": seed, "steps": 30,
                "guidance": 7.5, "width": 512, "height": 512, "status": "ok",
                "path": f"images/{item}/{seed}.png", "sha256": f"{seed:064d}"})
    pd.DataFrame(rows, columns=COLUMNS).to_parquet(folder / "images.parquet")
    labels = np.where(rng.random(len(rows)) < 0.3, "female", "male")
    decisions = [{"image_id": r["image_id"], "scorer": "clip",
                  "attribute": "gender_presentation", "label": label, "confidence": 0.9}
                 for r, label in zip(rows, labels, strict=True)]
    card = {"format": "t2i-audit-run/2", "started": "now", "finished": "now",
            "suite": {"name": "bench", "version": "1.0.0", "sha256": "0" * 64,
                      "attributes": ["gender_presentation"], "reference": None},
            "model": {"id": "bench", "pipeline_class": "none", "dtype": "float16"},
            "config": {"n": per_item, "seed": 0, "generation": {}}, "history": []}
    (folder / "run.json").write_text(json.dumps(card))
    RunDir(folder).write_scores({"decisions": decisions, "measurements": [], "inputs": []})
    audit.assess(run=folder)
    return folder


def main() -> None:
    from streamlit.testing.v1 import AppTest

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = synthetic_run(Path(tmp), args.images)
        os.environ["T2I_AUDIT_RUNS"] = str(run)
        app = AppTest.from_file(str(viewer_app()), default_timeout=120)
        start = time.perf_counter()
        app.run()
        cold = time.perf_counter() - start
        start = time.perf_counter()
        app.run()
        warm = time.perf_counter() - start
        assert not app.exception, app.exception
    print(f"overview of a {args.images}-image run: cold {cold:.2f} s, warm {warm:.2f} s "
          f"(target < 3 s; ratio cold/target {cold / 3:.2f})")


if __name__ == "__main__":
    main()
