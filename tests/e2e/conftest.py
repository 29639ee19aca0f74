"""End-to-end fixtures: the sandbox and the bot, each its own process, talking over HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import People, free_port, running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "sandbox.server", "--port", str(port), "--token", SANDBOX_TOKEN]
    with running(args, {}, f"{url}/healthz", tmp_path / "sandbox.log"):
        yield url


@pytest.fixture
def people(sandbox_url: str) -> People:
    return People(sandbox_url)
