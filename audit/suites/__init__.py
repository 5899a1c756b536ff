"""Probe suites: YAML files of templated prompts, validated and expanded."""

from audit.suites.expand import Item, expand
from audit.suites.load import Suite, list_suites, load_suite, suite_problems

__all__ = ["Item", "Suite", "expand", "list_suites", "load_suite", "suite_problems"]
