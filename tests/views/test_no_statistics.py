"""The viewer and the report show numbers from stats.json (or from
``audit.compare``), never statistics of their own: their only imports from
``audit.stats`` are a classification (which tests are diagnostics) and the
rule that picks the answering scorer."""

import ast
from pathlib import Path

VIEWS = Path(__file__).resolve().parents[2] / "audit" / "views"
ALLOWED = {("audit.stats.assess", "is_diagnostic"), ("audit.stats.run_tables", "resolve_answers")}


def test_views_import_no_statistics():
    imported = set()
    for path in VIEWS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("audit.stats"):
                imported |= {(node.module, alias.name) for alias in node.names}
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("audit.stats") for a in node.names), path
    assert imported <= ALLOWED, imported - ALLOWED
