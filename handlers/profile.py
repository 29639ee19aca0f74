"""The account's own commands: `/profile` (card with edit buttons), `/language`, `/deleteme`.

Editing a part of the card is its own conversation (`conversations.profile_edit`); this
module only shows, switches and deletes. The texts are in `ui.profile`; the card is read in
one call (`storage.profiles.profile_view`).

An operation that needs an account calls `storage.accounts.require_user`, whose
`NotRegistered` `context.refuse` (or the error handler) turns into the invitation to sign up.
"""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from storage import accounts, erasure, errors, profiles
from storage.db import transaction
from ui import callbacks
from ui import profile as screens
from ui.callbacks import Action
from ui.i18n import SUPPORTED
from ui.refusals import refusal


async def show_profile(update: Update, context: Context) -> None:
    """`/profile`: the card (without an account, the error handler invites to sign up)."""
    assert update.effective_message is not None and update.effective_user is not None
    async with context.services.sessions() as session:
        view = await profiles.profile_view(session, update.effective_user.id)
    rules = context.services.rules
    gates = (rules.join_min_trust, rules.host_min_trust)
    text, markup = screens.profile_card(context.lang, view, gates)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def choose_language(update: Update, context: Context) -> None:
    """`/language` (or the card's Language button): offers Korean and English."""
    await context.answer()
    assert update.effective_message is not None
    text, markup = screens.language_menu(context.lang)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def set_language(update: Update, context: Context) -> None:
    """Switches the language for this person; kept on the account when they have one."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    choice = context.pressed.args[0]
    if choice not in SUPPORTED:
        await context.stale_button()
        return
    await context.answer()
    async with transaction(context.services.sessions) as session:
        await accounts.set_language(session, update.effective_user.id, choice)
    context.remember_language(choice)
    # The same text already (a double tap).
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(screens.language_set(choice))


async def ask_delete(update: Update, context: Context) -> None:
    """`/deleteme`: what goes, what stays anonymously and the points lost, then a confirm
    (without an account, the error handler invites to sign up)."""
    assert update.effective_message is not None and update.effective_user is not None
    svc = context.services
    async with svc.sessions() as session:
        preview = await erasure.preview(session, update.effective_user.id, svc.clock.now())
    text, markup = screens.delete_question(context.lang, preview, svc.settings.zone)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def confirm_delete(update: Update, context: Context) -> None:
    """ "Yes, delete my account" erases everything that identifies the person (one
    transaction, then their photo files); "No" keeps everything."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang, choice, user_id = context.lang, context.pressed.args[0], update.effective_user.id
    await context.answer()
    if choice != "yes":
        await query.edit_message_text(screens.kept(lang))
        return
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            erased = await erasure.erase(session, user_id, svc.clock.now())
    except errors.NotRegistered as missing:
        await query.edit_message_text(refusal(lang, missing, svc.settings.zone))
        return
    await erasure.delete_photos(svc.photos, erased.photo_keys)
    try:
        await query.edit_message_text(screens.deleted(lang, erased))
    finally:
        # PTB's copy in memory, and its stored row. Last, with no await after it: PTB warns
        # (Application.drop_user_data) that a persistence flush running meanwhile would
        # re-create the entry, because this update still marks the person for an update.
        context.application.drop_user_data(user_id)


async def already_confirmed(update: Update, context: Context) -> None:
    """A second tap on "Confirm" after signup finished: say so instead of "outdated"."""
    assert update.effective_user is not None
    async with context.services.sessions() as session:
        account = await accounts.registered_user(session, update.effective_user.id)
    if account is None:
        await context.stale_button()
        return
    await context.refuse(errors.AlreadyRegistered(), alert=False)


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
