"""Answered questions show the answer (issue 23): over HTTP, with the bot as its own process,
each question of signup and of hosting, answered by a button or by text, is edited to show the
answer and loses its buttons; the location's "skip / choose another" buttons go once the
neighbourhood is verified; reply keyboards go with the next message; the welcome points to
/missions with a button. In Korean and in English."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.processes import ROOT, People, bot_env, running
from tests.people import SEOKCHON_LAKE
from ui import callbacks
from ui.callbacks import Action
from ui.i18n import t

SEOUL = ZoneInfo("Asia/Seoul")


def _inline(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b for row in rows for b in row]


def _bot_messages(people: People, person: dict[str, Any]) -> list[dict[str, Any]]:
    messages = people.view(person["id"])["messages"]
    return [m for m in messages if m.get("from", {}).get("is_bot")]


def shows(people: People, person: dict[str, Any], question: str, answer: str) -> dict[str, Any]:
    """Waits until the question (a message containing `question`) ends with the answer and has
    no buttons; returns it."""
    deadline = time.monotonic() + 20
    asked: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        asked = [m for m in _bot_messages(people, person) if question in m.get("text", "")]
        for message in asked:
            if message["text"].endswith(f"\n→ {answer} ✓") and not _inline(message):
                return message
        time.sleep(0.1)
    shown = [(m["text"][-80:], [b["text"] for b in _inline(m)]) for m in asked]
    raise AssertionError(f"{question!r} does not show {answer!r}: {shown}")


def press_action(people: People, person: dict[str, Any], action: str, index: int = 0) -> str:
    """Presses the `index`th button for `action` on the newest message showing one; returns
    its label."""
    prefix = callbacks.VERSION + action + ":"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in reversed(_bot_messages(people, person)):
            found = [b for b in _inline(message) if b["callback_data"].startswith(prefix)]
            if len(found) > index:
                people.press(person, message, found[index]["callback_data"])
                return str(found[index]["text"])
        time.sleep(0.1)
    raise AssertionError(f"no button for {action!r} appeared")


def only_buttons_of(people: People, person: dict[str, Any], *actions: str) -> None:
    """No message in the chat shows a button but for `actions` (those still apply)."""
    allowed = tuple(callbacks.VERSION + a + ":" for a in actions)
    stale = [
        (m["text"][:40], b["text"])
        for m in _bot_messages(people, person)
        for b in _inline(m)
        if not b["callback_data"].startswith(allowed)
    ]
    assert not stale, stale


def sign_up(people: People, person: dict[str, Any], verify: bool) -> None:
    """Signup step by step, each answered question checked; `verify` shares a location in
    잠실동, else skips."""
    lang = person["language_code"]
    people.say(person, "/start")
    people.press_label(person, t(lang, "I agree"))
    shows(people, person, t(lang, "Do you agree to these terms and to this privacy notice?"),
          t(lang, "I agree"))  # fmt: skip
    people.wait_for_bot(person["id"], where=lambda m: bool(m.get("reply_keyboard")))
    people.share_contact(person)
    # The share-contact keyboard goes with the next message (Telegram edits no message sent
    # with a reply keyboard, so the number shows in the reply).
    saved = t(lang, "Thank you, your number is saved as {masked}.").split("{")[0]
    people.wait_for_bot(person["id"], where=lambda m: m.get("text", "").startswith(saved))
    assert people.view(person["id"])["reply_keyboard"] is None
    district, dong = ("Songpa-gu", "Jamsil-dong") if lang == "en" else ("송파구", "잠실동")
    people.press_label(person, district)
    shows(people, person, t(lang, "Which district (구) do you live in?"), district)
    people.press_label(person, dong)
    shows(people, person, t(lang, "Which neighbourhood (동)?"), dong)
    later = t(lang, "Not at home right now? You can verify later; some meetups need it.")
    people.wait_for_bot(person["id"], where=lambda m: later in m.get("text", ""))
    if verify:
        people.share_location(person, *SEOKCHON_LAKE)
        shows(people, person, later, t(lang, "📍 Location shared"))
        after = t(lang, "Verified: you are in {dong}. ✅").split("{")[0]
    else:
        people.press_label(person, t(lang, "Skip for now"))
        shows(people, person, later, t(lang, "Skip for now"))
        after = t(lang, "Skipped. You can verify your neighbourhood later from /profile.")
    people.wait_for_bot(person["id"], where=lambda m: m.get("text", "").startswith(after))
    # "Skip for now / Choose another neighbourhood" went, and the location keyboard with them.
    only_buttons_of(people, person, Action.HELP, Action.INTEREST)
    assert people.view(person["id"])["reply_keyboard"] is None
    for label, done, question in (
        ("Walking", "Done", "What do you like doing? Choose as many as you like, then press Done."),
        ("Evenings", "Done", "When do you usually have time? Choose any, then press Done."),
    ):
        people.press_label(person, t(lang, label))
        people.press_label(person, t(lang, done))
        shows(people, person, t(lang, question), t(lang, label))
    people.press_label(person, t(lang, "Confirm ✅"))
    first = t(lang, "Start with a mission near you: /missions")
    [welcome] = people.wait_for_bot(person["id"], where=lambda m: first in m.get("text", ""))
    shows(people, person, "", t(lang, "Confirm ✅"))  # the summary
    assert [b["text"] for b in _inline(welcome)] == [t(lang, "🔍 See missions")]
    # After signup only the greeting's help buttons and the welcome's missions button remain.
    only_buttons_of(people, person, Action.HELP, Action.MISSION_LIST)


def host(people: People, person: dict[str, Any], typed: bool) -> None:
    """Hosting step by step, each answered question checked; `typed` types the time (else a
    slot button) and a note (else skips it)."""
    lang = person["language_code"]
    people.say(person, "/host")
    press_action(people, person, Action.MEETUP_NEW)
    when = t(lang, "When shall we meet? Pick a time, or type one like 19:30 or 내일 07:30.")
    people.wait_for_bot(
        person["id"], where=lambda m: when in m.get("text", "") and bool(_inline(m))
    )
    if typed:
        now = datetime.now(SEOUL)
        start = now + timedelta(hours=2)
        tomorrow = start.date() != now.date()
        people.say(person, f"{'내일 ' if tomorrow else ''}{start:%H:%M}")
        label = t(lang, "Tomorrow {time}" if tomorrow else "Today {time}")
        shows(people, person, when, label.format(time=f"{start:%H:%M}"))
    else:
        shows(people, person, when, press_action(people, person, Action.HOST_WHEN))
    place = press_action(people, person, Action.HOST_PLACE)
    where = "Where do you meet? The mission's place, or another public place nearby."
    shows(people, person, t(lang, where), place)
    size = press_action(people, person, Action.HOST_SIZE)
    shows(people, person, t(lang, "How many people, you included?"), size)
    note = t(lang, "Anything participants should know? (e.g. \"I'll wear a red cap\") Type it, "
                   "or skip.")  # fmt: skip
    people.wait_for_bot(person["id"], where=lambda m: note in m.get("text", ""))
    if typed:
        people.say(person, "빨간 모자를 쓰고 갈게요")
        shows(people, person, note, "빨간 모자를 쓰고 갈게요")
    else:
        people.press_label(person, t(lang, "Skip"))
        shows(people, person, note, t(lang, "Skip"))
    people.press_label(person, t(lang, "Create ✅"))
    people.wait_for_bot(
        person["id"], where=lambda m: any(b["callback_data"].startswith(
            callbacks.VERSION + Action.MEETUP_HOST + ":") for b in _inline(m))
    )  # fmt: skip
    confirmed = [
        m for m in _bot_messages(people, person)
        if m.get("text", "").endswith(f"\n→ {t(lang, 'Create ✅')} ✓") and not _inline(m)
    ]  # fmt: skip
    assert len(confirmed) == 1
    # Only the greeting, the welcome and the new meetup's card keep buttons.
    only_buttons_of(
        people, person, Action.HELP, Action.MISSION_LIST, Action.MEETUP_HOST, Action.MEETUP_VIEW,
        Action.MEETUP_MAP, Action.MEETUP_NEW, Action.MEETUPS_OF, Action.MEETUP_LEAVE,
    )  # fmt: skip


def test_answered_questions_show_the_answer(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    # Hosting without a verified neighbourhood, so the person who skipped can host too.
    env = bot_env(sandbox_url, tmp_path, HALSARAM_HOST_REQUIRES_VERIFIED="false")
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    minji, james = people.create("민지", "ko"), people.create("James", "en")
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        sign_up(people, minji, verify=True)
        sign_up(people, james, verify=False)
        host(people, minji, typed=True)
        host(people, james, typed=False)
        # The welcome's button opens the missions list (in the same message).
        first = t("ko", "Start with a mission near you: /missions")
        welcome = next(m for m in _bot_messages(people, minji) if first in m.get("text", ""))
        people.press_label(minji, "🔍 미션 보기")
        people.wait_for_bot(
            minji["id"],
            where=lambda m: m["message_id"] == welcome["message_id"] and m.get("edited", False)
            and any(b["callback_data"].startswith(callbacks.VERSION + Action.MISSION_SHOW + ":")
                    for b in _inline(m)),
        )  # fmt: skip
