"""One way to answer a button press (issue 19, point 1): only `bot/context.py` calls Telegram's
answerCallbackQuery; everything else goes through `context.answer` (answered once, first, and a
"query is too old" refusal swallowed) or `context.close_buttons` / `context.refuse`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("handlers", "conversations", "ui", "scheduler", "bot")
THE_ONE_PLACE = ROOT / "bot" / "context.py"


def _direct_answers(source: str, where: str) -> list[str]:
    """Calls in `source` that answer a press without the context: `x.answer(...)` on anything
    but `context`, and `answer_callback_query(...)` on anything."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        via_context = isinstance(owner, ast.Name) and owner.id == "context"
        if (name == "answer" and not via_context) or name == "answer_callback_query":
            found.append(f"{where}:{node.lineno} {ast.unparse(node.func)}")
    return found


def test_only_the_context_answers_a_press() -> None:
    paths = [p for folder in FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    assert THE_ONE_PLACE in paths
    found = [
        hit
        for path in paths
        if path != THE_ONE_PLACE
        for hit in _direct_answers(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert found == [], "answer presses with `await context.answer(...)`: " + ", ".join(found)


def test_the_rule_sees_a_direct_answer() -> None:
    """The check itself can fail: the old patterns are found, the context's call is not."""
    sample = (
        "async def buy(update, context):\n"
        "    await update.callback_query.answer()\n"
        "    await query.answer('done', show_alert=True)\n"
        "    await context.bot.answer_callback_query('1')\n"
        "    await context.answer()\n"
    )
    assert _direct_answers(sample, "sample.py") == [
        "sample.py:2 update.callback_query.answer",
        "sample.py:3 query.answer",
        "sample.py:4 context.bot.answer_callback_query",
    ]
