"""Who sent an update, as Telegram tells it: a person, or a chat speaking for someone.

An admin of a supergroup with "Remain anonymous" posts as the group itself: the message's
`sender_chat` is the group, and its `from` is a stand-in user, @GroupAnonymousBot (id 1087968824,
`telegram.constants.ChatID.ANONYMOUS_ADMIN`), the same for every anonymous admin of every group
(Bot API: Message.sender_chat, https://core.telegram.org/bots/api#message; Bot API 5.0). A
linked channel's posts forwarded into its discussion group (`from` 777000) and a person writing
as one of their channels (`from` 136817688) carry `sender_chat` the same way. A button press
always names the real person (`callback_query.from`; tdlib/telegram-bot-api issue #667).

So the bot keys flood counts and the per-sender order on the sending chat when there is one
(`sender_key`), never takes a stand-in for a person (`person`), and takes `sender_chat` being
this very group, confirmed by the group's administrator list, for one of its admins
(`sender_is_admin`): only anonymous admins post as the group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Chat, ChatMember, Update, User
from telegram.constants import ChatID, ChatType

if TYPE_CHECKING:
    from bot.context import Context

# The users Telegram puts in `from` when a chat sent the message: nobody in particular.
STAND_INS = frozenset(int(stand_in) for stand_in in ChatID)
_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
_ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


def sender_key(update: object) -> int | None:
    """Whose updates these are, for counting and ordering: the sending chat when a chat sent
    the message (one key per group for its anonymous admins, per channel for its posts), else
    the person (user ids are positive, group and channel ids negative: keys never collide)."""
    if not isinstance(update, Update):
        return None
    sender = update.effective_sender
    return sender.id if sender is not None else None


def person(update: Update) -> User | None:
    """The person who sent this, or None when Telegram does not say (a chat sent it)."""
    if update.message is not None and update.message.sender_chat is not None:
        return None
    user = update.effective_user
    return None if user is None or user.id in STAND_INS else user


def anonymous_admin(update: Update) -> Chat | None:
    """The group an anonymous admin posted this message as (`sender_chat` is the chat itself),
    as far as the message says; `sender_is_admin` also asks Telegram."""
    message = update.message
    if message is None or message.sender_chat is None or message.chat.type not in _GROUPS:
        return None
    return message.chat if message.sender_chat.id == message.chat.id else None


async def sender_is_admin(update: Update, context: Context) -> bool:
    """Whether the sender is an admin of this group now, asked of Telegram: an anonymous admin
    (the message is sent as the group, and its administrator list has an anonymous admin),
    otherwise the person's getChatMember status."""
    chat = update.effective_chat
    if chat is None or chat.type not in _GROUPS:
        return False
    if update.message is not None and update.message.sender_chat is not None:
        return await anonymous_admin_of(update, context, chat.id)
    sender = person(update)
    if sender is None:
        return False
    member = await context.bot.get_chat_member(chat.id, sender.id)
    return member.status in _ADMIN_STATUSES


async def anonymous_admin_of(update: Update, context: Context, chat_id: int | None) -> bool:
    """Whether an anonymous admin of `chat_id` (say the admin group) sent this message.

    Telegram cannot say which admin: what they may do is what any admin of that chat may do,
    and nothing that records who acted."""
    group = anonymous_admin(update)
    if group is None or chat_id is None or group.id != chat_id:
        return False
    admins = await context.bot.get_chat_administrators(group.id)
    return any(getattr(member, "is_anonymous", False) for member in admins)
