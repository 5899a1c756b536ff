"""Scoring while generating equals scoring the stored PNGs afterwards, and a
resumed run scores what an earlier invocation stored from its files."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pandas as pd
import pytest

from audit.api.scorer import Output, Scored, Scorer
from tests.conftest import run_cli

SCORERS = ["--scorers", "clip,skin_tone,face_attributes,nudenet,clip_concepts",
           "-S", "clip_concepts.model=toyworld-clip", "-S", "clip_concepts.pretrained=none"]
ANSWER = ["--answer", "gender_presentation=face_attributes"]
TABLES = ("decisions", "measurements", "inputs")
NUMBERS = ("confidence", "value")


def tables(run) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(run / "scores" / f"{t}.parquet") for t in TABLES}


def assert_same_tables(fused: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    """Row for row: every label, status and key equal; numbers within 1e-6
    (CPU, fp32; embeddings are held at fp16 either way)."""
    for name in TABLES:
        a, b = fused[name], after[name]
        assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0, name
        text = [c for c in a.columns if c not in NUMBERS]
        pd.testing.assert_frame_equal(a[text].reset_index(drop=True),
                                      b[text].reset_index(drop=True))
        for column in (c for c in NUMBERS if c in a.columns):
            x, y = a[column].to_numpy(float), b[column].to_numpy(float)
            assert np.array_equal(np.isnan(x), np.isnan(y)), (name, column)
            assert np.nanmax(np.abs(x - y)) <= 1e-6, (name, column)


def test_run_scores_while_generating_as_audit_score_would_and_resumes_from_pngs(tmp_path):
    run = tmp_path / "run"
    # an earlier invocation stored images and no scores (as a killed run does)
    first = run_cli("generate", "toyworld", "--model", "toyworld", "-n", "1", "--out", str(run))
    assert first.returncode == 0, first.stderr
    stored = pd.read_parquet(run / "images.parquet")
    assert (stored.status == "ok").sum() == 8 and not (run / "scores").exists()

    # on this CPU a run scores afterwards by default; the config forces fused scoring
    forced = tmp_path / "fused.yaml"
    forced.write_text("fused: true\n")
    result = run_cli("run", "toyworld", "--model", "toyworld", "-n", "2", "--out", str(run),
                     "--config", str(forced), *SCORERS, *ANSWER)
    assert result.returncode == 0, result.stderr
    assert "scored 8 images while generating and 8 from their PNGs" in result.stdout
    card = json.loads((run / "run.json").read_text())
    assert card["scored"]["fused"] == {"while_generating": 8, "from_png": 8}
    assert card["scored"]["images"] == 16 and card["history"][-1]["generated"] == 8
    assert card["history"][-1]["energy"]["includes"].startswith("scoring done while")
    fused = tables(run)
    assert set(fused["inputs"].image_id) == set(pd.read_parquet(run / "images.parquet")
                                                .image_id)

    # the same run scored afterwards from its PNGs alone: no cached embeddings
    again = tmp_path / "again"
    shutil.copytree(run, again)
    shutil.rmtree(again / "scores")
    shutil.rmtree(again / "cache")
    scored = run_cli("score", str(again), *SCORERS)
    assert scored.returncode == 0, scored.stderr
    assert "fused" not in json.loads((again / "run.json").read_text())["scored"]
    assert_same_tables(fused, tables(again))


def test_score_after_gives_the_same_tables_as_fused(tmp_path):
    import audit

    options = {"clip": {"model": "tiny-random", "pretrained": "none"},
               "clip_concepts": {"model": "tiny-random", "pretrained": "none"}}
    names = ["clip", "skin_tone", "clip_concepts"]
    runs = {}
    for fused in (True, False, None):
        out = tmp_path / str(fused)
        result = audit.run(suite="smoke", model="tiny", out=out, scorers=names,
                           scorer_options=options, fused=fused, report=False,
                           model_options={"generator_device": "cpu"})
        assert result.scored.images == 8
        runs[fused] = out
    assert json.loads((runs[True] / "run.json").read_text())["scored"]["fused"] == {
        "while_generating": 8, "from_png": 0}
    assert "fused" not in json.loads((runs[False] / "run.json").read_text())["scored"]
    # by default a model computing on this CPU is not fought for its cores
    assert "fused" not in json.loads((runs[None] / "run.json").read_text())["scored"]
    same = pd.read_parquet(runs[True] / "images.parquet").sha256.tolist()
    assert same == pd.read_parquet(runs[False] / "images.parquet").sha256.tolist()
    assert_same_tables(tables(runs[True]), tables(runs[False]))


class Failing(Scorer):
    """Raises on its second batch: a scorer that breaks mid-run."""

    name, version = "failing", "1"

    def __init__(self) -> None:
        self.calls = 0

    def labels(self) -> dict[str, list[str]]:
        return {"x": ["a"]}

    def outputs(self) -> list[Output]:
        return []

    def score(self, images):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("scorer broke")
        return Scored()

    def card(self):
        return {"name": self.name, "version": self.version}


def test_a_failing_scorer_stops_generation_without_blocking_it():
    from audit.stages.fused import FusedScoring

    pixels = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    fused = FusedScoring([Failing()], depth=1)
    finished = threading.Event()

    def produce() -> None:
        try:
            for number in range(50):  # far more than the queue holds
                fused.submit([(f"i{number}", pixels, f"k{number}")])
        except RuntimeError:
            pass
        finished.set()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    assert finished.wait(30), "submit blocked after the scorer thread failed"
    with pytest.raises(RuntimeError, match="scorer broke"):
        fused.close()


def test_only_images_whose_png_matches_are_taken_from_memory():
    from audit.stages.fused import FusedScoring

    blank = np.full((8, 8, 3), 7, dtype=np.uint8)
    noisy = np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    with FusedScoring([]) as fused:
        fused.submit([("a", noisy, "sha-a"), ("b", blank, "sha-b")])
        fused.close()
    rows, ids = fused.take([("a", None, "sha-a"), ("b", None, "sha-b"),
                            ("c", None, "sha-c")])
    assert ids == {"a", "b"}
    assert {(r["image_id"], r["status"]) for r in rows["inputs"]} == {("a", "ok"),
                                                                     ("b", "blank")}
    # a PNG rewritten since (another sha256) is scored from the file instead
    assert fused.take([("a", None, "other")])[1] == set()


def test_lanes_merge_into_the_rows_one_lane_gives():
    """On a GPU machine CLIP scores in one lane and the CPU scorers in
    another; the rows taken are those of a single lane, once each."""
    from audit.scorers import make_scorers
    from audit.stages.fused import FusedScoring
    from audit.stages.score import in_order

    clip, skin = make_scorers(["clip", "skin_tone"], options={
        "clip": {"model": "tiny-random", "pretrained": "none"}}, device="cpu")
    rng = np.random.default_rng(2)
    handed = [(f"img{i}", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), f"sha{i}")
              for i in range(6)]
    taken = []
    for lanes in ([[clip, skin]], [[clip], [skin]]):
        with FusedScoring([clip, skin], lanes=lanes) as fused:
            fused.submit(handed[:4])
            fused.submit(handed[4:])
            fused.close()
        rows, ids = fused.take([(i, None, key) for i, _, key in handed])
        assert ids == {i for i, _, _ in handed} and len(rows["inputs"]) == 6
        taken.append(in_order(rows, [i for i, _, _ in handed], ["clip", "skin_tone"]))
    for table in ("decisions", "measurements", "inputs"):
        assert taken[0][table] == taken[1][table] and taken[0][table], table


class Gated(Failing):
    """Blocks in its first batch until released; counts the batches it scores."""

    def __init__(self) -> None:
        super().__init__()
        self.started, self.release = threading.Event(), threading.Event()

    def score(self, images):
        self.calls += 1
        self.started.set()
        self.release.wait(30)
        return Scored()


def test_generation_failing_drops_what_is_still_queued():
    from audit.stages.fused import FusedScoring

    pixels = np.random.default_rng(3).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    scorer = Gated()
    with pytest.raises(KeyboardInterrupt), FusedScoring([scorer], depth=1) as fused:
        fused.submit([("a", pixels, "ka")])
        assert scorer.started.wait(30)
        fused.submit([("b", pixels, "kb")])  # queued behind the batch in progress
        threading.Timer(1.0, scorer.release.set).start()
        raise KeyboardInterrupt  # as Ctrl+C in the generating thread
    assert scorer.calls == 1  # "b" was dropped, not scored
