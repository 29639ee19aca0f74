"""Signup and profile edits on screen (step 1): each step's question with its buttons, the
pickers (district, dong, interests, times), the location check's answers and the summary.

Pure functions of a language and plain values (storage's `District` and `Region` for the
pickers); both conversations that ask these steps (`conversations.signup`,
`conversations.profile_edit`) render through here. A screen is a text and its markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from missions.categories import INTERESTS, TIMES_OF_DAY
from storage.accounts import District
from storage.models import Region
from ui import callbacks, keyboards, privacy
from ui.callbacks import Action
from ui.i18n import format_distance, localized, t
from ui.profile import interest_names, time_names, verified_label

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
Screen = tuple[str, Markup | None]
CLOSE = ReplyKeyboardRemove()  # takes away a share-contact or share-location keyboard


def with_answer(question: str, answer: str) -> str:
    """A question once answered, as it stays in the chat: its text, then the answer."""
    return f"{question}\n→ {answer} ✓"


def cancelled_answer(lang: str) -> str:
    """What a question shows once the conversation it belongs to is cancelled."""
    return t(lang, "Cancelled")


# --------------------------------------------------------------------------- terms and phone


def terms(lang: str, windows: privacy.Windows) -> Screen:
    """The terms with the privacy notice (its retention windows from the settings), and the
    question; one message."""
    intro = t(
        lang,
        "Before we start: Halsaram connects you with neighbours you have not met. "
        "To keep everyone safe we ask for your phone number (stored protected, never "
        "shown to others), your neighbourhood and your interests. Meetups happen only "
        "in public places; you can report anyone, and delete your account at any time "
        "with /deleteme.",
    )
    question = t(lang, "Do you agree to these terms and to this privacy notice?")
    text = "\n\n".join([intro, privacy.notice(lang, windows), question])
    markup = keyboards.inline(
        [
            [
                (t(lang, "I agree"), callbacks.encode(Action.TERMS, "yes")),
                (t(lang, "No, thanks"), callbacks.encode(Action.TERMS, "no")),
            ]
        ]
    )
    return text, markup


def declined(lang: str) -> Screen:
    return t(
        lang, "No problem, nothing was stored. If you change your mind, send /start any time."
    ), None


def _share_phone(lang: str) -> ReplyKeyboardMarkup:
    return keyboards.request_contact(t(lang, "📱 Share my phone number"))


def phone_question(lang: str) -> Screen:
    text = t(
        lang,
        "Please share your phone number with the button below. It confirms you are a real "
        "person; others never see it.",
    )
    return text, _share_phone(lang)


def not_own_number(lang: str) -> Screen:
    text = t(
        lang,
        "That is not your own number. Please use the button below to share yours; "
        "typed or forwarded contacts cannot be verified.",
    )
    return text, _share_phone(lang)


def phone_saved(lang: str, masked: str) -> Screen:
    return t(lang, "Thank you, your number is saved as {masked}.", masked=masked), CLOSE


# --------------------------------------------------------------------------- neighbourhood


def district_picker(lang: str, districts: Sequence[District]) -> Screen:
    """Every district; the ones not open yet say "coming soon"."""
    buttons = [
        (
            localized(lang, d, "name") + ("" if d.enabled else t(lang, " (coming soon)")),
            callbacks.encode(Action.DISTRICT, d.code),
        )
        for d in districts
    ]
    markup = keyboards.inline(keyboards.grid(buttons, 3))
    return t(lang, "Which district (구) do you live in?"), markup


def dong_picker(lang: str, dongs: Sequence[Region]) -> Screen:
    buttons = [(localized(lang, r, "name"), callbacks.encode(Action.DONG, r.id)) for r in dongs]
    rows = [
        *keyboards.grid(buttons, 3),
        [(t(lang, "« Back"), callbacks.encode(Action.DONG, "back"))],
    ]
    return t(lang, "Which neighbourhood (동)?"), keyboards.inline(rows)


def location_question(lang: str, dong: str) -> list[Screen]:
    """Two messages: the share-location keyboard, then the way out (skip or choose again)."""
    ask = t(
        lang,
        "To verify that you live in {dong}, share your current location with the button "
        "below. It is only checked against the neighbourhood's boundary, never stored.",
        dong=dong,
    )
    later = t(lang, "Not at home right now? You can verify later; some meetups need it.")
    ways_out = keyboards.inline([[_skip(lang)], [_repick(lang)]])
    return [(ask, _share_location(lang)), (later, ways_out)]


def _share_location(lang: str) -> ReplyKeyboardMarkup:
    return keyboards.request_location(t(lang, "📍 Share my location"))


def _skip(lang: str) -> keyboards.Button:
    return t(lang, "Skip for now"), callbacks.encode(Action.LOCATION, "skip")


def _repick(lang: str) -> keyboards.Button:
    return t(lang, "Choose another neighbourhood"), callbacks.encode(Action.LOCATION, "repick")


def outside(lang: str, metres: float, dong: str) -> Screen:
    text = t(
        lang,
        "That location is {distance} outside {dong}. Share a location inside {dong}, "
        "choose another neighbourhood, or skip for now.",
        distance=format_distance(lang, metres),
        dong=dong,
    )
    return text, keyboards.inline([[_repick(lang)], [_skip(lang)]])


def elsewhere(lang: str, metres: float, dong: str, instead: str) -> Screen:
    """The location fits another neighbourhood (inside it, or the nearest across a park or a
    road): that one is offered."""
    text = t(
        lang,
        "That location is {distance} outside {dong}, in {instead}. Use {instead} as your "
        "neighbourhood, choose another one, or skip for now.",
        distance=format_distance(lang, metres), dong=dong, instead=instead,
    )  # fmt: skip
    use = (t(lang, "Use {instead}", instead=instead), callbacks.encode(Action.LOCATION, "use"))
    return text, keyboards.inline([[use], [_repick(lang)], [_skip(lang)]])


def location_shared(lang: str) -> str:
    """The location question's answer, once a shared location verified the neighbourhood."""
    return t(lang, "📍 Location shared")


