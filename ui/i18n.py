"""Every user-facing text goes through here: gettext catalogues (Babel), per user language.

Messages are written in English in the code (`t(lang, "...")`) and translated in
`locales/<lang>/LC_MESSAGES/halsaram.po`. The `.po` files are read directly (compiled in memory
once), so a fresh clone needs no build step. Korean is the default language.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "halsaram"
LOCALES_DIR = Path(__file__).parent / "locales"
SUPPORTED = ("ko", "en")
DEFAULT = "ko"


def N_(message: str) -> str:
    """Marks a message for extraction where it is translated later (command lists)."""
    return message


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue for `lang`; English is the source language and needs none."""
    po_path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick_language(code: str | None, default: str = DEFAULT) -> str:
    """Maps Telegram's IETF `language_code` ("en-US", "ko") to a supported language."""
    if code:
        base = code.split("-")[0].lower()
        if base in SUPPORTED:
            return base
    return default


def t(lang: str, message: str, /, **values: Any) -> str:
    """Translates `message` into `lang` and fills `{placeholders}`."""
    text = translations(lang).gettext(message)
    return text.format(**values) if values else text


def localized(lang: str, item: Any, name: str) -> str:
    """One way to say a bilingual value: `item.<name>_ko` in Korean, else `item.<name>_en`
    (an attribute of a model or view, or a key of a mapping)."""
    key = f"{name}_ko" if lang == "ko" else f"{name}_en"
    value = item[key] if isinstance(item, Mapping) else getattr(item, key)
    return str(value)


_WEEKDAYS = {
    "ko": ("월", "화", "수", "목", "금", "토", "일"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_when(lang: str, moment: datetime, zone: tzinfo) -> str:
    """A meetup time in local time: "11월 25일 (수) 19:00" / "Wed 25 Nov 19:00"."""
    local = moment.astimezone(zone)
    weekday = _WEEKDAYS.get(lang, _WEEKDAYS["en"])[local.weekday()]
    if lang == "ko":
        return f"{local.month}월 {local.day}일 ({weekday}) {local:%H:%M}"
    return f"{weekday} {local.day} {_MONTHS_EN[local.month - 1]} {local:%H:%M}"


def format_distance(lang: str, metres: float) -> str:
    """ "800 m" / "1.2 km", rounded the way people say distances."""
    if metres < 1000:
        return t(lang, "{m} m", m=int(round(metres, -1)))
    return t(lang, "{km} km", km=f"{metres / 1000:.1f}")
