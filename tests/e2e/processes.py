"""Starting the sandbox and the bot as separate processes, and acting as people over HTTP."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        with suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


@contextmanager
def running(
    args: list[str], env: Mapping[str, str], health_url: str | None, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs a process with its output in `log`; stops it (SIGTERM, then SIGKILL) afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env={**os.environ, **env}, stdout=out, stderr=out, cwd=ROOT
        )
        try:
            if health_url:
                wait_for(health_url, process)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def bot_env(sandbox_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for `halsaram run` against a sandbox, on a throwaway SQLite database."""
    return {
        "HALSARAM_TELEGRAM_TOKEN": SANDBOX_TOKEN,
        "HALSARAM_TELEGRAM_API_URL": sandbox_url,
        "HALSARAM_SECRET_KEY": "e2e-secret",
        "HALSARAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bot.sqlite3'}",
        "HALSARAM_DATA_DIR": str(tmp / "data"),
        "HALSARAM_LOG_LEVEL": "INFO",
        "HALSARAM_METRICS_PORT": str(free_port()),
        **extra,
    }


def offline_env(tmp: Path) -> tuple[str, dict[str, str]]:
    """`halsaram run` as README's first command starts it, with no token (sandbox + bot +
    seeded SQLite) under `tmp`: the sandbox's URL and the environment."""
    port = free_port()
    env = {
        "HALSARAM_SANDBOX_PORT": str(port),
        "HALSARAM_METRICS_PORT": str(free_port()),
        "HALSARAM_DATA_DIR": str(tmp / "var"),
        "HALSARAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'var' / 'halsaram.sqlite3'}",
    }
    return f"http://127.0.0.1:{port}", env


