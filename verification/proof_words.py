"""Proof words: a short one-time word each participant writes into their evidence photo.

At check-in every participant gets a word from a vetted list (`data/proof_words.json`) in
their language, unique within the meetup and, where the list allows, never one they had
before. A photo taken on another day cannot show today's word, so reusing an old picture
shows up. Reading the word is the AI judge's job when one is configured; this module only
compares what was read with what was issued.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Collection, Mapping
from functools import cache
from importlib import resources

from verification.photos import Signal

CHECK = "proof_word"
# Letters and digits of any script; everything else separates words.
_TOKEN = re.compile(r"\w+", re.UNICODE)


@cache
def words(lang: str) -> tuple[str, ...]:
    """The vetted words of a language (Korean for anything but English)."""
    raw = json.loads(
        resources.files("verification").joinpath("data/proof_words.json").read_text("utf-8")
    )
    return tuple(raw["en" if lang == "en" else "ko"])


def pick(lang: str, taken: Collection[str], avoid: Collection[str] = ()) -> str:
    """A random word not in `taken` (the meetup's), preferring one not in `avoid` (the
    person's earlier words); raises LookupError when the meetup used every word."""
    free = [w for w in words(lang) if w not in taken]
    if not free:
        # Ten seats per meetup against ~80 words per language: only a broken list gets here.
        raise LookupError("no proof word left for this meetup")
    fresh = [w for w in free if w not in avoid]
    return secrets.choice(fresh or free)


def normalize(text: str) -> str:
    return text.casefold().strip()


def tokens(text: str) -> list[str]:
    """The words in a transcription, normalised ("Apple!" and "apple" are one)."""
    return [normalize(t) for t in _TOKEN.findall(text)]


def _seen(text: str, word: str) -> bool:
    # Korean is written without spaces around a single word often ("사과입니다"), so a
    # substring counts; an English word must stand alone ("pineapple" is not "apple").
    wanted = normalize(word)
    if wanted.isascii():
        return wanted in tokens(text)
    return wanted in normalize(text)


def candidates(text: str) -> list[str]:
    """Words worth looking up among other meetups' words: every token of the text and,
    for Korean, every 2-5 letter piece of a token (a particle may follow the word)."""
    found: set[str] = set()
    for token in tokens(text)[:50]:
        found.add(token)
        if not token.isascii():
            for size in range(2, 6):
                found.update(token[i : i + size] for i in range(len(token) - size + 1))
    return sorted(found)


def assess(
    expected: str | None, word_visible: str, text: str, elsewhere: Mapping[str, int]
) -> Signal | None:
    """What the AI judge's reading says about the proof word; None when nothing to say.

    `elsewhere` maps words read in the photo that were issued in other meetups to one of
    those meetups' ids.
    """
    if expected is None:
        return None
    if _seen(text, expected) or (word_visible == "yes" and not elsewhere):
        return Signal(CHECK, "ok", "word_seen", {"word": expected})
    for word, meeting_id in sorted(elsewhere.items()):
        if normalize(word) != normalize(expected):
            return Signal(CHECK, "warn", "other_meetup", {"word": word, "meeting": meeting_id})
    if word_visible == "no":
        return Signal(CHECK, "warn", "word_missing", {"word": expected})
    return Signal(CHECK, "unknown", "word_unclear", {"word": expected})
