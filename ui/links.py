"""The one deep-link codec: the `t.me/<bot>?start=<payload>` links the bot hands out, and the
patterns `bot.app` routes `/start <payload>` on.

Telegram opens the bot with `/start <payload>` when such a link is followed (a QR scanned with
the phone camera, a group post's button); a payload is at most 64 characters of `A-Za-z0-9_-`
(Bot API docs, "Deep linking"). The first character says what the link is for.
"""

from __future__ import annotations

import re

from ui.callbacks import MAX_NUMBER

CHECKIN = "c"  # c<check-in token>: the host's QR code
MISSION = "m"  # m<mission id>: a daily group post's button
MAX_PAYLOAD = 64
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID = re.compile(r"[0-9]{1,19}")  # MAX_NUMBER has 19 digits

# What `bot.app` routes on, before signup (which owns a bare /start).
CHECKIN_START = rf"^/start {CHECKIN}[A-Za-z0-9_-]+$"
MISSION_START = rf"^/start {MISSION}[0-9]+$"


def start_link(bot_username: str, payload: str) -> str:
    """The link that opens a private chat with the bot as `/start <payload>`."""
    if not _PAYLOAD.fullmatch(payload):
        raise ValueError("a deep-link payload is 1-64 characters of A-Za-z0-9_-")
    return f"https://t.me/{bot_username}?start={payload}"


def checkin_link(bot_username: str, token: str) -> str:
    return start_link(bot_username, CHECKIN + token)


def mission_link(bot_username: str, mission_id: int) -> str:
    return start_link(bot_username, f"{MISSION}{mission_id}")


def checkin_token(payload: str) -> str:
    """The check-in token inside a `c…` payload (verified by `verification.checkin`)."""
    return payload.removeprefix(CHECKIN)


def mission_id(payload: str) -> int | None:
    """The mission of an `m…` payload, or None when it is not one: not a number, or one no
    database id can be (0, beyond a signed 64-bit integer), which only a forged link carries
    and which the database would refuse with an overflow."""
    digits = payload.removeprefix(MISSION)
    if not _ID.fullmatch(digits) or not 0 < int(digits) <= MAX_NUMBER:
        return None
    return int(digits)