class People:
    """Acts as people through the sandbox's user-side JSON API (sandbox/README.md)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/sandbox/api", timeout=30.0)

    def _call(self, verb: str, path: str, **body: Any) -> Any:
        response = self.http.request(verb, path, json=body if verb == "POST" else None)
        data = response.json()
        assert data["ok"], data
        return data["result"]

    def create(self, first_name: str, language_code: str = "ko") -> dict[str, Any]:
        return dict(
            self._call("POST", "/users", first_name=first_name, language_code=language_code)
        )

    def say(self, user: dict[str, Any], text: str, chat_id: int | None = None) -> dict[str, Any]:
        """Sends `text`; returns the Message."""
        return dict(self._call(
            "POST", f"/chats/{chat_id or user['id']}/messages", user_id=user["id"], text=text
        ))  # fmt: skip

    def press(
        self, user: dict[str, Any], message: dict[str, Any], data: str, *, force: bool = False,
        age: float = 0.0,
    ) -> dict[str, Any]:  # fmt: skip
        """A press; `force` also presses a button the message no longer shows (a double tap
        whose second press left the client before the first one's edit arrived); `age`: made
        that many seconds ago (while the bot was down). Returns the CallbackQuery."""
        return dict(self._call(
            "POST", f"/chats/{message['chat']['id']}/callback",
            user_id=user["id"], message_id=message["message_id"], callback_data=data,
            force=force, age=age,
        ))  # fmt: skip

    def share_contact(self, user: dict[str, Any]) -> None:
        self._call("POST", f"/chats/{user['id']}/contact", user_id=user["id"], own=True)

    def share_location(
        self, user: dict[str, Any], latitude: float, longitude: float,
        live_period: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Shares a location (live for `live_period` seconds when given); returns the Message."""
        return dict(self._call(
            "POST", f"/chats/{user['id']}/location",
            user_id=user["id"], latitude=latitude, longitude=longitude, live_period=live_period,
        ))  # fmt: skip

    def move_live_location(
        self, user: dict[str, Any], message_id: int, latitude: float, longitude: float
    ) -> None:
        """A live location the person shares moves: the bot gets `edited_message`."""
        self._call(
            "POST", f"/chats/{user['id']}/messages/{message_id}/location",
            user_id=user["id"], latitude=latitude, longitude=longitude,
        )  # fmt: skip

    def edit(self, user: dict[str, Any], message_id: int, text: str) -> None:
        """The person edits a text they sent in their private chat: `edited_message`."""
        self._call(
            "POST", f"/chats/{user['id']}/messages/{message_id}/edit", user_id=user["id"], text=text
        )

    def press_label(
        self, user: dict[str, Any], label: str, *, timeout: float = 20.0, contains: bool = False
    ) -> None:
        """Presses the button labelled `label` (or containing it) on the newest bot message
        showing it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.view(user["id"])["messages"]):
                rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for button in (b for row in rows for b in row):
                    text = button["text"]
                    if text in (label, f"✅ {label}") or (contains and label in text):
                        self.press(user, message, button["callback_data"])
                        return
            time.sleep(0.1)
        raise AssertionError(f"no button {label!r} appeared")

    def sign_up(self, person: dict[str, Any], location: tuple[float, float]) -> None:
        """The whole signup, in Korean, verified by a location in 잠실동."""
        self.say(person, "/start")
        self.press_label(person, "동의합니다")
        self.wait_for_bot(person["id"], where=lambda m: bool(m.get("reply_keyboard")))
        self.share_contact(person)
        self.press_label(person, "송파구")
        self.press_label(person, "잠실동")
        self.wait_for_bot(person["id"], where=lambda m: "위치를 공유" in m.get("text", ""))
        self.share_location(person, *location)
        for label in ("걷기", "완료", "저녁", "완료", "확인 ✅"):
            self.press_label(person, label)
        self.wait_for_bot(person["id"], where=lambda m: "환영해요" in m.get("text", ""))

    def send_photo(self, user: dict[str, Any], data: bytes) -> None:
        response = self.http.post(
            f"/chats/{user['id']}/photo",
            data={"user_id": str(user["id"])},
            files={"file": ("photo.jpg", data, "image/jpeg")},
        )
        assert response.json()["ok"], response.text

    def send_video_note(
        self, user: dict[str, Any], data: bytes, *, duration: int | None = None
    ) -> dict[str, Any]:
        """Records a round video message in the app's camera and sends it (`duration`: what a
        modified client states instead of the real length). Returns the Message."""
        form = {"user_id": str(user["id"])}
        if duration is not None:
            form["duration"] = str(duration)
        response = self.http.post(
            f"/chats/{user['id']}/video_note",
            data=form,
            files={"file": ("video_note.mp4", data, "video/mp4")},
        )
        assert response.json()["ok"], response.text
        return dict(response.json()["result"])

    def send_video(self, user: dict[str, Any], data: bytes) -> dict[str, Any]:
        """Sends a clip from the gallery as a video; returns the Message."""
        response = self.http.post(
            f"/chats/{user['id']}/video",
            data={"user_id": str(user["id"])},
            files={"file": ("clip.mp4", data, "video/mp4")},
        )
        assert response.json()["ok"], response.text
        return dict(response.json()["result"])

    def file(self, file_id: str) -> bytes:
        response = self.http.get(f"/files/{file_id}")
        response.raise_for_status()
        return response.content

    def view(self, chat_id: int) -> dict[str, Any]:
        return dict(self._call("GET", f"/chats/{chat_id}/transcript"))

    def info(self) -> dict[str, Any]:
        return dict(self._call("GET", "/info"))

    def wait_for_bot(
        self, chat_id: int, count: int = 1, *, timeout: float = 20.0,
        where: Callable[[dict[str, Any]], bool] = lambda _m: True,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Waits until the bot has sent `count` messages matching `where` in the chat."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            messages = self.view(chat_id)["messages"]
            found = [m for m in messages if m.get("from", {}).get("is_bot") and where(m)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"bot sent {len(found)} of {count} expected messages: {found}")
