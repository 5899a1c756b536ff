"""The run directory (contract in docs/architecture.md): every stage reads and
writes its files through ``RunDir``."""

from audit.rundir.layout import RunDir, ScorePaths

__all__ = ["RunDir", "ScorePaths"]
