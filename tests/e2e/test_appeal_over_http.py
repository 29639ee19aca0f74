"""An appeal, once, over HTTP (issue 23): the bot as its own process, people through the
sandbox, in Korean. A checked-in guest's photo is rejected by one admin; the guest appeals it
from the rejection notice with a short reason; the appeal card reaches the admin group; the
admin who rejected the photo is refused, a second admin approves it, the guest is told and
paid once (a second press pays nothing more). Accounts and the meetup are planted as in
test_evidence_fairness_over_http."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage import appeals
from tests.e2e.processes import People, running
from tests.e2e.test_evidence_fairness_over_http import Meetup, _card, _money, _picture, _setup
from ui import callbacks
from ui.callbacks import Action

APPEAL = "이 결정에 이의 신청하기"


def _labels(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def _said(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: text in (m.get("text") or m.get("caption") or "")


def test_an_appeal_over_http(people: People, sandbox_url: str, tmp_path: Path) -> None:
    (_host, guest, kim, lee), group, env = _setup(
        people, sandbox_url, tmp_path, ["지훈", "민지", "관리자 김", "관리자 이"], [2, 3],
        lambda ids: [Meetup(ids[0], -10, joined=[ids[1]], checked_in=[ids[1]])],
    )  # fmt: skip
    url = env["HALSARAM_DATABASE_URL"]
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=kim["id"])
        people.say(guest, "/help")
        people.wait_for_bot(guest["id"])
        people.send_photo(guest, _picture(23))
        card = _card(people, group)
        photo = callbacks.decode(card["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        evidence_id = photo.int_arg(0)
        reject = callbacks.encode(Action.REVIEW_REASON, evidence_id, "blurry")
        people.press(kim, card, reject, force=True)
        people.wait_for_bot(guest["id"], where=_said("사진이 흐릿해요"), timeout=40)

        people.press_label(guest, APPEAL)
        [question] = people.wait_for_bot(guest["id"], where=_said("짧은 메시지 하나로"))
        assert _labels(question) == ["취소"]
        people.say(guest, "호수에서 찍은 게 맞아요. 저녁이라 어두웠을 뿐이에요.")
        people.wait_for_bot(guest["id"], where=_said("다른 관리자에게 갔어요"))
        # The question shows the reason and loses its "취소" (Telegram's edit, over HTTP).
        answer = "\n→ 호수에서 찍은 게 맞아요. 저녁이라 어두웠을 뿐이에요. ✓"
        people.wait_for_bot(guest["id"], where=lambda m: (
            "짧은 메시지 하나로" in m.get("text", "") and m["text"].endswith(answer)
            and not _labels(m)
        ))  # fmt: skip
        [appeal_card] = people.wait_for_bot(group["id"], where=_said("보낸 사람의 이의 신청"))
        assert "저녁이라 어두웠을 뿐이에요" in appeal_card["caption"]

        approve = callbacks.encode(Action.APPEAL_DECIDE, evidence_id, appeals.OVERTURN)
        people.press(kim, appeal_card, approve, force=True)
        people.wait_for_bot(group["id"], where=_said("이 사진을 반려한 관리자라서"))
        assert asyncio.run(_money(url))[1] == 0
        people.press(lee, appeal_card, approve, force=True)
        people.wait_for_bot(guest["id"], where=_said("사진을 인정했어요"), timeout=40)
        people.press(lee, appeal_card, approve, force=True)  # a double tap
        time.sleep(2)
        balances, entries, _rows = asyncio.run(_money(url))
        assert entries == 1 and balances == {guest["id"]: 100}
        asked = len(people.wait_for_bot(guest["id"], where=_said("짧은 메시지 하나로")))
        people.press_label(guest, APPEAL)  # the old notice's button again: once only
        time.sleep(2)  # refused as the press's alert: no new question, nothing changes
        assert len(people.wait_for_bot(guest["id"], where=_said("짧은 메시지 하나로"))) == asked
        assert asyncio.run(_money(url))[1] == 1
