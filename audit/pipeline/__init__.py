"""The Python API: one function per stage plus ``run`` for all of them, and
``compare``, ``labels``, ``probes``, ``plan``, ``export`` and ``validate``,
which the CLI and the viewer call rather than the domain packages.

Keyword-only, never printing, returning typed results; the CLI parses its
arguments, calls these and renders what they return. Imported lazily by
``audit/__init__.py`` so ``import audit`` stays torch-free.
"""

from audit.pipeline.assessment import AssessResult, assess
from audit.pipeline.assignment import ExportResult, ValidationResult, export, validate
from audit.pipeline.calibration import CalibrationResult, calibrate
from audit.pipeline.comparison import CompareResult, compare
from audit.pipeline.demo import DemoResult, demo
from audit.pipeline.full_run import RunResult, run
from audit.pipeline.generation import GenerateResult, generate
from audit.pipeline.importing import import_images
from audit.pipeline.labelling import LabelsResult, labels
from audit.pipeline.probes import ProbeSuite, plan, probes
from audit.pipeline.quality import QualityResult, quality
from audit.pipeline.release import (
    MemorizationResult,
    PromptMemorizationResult,
    ProvenanceResult,
    card,
    gate,
    memorization,
    prompt_memorization,
    provenance,
)
from audit.pipeline.reporting import report
from audit.pipeline.scoring import ScoreResult, score

__all__ = ["AssessResult", "CalibrationResult", "CompareResult", "DemoResult", "ExportResult",
           "GenerateResult", "LabelsResult", "MemorizationResult", "ProbeSuite",
           "PromptMemorizationResult", "ProvenanceResult", "QualityResult",
           "RunResult", "ScoreResult", "ValidationResult", "assess", "calibrate", "card", "compare",
           "demo", "export", "gate", "generate", "import_images", "labels", "memorization", "plan",
           "probes", "prompt_memorization", "provenance", "quality", "report", "run", "score",
           "validate"]
