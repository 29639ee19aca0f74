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
    """Translates `message` into `lang` and fills `{placeholders}`. A Korean text writes the
    particle after a value as its format spec, `{name:을}`, `{of:과}`, `{after:이에요}`: the
    form that fits how the value is read is chosen (`particle`)."""
    text = translations(lang).gettext(message)
    if not values:
        return text
    if lang == "ko":
        values = {key: _Spoken(value) for key, value in values.items()}
    return text.format(**values)


def tn(lang: str, singular: str, plural: str, count: int, /, **values: Any) -> str:
    """`t` for a text about `count` things: gettext picks the form ("1 photo is", "2 photos
    are"; Korean has one form); `{count}` and `values` fill the placeholders."""
    text = translations(lang).ngettext(singular, plural, count)
    values = {"count": count, **values}
    if lang == "ko":
        values = {key: _Spoken(value) for key, value in values.items()}
    return text.format(**values)


# Each particle's two forms: after a final consonant (받침), after a vowel. 으로/로 also
# takes 로 after ㄹ.
_PARTICLES = {
    form: pair
    for pair in (("이", "가"), ("을", "를"), ("은", "는"), ("과", "와"), ("으로", "로"),
                 ("이에요", "예요"), ("이나", "나"))
    for form in pair
}  # fmt: skip
# How a value's last character is read: digits as Sino-Korean numbers (영 일 이 삼 사 오 육 칠
# 팔 구), Latin letters as their English names (엘, 엠, 엔, 알 end in a consonant).
_DIGIT_FINAL = {"0": "ㅇ", "1": "ㄹ", "3": "ㅁ", "6": "ㄱ", "7": "ㄹ", "8": "ㄹ"}
_LETTER_FINAL = {"l": "ㄹ", "m": "ㅁ", "n": "ㄴ", "r": "ㄹ"}
_RIEUL = 8  # ㄹ's index among the final consonants of a Hangul syllable


def particle(word: str, form: str) -> str:
    """The form of the particle `form` (either of its pair: "을" or "를") that fits `word`."""
    after_consonant, after_vowel = _PARTICLES[form]
    last = next((c for c in reversed(word) if c.isalnum()), "")
    final: str | None = None
    if "가" <= last <= "힣":
        index = (ord(last) - ord("가")) % 28
        final = None if index == 0 else ("ㄹ" if index == _RIEUL else "other")
    elif last.isdigit():
        final = _DIGIT_FINAL.get(last)
    elif last.isascii():
        final = _LETTER_FINAL.get(last.lower())
    if final is None or (final == "ㄹ" and after_consonant == "으로"):
        return after_vowel
    return after_consonant


class _Spoken:
    """A value in a Korean text: `{value:을}` adds the particle that fits it."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        if spec in _PARTICLES:
            said = format(self.value, "")
            return said + particle(said, spec)
        return format(self.value, spec)

    def __str__(self) -> str:
        return str(self.value)


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


def days(lang: str, count: int) -> str:
    """ "1 day" / "30 days" ("30일")."""
    return tn(lang, "{count} day", "{count} days", count)


def points(lang: str, count: int) -> str:
    """ "1 point" / "150 points" ("150포인트"): a count of points wherever a text says one."""
    return tn(lang, "{count} point", "{count} points", count)


def format_distance(lang: str, metres: float) -> str:
    """ "800 m" / "1.2 km", rounded the way people say distances."""
    if metres < 1000:
        return t(lang, "{m} m", m=int(round(metres, -1)))
    return t(lang, "{km} km", km=f"{metres / 1000:.1f}")
