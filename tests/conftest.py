"""Shared fixtures and hooks for every test file.

* The real-broker fixtures of ``tests/brokers.py``.
* Tests marked ``interop`` need the public interop material (``GBCS_INTEROP_DIR``,
  default ``../shared/interop``): without it they skip with a reason, or fail when
  ``GBCS_REQUIRE_INTEROP=1`` (CI). The check runs before the test's fixtures, so a
  fixture that reads the material never fails in its place.
"""

from __future__ import annotations

import pytest

from tests.interop import require_interop

pytest_plugins = ["tests.brokers"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, with ``GBCS_REQUIRE_INTEROP=1``, fail) interop tests without the data."""
    if item.get_closest_marker("interop") is not None:
        require_interop()
