"""The privacy notice (issue 20) and the `/mydata` file on screen.

The notice says in plain words what `docs/privacy.md` maps: each category of personal data, why
it is kept and for how long, with the days the settings give. It is shown with the terms at
signup (`ui.signup.terms`) and by `/privacy`. `CATEGORY_WORDS` and `PERIOD_WORDS` are the words
by which the notice names each category and each retention period of the map;
`tests/test_privacy_map.py` checks that every one of the map's appears in the notice, in Korean
and English.

Pure functions of a language and plain values; the retention windows come from any object with
the three settings (the `Settings` object itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from ui.i18n import N_, days, t

# One Telegram message holds at most 4096 characters.
MESSAGE_LIMIT = 4096
# A document's caption, at most 1024.
CAPTION_LIMIT = 1024


class Windows(Protocol):
    """The retention settings (bot.settings.Settings has them)."""

    @property
    def inbox_retention_days(self) -> int: ...

    @property
    def outbox_retention_days(self) -> int: ...

    @property
    def photo_retention_days(self) -> int: ...


# How the notice names each category of the data map (docs/privacy.md, "category").
CATEGORY_WORDS: Mapping[str, str] = {
    "account": N_("Telegram id"),
    "phone": N_("phone number"),
    "neighbourhood": N_("neighbourhood"),
    "location": N_("location"),
    "interests": N_("interests"),
    "meetups": N_("meetups"),
    "photos": N_("photo"),
    "ratings": N_("ratings"),
    "reports": N_("reports"),
    "points": N_("points"),
    "safety": N_("trust score"),
    "messages": N_("what you send the bot"),
}

# How the notice names each retention period of the map ("kept"); a setting's name
# (`DAY_PERIODS`) stands for its number of days, said with its plural ("1 day", "30 days").
PERIOD_WORDS: Mapping[str, str] = {
    "account": N_("while you have an account"),
    "handled": N_("until it is handled"),
    "books": N_("for the books"),
    "conversation": N_("until it ends"),
    "group": N_("while the group uses the bot"),
    "chat": N_("chat history"),
    "provider": N_("OpenAI"),
    "logs": N_("on a rotation"),
    "never": N_("never stored"),
    "suspension": N_("until the suspension ends"),
}

DAY_PERIODS = ("inbox_retention_days", "outbox_retention_days", "photo_retention_days")
PERIODS = (*PERIOD_WORDS, *DAY_PERIODS)


def period_words(lang: str, period: str, windows: Windows) -> str:
    """How the notice says the retention period `period` of the map (one of `PERIODS`)."""
    if period in DAY_PERIODS:
        return days(lang, int(getattr(windows, period)))
    return t(lang, PERIOD_WORDS[period])


_HEADER = N_("🔒 Your data at Halsaram: what we keep, why, and for how long")
_ITEMS = (
    N_(
        "Profile: your Telegram id, first name and language; your phone number only as a "
        "protected code and as 010-****-5678 (others never see it); your neighbourhood, "
        "interests and usual times; your trust score and any suspension. Kept while you "
        "have an account, to match you with neighbours and keep meetups safe."
    ),
    N_(
        "Location: the location you share at signup is only checked against your "
        "neighbourhood's boundary and never stored; only the neighbourhood is kept. The same "
        "goes for a location you share to find meetups nearby."
    ),
    N_(
        "Meetups: the meetups you host or join, your check-ins and proof words, the ratings "
        "you give and get (nobody is told who rated them) and the reports you file or that "
        "concern you. Kept while you have an account."
    ),
    N_(
        "Photos: your proof photos with the time and place your camera recorded, the checks "
        "and the admins' decision. The photo is deleted {photo_days} after the meetup; "
        "its fingerprint and the decision stay. Admins see the photo and your first name in "
        "their review group, where the card stays in the chat history. When AI checking is "
        "on, a smaller copy without the camera data goes to OpenAI for the check."
    ),
    N_("Points and vouchers: your points history and your voucher codes, kept for the books."),
    N_(
        "Messages: what you send the bot is kept in full only until it is handled; then only "
        "its type and time stay, deleted after {inbox_days}. Notices we send you are deleted "
        "{outbox_days} after they go out. The answers of an unfinished step "
        "(signup, hosting, a report) are kept until it ends."
    ),
    N_("If you set up a group, your Telegram id is kept with it while the group uses the bot."),
    N_("Server logs hold no texts, phone numbers or locations, and are deleted on a rotation."),
    N_(
        "If you delete your account while it is suspended, the protected code of your number "
        "is kept until the suspension ends (for a ban, as long as it stands), so the number "
        "cannot sign up again before then."
    ),
)
_RIGHTS = N_(
    "/mydata sends you everything we hold about you. /deleteme deletes your account: your "
    "profile, number, photos and messages go; your points history, past meetups, ratings and "
    "reports stay without your name, and unused points are lost. /privacy shows this again."
)


def notice(lang: str, windows: Windows) -> str:
    """The privacy notice, one message (checked to fit with the terms in one)."""
    said = {
        "inbox_days": days(lang, windows.inbox_retention_days),
        "outbox_days": days(lang, windows.outbox_retention_days),
        "photo_days": days(lang, windows.photo_retention_days),
    }
    items = [f"• {t(lang, item, **said)}" for item in _ITEMS]
    return "\n\n".join([t(lang, _HEADER), *items, t(lang, _RIGHTS)])


# --------------------------------------------------------------------------- /mydata


def export_filename(day: date) -> str:
    """`halsaram-mydata-YYYYMMDD.json`, the person's local date."""
    return f"halsaram-mydata-{day:%Y%m%d}.json"


def export_bytes(data: Mapping[str, Any]) -> bytes:
    """The export as a JSON document people can read (UTF-8, Korean as it is)."""
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def export_caption(lang: str) -> str:
    return t(
        lang,
        "Everything Halsaram holds about you, as of now. The photos themselves are not in "
        'the file: each photo\'s "photo_kept_until" says until when we keep it. Voucher codes '
        "are in full, so keep this file to yourself. /deleteme deletes your account.",
    )
