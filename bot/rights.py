"""Telegram refusing the bot's messages in a group: why, read from the error it answers.

A bot may stay in a group where it cannot post: restricted without `can_send_messages`, a
group where members may not send messages (the bot is a member), a forum whose topic the bot
writes to is closed. Telegram answers such a send 400 with these descriptions:
- "Bad Request: not enough rights to send text messages to the chat" (and "... photos ..."
  and so on by kind; older servers said "have no rights to send a message"). Seen in the
  wild: github.com/TelegramBotAPI/errors issue #5.
- "Bad Request: TOPIC_CLOSED": the topic (or a closed General topic, for a send without
  `message_thread_id`) is closed (rteixeirax/qbittorrent_telegram_notification issue #12,
  telegramdesktop/tdesktop issue #30476).
- "Bad Request: message thread not found": the topic is gone (grammyjs/auto-thread issue #3).
Retrying such a send cannot help; the group's admin must change something.
"""

from __future__ import annotations

from telegram import ChatMember, ChatMemberRestricted
from telegram.error import BadRequest

from storage.groups import CannotPostReason

_NO_RIGHTS = ("not enough rights to send", "have no rights to send")
_TOPIC = ("topic_closed", "message thread not found")


def cannot_post(error: BaseException) -> CannotPostReason | None:
    """Why Telegram refused a send as one the bot may not make in that chat (None: another
    refusal, or no refusal at all)."""
    if not isinstance(error, BadRequest):
        return None
    text = error.message.lower()
    if any(phrase in text for phrase in _NO_RIGHTS):
        return "no_rights"
    if any(phrase in text for phrase in _TOPIC):
        return "topic_closed"
    return None


def in_chat(member: ChatMember) -> bool:
    """Whether a ChatMember says the person (or the bot) is in the chat: a restricted member
    counts only while `is_member` (Bot API, ChatMemberRestricted)."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return member.status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)


def may_send(member: ChatMember) -> bool:
    """Whether a ChatMember in the chat may send text messages there, as far as the status
    tells (a plain member may still meet the group's own permissions, learnt on sending)."""
    if isinstance(member, ChatMemberRestricted):
        return member.can_send_messages
    return in_chat(member)
