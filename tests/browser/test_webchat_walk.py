"""The whole journey in the web chat (issue 23), as three people and an admin would click it:
signup, /missions, a host opens a meetup, a neighbour joins, the host shows the check-in QR and
the neighbour *scans it in the page* (the sandbox decodes the picture; the deep link it holds
sends `/start <payload>`, as Telegram does), shares the location, sends a photo; the admin
approves it in /review and the neighbour exchanges the points for a demo voucher.

`halsaram run` with no token (sandbox + bot + seeded SQLite), headless Chromium from Debian's
package. A screenshot per step lands in `test-artifacts/walk/` (git-ignored; the last run's
steps). At the end no glyph on the page may render as the missing-glyph box:
each character the page shows is drawn on a canvas with the page's own font stack and compared
with a character no font has; an emoji must also come out in colour (fails without
fonts-noto-color-emoji, which `make browser-deps` installs).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.browser import test_webchat
from tests.e2e.processes import ROOT, offline_env

pytestmark = pytest.mark.browser
# `halsaram run` with no token, and the page, as the first web chat test has them.
offline_stack = test_webchat.offline_stack
page = test_webchat.page
SHOTS = ROOT / "test-artifacts" / "walk"
SEOUL = ZoneInfo("Asia/Seoul")
WAIT = 15_000  # ms for the bot's answer to show

# Draws every character the page shows with the page's font stack; returns those drawn as the
# box a missing glyph gets (the same pixels as U+10FFFD, which no font has) and the emoji that
# come out without colour (a monochrome fallback or the box).
BOXES_JS = r"""
(selector) => {
  const font = getComputedStyle(document.querySelector(selector)).fontFamily;
  const side = 64;
  const canvas = document.createElement("canvas");
  canvas.width = side; canvas.height = side;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const draw = (s) => {
    ctx.clearRect(0, 0, side, side);
    ctx.font = `40px ${font}`;
    ctx.textBaseline = "top";
    ctx.fillStyle = "#000";
    ctx.fillText(s, 4, 4);
    return ctx.getImageData(0, 0, side, side).data;
  };
  const missing = draw("\u{10FFFD}");
  const same = (a, b) => a.every((v, i) => v === b[i]);
  const coloured = (d) => {
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 0 && (Math.abs(d[i] - d[i + 1]) > 40 || Math.abs(d[i + 1] - d[i + 2]) > 40)) {
        return true;
      }
    }
    return false;
  };
  const seen = new Set();
  for (const { segment } of new Intl.Segmenter().segment(document.body.innerText)) {
    if (!/^[\x00-\x7f]*$/.test(segment)) seen.add(segment);
  }
  const boxes = [], grey = [];
  for (const g of seen) {
    const pixels = draw(g);
    if (same(pixels, missing)) boxes.push(g);
    else if (/\p{Emoji_Presentation}|\uFE0F/u.test(g) && !coloured(pixels)) grey.push(g);
  }
  return { font, checked: seen.size, boxes, grey };
}
"""


def _picture() -> bytes:
    """The neighbour's photo at the lake: a few coloured blocks, as a JPEG."""
    image = Image.new("RGB", (800, 600), (60, 120, 170))
    for n in range(6):
        x, y = (n * 131) % 700, (n * 97) % 500
        image.paste((210, (n * 53) % 255, 70), (x, y, x + 90, y + 70))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Walk:
    """The page, acting as whichever person is picked, with a screenshot per step."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.shots = 0
        self.bot = page.locator("[data-testid=message][data-from=bot]")

    def shot(self, name: str) -> None:
        self.shots += 1
        self.page.screenshot(path=str(SHOTS / f"{self.shots:02d}-{name}.png"))

    def create(self, name: str) -> int:
        self.page.fill("#new-user-name", name)
        self.page.click("#create-user")
        picked = self.page.locator("#user-select option:checked")
        expect(picked).to_have_text(re.compile(rf"^{re.escape(name)} \("))
        expect(self.page.locator("#chat-title")).to_contain_text("@halsaram_bot")
        return int(self.page.locator("#user-select").input_value())

    def act_as(self, user_id: int) -> None:
        self.page.select_option("#user-select", str(user_id))
        expect(self.page.locator("#chat-title")).to_contain_text("@halsaram_bot")

    def say(self, text: str) -> None:
        self.page.fill("#composer", text)
        self.page.click("#send")

    def told(self, text: str | re.Pattern[str]) -> Locator:
        """The bot's newest message containing `text` (waits for it)."""
        found = self.bot.filter(has_text=text).last
        expect(found).to_be_visible(timeout=WAIT)
        return found

    def press(self, label: str, exact: bool = True, after: str | None = None) -> None:
        """Presses the newest inline button with that label (once the bot said `after`: an
        older message may show the same label)."""
        if after:
            self.told(after)
        name = re.compile(rf"^(✅ )?{re.escape(label)}$") if exact else label
        button = self.page.locator("[data-testid=inline-button]", has_text=name).last
        expect(button).to_be_visible(timeout=WAIT)
        button.click()

    def sign_up(self, name: str) -> int:
        """The whole signup by clicks, verified by the location dialog's default (the lake)."""
        user_id = self.create(name)
        self.say("/start")
        self.press("동의합니다")
        self.page.locator("[data-testid=reply-button]", has_text="전화번호").click()
        self.page.click("#contact-confirm")
        self.press("송파구")
        self.press("잠실동")
        self.told("위치를 공유")
        self.page.locator("[data-testid=reply-button]").first.click()
        self.page.click("#location-confirm")
        for label in ("걷기", "완료", "저녁", "완료", "확인 ✅"):
            self.press(label)
        self.told("환영해요")
        return user_id


