"""The account's own commands: `/profile` (card with edit buttons), `/language`, `/deleteme`.

Editing a part of the card re-enters the signup conversation at that step
(`conversations.signup`); this module only shows, switches and deletes.
"""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from missions.categories import INTERESTS, TIMES_OF_DAY
from storage import accounts, errors, progress
from storage import missions as missions_store
from storage import trust as trust_model
from storage.db import transaction
from storage.models import User
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, SUPPORTED, t

LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}
TRUST_PARTS = {
    "ratings": N_("{n} ratings {points}"),
    "no_shows": N_("{n} no-shows {points}"),
    "approved": N_("{n} approved missions {points}"),
    "rejected": N_("{n} rejected photos {points}"),
    "reports": N_("{n} upheld reports {points}"),
}
BADGE_LABELS = {
    "first_mission": N_("🏅 First mission"),
    "ten_meetups": N_("🎉 10 meetups"),
    "five_categories": N_("🌈 Five kinds of missions"),
    "first_host": N_("🧭 First meetup hosted"),
}


async def profile_card(
    session: AsyncSession, user: User, lang: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The profile as a person sees it, with a button for each part they can change."""
    region = await missions_store.home_region(session, user)
    dong = (region.name_ko if lang == "ko" else region.name_en) if region else "-"
    verified = t(lang, "verified ✅") if user.region_verified_at else t(lang, "not verified yet")
    text = t(
        lang,
        "Your profile\n\nName: {name}\nPhone: {phone}\nNeighbourhood: {dong} ({verified})\n"
        "Interests: {interests}\nTimes: {times}\nTrust score: {trust}\nLevel: {level}\n"
        "Language: {language}",
        name=user.display_name,
        phone=user.phone_masked or "-",
        dong=dong,
        verified=verified,
        interests=", ".join(t(lang, INTERESTS[k]) for k in user.interests if k in INTERESTS) or "-",
        times=", ".join(t(lang, TIMES_OF_DAY[k]) for k in user.preferred_times if k in TIMES_OF_DAY)
        or "-",
        trust=f"{user.trust_score:.0f}",
        level=await progress.level(session, user.id),
        language=LANGUAGE_NAMES.get(user.language, user.language),
    )
    trust = await trust_model.compute(session, user.id)
    why = [t(lang, TRUST_PARTS[p.key], n=p.count, points=f"{p.points:+.0f}") for p in trust.parts]
    text += "\n" + t(
        lang,
        "Why this trust score: {parts}",
        parts="; ".join(why) if why else t(lang, "everyone starts at 50"),
    )
    earned = await progress.badges(session, user.id)
    if earned:
        text += "\n" + t(
            lang, "Badges: {badges}", badges=", ".join(t(lang, BADGE_LABELS[b]) for b in earned)
        )
    edit = Action.PROFILE
    markup = keyboards.inline(
        [
            [
                (t(lang, "Neighbourhood"), callbacks.encode(edit, "region")),
                (t(lang, "Phone"), callbacks.encode(edit, "phone")),
            ],
            [
                (t(lang, "Interests"), callbacks.encode(edit, "interests")),
                (t(lang, "Times"), callbacks.encode(edit, "times")),
            ],
            [(t(lang, "Language"), callbacks.encode(edit, "language"))],
        ]
    )
    return text, markup


async def account_or_invite(update: Update, context: Context, session: AsyncSession) -> User | None:
    """The person's account; without one, they are told how to sign up and get None.

    It reads in the caller's session, so a handler that goes on reading (a list, a card)
    does it all in one session instead of opening a second one.
    """
    assert update.effective_user is not None
    user = await accounts.registered_user(session, update.effective_user.id)
    if user is None:
        await invite(update, context)
    return user


async def invite(update: Update, context: Context) -> None:
    """Tells someone without an account how to get one."""
    assert update.effective_message is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    await update.effective_message.reply_text(
        t(
            context.lang,
            "You need an account for this. Send /start to sign up; it takes a minute.",
        )
    )


async def show_profile(update: Update, context: Context) -> None:
    """`/profile`: the card, or an invitation to sign up."""
    assert update.effective_message is not None
    async with context.services.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        text, markup = await profile_card(session, user, context.lang)
    await update.effective_message.reply_text(text, reply_markup=markup)


def _language_markup() -> InlineKeyboardMarkup:
    return keyboards.inline(
        [[(LANGUAGE_NAMES[code], callbacks.encode(Action.LANGUAGE, code)) for code in SUPPORTED]]
    )


async def choose_language(update: Update, context: Context) -> None:
    """`/language` (or the card's Language button): offers Korean and English."""
    lang = context.lang
    if update.callback_query is not None:
        await update.callback_query.answer()
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        t(lang, "Choose your language:"), reply_markup=_language_markup()
    )


async def set_language(update: Update, context: Context) -> None:
    """Switches the language for this person; kept on the account when they have one."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    choice = callbacks.decode(query.data).args[0]
    if choice not in SUPPORTED:
        await query.answer(
            t(context.lang, "This button no longer works. Send /start to begin again.")
        )
        return
    async with transaction(context.services.sessions) as session:
        await accounts.set_language(session, update.effective_user.id, choice)
    context.remember_language(choice)
    await query.answer()
    # The same text already (a double tap).
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(t(choice, "Language set to English."))


async def ask_delete(update: Update, context: Context) -> None:
    """`/deleteme`: explains what goes and asks to confirm."""
    assert update.effective_message is not None
    lang = context.lang
    async with context.services.sessions() as session:
        if await account_or_invite(update, context, session) is None:
            return
    await update.effective_message.reply_text(
        t(
            lang,
            "Delete your account? Your phone number, neighbourhood, interests and name are "
            "erased. Points and vouchers you have are lost; past reviews stay anonymous.",
        ),
        reply_markup=keyboards.inline(
            [
                [
                    (t(lang, "Yes, delete my account"), callbacks.encode(Action.DELETE, "yes")),
                    (t(lang, "No, keep it"), callbacks.encode(Action.DELETE, "no")),
                ]
            ]
        ),
    )


async def confirm_delete(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    await query.answer()
    if callbacks.decode(query.data).args[0] != "yes":
        await query.edit_message_text(t(lang, "Good, nothing was deleted."))
        return
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            await accounts.delete_account(session, update.effective_user.id, svc.clock.now())
    except errors.NotRegistered:
        await query.edit_message_text(t(lang, "There is no account to delete."))
        return
    if context.user_data is not None:
        context.user_data.clear()
    await query.edit_message_text(
        t(lang, "Your account and personal data were deleted. Thank you for joining us.")
    )


async def already_confirmed(update: Update, context: Context) -> None:
    """A second tap on "Confirm" after signup finished: say so instead of "outdated"."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    async with context.services.sessions() as session:
        user = await accounts.registered_user(session, update.effective_user.id)
    if user is not None:
        await query.answer(t(lang, "You are already signed up. ✅"))
    else:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))


def register(application: Application) -> None:
    """/profile, /language and /deleteme with their buttons (editing is in conversations/)."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("profile", show_profile, filters=private))
    application.add_handler(CommandHandler("language", choose_language))
    application.add_handler(CommandHandler("deleteme", ask_delete, filters=private))
    for action, callback in (
        (callbacks.pattern(Action.PROFILE, "language"), choose_language),
        (callbacks.pattern(Action.LANGUAGE), set_language),
        (callbacks.pattern(Action.DELETE), confirm_delete),
        (callbacks.pattern(Action.CONFIRM), already_confirmed),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=action))
