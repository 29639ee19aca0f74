"""An operator's command menu (issue 23): Telegram's menu per role.

`setMyCommands` with `BotCommandScopeChat(<operator's user id>)` gives an operator's private
chat its own list, the private commands and the operators' (`ui.commands`, audiences PRIVATE
and OPERATOR), in each language (Bot API: "BotCommandScopeChat ... a specific chat"; a
private chat's id is the person's id). `bot.app.publish_commands` sets it for every operator
at start, and `/help` from an operator sets it again, so someone made an admin while the bot
runs (`make admin ID=…`) gets their menu without a restart. An operator who never wrote to the
bot has no chat yet: Telegram refuses ("chat not found") and the menu waits for their `/help`.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, Forbidden

from ui.commands import Audience, commands_for
from ui.i18n import SUPPORTED, t

log = logging.getLogger(__name__)


async def publish_operator_menu(bot: Bot, user_id: int) -> bool:
    """Sets an operator's private menu in every language; False when Telegram refused."""
    for lang in SUPPORTED:
        code = None if lang == "ko" else lang  # Korean is the fallback for the rest
        listed = [
            BotCommand(c.name, t(lang, c.description))
            for c in commands_for(Audience.PRIVATE, Audience.OPERATOR)
        ]
        try:
            await bot.set_my_commands(
                listed, scope=BotCommandScopeChat(user_id), language_code=code
            )
        except (BadRequest, Forbidden) as exc:
            log.info("no operator menu yet for a chat: %s", exc.message)
            return False
    return True
