"""Signup and profile edits: one persistent conversation, step 1 of the service flow.

`/start` by someone without an account walks them through:
terms → own phone number → district (구) → neighbourhood (동) → location check → interests →
preferred times → summary card → confirm. The account is created only on confirm, in one
transaction. Each step's answer is kept in `user_data["signup"]`; the conversation state and
that scratch data live in the database (`bot.persistence`), so a restart continues at the
same step. `/profile` re-enters the same steps one at a time to edit a part.

Telegram behaviour relied on: a contact shared with the `request_contact` button carries
`contact.user_id` equal to the sender's id; a forwarded or typed contact does not. A location
may arrive as a plain, a live (`live_period`) or a venue message.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

from telegram import Message, ReplyKeyboardRemove, Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context
from bot.services import services_of
from handlers.profile import account_or_invite, invite, profile_card
from handlers.start import greeting, greeting_keyboard, help_button
from missions.categories import INTERESTS, TIMES_OF_DAY
from storage import accounts, errors
from storage.db import transaction
from ui import callbacks, keyboards
from ui.callbacks import Action, InvalidCallback
from ui.i18n import format_distance, t
from verification import geo, phone

TERMS, PHONE, DISTRICT, DONG, LOCATION, PICK_INTERESTS, PICK_TIMES, CONFIRM = range(8)
END = ConversationHandler.END
NAME = "signup"
KEY = "signup"  # user_data key of the step answers

SIGNUP, EDIT = "signup", "edit"
EDITABLE = ("phone", "region", "interests", "times")


def _data(context: Context) -> dict[str, Any]:
    return context.scratch(KEY)


def _chat_message(update: Update) -> Message:
    message = update.effective_message
    assert message is not None
    return message


# --------------------------------------------------------------------------- prompts


async def ask_terms(update: Update, context: Context) -> int:
    lang = context.lang
    _data(context)["step"] = TERMS
    await _chat_message(update).reply_text(
        t(
            lang,
            "Before we start: Halsaram connects you with neighbours you have not met. "
            "To keep everyone safe we ask for your phone number (stored protected, never "
            "shown to others), your neighbourhood and your interests. Meetups happen only "
            "in public places; you can report anyone, and delete your account at any time "
            "with /deleteme.\n\nDo you agree to these terms and the privacy policy?",
        ),
        reply_markup=keyboards.inline(
            [
                [
                    (t(lang, "I agree"), callbacks.encode(Action.TERMS, "yes")),
                    (t(lang, "No, thanks"), callbacks.encode(Action.TERMS, "no")),
                ]
            ]
        ),
    )
    return TERMS


async def ask_phone(update: Update, context: Context) -> int:
    lang = context.lang
    _data(context)["step"] = PHONE
    await _chat_message(update).reply_text(
        t(
            lang,
            "Please share your phone number with the button below. It confirms you are a real "
            "person; others never see it.",
        ),
        reply_markup=keyboards.request_contact(t(lang, "📱 Share my phone number")),
    )
    return PHONE


async def ask_district(update: Update, context: Context) -> int:
    lang = context.lang
    _data(context)["step"] = DISTRICT
    async with context.services.sessions() as session:
        found = await accounts.districts(session)
    buttons = [
        (
            (d.name_ko if lang == "ko" else d.name_en)
            + ("" if d.enabled else t(lang, " (coming soon)")),
            callbacks.encode(Action.DISTRICT, d.code),
        )
        for d in found
    ]
    await _chat_message(update).reply_text(
        t(lang, "Which district (구) do you live in?"),
        reply_markup=keyboards.inline(keyboards.grid(buttons, 3)),
    )
    return DISTRICT


async def ask_dong(update: Update, context: Context, district: str) -> int:
    lang = context.lang
    _data(context)["step"] = DONG
    async with context.services.sessions() as session:
        found = await accounts.dongs(session, district)
    buttons = [
        (r.name_ko if lang == "ko" else r.name_en, callbacks.encode(Action.DONG, r.id))
        for r in found
    ]
    rows = [
        *keyboards.grid(buttons, 3),
        [(t(lang, "« Back"), callbacks.encode(Action.DONG, "back"))],
    ]
    await _chat_message(update).reply_text(
        t(lang, "Which neighbourhood (동)?"), reply_markup=keyboards.inline(rows)
    )
    return DONG


async def ask_location(update: Update, context: Context) -> int:
    lang = context.lang
    data = _data(context)
    data["step"] = LOCATION
    message = _chat_message(update)
    await message.reply_text(
        t(
            lang,
            "To verify that you live in {dong}, share your current location with the button "
            "below. It is only checked against the neighbourhood's boundary, never stored.",
            dong=data.get("dong_name", ""),
        ),
        reply_markup=keyboards.request_location(t(lang, "📍 Share my location")),
    )
    await message.reply_text(
        t(lang, "Not at home right now? You can verify later; some meetups need it."),
        reply_markup=keyboards.inline(
            [
                [(t(lang, "Skip for now"), callbacks.encode(Action.LOCATION, "skip"))],
                [
                    (
                        t(lang, "Choose another neighbourhood"),
                        callbacks.encode(Action.LOCATION, "repick"),
                    )
                ],
            ]
        ),
    )
    return LOCATION


def _toggle_markup(
    lang: str, options: dict[str, str], chosen: list[str], action: str
) -> keyboards.InlineKeyboardMarkup:
    buttons = [
        (("✅ " if key in chosen else "") + t(lang, label), callbacks.encode(action, key))
        for key, label in options.items()
    ]
    rows = [*keyboards.grid(buttons, 2), [(t(lang, "Done"), callbacks.encode(action, "done"))]]
    return keyboards.inline(rows)


async def ask_interests(update: Update, context: Context) -> int:
    lang = context.lang
    data = _data(context)
    data["step"] = PICK_INTERESTS
    data.setdefault("interests", [])
    await _chat_message(update).reply_text(
        t(lang, "What do you like doing? Choose as many as you like, then press Done."),
        reply_markup=_toggle_markup(lang, INTERESTS, data["interests"], Action.INTEREST),
    )
    return PICK_INTERESTS


async def ask_times(update: Update, context: Context) -> int:
    lang = context.lang
    data = _data(context)
    data["step"] = PICK_TIMES
    data.setdefault("times", [])
    await _chat_message(update).reply_text(
        t(lang, "When do you usually have time? Choose any, then press Done."),
        reply_markup=_toggle_markup(lang, TIMES_OF_DAY, data["times"], Action.TIME),
    )
    return PICK_TIMES


def summary_text(lang: str, data: dict[str, Any], name: str) -> str:
    verified = t(lang, "verified ✅") if data.get("verified") else t(lang, "not verified yet")
    interests = ", ".join(t(lang, INTERESTS[k]) for k in data.get("interests", []))
    times = ", ".join(t(lang, TIMES_OF_DAY[k]) for k in data.get("times", []))
    return t(
        lang,
        "Please check your profile:\n\n"
        "Name: {name}\nPhone: {phone}\nNeighbourhood: {dong} ({verified})\n"
        "Interests: {interests}\nTimes: {times}",
        name=name,
        phone=data.get("phone_masked", ""),
        dong=data.get("dong_name", ""),
        verified=verified,
        interests=interests or "-",
        times=times or "-",
    )


async def ask_confirm(update: Update, context: Context) -> int:
    lang = context.lang
    data = _data(context)
    data["step"] = CONFIRM
    user = update.effective_user
    assert user is not None
    await _chat_message(update).reply_text(
        summary_text(lang, data, user.first_name),
        reply_markup=keyboards.inline(
            [
                [(t(lang, "Confirm ✅"), callbacks.encode(Action.CONFIRM, "yes"))],
                [(t(lang, "Start over"), callbacks.encode(Action.CONFIRM, "over"))],
            ]
        ),
    )
    return CONFIRM


PROMPTS = {
    TERMS: ask_terms,
    PHONE: ask_phone,
    DISTRICT: ask_district,
    LOCATION: ask_location,
    PICK_INTERESTS: ask_interests,
    PICK_TIMES: ask_times,
    CONFIRM: ask_confirm,
}


# --------------------------------------------------------------------------- entry


async def begin(update: Update, context: Context) -> int:
    """`/start`: greets people with an account; starts signup for everyone else."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        account = await accounts.registered_user(session, user.id)
    if account is not None:
        context.remember_language(account.language)
        lang = context.lang
        await _chat_message(update).reply_text(
            greeting(lang, user.first_name), reply_markup=greeting_keyboard(lang)
        )
        return END
    assert context.user_data is not None
    context.user_data[KEY] = {"mode": SIGNUP}
    lang = context.lang
    await _chat_message(update).reply_text(
        greeting(lang, user.first_name), reply_markup=greeting_keyboard(lang)
    )
    return await ask_terms(update, context)


