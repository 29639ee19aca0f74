"""The steps signup and profile editing share: own phone number, district → dong → location
check, interests, times, and the answers to everything off the path.

`Questions(key)` keeps the question a conversation asked last (its message and text, in
`user_data[key]`, persisted with the conversation), so that once it is answered, by a button or
by text, the question shows the answer and loses its buttons (`answered`), and buttons that no
longer apply go (`close`): hosting, reporting, appeals and meetup changes use it as it is.
`Steps(key)` adds the shared steps over the same answers. A step that only moves within the
shared part (a district chosen, "« Back", a toggle) is a handler either conversation puts in
its table as it is; a step whose outcome the conversation decides (a number kept, a location
verified, Done pressed) returns whether to move on, and the conversation asks its next
question. The texts are in `ui.signup`.
"""

from __future__ import annotations

import contextlib
import html
import logging
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError
from telegram.ext import CallbackQueryHandler, ConversationHandler

from bot.context import Context
from missions.categories import INTERESTS, TIMES_OF_DAY
from storage import accounts, errors
from ui import callbacks
from ui import signup as screens
from ui.callbacks import Action
from ui.i18n import localized
from ui.refusals import refusal
from verification import phone

# Conversation states, shared so both tables read alike (signup's numbers are persisted).
TERMS, PHONE, DISTRICT, DONG, LOCATION, PICK_INTERESTS, PICK_TIMES, CONFIRM = range(8)
END = ConversationHandler.END
ASKED = "asked"  # in the answers: the open question, {"id": message id, "text": its text}

log = logging.getLogger(__name__)


def message_of(update: Update) -> Message:
    message = update.effective_message
    assert message is not None
    return message


async def show(update: Update, screen: screens.Screen) -> None:
    """Sends a screen (text and markup) in the person's chat."""
    text, markup = screen
    await message_of(update).reply_text(text, reply_markup=markup)


async def tell_refusal(
    update: Update, context: Context, refused: errors.DomainError, close: bool = False
) -> None:
    """A refusal as a message in the chat (the press, if any, is answered already); `close`
    also takes away a share-contact keyboard."""
    text = refusal(context.lang, refused, context.services.settings.zone)
    await show(update, (text, screens.CLOSE if close else None))


def button(callback: Any, action: str, *first_args: str) -> CallbackQueryHandler:
    """Routes presses of `action` (only those values of its first argument, if given)."""
    return CallbackQueryHandler(callback, pattern=callbacks.pattern(action, *first_args))


def other_button(callback: Any) -> CallbackQueryHandler:
    """Every press but the greeting's "how does it work?" buttons, which the conversations
    let through to `handlers.start` (registered after them) so they work mid-signup."""
    help_press = callbacks.pattern(Action.HELP)[1:]
    return CallbackQueryHandler(callback, pattern=f"^(?!{help_press})")


async def wrong_button(update: Update, context: Context) -> None:
    """A button from another step or a forged one: the conversation stays where it is."""
    query = update.callback_query
    assert query is not None
    try:
        callbacks.decode(query.data)
    except callbacks.InvalidCallback:
        await context.stale_button()
        return
    await context.answer(screens.earlier_step(context.lang))


def pressed_label(update: Update) -> str | None:
    """The label of the button pressed, read from the message it was on."""
    query = update.callback_query
    message = query.message if query is not None else None
    if query is None or not isinstance(message, Message) or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for key in row:
            if key.callback_data == query.data:
                return key.text
    return None


async def _edit_softly(
    context: Context, chat_id: int, message_id: int, text: str | None, html_text: bool = False
) -> None:
    """Edits a question (`text`: its new text, or None for its buttons only) and never fails
    the step around it: Telegram refuses an edit that changes nothing ("message is not
    modified"), a message gone or too old to edit, one sent with a reply keyboard ("message
    can't be edited") or a text grown too long, and a call may not get through; then at least
    the buttons go (if that fails too, the step still goes on)."""
    if text is not None:
        try:
            await context.bot.edit_message_text(
                text, chat_id, message_id, reply_markup=None,
                parse_mode=ParseMode.HTML if html_text else None,
            )  # fmt: skip
            return
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return
            log.info("the answered question %s kept its text: %s", message_id, error.message)
        except NetworkError as error:  # a timeout or Telegram unreachable: the buttons still
            log.warning("the answered question %s: %s", message_id, type(error).__name__)
    with contextlib.suppress(BadRequest, NetworkError):
        await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)


