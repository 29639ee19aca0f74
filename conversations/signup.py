"""Signup: one persistent conversation, step 1 of the service flow.

`/start` greets everyone; someone without an account is then walked through:
terms → own phone number → district (구) → neighbourhood (동) → location check → interests →
preferred times → summary card → confirm. The account is created only on confirm, in one
transaction. Each step's answer is kept in `user_data["signup"]`; the conversation state and
that scratch data live in the database (`bot.persistence`), so a restart continues at the
same step. Editing a part of an existing profile is its own conversation
(`conversations.profile_edit`); the steps both ask are in `conversations.steps`.

Telegram behaviour relied on: a contact shared with the `request_contact` button carries
`contact.user_id` equal to the sender's id; a forwarded or typed contact does not. A location
may arrive as a plain, a live (`live_period`) or a venue message.
"""

from __future__ import annotations

import warnings

from telegram import Update, User
from telegram.ext import (
    Application,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context
from bot.services import services_of
from conversations.steps import (
    CONFIRM,
    DISTRICT,
    DONG,
    END,
    LOCATION,
    PHONE,
    PICK_INTERESTS,
    PICK_TIMES,
    TERMS,
    Steps,
    button,
    other_button,
    show,
    tell_refusal,
    wrong_button,
)
from storage import accounts, errors
from storage.db import transaction
from ui import signup as screens
from ui.callbacks import Action
from ui.greetings import greeting, greeting_keyboard

NAME = "signup"  # the persisted conversation's name: keep it, or people mid-signup start over
STEPS = Steps("signup")  # the answers so far, in user_data["signup"]


async def begin(update: Update, context: Context) -> int:
    """`/start`: greets people with an account; greets and starts signup for everyone else."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        account = await accounts.registered_user(session, user.id)
    if account is not None:
        context.remember_language(account.language)
    await show(update, (greeting(context.lang, user.first_name), greeting_keyboard(context.lang)))
    if account is not None:
        return END
    await STEPS.close(update, context)  # a question of an earlier try loses its buttons
    STEPS.reset(context)  # a fresh start: no answers from an earlier try
    return await ask_terms(update, context)


async def ask_terms(update: Update, context: Context) -> int:
    """Asks to agree to the terms and the privacy notice (shown with them)."""
    STEPS.answers(context)["step"] = TERMS
    await STEPS.ask(update, context, screens.terms(context.lang, context.services.settings))
    return TERMS


async def agree(update: Update, context: Context) -> int:
    """Agreeing to the terms moves on to the phone number."""
    await STEPS.answered(update, context)
    STEPS.answers(context)["terms"] = True
    return await STEPS.ask_phone(update, context)


async def decline(update: Update, context: Context) -> int:
    """Declining the terms ends politely and stores nothing."""
    await STEPS.answered(update, context)
    STEPS.forget(context)
    await show(update, screens.declined(context.lang))
    return END


async def got_contact(update: Update, context: Context) -> int | None:
    """Keeps the sender's own number and asks for the district."""
    if not await STEPS.take_contact(update, context):
        return None
    return await STEPS.ask_district(update, context)


async def got_location(update: Update, context: Context) -> int | None:
    """A location inside the neighbourhood verifies it and moves on to interests."""
    if not await STEPS.check_location(update, context):
        return None
    return await STEPS.ask_interests(update, context)


async def take_instead(update: Update, context: Context) -> int | None:
    """ "Use <동>": the neighbourhood the location fits, verified; on to interests."""
    if not await STEPS.take_instead(update, context):
        return None
    return await STEPS.ask_interests(update, context)


async def skip_location(update: Update, context: Context) -> int:
    """ "Skip for now": the neighbourhood stays unverified; on to interests."""
    await STEPS.skip_location(update, context)
    return await STEPS.ask_interests(update, context)


async def interests_done(update: Update, context: Context) -> int | None:
    """Done under the interests: on to the times."""
    if not await STEPS.done_choosing(update, context, "interests"):
        return None
    return await STEPS.ask_times(update, context)


async def times_done(update: Update, context: Context) -> int | None:
    """Done under the times: the summary to confirm."""
    if not await STEPS.done_choosing(update, context, "times"):
        return None
    return await ask_confirm(update, context)


async def ask_confirm(update: Update, context: Context) -> int:
    """Shows the answers to check, with Confirm and Start over."""
    answers = STEPS.answers(context)
    answers["step"] = CONFIRM
    user = update.effective_user
    assert user is not None
    summary = screens.summary(
        context.lang,
        name=user.first_name,
        phone=answers.get("phone_masked", ""),
        dong=answers.get("dong_name", ""),
        verified=bool(answers.get("verified")),
        interests=answers.get("interests", []),
        times=answers.get("times", []),
    )
    await STEPS.ask(update, context, summary)
    return CONFIRM


def _registration(context: Context, user: User) -> accounts.Registration:
    """The confirmed answers as storage takes them."""
    answers = STEPS.answers(context)
    return accounts.Registration(
        user_id=user.id,
        language=context.lang,
        display_name=user.first_name,
        phone_hash=answers["phone_hash"],
        phone_masked=answers["phone_masked"],
        region_id=int(answers["region_id"]),
        region_verified=bool(answers.get("verified")),
        interests=answers.get("interests", []),
        preferred_times=answers.get("times", []),
    )


async def confirm(update: Update, context: Context) -> int:
    """Creates the account in one transaction and welcomes the person; a refusal goes back
    to the step it concerns (a number taken meanwhile, a neighbourhood closed meanwhile)."""
    await STEPS.answered(update, context)
    user = update.effective_user
    assert user is not None
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            await accounts.register(session, _registration(context, user), svc.clock.now())
    except errors.AlreadyRegistered as done:
        await tell_refusal(update, context, done)
        return END
    except errors.PhoneTaken as taken:
        await tell_refusal(update, context, taken)
        return await STEPS.ask_phone(update, context)
    except errors.UnknownRegion as closed:
        await tell_refusal(update, context, closed)
        return await STEPS.ask_district(update, context)
    STEPS.forget(context)
    context.remember_language(context.lang)
    await show(update, screens.welcome(context.lang, user.first_name))
    return END


async def start_over(update: Update, context: Context) -> int:
    """ "Start over" under the summary: back to the terms with no answers."""
    await STEPS.answered(update, context)
    STEPS.reset(context)
    return await ask_terms(update, context)


async def cancel(update: Update, context: Context) -> int:
    """`/cancel`: ends signup; nothing was stored. The open question loses its buttons."""
    await STEPS.close(update, context)
    STEPS.forget(context)
    await show(update, screens.signup_cancelled(context.lang))
    return END


def conversation(timeout_seconds: float) -> ConversationHandler:
    """The signup conversation, read as a table: state → what may move it on."""
    private = filters.ChatType.PRIVATE
    # PTB warns that CallbackQueryHandlers are not tracked per message when per_message=False;
    # that is intended: a person has one signup at a time, whichever message they press.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return ConversationHandler(
            entry_points=[CommandHandler("start", begin, filters=private)],
            states={
                TERMS: [button(agree, Action.TERMS, "yes"), button(decline, Action.TERMS)],
                PHONE: [MessageHandler(filters.CONTACT & private, got_contact)],
                DISTRICT: [button(STEPS.district_chosen, Action.DISTRICT)],
                DONG: [
                    button(STEPS.back_to_districts, Action.DONG, "back"),
                    button(STEPS.dong_chosen, Action.DONG),
                ],
                LOCATION: [
                    MessageHandler((filters.LOCATION | filters.VENUE) & private, got_location),
                    button(STEPS.repick, Action.LOCATION, "repick"),
                    button(take_instead, Action.LOCATION, "use"),
                    button(skip_location, Action.LOCATION),
                ],
                PICK_INTERESTS: [
                    button(interests_done, Action.INTEREST, "done"),
                    button(STEPS.toggle_interest, Action.INTEREST),
                ],
                PICK_TIMES: [
                    button(times_done, Action.TIME, "done"),
                    button(STEPS.toggle_time, Action.TIME),
                ],
                CONFIRM: [
                    button(start_over, Action.CONFIRM, "over"),
                    button(confirm, Action.CONFIRM),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, STEPS.timed_out)],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                MessageHandler(~filters.COMMAND & private, STEPS.use_the_buttons),
                # Every other press; the greeting's "how does it work?" buttons go through.
                other_button(wrong_button),
            ],
            name=NAME,
            persistent=True,
            allow_reentry=True,
            conversation_timeout=timeout_seconds,
        )


def register(application: Application) -> None:
    """Owns a bare /start (it greets people who have an account too) and, while someone signs
    up, every press and message of theirs: so it comes before anything else that reacts."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    application.add_handler(conversation(timeout))
