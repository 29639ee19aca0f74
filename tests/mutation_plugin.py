"""A pytest plugin for `make mutation` only ([tool.mutmut] pytest_add_cli_args loads it with
`-p tests.mutation_plugin`). mutmut runs each mutant's tests in a pytest session of its own:

- whose SQLite database would be migrated from nothing every time (1.5 s, most of a mutant's
  run): the first session migrates a template and every later one copies it. The template is
  named by a hash of the migrations, so a changed migration never reuses an old schema;
- in no particular order: here the fastest first (the durations mutmut measured on the clean
  run), so with `-x` a mutant dies at its cheapest failing test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from storage import migrate

ROOT = Path(__file__).resolve().parents[1]  # mutants/ when mutmut runs the tests
SQLITE = "sqlite+aiosqlite:///"
_upgrade = migrate.upgrade


def _template() -> Path:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "alembic").rglob("*.py")):
        digest.update(path.read_bytes())
    return ROOT / f".mutation-template-{digest.hexdigest()[:16]}.sqlite3"


def _upgrade_from_template(database_url: str, revision: str = "head") -> None:
    if revision != "head" or not database_url.startswith(SQLITE):
        _upgrade(database_url, revision)
        return
    template = _template()
    if not template.exists():
        building = template.with_suffix(f".{os.getpid()}.tmp")
        _upgrade(SQLITE + str(building), revision)
        os.replace(building, template)
    shutil.copyfile(template, database_url.removeprefix(SQLITE))


def pytest_configure(config: pytest.Config) -> None:
    migrate.upgrade = _upgrade_from_template


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stats = ROOT / "mutmut-stats.json"
    if not stats.exists():
        return
    durations = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
