"""Webhook delivery and update ids as Telegram has them (issue 19).

Delivery copies tdlib/telegram-bot-api's WebhookActor: up to `max_connections` requests at
once (setWebhook, 1-100, default 40), one at a time per queue (a chat's messages, a person's
button presses, ...), each confirmed only after a 2xx answer and retried after a failure while
the other queues go on. Update ids jump after a quiet week (Bot API, Update: "If there are no
new updates for at least a week, then identifier of the next update will be chosen randomly
instead of sequentially").
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import pytest

from sandbox.emulator import Emulator, FloodLimits, SandboxError
from sandbox.server import create_app

TOKEN = "123456:TEST-TOKEN"
HOOK = "https://bot.example/hook"
Handler = Callable[[dict[str, Any]], Awaitable[int]]


async def ok(emu: Emulator, method: str, **params: Any) -> Any:
    status, body = await emu.bot_call(TOKEN, method, params)
    assert status == 200, body
    return body["result"]


@asynccontextmanager
async def hooked(handler: Handler, **webhook: Any) -> AsyncIterator[Emulator]:
    """An emulator posting to `handler` (an update in, an HTTP status out) by webhook."""

    async def transport(request: httpx.Request) -> httpx.Response:
        return httpx.Response(await handler(json.loads(request.content)))

    emu = Emulator(
        TOKEN, limits=FloodLimits(enabled=False), webhook_retry_delay=0.02,
        webhook_transport=httpx.MockTransport(transport),
    )  # fmt: skip
    await emu.start()
    try:
        await ok(emu, "setWebhook", url=HOOK, **webhook)
        yield emu
    finally:
        await emu.stop()


async def drained(emu: Emulator, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if emu.pending_update_count == 0 and emu.webhook_in_flight == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{emu.pending_update_count} updates never delivered")


def who(update: dict[str, Any]) -> tuple[str, int]:
    kind = "message" if "message" in update else "callback_query"
    return kind, int(update[kind]["from"]["id"])


class Recorder:
    """A webhook that holds each request until `hold` deliveries are in flight together (or
    a moment passes), noting how many were in flight at once, overall and per queue."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.in_flight: Counter[tuple[str, int]] = Counter()
        self.most = 0
        self.most_per_queue = 0
        self.order: list[int] = []
        self.full = asyncio.Event()

    async def __call__(self, update: dict[str, Any]) -> int:
        queue = who(update)
        self.in_flight[queue] += 1
        self.most = max(self.most, sum(self.in_flight.values()))
        self.most_per_queue = max(self.most_per_queue, self.in_flight[queue])
        if sum(self.in_flight.values()) >= self.hold:
            self.full.set()
        with suppress(TimeoutError):
            await asyncio.wait_for(self.full.wait(), 0.3)
        self.order.append(update["update_id"])
        self.in_flight[queue] -= 1
        return 200


async def test_different_people_are_delivered_at_once_and_one_chat_in_order() -> None:
    recorder = Recorder(hold=5)
    async with hooked(recorder) as emu:
        people = [int(emu.add_user(f"사람{i}")["id"]) for i in range(5)]
        sent: dict[int, list[int]] = {}
        for round_ in range(3):
            for person in people:
                await emu.send_text(person, f"{round_}번째")
        for update in [u for u in emu._updates]:
            sent.setdefault(who(update)[1], []).append(update["update_id"])
        await drained(emu)
        info = await ok(emu, "getWebhookInfo")
    assert recorder.most == 5 and emu.webhook_most_in_flight == 5  # five chats at once
    assert recorder.most_per_queue == 1  # never two of one chat at once
    for person, ids in sent.items():
        assert [i for i in recorder.order if i in ids] == ids, person  # each chat in order
    assert sorted(recorder.order) == sorted(i for ids in sent.values() for i in ids)  # once
    assert info["max_connections"] == 40 and info["pending_update_count"] == 0


async def test_max_connections_caps_deliveries_and_is_clamped_to_1_100() -> None:
    recorder = Recorder(hold=99)
    async with hooked(recorder, max_connections=2) as emu:
        for i in range(6):
            await emu.send_text(int(emu.add_user(f"사람{i}")["id"]), "안녕")
        await drained(emu, 10.0)
        assert recorder.most == 2
        for given, kept in ((0, 1), (-5, 1), (1000, 100), (100, 100), (7, 7)):
            await ok(emu, "setWebhook", url=HOOK, max_connections=given)
            assert (await ok(emu, "getWebhookInfo"))["max_connections"] == kept