async def edit_part(update: Update, context: Context) -> int:
    """A button on the /profile card: re-runs one step and saves it."""
    part = context.pressed.args[0]
    async with context.services.sessions() as session:
        account = await account_or_invite(update, context, session)
    if account is None:
        return END
    await keyboards.close_buttons(update)
    assert context.user_data is not None
    context.user_data[KEY] = {
        "mode": EDIT,
        "interests": list(account.interests),
        "times": list(account.preferred_times),
    }
    steps = {"phone": ask_phone, "region": ask_district, "interests": ask_interests,
             "times": ask_times}  # fmt: skip
    return await steps[part](update, context)


# --------------------------------------------------------------------------- steps


async def terms_answer(update: Update, context: Context) -> int:
    """Agreeing moves on to the phone number; declining ends politely and stores nothing."""
    await keyboards.close_buttons(update)
    lang = context.lang
    if context.pressed.args[0] == "yes":
        _data(context)["terms"] = True
        return await ask_phone(update, context)
    assert context.user_data is not None
    context.user_data.pop(KEY, None)
    await _chat_message(update).reply_text(
        t(
            lang,
            "No problem, nothing was stored. If you change your mind, send /start any time.",
        )
    )
    return END


async def got_contact(update: Update, context: Context) -> int | None:
    """Accepts only the sender's own number, shared with the button."""
    message = _chat_message(update)
    lang = context.lang
    contact = message.contact
    user = update.effective_user
    assert contact is not None and user is not None
    if contact.user_id != user.id:
        await message.reply_text(
            t(
                lang,
                "That is not your own number. Please use the button below to share yours; "
                "typed or forwarded contacts cannot be verified.",
            ),
            reply_markup=keyboards.request_contact(t(lang, "📱 Share my phone number")),
        )
        return None
    svc = context.services
    hashed = phone.protected_hash(svc.settings.secret(), contact.phone_number)
    async with svc.sessions() as session:
        taken = await accounts.phone_in_use(session, hashed, user.id)
    if taken:
        await message.reply_text(
            t(
                lang,
                "This number already belongs to another account. One account per number: "
                "if it is yours, delete the other account with /deleteme there first.",
            ),
            reply_markup=ReplyKeyboardRemove(),
        )
        return None
    data = _data(context)
    data["phone_hash"], data["phone_masked"] = hashed, phone.masked(contact.phone_number)
    await message.reply_text(
        t(lang, "Thank you, your number is saved as {masked}.", masked=data["phone_masked"]),
        reply_markup=ReplyKeyboardRemove(),
    )
    if data.get("mode") == EDIT:
        return await _save_edit(update, context, "phone")
    return await ask_district(update, context)


