"""End-to-end tests: the sandbox and the bot, each its own process, talking over HTTP (the
`sandbox_url` and `people` fixtures live in tests/conftest.py; reliability tests use them too)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
