"""A button's answer shows once (issue 23): the alert or toast the bot answers a press with is
shown to the person who pressed, in the page that pressed, and never again after a reload or a
switch to another person and back (the Telegram app shows answerCallbackQuery's text once, on
the device that pressed). The sandbox alone, the bot played over the Bot API; headless
Chromium from Debian's package."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.settings import SANDBOX_TOKEN
from tests.browser import test_webchat_videos

pytestmark = pytest.mark.browser
page = test_webchat_videos.page  # the page fixture of the other sandbox-alone browser test
QUIET_MS = 2500  # more than three polls of the web chat


def _bot(sandbox_url: str, method: str, **params: Any) -> Any:
    answer = httpx.post(f"{sandbox_url}/bot{SANDBOX_TOKEN}/{method}", json=params, timeout=10)
    assert answer.json()["ok"], answer.text
    return answer.json()["result"]


def _answer_the_press(sandbox_url: str, offset: int, **answer: Any) -> int:
    """Answers the newest callback query as the bot; returns the next offset."""
    updates = _bot(sandbox_url, "getUpdates", offset=offset, timeout=5)
    [query] = [u["callback_query"] for u in updates if "callback_query" in u]
    _bot(sandbox_url, "answerCallbackQuery", callback_query_id=query["id"], **answer)
    return int(updates[-1]["update_id"]) + 1


def test_an_alert_and_a_toast_show_once(sandbox_url: str, page: Page) -> None:
    page.goto(sandbox_url)
    page.fill("#new-user-name", "민지")
    page.click("#create-user")
    expect(page.locator("#chat-title")).to_contain_text("@halsaram_bot")
    user_id = int(page.locator("#user-select").input_value())
    page.click("#start-button")  # a bot writes only to people who wrote first
    offset = int(_bot(sandbox_url, "getUpdates", timeout=5)[-1]["update_id"]) + 1
    keyboard = [[
        {"text": "알림", "callback_data": "alert"}, {"text": "토스트", "callback_data": "toast"}
    ]]  # fmt: skip
    _bot(sandbox_url, "sendMessage", chat_id=user_id, text="골라 주세요",
         reply_markup={"inline_keyboard": keyboard})  # fmt: skip
    alert, toast = page.locator("#alert-dialog"), page.locator("#toast")

    page.locator("[data-testid=inline-button]", has_text="알림").click()
    offset = _answer_the_press(sandbox_url, offset, text="한 번만 보여요", show_alert=True)
    expect(alert).to_be_visible()
    expect(page.locator("#alert-text")).to_have_text("한 번만 보여요")
    page.click("#alert-ok")
    expect(alert).to_be_hidden()

    page.locator("[data-testid=inline-button]", has_text="토스트").click()
    offset = _answer_the_press(sandbox_url, offset, text="저장했어요")
    expect(toast).to_have_text("저장했어요")
    expect(toast).to_be_hidden(timeout=5000)

    # Within the answers' time in the transcript: a reload shows neither again.
    page.reload()
    expect(page.locator("[data-testid=message]", has_text="골라 주세요")).to_be_visible()
    page.wait_for_timeout(QUIET_MS)
    expect(alert).to_be_hidden()
    expect(toast).to_be_hidden()

    # Nor does a switch to another person and back.
    page.fill("#new-user-name", "지훈")
    page.click("#create-user")
    expect(page.locator("#start-button")).to_be_visible()
    page.select_option("#user-select", str(user_id))
    expect(page.locator("[data-testid=message]", has_text="골라 주세요")).to_be_visible()
    page.wait_for_timeout(QUIET_MS)
    expect(alert).to_be_hidden()
    expect(toast).to_be_hidden()