def verified(lang: str, dong: str) -> Screen:
    return t(lang, "Verified: you are in {dong}. ✅", dong=dong), CLOSE


def choose_again(lang: str) -> Screen:
    return t(lang, "Let's choose again."), CLOSE


def skipped(lang: str) -> Screen:
    return t(lang, "Skipped. You can verify your neighbourhood later from /profile."), CLOSE


# --------------------------------------------------------------------------- preferences


def choices(
    lang: str, options: Mapping[str, str], chosen: Sequence[str], action: str
) -> InlineKeyboardMarkup:
    """Toggle buttons (✅ on the chosen ones) and Done."""
    buttons = [
        (("✅ " if key in chosen else "") + t(lang, label), callbacks.encode(action, key))
        for key, label in options.items()
    ]
    rows = [*keyboards.grid(buttons, 2), [(t(lang, "Done"), callbacks.encode(action, "done"))]]
    return keyboards.inline(rows)


def interests_question(lang: str, chosen: Sequence[str]) -> Screen:
    text = t(lang, "What do you like doing? Choose as many as you like, then press Done.")
    return text, choices(lang, INTERESTS, chosen, Action.INTEREST)


def times_question(lang: str, chosen: Sequence[str]) -> Screen:
    text = t(lang, "When do you usually have time? Choose any, then press Done.")
    return text, choices(lang, TIMES_OF_DAY, chosen, Action.TIME)


def chosen(lang: str, field: str, keys: Sequence[str]) -> str:
    """The interests or times chosen, as the answered question shows them."""
    return interest_names(lang, keys) if field == "interests" else time_names(lang, keys)


def choose_one(lang: str) -> str:
    """Done pressed with nothing chosen."""
    return t(lang, "Choose at least one.")


# --------------------------------------------------------------------------- the end


def summary(
    lang: str,
    *,
    name: str,
    phone: str,
    dong: str,
    verified: bool,
    interests: Sequence[str],
    times: Sequence[str],
) -> Screen:
    """The answers to check before the account is created."""
    text = t(
        lang,
        "Please check your profile:\n\n"
        "Name: {name}\nPhone: {phone}\nNeighbourhood: {dong} ({verified})\n"
        "Interests: {interests}\nTimes: {times}",
        name=name,
        phone=phone,
        dong=dong,
        verified=verified_label(lang, verified),
        interests=interest_names(lang, interests) or "-",
        times=time_names(lang, times) or "-",
    )
    markup = keyboards.inline(
        [
            [(t(lang, "Confirm ✅"), callbacks.encode(Action.CONFIRM, "yes"))],
            [(t(lang, "Start over"), callbacks.encode(Action.CONFIRM, "over"))],
        ]
    )
    return text, markup


def welcome(lang: str, name: str) -> Screen:
    """The account is ready: the first thing to do is a mission (/missions, and a button that
    opens the same list)."""
    text = t(
        lang,
        "Welcome to Halsaram, {name}! Your account is ready. Send /help to see what you can "
        "do, or /profile to look at your card.",
        name=name,
    )
    first = t(lang, "Start with a mission near you: /missions")
    see = (t(lang, "🔍 See missions"), callbacks.encode(Action.MISSION_LIST, "all", 0))
    return f"{text}\n\n{first}", keyboards.inline([[see]])


# --------------------------------------------------------------------------- off the path


def use_contact_button(lang: str) -> Screen:
    text = t(
        lang,
        "Please use the button below to share your own number; a typed number cannot be verified.",
    )
    return text, _share_phone(lang)


def use_location_button(lang: str) -> Screen:
    text = t(lang, "Please share your location with the button below, or press Skip for now.")
    return text, _share_location(lang)


def use_buttons_above(lang: str) -> Screen:
    return t(lang, "Please choose with the buttons above."), None


def earlier_step(lang: str) -> str:
    """A valid button of another step pressed during a conversation."""
    return t(lang, "That button belongs to an earlier step. Please use the latest message.")


def signup_cancelled(lang: str) -> Screen:
    text = t(lang, "Signup cancelled and nothing was stored. Send /start to begin again.")
    return text, CLOSE


def edit_cancelled(lang: str) -> Screen:
    return t(lang, "Editing cancelled; your profile is unchanged."), CLOSE


def edit_timed_out(lang: str) -> Screen:
    text = t(
        lang,
        "I stopped editing your profile because nothing happened for a while; it is unchanged. "
        "Send /profile to edit it again.",
    )
    return text, CLOSE


def timed_out(lang: str) -> Screen:
    text = t(
        lang,
        "We stopped here because nothing happened for a while, and nothing was stored. "
        "Send /start to begin again.",
    )
    return text, CLOSE
