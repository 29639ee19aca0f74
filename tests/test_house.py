"""The floor plan, beyond the import contracts `make lint` checks: a handler stays short and
opens at most one session or transaction (docs/architecture.md, "Rules of thumb")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 30
# A ConversationHandler's table of states reads as one table: it is kept whole on purpose.
TABLES = {"conversation", "conversations"}


def _functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for folder in ("handlers", "conversations"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    found.append((f"{folder}/{path.name}:{node.lineno} {node.name}", node))
    return found


def _opens_a_session(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Name) and func.id == "transaction") or (
        isinstance(func, ast.Attribute) and func.attr == "sessions"
    )


@pytest.mark.parametrize(
    ("where", "node"),
    [(w, n) for w, n in _functions() if n.name not in TABLES],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_handler_is_short_and_opens_one_session(
    where: str, node: ast.FunctionDef | ast.AsyncFunctionDef
) -> None:
    assert node.end_lineno is not None
    lines = node.end_lineno - node.lineno + 1
    assert lines <= MAX_LINES, f"{where} is {lines} lines: move the work to storage or ui/"
    sessions = sum(1 for n in ast.walk(node) if isinstance(n, ast.Call) and _opens_a_session(n))
    assert sessions <= 1, f"{where} opens {sessions} sessions: one storage operation per update"
