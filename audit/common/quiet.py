"""Other libraries' warnings kept from the user.

The API promises never to print, and the CLI prints only what the audit
says; diffusers' FutureWarnings, statsmodels' RuntimeWarnings and the like
are the libraries' business (many are issued with a stacklevel that names
the caller, so they cannot be told apart by module: this package says what
it has to say in results and notes, never through ``warnings``).
``audit --verbose`` (T2I_AUDIT_VERBOSE=1) shows them all.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from audit.common.devices import VERBOSE_ENV

LIBRARY_WARNINGS = (UserWarning, FutureWarning, DeprecationWarning, RuntimeWarning)

F = TypeVar("F", bound=Callable[..., Any])


def library_warnings_off() -> None:
    """For a whole process (the CLI)."""
    if os.environ.get(VERBOSE_ENV):
        return
    for category in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", category=category)


@contextmanager
def quiet_warnings() -> Iterator[None]:
    """For one call (an API function), restoring the caller's filters after."""
    if os.environ.get(VERBOSE_ENV):
        yield
        return
    with warnings.catch_warnings():
        library_warnings_off()
        yield


def quiet(function: F) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with quiet_warnings():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
