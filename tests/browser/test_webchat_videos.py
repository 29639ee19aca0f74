"""The sandbox web chat sends and plays videos (issue 21): a clip picked with 영상 메시지 goes
as a round video message (standing in for the app's camera), one picked with 사진 as a video;
both play in the transcript. Headless Chromium (Debian's package) through Playwright, against
the sandbox alone; the screenshot lands in `test-artifacts/webchat-videos.png`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests import video_corpus
from tests.e2e.processes import ROOT

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def page() -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make browser-deps` installs Debian's package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser.new_page(viewport={"width": 1100, "height": 900})
        browser.close()


def test_a_person_sends_a_round_video_and_a_video(
    sandbox_url: str, page: Page, tmp_path: Path
) -> None:
    note, clip = tmp_path / "note.mp4", tmp_path / "clip.mp4"
    note.write_bytes(video_corpus.video_note(501, seconds=2))
    clip.write_bytes(video_corpus.clip(502, size=(320, 180), seconds=2))
    page.goto(sandbox_url)
    page.fill("#new-user-name", "민지")
    page.click("#create-user")
    expect(page.locator("#attach-video-note")).to_have_text("영상 메시지")
    expect(page.locator("#chat-title")).to_contain_text("@halsaram_bot")  # the chat is open
    page.set_input_files("#video-note-input", str(note))
    expect(page.locator("[data-testid=message-video-note]")).to_have_count(1, timeout=10_000)
    page.set_input_files("#photo-input", str(clip))
    expect(page.locator("[data-testid=message-video]")).to_have_count(1, timeout=10_000)
    round_video = page.locator("[data-testid=message-video-note]")
    box = round_video.bounding_box()
    assert box is not None and box["width"] == box["height"]  # drawn as a circle's square
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "webchat-videos.png"))