async def district_chosen(update: Update, context: Context) -> int | None:
    lang = context.lang
    code = context.pressed.args[0]
    async with context.services.sessions() as session:
        found = {d.code: d for d in await accounts.districts(session)}
    district = found.get(code)
    query = update.callback_query
    assert query is not None
    if district is None or not district.enabled:
        await query.answer(
            t(lang, "Halsaram is not open in that district yet. Coming soon!"), show_alert=True
        )
        return None
    await keyboards.close_buttons(update)
    _data(context)["district"] = code
    return await ask_dong(update, context, code)


async def dong_chosen(update: Update, context: Context) -> int | None:
    lang = context.lang
    value = context.pressed.args[0]
    if value == "back":
        await keyboards.close_buttons(update)
        return await ask_district(update, context)
    try:
        async with context.services.sessions() as session:
            region = await accounts.open_region(session, int(value))
    except (errors.UnknownRegion, ValueError):
        assert update.callback_query is not None
        await update.callback_query.answer(t(lang, "That neighbourhood is not available."))
        return None
    await keyboards.close_buttons(update)
    data = _data(context)
    data["region_id"] = region.id
    data["dong_name"] = region.name_ko if lang == "ko" else region.name_en
    return await ask_location(update, context)


async def got_location(update: Update, context: Context) -> int | None:
    """Checks a shared location (plain, live or venue) against the neighbourhood's boundary."""
    message = _chat_message(update)
    lang = context.lang
    location = message.venue.location if message.venue else message.location
    assert location is not None
    data = _data(context)
    async with context.services.sessions() as session:
        region = await accounts.open_region(session, int(data["region_id"]))
        boundary = region.boundary
    distance = geo.distance_to_area_m(boundary, location.latitude, location.longitude)
    if distance > 0:
        await message.reply_text(
            t(
                lang,
                "That location is {distance} outside {dong}. Share a location inside {dong}, "
                "choose another neighbourhood, or skip for now.",
                distance=format_distance(lang, distance),
                dong=data.get("dong_name", ""),
            ),
            reply_markup=keyboards.inline(
                [
                    [
                        (
                            t(lang, "Choose another neighbourhood"),
                            callbacks.encode(Action.LOCATION, "repick"),
                        )
                    ],
                    [(t(lang, "Skip for now"), callbacks.encode(Action.LOCATION, "skip"))],
                ]
            ),
        )
        return None
    data["verified"] = True
    await message.reply_text(
        t(lang, "Verified: you are in {dong}. ✅", dong=data.get("dong_name", "")),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await _after_region(update, context)


async def location_choice(update: Update, context: Context) -> int:
    await keyboards.close_buttons(update)
    lang = context.lang
    if context.pressed.args[0] == "repick":
        await _chat_message(update).reply_text(
            t(lang, "Let's choose again."), reply_markup=ReplyKeyboardRemove()
        )
        return await ask_district(update, context)
    _data(context)["verified"] = False
    await _chat_message(update).reply_text(
        t(lang, "Skipped. You can verify your neighbourhood later from /profile."),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await _after_region(update, context)


async def _after_region(update: Update, context: Context) -> int:
    if _data(context).get("mode") == EDIT:
        return await _save_edit(update, context, "region")
    return await ask_interests(update, context)


async def _toggle(
    update: Update,
    context: Context,
    options: dict[str, str],
    field: str,
    action: str,
) -> bool:
    """Toggles one option in place; returns True when Done was pressed with a choice made."""
    query = update.callback_query
    assert query is not None
    lang = context.lang
    value = context.pressed.args[0]
    chosen: list[str] = _data(context).setdefault(field, [])
    if value == "done":
        if not chosen:
            await query.answer(t(lang, "Choose at least one."), show_alert=True)
            return False
        await keyboards.close_buttons(update)
        return True
    if value not in options:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return False
    if value in chosen:
        chosen.remove(value)
    else:
        chosen.append(value)
    await query.answer()
    # The same markup again (a double tap): Telegram refuses "not modified".
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(_toggle_markup(lang, options, chosen, action))
    return False


async def toggle_interest(update: Update, context: Context) -> int | None:
    if not await _toggle(update, context, INTERESTS, "interests", Action.INTEREST):
        return None
    if _data(context).get("mode") == EDIT:
        return await _save_edit(update, context, "interests")
    return await ask_times(update, context)


async def toggle_time(update: Update, context: Context) -> int | None:
    if not await _toggle(update, context, TIMES_OF_DAY, "times", Action.TIME):
        return None
    if _data(context).get("mode") == EDIT:
        return await _save_edit(update, context, "times")
    return await ask_confirm(update, context)


async def confirm(update: Update, context: Context) -> int:
    """Creates the account in one transaction; "start over" goes back to the terms."""
    await keyboards.close_buttons(update)
    lang = context.lang
    if context.pressed.args[0] == "over":
        assert context.user_data is not None
        context.user_data[KEY] = {"mode": SIGNUP}
        return await ask_terms(update, context)
    user = update.effective_user
    assert user is not None
    data = _data(context)
    svc = context.services
    registration = accounts.Registration(
        user_id=user.id,
        language=lang,
        display_name=user.first_name,
        phone_hash=data["phone_hash"],
        phone_masked=data["phone_masked"],
        region_id=int(data["region_id"]),
        region_verified=bool(data.get("verified")),
        interests=data.get("interests", []),
        preferred_times=data.get("times", []),
    )
    try:
        async with transaction(svc.sessions) as session:
            await accounts.register(session, registration, svc.clock.now())
    except errors.AlreadyRegistered:
        await _chat_message(update).reply_text(t(lang, "You are already signed up. ✅"))
        return END
    except errors.PhoneTaken:
        await _chat_message(update).reply_text(
            t(lang, "This number was just used for another account. Please share another one.")
        )
        return await ask_phone(update, context)
    except errors.UnknownRegion:
        await _chat_message(update).reply_text(
            t(lang, "That neighbourhood is no longer available. Please choose again.")
        )
        return await ask_district(update, context)
    assert context.user_data is not None
    context.user_data.pop(KEY, None)
    context.remember_language(lang)
    await _chat_message(update).reply_text(
        t(
            lang,
            "Welcome to Halsaram, {name}! Your account is ready. Send /help to see what you can "
            "do, or /profile to look at your card.",
            name=user.first_name,
        )
    )
    return END


async def _save_edit(update: Update, context: Context, part: str) -> int:
    """Stores one edited part of an existing account and shows the card again."""
    user = update.effective_user
    assert user is not None
    lang = context.lang
    data = _data(context)
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            if part == "phone":
                await accounts.update_phone(
                    session, user.id, data["phone_hash"], data["phone_masked"]
                )
            elif part == "region":
                await accounts.update_region(
                    session, user.id, int(data["region_id"]), bool(data.get("verified")),
                    svc.clock.now(),
                )  # fmt: skip
            elif part == "interests":
                await accounts.update_preferences(session, user.id, interests=data["interests"])
            else:
                await accounts.update_preferences(session, user.id, preferred_times=data["times"])
            account = await accounts.require_user(session, user.id)
            card = await profile_card(session, account, lang)
    except errors.PhoneTaken:
        await _chat_message(update).reply_text(
            t(lang, "This number already belongs to another account. Nothing was changed.")
        )
        return END
    except errors.UnknownRegion:
        await _chat_message(update).reply_text(
            t(lang, "That neighbourhood is no longer available. Please choose again.")
        )
        return await ask_district(update, context)
    except errors.NotRegistered:
        await invite(update, context)
        return END
    assert context.user_data is not None
    context.user_data.pop(KEY, None)
    await _chat_message(update).reply_text(t(lang, "Saved. ✅"))
    text, markup = card
    await _chat_message(update).reply_text(text, reply_markup=markup)
    return END


# --------------------------------------------------------------------------- off the path


async def use_the_buttons(update: Update, context: Context) -> None:
    """Text, a photo or a sticker where a button is expected: explain and ask again."""
    lang = context.lang
    step = _data(context).get("step")
    message = _chat_message(update)
    if step == PHONE:
        await message.reply_text(
            t(
                lang,
                "Please use the button below to share your own number; a typed number "
                "cannot be verified.",
            ),
            reply_markup=keyboards.request_contact(t(lang, "📱 Share my phone number")),
        )
        return None
    if step == LOCATION:
        await message.reply_text(
            t(lang, "Please share your location with the button below, or press Skip for now."),
            reply_markup=keyboards.request_location(t(lang, "📍 Share my location")),
        )
        return None
    await message.reply_text(t(lang, "Please choose with the buttons above."))
    return None


async def wrong_button(update: Update, context: Context) -> None:
    """A button from another step or a forged one: the conversation stays where it is."""
    query = update.callback_query
    assert query is not None
    lang = context.lang
    try:
        callbacks.decode(query.data)
        text = t(lang, "That button belongs to an earlier step. Please use the latest message.")
    except InvalidCallback:
        text = t(lang, "This button no longer works. Send /start to begin again.")
    await query.answer(text)
    return None


async def cancel(update: Update, context: Context) -> int:
    lang = context.lang
    assert context.user_data is not None
    mode = _data(context).get("mode")
    context.user_data.pop(KEY, None)
    text = (
        t(lang, "Editing cancelled; your profile is unchanged.")
        if mode == EDIT
        else t(lang, "Signup cancelled and nothing was stored. Send /start to begin again.")
    )
    await _chat_message(update).reply_text(text, reply_markup=ReplyKeyboardRemove())
    return END


async def timed_out(update: Update, context: Context) -> None:
    """Runs when the conversation was idle too long; PTB ends it afterwards."""
    lang = context.lang
    assert context.user_data is not None
    context.user_data.pop(KEY, None)
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(
            chat.id,
            t(
                lang,
                "We stopped here because nothing happened for a while, and nothing was stored. "
                "Send /start to begin again.",
            ),
            reply_markup=ReplyKeyboardRemove(),
        )


def _button(action: str, callback: Any) -> CallbackQueryHandler:
    return CallbackQueryHandler(callback, pattern=callbacks.pattern(action))


def conversation(timeout_seconds: float) -> ConversationHandler:
    """The signup/profile conversation, read as a table: state → what may move it on."""
    private = filters.ChatType.PRIVATE
    # PTB warns that CallbackQueryHandlers are not tracked per message when per_message=False;
    # that is intended: a person has one signup at a time, whichever message they press.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return ConversationHandler(
            entry_points=[
                CommandHandler("start", begin, filters=private),
                CallbackQueryHandler(
                    edit_part, pattern=callbacks.pattern(Action.PROFILE, *EDITABLE)
                ),
            ],
            states={
                TERMS: [_button(Action.TERMS, terms_answer)],
                PHONE: [MessageHandler(filters.CONTACT & private, got_contact)],
                DISTRICT: [_button(Action.DISTRICT, district_chosen)],
                DONG: [_button(Action.DONG, dong_chosen)],
                LOCATION: [
                    MessageHandler((filters.LOCATION | filters.VENUE) & private, got_location),
                    _button(Action.LOCATION, location_choice),
                ],
                PICK_INTERESTS: [_button(Action.INTEREST, toggle_interest)],
                PICK_TIMES: [_button(Action.TIME, toggle_time)],
                CONFIRM: [_button(Action.CONFIRM, confirm)],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                # The greeting's "how does it work?" buttons keep working during signup.
                CallbackQueryHandler(help_button, pattern=callbacks.pattern(Action.HELP)),
                MessageHandler(~filters.COMMAND & private, use_the_buttons),
                CallbackQueryHandler(wrong_button),
            ],
            name=NAME,
            persistent=True,
            allow_reentry=True,
            conversation_timeout=timeout_seconds,
        )


def register(application: Application) -> None:
    """Owns /start (it greets people who have an account) and the profile's edit buttons, so
    it comes before anything else that reacts to them."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    application.add_handler(conversation(timeout))
