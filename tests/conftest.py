"""Shared fixtures and hooks for every test file.

* The real-broker fixtures of ``tests/brokers.py``.
* Hypothesis: derandomised under ``CI=true`` (the "ci" profile).
* Tests marked ``interop`` need the public interop material (``GBCS_INTEROP_DIR``,
  default ``../shared/interop``): without it they skip with a reason, or fail when
  ``GBCS_REQUIRE_INTEROP=1`` (CI). The check runs before the test's fixtures, so a
  fixture that reads the material never fails in its place.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.interop import require_interop

pytest_plugins = ["tests.brokers"]

# CI runs the property tests derandomised (the same examples every run), so a red CI
# always reproduces; elsewhere they explore new examples on every run. The long fuzz
# campaigns (python -m tests.fuzz / tests.authfuzz) are where exploration belongs.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, with ``GBCS_REQUIRE_INTEROP=1``, fail) interop tests without the data."""
    if item.get_closest_marker("interop") is not None:
        require_interop()
