"""The emulator is split into modules; `Emulator` and `sandbox.emulator`'s names stay the façade."""

from __future__ import annotations

import importlib

import pytest

from sandbox.emulator import Emulator

# Every public name sandbox.emulator had when it was one module.
PUBLIC_NAMES = (
    "CONFLICT_POLLING",
    "CONFLICT_WEBHOOK",
    "DEFAULT_LOCATION",
    "MAX_DOWNLOAD_BYTES",
    "NOT_BY_DEFAULT",
    "NOT_MODIFIED",
    "SENDING_METHODS",
    "UPDATE_TYPES",
    "ApiError",
    "ChatRecord",
    "Emulator",
    "FileRecord",
    "FloodLimits",
    "Handler",
    "MessageRecord",
    "NetworkFaults",
    "ResponseLost",
    "SandboxError",
    "Unreachable",
    "UserRecord",
    "WebhookState",
)

IMPLEMENTED = [
    "answerCallbackQuery",
    "deleteMessage",
    "deleteMessages",
    "deleteMyCommands",
    "deleteWebhook",
    "editMessageCaption",
    "editMessageMedia",
    "editMessageReplyMarkup",
    "editMessageText",
    "getChat",
    "getChatAdministrators",
    "getChatMember",
    "getChatMemberCount",
    "getChatMenuButton",
    "getFile",
    "getMe",
    "getMyCommands",
    "getMyDescription",
    "getMyName",
    "getMyShortDescription",
    "getUpdates",
    "getWebhookInfo",
    "leaveChat",
    "sendChatAction",
    "sendContact",
    "sendDocument",
    "sendLocation",
    "sendMessage",
    "sendPhoto",
    "sendVenue",
    "sendVideo",
    "sendVideoNote",
    "setChatMenuButton",
    "setMyCommands",
    "setMyDescription",
    "setMyName",
    "setMyShortDescription",
    "setWebhook",
]


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_names_still_come_from_sandbox_emulator(name: str) -> None:
    module = importlib.import_module("sandbox.emulator")
    assert hasattr(module, name)
    assert name in module.__all__


def test_every_method_of_the_table_is_bound() -> None:
    emu = Emulator("123:T")
    assert emu.implemented_methods == sorted(IMPLEMENTED)
    assert all(callable(emu._handlers[m]) for m in IMPLEMENTED)