def _admin(env: dict[str, str], user_id: int) -> None:
    """`halsaram admin add`, with the same settings as the running bot (README)."""
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "admin", "add", str(user_id)],
        env={**os.environ, **env}, cwd=ROOT, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_signup_to_voucher_with_a_qr_scanned_in_the_page(
    offline_stack: str, page: Page, tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    walk = Walk(page)
    page.goto(offline_stack)

    host = walk.sign_up("지훈")
    walk.say("/missions")
    walk.told("🏆")
    walk.shot("missions")

    walk.say("/host")
    walk.press("석촌호수 한 바퀴 걷기", exact=False)
    walk.told("언제 만날까요")
    # Twelve minutes from now: check-in opens 15 minutes before the start.
    now = datetime.now(SEOUL)
    start = now + timedelta(minutes=12)
    walk.say(f"{'' if start.date() == now.date() else '내일 '}{start:%H:%M}")
    walk.press("📍 석촌호수")
    walk.press("4", after="몇 명이")  # /missions' pages are numbered too
    walk.press("건너뛰기")
    walk.press("만들기 ✅")
    walk.told("모임이 열렸어요")
    walk.shot("hosted")

    guest = walk.sign_up("민지")
    walk.say("/meetups")
    walk.press(f"{start:%H:%M}", exact=False)
    walk.press("참여하기")
    walk.told(re.compile("^참여 완료!"))
    walk.shot("joined")

    walk.act_as(host)
    walk.press("📷 체크인 QR")
    qr = walk.bot.filter(has=page.locator("[data-testid=message-photo]")).last
    expect(qr).to_be_visible(timeout=WAIT)
    walk.shot("qr")
    # The neighbour's phone films the host's screen.
    qr.locator("[data-testid=scan-photo]").click()
    page.select_option("#scan-user", str(guest))
    walk.shot("scan-dialog")
    page.click("#scan-confirm")
    expect(page.locator("#user-select")).to_have_value(str(guest))
    sent = page.locator("[data-testid=message][data-from=me]").last
    expect(sent).to_contain_text(re.compile(r"^/start c\S+"), timeout=WAIT)
    walk.told("위치를 공유해")
    page.locator("[data-testid=reply-button]").first.click()
    page.click("#location-confirm")
    walk.told("체크인 완료")
    walk.shot("checked-in")

    photo = tmp_path / "lake.jpg"
    photo.write_bytes(_picture())
    page.set_input_files("#photo-input", str(photo))
    walk.told("확인하고 있어요")
    walk.shot("photo")

    admin = walk.create("관리자")
    _admin(offline_env(tmp_path)[1], admin)  # the same database as the running bot
    # The automatic checks run first; /review shows the card once they are done.
    approve = page.locator("[data-testid=inline-button]", has_text="✅ 승인").last
    for _ in range(20):
        walk.say("/review")
        try:
            expect(approve).to_be_visible(timeout=1500)
            break
        except AssertionError:
            continue
    walk.shot("review")
    approve.click()
    walk.told("승인")

    walk.act_as(guest)
    # As a person would: the market once the approval notice (sent through the outbox) is in.
    walk.told("인증 사진이 승인됐어요")
    walk.say("/market")
    walk.told("보유 포인트 100")  # the mission's points, paid on approval
    walk.press("(데모) · 100P", exact=False)
    walk.press("교환하기 ✅")
    walk.told("DEMO-SNK1-")
    walk.shot("voucher")

    glyphs = page.evaluate(BOXES_JS, "[data-testid=message-text]")
    assert glyphs["checked"] > 100, glyphs  # Korean, emoji, arrows: all the page shows
    assert not glyphs["boxes"], f"drawn as boxes: {' '.join(glyphs['boxes'])} ({glyphs['font']})"
    assert not glyphs["grey"], f"emoji without colour: {' '.join(glyphs['grey'])}"
