"""Heavy reliability tests: `make reliability` runs them (they restart shared services)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import people, sandbox_url  # noqa: F401 — shared fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/reliability/" in str(item.path):
            item.add_marker(pytest.mark.reliability)
