"""t2i-audit: bias and safety audits for text-to-image models.

The Python API (keyword-only; nothing prints)::

    import audit
    result = audit.run(suite="toyworld", model="toyworld", n=10, out="runs/nb",
                       scorer_options={"clip": {"model": "toyworld-clip"}}, scorers=["clip"])
    result.assessed.proportions       # a DataFrame: n, k, estimate, ci_low, ci_high, ...

``audit.generate``, ``audit.score``, ``audit.assess`` and ``audit.report``
run one stage each; ``audit.calibrate`` fits CLIP's abstention on labelled
images; ``audit.import_images`` makes a run of images made elsewhere;
``audit.export`` and ``audit.validate`` write and check the course
assignment's zips; ``audit.probes`` lists and checks suites and
``audit.plan`` sizes an audit; ``audit.labels`` reads and adds human
labels; ``audit.compare`` pairs two runs
image by image; ``audit.demo`` audits the bundled toy model against
its known truth.
Importing this package stays cheap (no torch, no diffusers): the functions
load on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["assess", "calibrate", "card", "compare", "demo", "export", "gate", "generate",
           "import_images", "labels", "memorization", "plan", "probes", "prompt_memorization",
           "provenance", "quality", "report",
           "run", "score", "validate"]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    if name in __all__:
        import audit.pipeline
        from audit.common.quiet import quiet

        function = quiet(getattr(audit.pipeline, name))  # other libraries' warnings off
        globals()[name] = function
        return function
    raise AttributeError(f"module 'audit' has no attribute {name!r}")
