"""Korean particles after numbers in a real message, end to end (issue 23): the bot as its own
process, people sending photos through the sandbox over HTTP, the review cards in the admin
group read as the admins read them.

A photo like an earlier one is flagged on its card as "사진 #1과 비슷해요" (1 is read 일, which
ends in a consonant: 과) and "사진 #2와 비슷해요" (2 is read 이: 와); never "#1와" or "#2과".
(Particles after names in a real message: tests/e2e/test_market_load_over_http.py and the
first hour's "송파동으로 하기".)

Accounts and the meetup are planted as in tests/e2e/test_evidence_fairness_over_http.py.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from tests.e2e.processes import People, running
from tests.e2e.test_evidence_fairness_over_http import Meetup, _card, _setup


def _picture(seed: int, quality: int) -> bytes:
    """A photo of its own (a few coloured blocks on a background); the same picture at another
    `quality` is other bytes that look the same (a near duplicate, not a copy)."""
    image = Image.new("RGB", (800, 600), (30 + seed * 90 % 200, 60 + seed * 50 % 150, 160))
    for n in range(6):
        x, y = (seed * 211 + n * 131) % 700, (seed * 157 + n * 97) % 500
        image.paste((220, (seed * 70 + n * 40) % 255, 40), (x, y, x + 90, y + 70))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _caption(people: People, group: dict[str, Any], count: int) -> str:
    return str(_card(people, group, count).get("caption", ""))


def test_a_near_duplicate_is_flagged_with_the_particle_its_number_takes(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    names = ["지훈", "민지", "서준", "하은", "도윤", "관리자"]
    (_host, *guests, admin), group, env = _setup(
        people, sandbox_url, tmp_path, names, [5],
        lambda ids: [Meetup(ids[0], -15, joined=ids[1:5], checked_in=ids[1:5])],
    )  # fmt: skip
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        for person in guests:
            people.say(person, "/help")
            people.wait_for_bot(person["id"])
        sent = [(guests[0], _picture(1, 92)), (guests[1], _picture(2, 92)),
                (guests[2], _picture(1, 70)), (guests[3], _picture(2, 70))]  # fmt: skip
        captions = []
        for count, (person, photo) in enumerate(sent, start=1):  # photos #1 to #4, in turn
            people.send_photo(person, photo)
            captions.append(_caption(people, group, count))
    assert "비슷한 이전 사진 없음" in captions[0] and "비슷한 이전 사진 없음" in captions[1]
    assert "사진 #1과 비슷해요" in captions[2] and "다른 사람" in captions[2]
    assert "사진 #2와 비슷해요" in captions[3]
    assert not any(wrong in "".join(captions) for wrong in ("#1와", "#2과"))
