"""The Python API: one function per stage plus ``run`` for all of them.

Keyword-only, never printing, returning typed results; the CLI parses its
arguments, calls these and renders what they return. Imported lazily by
``audit/__init__.py`` so ``import audit`` stays torch-free.
"""

from audit.pipeline.assessment import AssessResult, assess
from audit.pipeline.assignment import ExportResult, ValidationResult, export, validate
from audit.pipeline.calibration import CalibrationResult, calibrate
from audit.pipeline.comparison import CompareResult, compare
from audit.pipeline.full_run import RunResult, run
from audit.pipeline.generation import GenerateResult, generate
from audit.pipeline.importing import import_images
from audit.pipeline.probes import ProbeSuite, plan, probes
from audit.pipeline.reporting import report
from audit.pipeline.scoring import ScoreResult, score

__all__ = ["AssessResult", "CalibrationResult", "CompareResult", "ExportResult", "GenerateResult",
           "ProbeSuite", "RunResult", "ScoreResult", "ValidationResult", "assess", "calibrate",
           "compare", "export", "generate", "import_images", "plan", "probes", "report", "run",
           "score", "validate"]
