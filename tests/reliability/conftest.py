"""Reliability under faults. The bounded tests here run in `make test`; the heavy variants,
marked `reliability`, restart shared services or run long, so `make reliability` runs them."""

from __future__ import annotations

from tests.e2e.conftest import people, sandbox_url  # noqa: F401 — shared fixtures