async def test_a_persons_presses_and_messages_are_separate_queues() -> None:
    """tdlib queues a chat's messages by chat and a person's button presses by person: the
    two may travel at once, so Telegram promises no order between a press and a message."""
    recorder = Recorder(hold=2)
    async with hooked(recorder) as emu:
        person = int(emu.add_user("민지")["id"])
        await emu.send_text(person, "/start")
        await drained(emu)
        status, body = await emu.bot_call(TOKEN, "sendMessage", {
            "chat_id": person, "text": "고르세요",
            "reply_markup": {"inline_keyboard": [[{"text": "네", "callback_data": "y"}]]},
        })  # fmt: skip
        assert status == 200
        recorder.most = 0
        await emu.press_button(person, person, body["result"]["message_id"], "y")
        await emu.send_text(person, "그리고 이것")
        await drained(emu)
    assert recorder.most == 2


async def test_a_failing_queue_is_retried_and_does_not_hold_up_the_others() -> None:
    failures = {"left": 3}
    delivered: list[tuple[int, str]] = []
    stubborn: list[int] = []

    async def handler(update: dict[str, Any]) -> int:
        sender = int(update["message"]["from"]["id"])
        if sender in stubborn and failures["left"]:
            failures["left"] -= 1
            return 500
        delivered.append((sender, update["message"]["text"]))
        return 200

    async with hooked(handler) as emu:
        minji, jun = (int(emu.add_user(name)["id"]) for name in ("민지", "준"))
        stubborn.append(minji)
        await emu.send_text(minji, "하나")
        await emu.send_text(minji, "둘")
        await emu.send_text(jun, "셋")
        await emu.send_text(jun, "넷")
        await drained(emu)
        info = await ok(emu, "getWebhookInfo")
    # Jun's updates went through while Minji's first was refused; hers came after, in order.
    assert delivered.index((jun, "넷")) < delivered.index((minji, "하나"))
    assert [t for s, t in delivered if s == minji] == ["하나", "둘"]
    assert len(delivered) == 4  # each confirmed once, after its 2xx
    refused = "Wrong response from the webhook: 500 Internal Server Error"
    assert info["last_error_message"] == refused


# ---------------------------------------------------------------------- update ids


async def test_update_ids_jump_up_or_down_after_a_quiet_week() -> None:
    emu = Emulator(TOKEN, limits=FloodLimits(enabled=False))
    person = int(emu.add_user("민지")["id"])
    await emu.send_text(person, "하나")
    [first] = await ok(emu, "getUpdates")
    assert first["update_id"] == 1
    with pytest.raises(SandboxError, match="quiet week"):
        emu.jump_update_id(1000)  # update 1 still waits: no quiet week
    await ok(emu, "getUpdates", offset=2)
    assert emu.jump_update_id(1000) == 1000
    await emu.send_text(person, "둘")
    await emu.send_text(person, "셋")
    assert [u["update_id"] for u in await ok(emu, "getUpdates", offset=2)] == [1000, 1001]
    await ok(emu, "getUpdates", offset=1002)
    # Down: the bot's next offset (1002) is "in the future" for the new ids, so Telegram
    # answers from the oldest update it keeps and confirms nothing (tdlib: TQueue::get refuses
    # the offset, Client::do_get_updates falls back to the queue's head).
    assert emu.jump_update_id(7) == 7
    await emu.send_text(person, "넷")
    assert [u["update_id"] for u in await ok(emu, "getUpdates", offset=1002)] == [7]
    assert [u["update_id"] for u in await ok(emu, "getUpdates", offset=1002)] == [7]
    assert await ok(emu, "getUpdates", offset=8) == []
    for wrong in (0, -3, 2**31):
        with pytest.raises(SandboxError, match="update ids are"):
            emu.jump_update_id(wrong)
    assert 1 <= emu.jump_update_id() < 2**31  # random, as Telegram picks it


async def test_a_jump_down_by_a_little_loses_the_updates_below_the_offset() -> None:
    """Within 10 of the next id an offset is not "in the future": it confirms (forgets)
    everything below it, as tdlib's getUpdates does."""
    emu = Emulator(TOKEN, limits=FloodLimits(enabled=False))
    person = int(emu.add_user("민지")["id"])
    emu.jump_update_id(100)
    await emu.send_text(person, "하나")
    await ok(emu, "getUpdates", offset=101)
    emu.jump_update_id(95)
    await emu.send_text(person, "둘")
    assert await ok(emu, "getUpdates", offset=101) == []


async def test_the_jump_over_the_user_api() -> None:
    emu = Emulator(TOKEN, limits=FloodLimits(enabled=False))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(emu)),
                               base_url="http://sandbox")  # fmt: skip
    async with client:
        jumped = await client.post("/sandbox/api/updates/jump", json={"to": 5000})
        assert jumped.json() == {"ok": True, "result": {"next_update_id": 5000}}
        person = int(emu.add_user("민지")["id"])
        await emu.send_text(person, "안녕")
        assert emu.pending_updates()[0]["update_id"] == 5000
        refused = await client.post("/sandbox/api/updates/jump", json={"to": "soon"})
        assert refused.status_code == 400
        random_jump = await client.post("/sandbox/api/updates/jump", json={})
        assert random_jump.json()["ok"] is True
