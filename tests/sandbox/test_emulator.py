"""The emulator behaves as Telegram documents: errors, offsets, webhooks, limits, media."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from telegram import ChatFullInfo, ChatMember, Message, Update, WebhookInfo

from sandbox.emulator import Emulator, FloodLimits, SandboxError

TOKEN = "123456:TEST-TOKEN"
NO_LIMITS = FloodLimits(enabled=False)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=NO_LIMITS)


async def call(emu: Emulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await emu.bot_call(TOKEN, method, params)


async def ok(emu: Emulator, method: str, **params: Any) -> Any:
    status, body = await call(emu, method, **params)
    assert status == 200, body
    return body["result"]


async def started_user(emu: Emulator, name: str = "민지") -> int:
    """A person who opened the bot (so the bot may write to them); updates consumed."""
    user_id = int(emu.add_user(name)["id"])
    await emu.send_text(user_id, "/start")
    emu.pending_updates()
    return user_id


def jpeg_with_exif(size: tuple[int, int] = (2000, 1500), orientation: int = 6) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x0132] = "2025:05:01 10:00:00"  # DateTime
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


# ---------------------------------------------------------------------- error shapes


async def test_wrong_token_is_401(emu: Emulator) -> None:
    status, body = await emu.bot_call("1:WRONG", "getMe", {})
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


@pytest.mark.parametrize("method", ["sendDice", "noSuchMethod"])
async def test_unimplemented_method_is_404(emu: Emulator, method: str) -> None:
    status, body = await call(emu, method, chat_id=1)
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_method_names_are_case_insensitive(emu: Emulator) -> None:
    me = await ok(emu, "getme")
    assert me["is_bot"] is True and me["username"] == "halsaram_bot"


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("", "Bad Request: message text is empty"),
        ("가" * 4097, "Bad Request: message is too long"),
    ],
)
async def test_bad_text_is_400(emu: Emulator, text: str, description: str) -> None:
    user_id = await started_user(emu)
    status, body = await call(emu, "sendMessage", chat_id=user_id, text=text)
    assert status == 400
    assert body == {"ok": False, "error_code": 400, "description": description}


async def test_text_of_4096_characters_is_fine(emu: Emulator) -> None:
    user_id = await started_user(emu)
    message = await ok(emu, "sendMessage", chat_id=user_id, text="가" * 4096)
    assert len(message["text"]) == 4096


async def test_callback_data_over_64_bytes_is_button_data_invalid(emu: Emulator) -> None:
    user_id = await started_user(emu)

    def markup(data: str) -> dict[str, Any]:
        return {"inline_keyboard": [[{"text": "참여", "callback_data": data}]]}

    status, body = await call(
        emu, "sendMessage", chat_id=user_id, text="hi", reply_markup=markup("x" * 65)
    )
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    await ok(emu, "sendMessage", chat_id=user_id, text="hi", reply_markup=markup("x" * 64))


async def test_unknown_parameter_and_wrong_type_are_400(emu: Emulator) -> None:
    user_id = await started_user(emu)
    status, body = await call(emu, "sendMessage", chat_id=user_id, text="hi", colour="red")
    assert status == 400 and "colour" in body["description"]
    status, body = await call(emu, "sendMessage", chat_id=user_id, text="hi", reply_markup=[1])
    assert status == 400


async def test_missing_chat_id_and_unknown_chat(emu: Emulator) -> None:
    status, body = await call(emu, "sendMessage", text="hi")
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await call(emu, "sendMessage", chat_id=42, text="hi")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_bot_cannot_write_first(emu: Emulator) -> None:
    user_id = emu.add_user("수아")["id"]
    status, body = await call(emu, "sendMessage", chat_id=user_id, text="hi")
    assert status == 403
    assert body["description"] == "Forbidden: bot can't initiate conversation with a user"


# ---------------------------------------------------------------------- getUpdates


async def test_offset_confirms_earlier_updates(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    for text in ("하나", "둘", "셋"):
        await emu.send_text(user_id, text)
    updates = await ok(emu, "getUpdates")
    ids = [u["update_id"] for u in updates]
    assert ids == sorted(ids) and len(ids) == 3
    assert [u["message"]["text"] for u in updates] == ["하나", "둘", "셋"]
    again = await ok(emu, "getUpdates", offset=ids[1])
    assert [u["update_id"] for u in again] == ids[1:]
    assert await ok(emu, "getUpdates", offset=ids[-1] + 1) == []
    # Confirmed updates are gone for good.
    assert await ok(emu, "getUpdates") == []


async def test_limit_and_negative_offset(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    for i in range(5):
        await emu.send_text(user_id, f"m{i}")
    assert len(await ok(emu, "getUpdates", limit=2)) == 2
    last = await ok(emu, "getUpdates", offset=-1)
    assert [u["message"]["text"] for u in last] == ["m4"]


async def test_long_poll_times_out_empty(emu: Emulator) -> None:
    started = time.monotonic()
    assert await ok(emu, "getUpdates", timeout=1) == []
    assert time.monotonic() - started >= 0.95


async def test_long_poll_wakes_when_an_update_arrives(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    poll = asyncio.create_task(call(emu, "getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    started = time.monotonic()
    await emu.send_text(user_id, "안녕")
    status, body = await asyncio.wait_for(poll, 1)
    assert status == 200 and body["result"][0]["message"]["text"] == "안녕"
    assert time.monotonic() - started < 0.5


async def test_second_poller_ends_the_first_with_409(emu: Emulator) -> None:
    first = asyncio.create_task(call(emu, "getUpdates", timeout=5))
    await asyncio.sleep(0.02)
    second = asyncio.create_task(call(emu, "getUpdates", timeout=0))
    status, body = await asyncio.wait_for(first, 1)
    assert status == 409 and body["description"].startswith("Conflict: terminated by other")
    assert (await second)[0] == 200


async def test_allowed_updates_is_remembered(emu: Emulator) -> None:
    user_id = await started_user(emu)
    sent = await ok(
        emu,
        "sendMessage",
        chat_id=user_id,
        text="고르세요",
        reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
    )
    await ok(emu, "getUpdates", allowed_updates=["callback_query"])
    await emu.send_text(user_id, "무시됨")
    await emu.press_button(user_id, user_id, sent["message_id"], "a")
    updates = await ok(emu, "getUpdates")
    assert [list(u)[1] for u in updates] == ["callback_query"]
    info = await ok(emu, "getWebhookInfo")
    assert info["allowed_updates"] == ["callback_query"]


async def test_updates_parse_with_python_telegram_bot(emu: Emulator) -> None:
    user_id = emu.add_user("민지", username="minji")["id"]
    await emu.send_text(user_id, "/start abc")
    (raw,) = emu.pending_updates()
    update = Update.de_json(raw, None)
    assert update.effective_user is not None and update.effective_user.id == user_id
    assert update.message is not None and update.message.text == "/start abc"


# ---------------------------------------------------------------------- webhooks


async def test_get_updates_with_webhook_set_is_409() -> None:
    emu = Emulator(TOKEN, limits=NO_LIMITS, local_http_webhooks=True)  # an http:// loopback hook
    assert await ok(emu, "setWebhook", url="http://127.0.0.1:9/hook") is True
    status, body = await call(emu, "getUpdates")
    assert status == 409
    assert body["description"] == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    await ok(emu, "deleteWebhook")
    assert await ok(emu, "getUpdates") == []
    await emu.stop()


async def test_webhook_pushes_in_order_with_secret_and_retries_after_500() -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    answers = iter([500, 200, 200])

    async def handler(request: httpx.Request) -> httpx.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), json.loads(request.content))
        )
        return httpx.Response(next(answers, 200))

    emu = Emulator(
        TOKEN,
        limits=NO_LIMITS,
        webhook_retry_delay=0.01,
        webhook_transport=httpx.MockTransport(handler),
    )
    await emu.start()
    try:
        await ok(emu, "setWebhook", url="https://bot.example/hook", secret_token="s3cret_-")
        user_id = emu.add_user("민지")["id"]
        await emu.send_text(user_id, "첫째")
        await emu.send_text(user_id, "둘째")
        for _ in range(200):
            if emu.pending_update_count == 0:
                break
            await asyncio.sleep(0.01)
        info = await ok(emu, "getWebhookInfo")
    finally:
        await emu.stop()
    assert info["pending_update_count"] == 0
    assert info["url"] == "https://bot.example/hook"
    assert (
        info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert isinstance(info["last_error_date"], int)
    WebhookInfo.de_json(info, None)
    texts = [body["message"]["text"] for _, body in received]
    # The first update is delivered again after the 500, and order is kept.
    assert texts == ["첫째", "첫째", "둘째"]
    assert {secret for secret, _ in received} == {"s3cret_-"}


NEED_HTTPS = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
BAD_PORT = "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("http://bot.example/hook", NEED_HTTPS),
        ("http://bot.example:8443/hook", NEED_HTTPS),
        ("ftp://bot.example/hook", NEED_HTTPS),
        ("https://bot.example:8080/hook", BAD_PORT),
        ("https://bot.example:444", BAD_PORT),
        # Strict by default: a loopback hook is refused too, as Telegram does.
        ("http://127.0.0.1:9/hook", NEED_HTTPS),
        ("https://127.0.0.1:9/hook", BAD_PORT),
    ],
)
async def test_set_webhook_refuses_what_telegram_refuses(
    emu: Emulator, url: str, description: str
) -> None:
    status, body = await call(emu, "setWebhook", url=url)
    assert (status, body["description"]) == (400, description)
    assert (await ok(emu, "getWebhookInfo"))["url"] == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example/hook",
        "https://bot.example:443/hook",
        "https://bot.example:80",
        "https://bot.example:88",
        "https://bot.example:8443/telegram/webhook",
    ],
)
async def test_set_webhook_takes_https_on_telegrams_ports(emu: Emulator, url: str) -> None:
    assert await ok(emu, "setWebhook", url=url) is True
    assert (await ok(emu, "getWebhookInfo"))["url"] == url
    await emu.stop()


async def test_the_test_flag_lets_only_loopback_hooks_use_http_and_any_port() -> None:
    emu = Emulator(TOKEN, limits=NO_LIMITS, local_http_webhooks=True)
    for url in ("http://127.0.0.1:50123/hook", "http://localhost:9", "http://[::1]:9/hook"):
        assert await ok(emu, "setWebhook", url=url) is True
    for url, description in (
        ("http://bot.example:50123/hook", NEED_HTTPS),
        ("https://bot.example:50123/hook", BAD_PORT),
    ):
        assert await call(emu, "setWebhook", url=url) == (
            400,
            {"ok": False, "error_code": 400, "description": description},
        )
    await emu.stop()


async def test_webhook_rejects_a_bad_secret(emu: Emulator) -> None:
    status, body = await call(emu, "setWebhook", url="https://x.example/h", secret_token="a b")
    assert status == 400 and "secret token" in body["description"]


async def test_set_webhook_drop_pending_updates(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    await emu.send_text(user_id, "old")
    await ok(emu, "deleteWebhook", drop_pending_updates=True)
    assert emu.pending_update_count == 0


# ---------------------------------------------------------------------- flood limits


async def test_private_chat_burst_then_429_with_retry_after() -> None:
    clock = FakeClock()
    emu = Emulator(TOKEN, limits=FloodLimits(private_burst=3), clock=clock)
    user_id = await started_user(emu)
    for i in range(3):
        await ok(emu, "sendMessage", chat_id=user_id, text=f"{i}")
    status, body = await call(emu, "sendMessage", chat_id=user_id, text="one too many")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    clock.now += 1
    await ok(emu, "sendMessage", chat_id=user_id, text="after waiting")


async def test_overall_limit_30_per_second() -> None:
    clock = FakeClock()
    emu = Emulator(TOKEN, limits=FloodLimits(), clock=clock)
    users = [await started_user(emu, f"u{i}") for i in range(31)]
    for user_id in users[:30]:
        await ok(emu, "sendMessage", chat_id=user_id, text="공지")
    status, body = await call(emu, "sendMessage", chat_id=users[30], text="공지")
    assert status == 429 and body["parameters"]["retry_after"] >= 1
    clock.now += 1
    await ok(emu, "sendMessage", chat_id=users[30], text="공지")


async def test_group_limit_20_per_minute() -> None:
    clock = FakeClock()
    emu = Emulator(TOKEN, limits=FloodLimits(), clock=clock)
    admin = emu.add_user("방장")["id"]
    group = emu.create_group("석촌호수 모임", [admin], [admin])
    await emu.add_bot_to_group(admin, group["id"])
    for i in range(20):
        clock.now += 0.1
        await ok(emu, "sendMessage", chat_id=group["id"], text=f"{i}")
    status, body = await call(emu, "sendMessage", chat_id=group["id"], text="21")
    assert status == 429
    retry_after = body["parameters"]["retry_after"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= 3
    clock.now += retry_after
    await ok(emu, "sendMessage", chat_id=group["id"], text="21")


# ---------------------------------------------------------------------- blocking, groups


async def test_blocked_user_gives_403_and_my_chat_member(emu: Emulator) -> None:
    user_id = await started_user(emu)
    emu.block_bot(user_id)
    (update,) = emu.pending_updates()
    change = update["my_chat_member"]
    assert change["old_chat_member"]["status"] == "member"
    assert change["new_chat_member"]["status"] == "kicked"
    Update.de_json(update, None)
    status, body = await call(emu, "sendMessage", chat_id=user_id, text="hi")
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")
    emu.unblock_bot(user_id)
    (update,) = emu.pending_updates()
    assert update["my_chat_member"]["new_chat_member"]["status"] == "member"
    await ok(emu, "sendMessage", chat_id=user_id, text="welcome back")


async def test_bot_added_to_group_and_privacy_mode(emu: Emulator) -> None:
    admin = emu.add_user("방장")["id"]
    member = emu.add_user("회원")["id"]
    group = emu.create_group("잠실 모임", [admin, member], [admin])
    assert group["id"] < 0 and str(group["id"]).startswith("-100")
    status, body = await call(emu, "sendMessage", chat_id=group["id"], text="hi")
    assert status == 403 and "not a member" in body["description"]
    await emu.add_bot_to_group(admin, group["id"])
    joined, service = emu.pending_updates()
    assert joined["my_chat_member"]["new_chat_member"]["status"] == "member"
    assert service["message"]["new_chat_members"][0]["id"] == emu.bot_user["id"]
    await emu.send_text(member, "그냥 수다", group["id"])
    await emu.send_text(member, "/setregion@halsaram_bot", group["id"])
    await emu.send_text(member, "/help@other_bot", group["id"])
    delivered = [u["message"]["text"] for u in emu.pending_updates()]
    assert delivered == ["/setregion@halsaram_bot"]
    # The transcript still shows everything people said.
    assert len(emu.transcript(group["id"])) == 4


async def test_chat_members_parse_with_python_telegram_bot(emu: Emulator) -> None:
    admin = emu.add_user("방장")["id"]
    member = emu.add_user("회원")["id"]
    group = emu.create_group("모임", [admin, member], [admin])
    await emu.add_bot_to_group(admin, group["id"], as_admin=True)
    admins = await ok(emu, "getChatAdministrators", chat_id=group["id"])
    statuses = [ChatMember.de_json(m, None).status for m in admins]
    assert statuses == ["creator", "administrator"]
    plain = await ok(emu, "getChatMember", chat_id=group["id"], user_id=member)
    assert ChatMember.de_json(plain, None).status == "member"
    info = await ok(emu, "getChat", chat_id=group["id"])
    assert ChatFullInfo.de_json(info, None).title == "모임"
    assert await ok(emu, "getChatMemberCount", chat_id=group["id"]) == 3
    await emu.send_text(admin, "/start")
    status, body = await call(emu, "getChatAdministrators", chat_id=admin)
    assert status == 400 and "private chat" in body["description"]


# ---------------------------------------------------------------------- messages and buttons


async def test_deep_link_start_payload_has_a_command_entity(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    message = await emu.send_text(user_id, "/start abc_123-XY")
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["chat"] == {"id": user_id, "type": "private", "first_name": "민지"}


async def test_contact_own_versus_someone_elses(emu: Emulator) -> None:
    user_id = emu.add_user("민지", phone_number="+821012345678")["id"]
    own = await emu.share_contact(user_id)
    assert own["contact"]["user_id"] == user_id == own["from"]["id"]
    assert own["contact"]["phone_number"] == "+821012345678"
    other = await emu.share_contact(user_id, own=False, phone_number="+821055556666")
    assert "user_id" not in other["contact"]


async def test_reply_keyboard_contact_and_location_buttons(emu: Emulator) -> None:
    user_id = await started_user(emu)
    keyboard = {
        "keyboard": [
            [{"text": "전화번호 공유", "request_contact": True}],
            [{"text": "위치 공유", "request_location": True}],
        ],
        "one_time_keyboard": False,
        "resize_keyboard": True,
    }
    await ok(emu, "sendMessage", chat_id=user_id, text="번호를 알려주세요", reply_markup=keyboard)
    assert emu.reply_keyboard(user_id) == keyboard
    shared = await emu.press_reply_button(user_id, "전화번호 공유")
    assert shared["contact"]["user_id"] == user_id
    located = await emu.press_reply_button(user_id, "위치 공유")
    assert located["location"] == {"latitude": 37.5096, "longitude": 127.1027}
    with pytest.raises(SandboxError):
        await emu.press_reply_button(user_id, "없는 버튼")
    await ok(emu, "sendMessage", chat_id=user_id, text="ok", reply_markup={"remove_keyboard": True})
    assert emu.reply_keyboard(user_id) is None


async def test_button_press_answer_and_forgery(emu: Emulator) -> None:
    user_id = await started_user(emu)
    markup = {"inline_keyboard": [[{"text": "참여", "callback_data": "j:1"}]]}
    sent = await ok(emu, "sendMessage", chat_id=user_id, text="모임", reply_markup=markup)
    with pytest.raises(SandboxError):
        await emu.press_button(user_id, user_id, sent["message_id"], "j:2")
    query = await emu.press_button(user_id, user_id, sent["message_id"], "j:1")
    (update,) = emu.pending_updates()
    assert update["callback_query"]["data"] == "j:1"
    assert update["callback_query"]["message"]["message_id"] == sent["message_id"]
    await ok(emu, "answerCallbackQuery", callback_query_id=query["id"], text="참여 완료")
    assert emu.callback_answer(query["id"])["text"] == "참여 완료"  # type: ignore[index]
    status, body = await call(emu, "answerCallbackQuery", callback_query_id=query["id"])
    assert status == 400 and "query is too old" in body["description"]
    forged = await emu.press_button(
        user_id, user_id, sent["message_id"], "admin:approve", force=True
    )
    assert emu.pending_updates()[0]["callback_query"]["id"] == forged["id"]


async def test_edit_delete_and_transcript(emu: Emulator) -> None:
    user_id = await started_user(emu)
    markup = {"inline_keyboard": [[{"text": "다음", "callback_data": "p:2"}]]}
    sent = await ok(emu, "sendMessage", chat_id=user_id, text="1쪽", reply_markup=markup)
    ref = {"chat_id": user_id, "message_id": sent["message_id"]}
    status, body = await call(emu, "editMessageText", **ref, text="1쪽", reply_markup=markup)
    assert status == 400 and body["description"].startswith("Bad Request: message is not modified")
    edited = await ok(emu, "editMessageText", **ref, text="2쪽", reply_markup=markup)
    assert edited["text"] == "2쪽" and "edit_date" in edited
    Message.de_json(edited, None)
    bare = await ok(emu, "editMessageReplyMarkup", **ref)
    assert "reply_markup" not in bare
    last = emu.transcript(user_id)[-1]
    assert last["text"] == "2쪽" and last["edited"] is True
    assert [m["text"] for m in last["edit_history"]] == ["1쪽", "2쪽"]
    assert await ok(emu, "deleteMessage", **ref) is True
    assert [m["text"] for m in emu.transcript(user_id)] == ["/start"]
    status, body = await call(emu, "deleteMessage", **ref)
    assert (status, body["description"]) == (400, "Bad Request: message to delete not found")
    status, body = await call(emu, "editMessageText", **ref, text="3쪽")
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")


async def test_a_message_with_a_reply_keyboard_cannot_be_edited(emu: Emulator) -> None:
    """Telegram edits only messages without reply_markup or with an inline keyboard: one sent
    with a reply keyboard, or with its removal, is refused (issue 23's answered questions)."""
    user_id = await started_user(emu)
    share = {"keyboard": [[{"text": "📍", "request_location": True}]]}
    for markup in (share, {"remove_keyboard": True}):
        sent = await ok(emu, "sendMessage", chat_id=user_id, text="위치", reply_markup=markup)
        ref = {"chat_id": user_id, "message_id": sent["message_id"]}
        for method, extra in (("editMessageText", {"text": "위치 → ✓"}),
                              ("editMessageReplyMarkup", {})):  # fmt: skip
            status, body = await call(emu, method, **ref, **extra)
            assert (status, body["description"]) == (
                400, "Bad Request: message can't be edited"
            ), method  # fmt: skip
    plain = await ok(emu, "sendMessage", chat_id=user_id, text="질문")
    edited = await ok(
        emu, "editMessageText", chat_id=user_id, message_id=plain["message_id"], text="질문 ✓"
    )
    assert edited["text"] == "질문 ✓"


async def test_html_parse_mode_gives_entities(emu: Emulator) -> None:
    user_id = await started_user(emu)
    sent = await ok(
        emu, "sendMessage", chat_id=user_id, text="<b>할사람</b> 모여라", parse_mode="HTML"
    )
    assert sent["text"] == "할사람 모여라"
    assert sent["entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    linked = await ok(
        emu, "sendMessage", chat_id=user_id, text="QR: https://t.me/halsaram_bot?start=a1"
    )
    assert linked["entities"] == [{"type": "url", "offset": 4, "length": 34}]
    status, body = await call(
        emu, "sendMessage", chat_id=user_id, text="<blink>x</blink>", parse_mode="HTML"
    )
    assert status == 400 and "can't parse entities" in body["description"]


async def test_reply_parameters(emu: Emulator) -> None:
    user_id = await started_user(emu)
    question = emu.transcript(user_id)[0]
    sent = await ok(
        emu,
        "sendMessage",
        chat_id=user_id,
        text="답장",
        reply_parameters={"message_id": question["message_id"]},
    )
    assert sent["reply_to_message"]["text"] == "/start"
    status, body = await call(
        emu, "sendMessage", chat_id=user_id, text="x", reply_parameters={"message_id": 999}
    )
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")


async def test_commands_per_scope_and_language(emu: Emulator) -> None:
    commands = [{"command": "start", "description": "시작"}]
    await ok(emu, "setMyCommands", commands=commands, language_code="ko")
    admins = {"type": "all_chat_administrators"}
    await ok(
        emu,
        "setMyCommands",
        commands=[{"command": "setregion", "description": "지역"}],
        scope=admins,
    )
    assert await ok(emu, "getMyCommands", language_code="ko") == commands
    assert await ok(emu, "getMyCommands") == []
    assert emu.my_commands(admins)[0]["command"] == "setregion"
    await ok(emu, "deleteMyCommands", scope=admins)
    assert emu.my_commands(admins) == []
    status, body = await call(
        emu, "setMyCommands", commands=[{"command": "Bad Cmd", "description": "x"}]
    )
    assert (status, body["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")


# ---------------------------------------------------------------------- files


async def test_user_photo_is_reencoded_in_sizes_without_exif(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    message = await emu.send_photo(user_id, jpeg_with_exif(), caption="인증샷")
    photo = message["photo"]
    assert len(photo) >= 3
    assert [max(p["width"], p["height"]) for p in photo] == [90, 320, 800, 1280, 2000]
    largest = photo[-1]
    # Orientation 6 was applied before EXIF was dropped: the picture is portrait now.
    assert (largest["width"], largest["height"]) == (1500, 2000)
    assert len({p["file_unique_id"] for p in photo}) == len(photo)
    info = await ok(emu, "getFile", file_id=largest["file_id"])
    assert info["file_path"].endswith(".jpg")
    data = emu.file_bytes(info["file_path"])
    assert data is not None and len(data) == info["file_size"] == largest["file_size"]
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert "exif" not in image.info
        assert len(image.getexif()) == 0
        assert image.size == (1500, 2000)
    assert message["caption"] == "인증샷"


async def test_small_photo_is_never_upscaled(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    out = io.BytesIO()
    Image.new("RGBA", (200, 100), (0, 0, 255, 128)).save(out, format="PNG")
    message = await emu.send_photo(user_id, out.getvalue())
    assert [(p["width"], p["height"]) for p in message["photo"]] == [(90, 45), (200, 100)]


async def test_document_keeps_its_bytes(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    original = jpeg_with_exif((64, 48))
    message = await emu.send_document(user_id, original, "IMG_0001.JPG")
    document = message["document"]
    assert document["file_name"] == "IMG_0001.JPG" and document["mime_type"] == "image/jpeg"
    info = await ok(emu, "getFile", file_id=document["file_id"])
    assert emu.file_bytes(info["file_path"]) == original


async def test_get_file_over_20_mb_is_refused(emu: Emulator) -> None:
    user_id = emu.add_user("민지")["id"]
    message = await emu.send_document(user_id, b"\0" * (20 * 1024 * 1024 + 1), "big.bin")
    status, body = await call(emu, "getFile", file_id=message["document"]["file_id"])
    assert (status, body["description"]) == (400, "Bad Request: file is too big")
    status, body = await call(emu, "getFile", file_id="nope")
    assert status == 400


async def test_bot_photo_upload_and_resend_by_file_id(emu: Emulator) -> None:
    user_id = await started_user(emu)
    out = io.BytesIO()
    Image.new("L", (300, 300), 255).save(out, format="PNG")
    first = await emu.bot_call(
        TOKEN, "sendPhoto", {"chat_id": user_id}, {"photo": ("qr.png", out.getvalue())}
    )
    assert first[0] == 200, first
    photo = first[1]["result"]["photo"]
    again = await ok(emu, "sendPhoto", chat_id=user_id, photo=photo[-1]["file_id"])
    assert [p["file_id"] for p in again["photo"]] == [p["file_id"] for p in photo]
    attached = await emu.bot_call(
        TOKEN,
        "sendPhoto",
        {"chat_id": user_id, "photo": "attach://pic"},
        {"pic": ("qr.png", out.getvalue())},
    )
    assert attached[0] == 200
    status, body = await call(emu, "sendPhoto", chat_id=user_id, photo="unknown-id")
    assert status == 400 and "wrong file identifier" in body["description"]
    bad = await emu.bot_call(TOKEN, "sendPhoto", {"chat_id": user_id}, {"photo": ("x", b"no")})
    assert bad[0] == 400


async def test_location_and_venue_messages(emu: Emulator) -> None:
    user_id = await started_user(emu)
    venue = await ok(
        emu,
        "sendVenue",
        chat_id=user_id,
        latitude=37.5096,
        longitude=127.1027,
        title="석촌호수",
        address="서울 송파구",
    )
    assert venue["venue"]["title"] == "석촌호수" and venue["location"]["latitude"] == 37.5096
    located = await emu.share_location(user_id, 37.5, 127.1, live_period=60)
    assert located["location"]["live_period"] == 60


# ---------------------------------------------------------------------- persistence


async def test_state_file_keeps_chats_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    first = Emulator(TOKEN, limits=NO_LIMITS, state_file=state)
    user_id = first.add_user("민지")["id"]
    await first.send_text(user_id, "/start")
    await first.send_document(user_id, b"\x00\x01binary", "a.bin")
    await first.stop()
    second = Emulator(TOKEN, limits=NO_LIMITS, state_file=state)
    transcript = second.transcript(user_id)
    assert [m.get("text") for m in transcript] == ["/start", None]
    file_id = transcript[1]["document"]["file_id"]
    info = await second.bot_call(TOKEN, "getFile", {"file_id": file_id})
    assert second.file_bytes(info[1]["result"]["file_path"]) == b"\x00\x01binary"
    assert second.pending_update_count == 2
    assert second.add_user("새 사람")["id"] != user_id
