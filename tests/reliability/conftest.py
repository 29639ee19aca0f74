"""Reliability under faults. The bounded tests here run in `make test`; the heavy variants,
marked `reliability`, restart shared services or run long, so `make reliability` runs them.
The `sandbox_url` and `people` fixtures come from tests/conftest.py."""
