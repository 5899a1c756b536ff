"""The API never prints: other libraries' warnings raised during an API call
are kept from the caller (and the caller's own filters are restored after);
--verbose (T2I_AUDIT_VERBOSE) lets them through."""

import warnings

import numpy as np
import pytest

import audit
import audit.pipeline


def noisy_library_call(**_):
    from statsmodels.stats.inter_rater import cohens_kappa

    warnings.warn("a library's deprecation chatter", FutureWarning, stacklevel=2)
    return cohens_kappa(np.array([[3, 1], [0, 0]]), return_results=True)  # RuntimeWarning


@pytest.fixture
def patched(monkeypatch):
    monkeypatch.setattr(audit.pipeline, "plan", noisy_library_call)
    monkeypatch.delitem(vars(audit), "plan", raising=False)  # re-wrapped on next access
    yield
    vars(audit).pop("plan", None)


def test_library_warnings_do_not_reach_an_api_caller(patched, monkeypatch):
    monkeypatch.delenv("T2I_AUDIT_VERBOSE", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audit.plan(p0=0.5, p1=0.6)
        assert caught == []
        warnings.warn("the caller's own", UserWarning, stacklevel=1)  # filters restored
    assert [str(w.message) for w in caught] == ["the caller's own"]


def test_verbose_lets_them_through(patched, monkeypatch):
    monkeypatch.setenv("T2I_AUDIT_VERBOSE", "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audit.plan(p0=0.5, p1=0.6)
    assert {w.category for w in caught} == {FutureWarning, RuntimeWarning}
