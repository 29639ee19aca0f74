"""Sandbox web chat in a real browser: `halsaram run` with no token, as a person trying the bot.

Headless Chromium from Debian's `chromium` package, driven by Playwright (no browser download).
The screenshot lands in `test-artifacts/webchat.png`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.processes import ROOT, offline_env, running

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
# Chromium's background services try the network at start; this machine has none.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def offline_stack(tmp_path: Path) -> Iterator[str]:
    """`halsaram run` exactly as README says, with no token: sandbox + bot + seeded SQLite."""
    url, env = offline_env(tmp_path)
    os.environ.pop("HALSARAM_TELEGRAM_TOKEN", None)
    args = [sys.executable, "-m", "bot.cli", "run"]
    # Updates sent before the bot's first poll wait in the sandbox, as they do at Telegram.
    with running(args, env, f"{url}/healthz", tmp_path / "run.log"):
        yield url


@pytest.fixture
def page() -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make browser-deps` installs Debian's package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser.new_page(viewport={"width": 1100, "height": 900})
        browser.close()


def test_a_person_signs_up_in_the_web_chat(offline_stack: str, page: Page) -> None:
    page.goto(offline_stack)
    page.fill("#new-user-name", "민지")
    page.click("#create-user")
    page.fill("#composer", "/start")
    page.click("#send")
    bot = page.locator("[data-testid=message][data-from=bot]")
    expect(bot.first).to_contain_text("안녕하세요, 민지님!", timeout=15_000)
    expect(bot.last).to_contain_text("이용약관")

    page.locator("[data-testid=inline-button]", has_text="동의합니다").click()
    expect(bot.last).to_contain_text("전화번호를 공유해 주세요")
    page.locator("[data-testid=reply-button]", has_text="내 전화번호 공유하기").click()
    page.click("#contact-confirm")
    expect(page.locator("[data-testid=inline-button]", has_text="송파구")).to_be_visible()
    saved = re.compile(r"번호는 010-\*{4}-\d{4} 로 저장했어요")  # the privacy notice has an example
    expect(bot.filter(has_text=saved)).to_have_count(1)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webchat.png"), full_page=True)