class Questions:
    """The open question of a conversation whose answers are kept in `user_data[key]`."""

    def __init__(self, key: str) -> None:
        self.key = key

    def answers(self, context: Context) -> dict[str, Any]:
        """The answers so far (created empty on first use)."""
        return context.scratch(self.key)

    async def ask(self, update: Update, context: Context, screen: screens.Screen) -> Message:
        """Sends a question; one with buttons under it is remembered, to show its answer
        there. A question still open (asked again, or superseded) loses its buttons first."""
        await self.close_open(update, context)
        text, markup = screen
        sent = await message_of(update).reply_text(text, reply_markup=markup)
        if isinstance(markup, InlineKeyboardMarkup):
            self.answers(context)[ASKED] = {"id": sent.message_id, "text": text}
        return sent

    async def answered(self, update: Update, context: Context, shown: str | None = None) -> None:
        """The question answered: it shows `shown` (by default the label of the button
        pressed) and loses its buttons; the press is answered. A press on another message
        than the open question (a list the conversation started from) shows the answer there,
        and the open question loses its buttons."""
        query, chat = update.callback_query, update.effective_chat
        if query is not None:
            await context.answer()
        if chat is None:
            return
        asked = self.answers(context).pop(ASKED, None)
        pressed = query.message if query is not None else None
        shown = shown if shown is not None else pressed_label(update)
        if isinstance(pressed, Message):
            text = pressed.text_html if pressed.text and shown else None
            new = screens.with_answer(text, html.escape(shown)) if text and shown else None
            await _edit_softly(context, chat.id, pressed.message_id, new, html_text=True)
            if asked is not None and asked["id"] != pressed.message_id:
                await _edit_softly(context, chat.id, int(asked["id"]), None)
        elif asked is not None:
            new = screens.with_answer(asked["text"], shown) if shown else None
            await _edit_softly(context, chat.id, int(asked["id"]), new)

    async def cancelled(self, update: Update, context: Context) -> None:
        """The conversation cancelled (`/cancel` or the question's "Cancel"): the open
        question shows so and loses its buttons."""
        await self.answered(update, context, screens.cancelled_answer(context.lang))

    async def close(self, update: Update, context: Context) -> None:
        """Takes the buttons from the message pressed, if any, and from the open question, if
        any (their texts stay); the press is answered."""
        await context.close_buttons()
        query = update.callback_query
        pressed = query.message if query is not None else None
        await self.close_open(update, context, pressed.message_id if pressed else None)

    async def close_open(self, update: Update, context: Context, closed: int | None = None) -> None:
        """The open question, if any, loses its buttons (unless it is `closed` already): it
        was asked again, superseded, or the conversation ended."""
        asked = self.answers(context).pop(ASKED, None)
        chat = update.effective_chat
        if asked is not None and chat is not None and asked["id"] != closed:
            await _edit_softly(context, chat.id, int(asked["id"]), None)


