"""What the bot says to an anonymous admin (one who posts as the group): Telegram does not tell
the bot which admin wrote, so a command that records who acted is asked for privately."""

from __future__ import annotations

from ui.i18n import t


def name_needed(lang: str, command: str) -> str:
    """The polite ask: `/command` records who did it, and here the bot cannot tell."""
    return t(
        lang,
        "You are posting anonymously, as the group, so Telegram does not tell me which admin "
        "you are, and /{command} records who did it. Please send /{command} to me in a private "
        "chat.",
        command=command,
    )
