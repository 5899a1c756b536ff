from __future__ import annotations

import os
from pathlib import Path

import pytest

# No hub downloads anywhere in tests: fail fast instead of waiting on a network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gpu", action="store_true", help="run tests marked gpu")
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker in ("gpu", "slow"):
        if config.getoption(f"--run-{marker}"):
            continue
        skip = pytest.mark.skip(reason=f"marked {marker}; pass --run-{marker}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_generator():
    """One random tiny SD pipeline for the session (building it takes seconds)."""
    from audit.generators import make_generator
    from audit.generators.diffusers_backend import quiet_libraries

    quiet_libraries()
    return make_generator("tiny", device="cpu")
