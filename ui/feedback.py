"""Feedback after a meetup (step 7) as text and buttons: stars for each attendee, then tags."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup

from storage.feedback import STARS, Person
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, t

# The optional tags on a rating (storage.feedback.TAGS).
TAG_LABELS = {
    "on_time": N_("On time"),
    "friendly": N_("Friendly"),
    "helpful": N_("Helpful"),
    "late": N_("Late"),
    "rude": N_("Rude"),
}
ALL_RATED = N_("You have rated everyone. Thank you!")
# A tag's button says what a press leaves, never "toggle": `<tag>` puts it on, `-<tag>` (under
# a ticked tag) takes it off, so the same press handled twice leaves what one press left.
OFF = "-"


def rating_requests(
    lang: str, meeting_id: int, people: Sequence[Person]
) -> list[tuple[str, InlineKeyboardMarkup]]:
    """One message per attendee still to rate, each with a row of one to five stars."""
    return [
        (t(lang, "How was meeting {name}?", name=person.name), _stars(meeting_id, person))
        for person in people
    ]


def _stars(meeting_id: int, person: Person) -> InlineKeyboardMarkup:
    action = Action.FEEDBACK_STARS
    row = [("★" * n, callbacks.encode(action, meeting_id, person.user_id, n)) for n in STARS]
    return keyboards.inline([row])


def rated(lang: str, stars: int) -> str:
    # Korean names the number ("별점 5점을"): a particle after ★ would have no sound to fit.
    return t(lang, "You gave {stars}. Anything else? (optional)", stars="★" * stars, n=stars)


def tags(lang: str, feedback_id: int, chosen: Sequence[str]) -> InlineKeyboardMarkup:
    """The tags of one's rating, the chosen ones ticked; a press puts an unticked one on and
    takes a ticked one off."""
    buttons = [
        (("✅ " if tag in chosen else "") + t(lang, label),
         callbacks.encode(Action.FEEDBACK_TAG, feedback_id, (OFF + tag) if tag in chosen else tag))
        for tag, label in TAG_LABELS.items()
    ]  # fmt: skip
    return keyboards.inline(keyboards.grid(buttons, 3))


def tag_choice(arg: str) -> tuple[str, bool]:
    """What a tag button's argument asks: the tag, and whether to put it on."""
    return (arg[len(OFF) :], False) if arg.startswith(OFF) else (arg, True)