class Steps(Questions):
    """The shared steps over the answers kept in `user_data[key]`."""

    def reset(self, context: Context, **answers: Any) -> None:
        """Starts the answers afresh (with `answers` already known)."""
        assert context.user_data is not None
        context.user_data[self.key] = dict(answers)

    def forget(self, context: Context) -> None:
        """Drops the answers (the conversation ended)."""
        assert context.user_data is not None
        context.user_data.pop(self.key, None)

    # ----------------------------------------------------------------------- phone

    async def ask_phone(self, update: Update, context: Context) -> int:
        """Asks for the own number, with the share-contact button."""
        self.answers(context)["step"] = PHONE
        await show(update, screens.phone_question(context.lang))
        return PHONE

    async def take_contact(self, update: Update, context: Context) -> bool:
        """Keeps the sender's own number, shared with the button, unless another account
        holds it; returns whether it was kept."""
        contact, user = message_of(update).contact, update.effective_user
        assert contact is not None and user is not None
        if contact.user_id != user.id:
            await show(update, screens.not_own_number(context.lang))
            return False
        hashed = phone.protected_hash(context.services.settings.secret(), contact.phone_number)
        try:
            async with context.services.sessions() as session:
                now = context.services.clock.now()
                await accounts.check_phone_free(session, hashed, user.id, now)
        except errors.PhoneTaken as taken:
            await tell_refusal(update, context, taken, close=True)
            return False
        answers = self.answers(context)
        answers["phone_hash"], answers["phone_masked"] = hashed, phone.masked(contact.phone_number)
        await show(update, screens.phone_saved(context.lang, answers["phone_masked"]))
        return True

    # ----------------------------------------------------------------------- neighbourhood

    async def ask_district(self, update: Update, context: Context) -> int:
        """Asks for the district; those not open yet say "coming soon"."""
        self.answers(context)["step"] = DISTRICT
        async with context.services.sessions() as session:
            found = await accounts.districts(session)
        await self.ask(update, context, screens.district_picker(context.lang, found))
        return DISTRICT

    async def district_chosen(self, update: Update, context: Context) -> int | None:
        """An open district shows its neighbourhoods; one not open yet says so."""
        try:
            async with context.services.sessions() as session:
                district = await accounts.open_district(session, context.pressed.args[0])
                dongs = await accounts.dongs(session, district.code)
        except errors.UnknownRegion as closed:
            await context.refuse(closed)
            return None
        await self.answered(update, context)
        answers = self.answers(context)
        answers["district"], answers["step"] = district.code, DONG
        await self.ask(update, context, screens.dong_picker(context.lang, dongs))
        return DONG

    async def back_to_districts(self, update: Update, context: Context) -> int:
        """ "« Back" under the neighbourhoods: the districts again (the neighbourhoods lose
        their buttons; nothing was chosen there)."""
        await self.close(update, context)
        return await self.ask_district(update, context)

    async def dong_chosen(self, update: Update, context: Context) -> int | None:
        """An open neighbourhood moves on to the location check."""
        value = context.pressed.args[0]
        region_id = int(value) if value.isdigit() else 0  # no region has id 0: refused below
        try:
            async with context.services.sessions() as session:
                region = await accounts.open_region(session, region_id)
        except errors.UnknownRegion as closed:
            await context.refuse(closed, alert=False)
            return None
        await self.answered(update, context)
        answers = self.answers(context)
        answers["region_id"], answers["dong_name"] = (
            region.id,
            localized(context.lang, region, "name"),
        )
        return await self.ask_location(update, context)

    async def ask_location(self, update: Update, context: Context) -> int:
        """Asks for a location to verify the neighbourhood, or to skip or choose again."""
        answers = self.answers(context)
        answers["step"] = LOCATION
        # The share-location keyboard, then the ways out: the question whose answer shows
        # (Telegram edits no message sent with a reply keyboard).
        for screen in screens.location_question(context.lang, answers.get("dong_name", "")):
            await self.ask(update, context, screen)
        return LOCATION

    async def check_location(self, update: Update, context: Context) -> bool:
        """Checks a shared location (plain, live or venue) against the neighbourhood's
        boundary; returns whether it is inside (verified)."""
        message = message_of(update)
        location = message.venue.location if message.venue else message.location
        assert location is not None
        answers = self.answers(context)
        dong = answers.get("dong_name", "")
        async with context.services.sessions() as session:
            found = await accounts.check_home(
                session, int(answers["region_id"]), location.latitude, location.longitude,
                context.services.settings.between_dongs_m,
            )  # fmt: skip
        if found.instead is not None:
            # Kept here, not in the button: a forged button cannot verify another 동.
            instead = localized(context.lang, found.instead, "name")
            answers["instead"] = {"region_id": found.instead.id, "name": instead}
            screen = screens.elsewhere(context.lang, found.metres, dong, instead)
            await self.ask(update, context, screen)  # its buttons replace the earlier ones
            return False
        if not found.verified:
            await self.ask(update, context, screens.outside(context.lang, found.metres, dong))
            return False
        answers["verified"] = True
        await self.answered(update, context, screens.location_shared(context.lang))
        await show(update, screens.verified(context.lang, dong))
        return True

    async def take_instead(self, update: Update, context: Context) -> bool:
        """ "Use <동>" after a location that fits another neighbourhood: that one, verified."""
        instead = self.answers(context).pop("instead", None)
        if instead is None:
            await context.stale_button()
            return False
        await self.answered(update, context)
        answers = self.answers(context)
        answers["region_id"], answers["dong_name"] = instead["region_id"], instead["name"]
        answers["verified"] = True
        await show(update, screens.verified(context.lang, instead["name"]))
        return True

    async def repick(self, update: Update, context: Context) -> int:
        """ "Choose another neighbourhood" at the location step."""
        await self.answered(update, context)
        await show(update, screens.choose_again(context.lang))
        return await self.ask_district(update, context)

    async def skip_location(self, update: Update, context: Context) -> None:
        """ "Skip for now": the neighbourhood is kept unverified."""
        await self.answered(update, context)
        self.answers(context)["verified"] = False
        await show(update, screens.skipped(context.lang))

    # ----------------------------------------------------------------------- preferences

    async def ask_interests(self, update: Update, context: Context) -> int:
        """Asks for interests, the current ones ticked."""
        answers = self.answers(context)
        answers["step"] = PICK_INTERESTS
        chosen = answers.setdefault("interests", [])
        await self.ask(update, context, screens.interests_question(context.lang, chosen))
        return PICK_INTERESTS

    async def ask_times(self, update: Update, context: Context) -> int:
        """Asks for the usual times, the current ones ticked."""
        answers = self.answers(context)
        answers["step"] = PICK_TIMES
        chosen = answers.setdefault("times", [])
        await self.ask(update, context, screens.times_question(context.lang, chosen))
        return PICK_TIMES

    async def toggle_interest(self, update: Update, context: Context) -> None:
        """Ticks or unticks an interest in place."""
        await self._toggle(update, context, INTERESTS, "interests", Action.INTEREST)

    async def toggle_time(self, update: Update, context: Context) -> None:
        """Ticks or unticks a time of day in place."""
        await self._toggle(update, context, TIMES_OF_DAY, "times", Action.TIME)

    async def _toggle(
        self, update: Update, context: Context, options: dict[str, str], field: str, action: str
    ) -> None:
        query = update.callback_query
        assert query is not None
        value = context.pressed.args[0]
        if value not in options:
            await context.stale_button()
            return
        chosen: list[str] = self.answers(context).setdefault(field, [])
        if value in chosen:
            chosen.remove(value)
        else:
            chosen.append(value)
        await context.answer()
        # The same markup again (a double tap): Telegram refuses "not modified".
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(
                screens.choices(context.lang, options, chosen, action)
            )

    async def done_choosing(self, update: Update, context: Context, field: str) -> bool:
        """Done under interests or times: moves on only with something chosen, which the
        question then shows."""
        chosen = self.answers(context).get(field)
        if not chosen:
            await context.answer(screens.choose_one(context.lang), alert=True, or_message=True)
            return False
        await self.answered(update, context, screens.chosen(context.lang, field, chosen))
        return True

    # ----------------------------------------------------------------------- off the path

    async def use_the_buttons(self, update: Update, context: Context) -> None:
        """Text, a photo or a sticker where a button is expected: explain and ask again."""
        step = self.answers(context).get("step")
        if step == PHONE:
            await show(update, screens.use_contact_button(context.lang))
        elif step == LOCATION:
            await show(update, screens.use_location_button(context.lang))
        else:
            await show(update, screens.use_buttons_above(context.lang))

    async def timed_out(self, update: Update, context: Context) -> None:
        """Runs when signup was idle too long; PTB ends it afterwards."""
        await self.end_idle(update, context, screens.timed_out(context.lang))

    async def end_idle(self, update: Update, context: Context, screen: screens.Screen) -> None:
        """A conversation idle too long: the question left open loses its buttons, the answers
        go, and the person is told `screen`."""
        await self.close_open(update, context)
        self.forget(context)
        chat = update.effective_chat
        if chat is not None:
            text, markup = screen
            await context.bot.send_message(chat.id, text, reply_markup=markup)
