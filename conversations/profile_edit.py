"""Editing one part of a profile: a persistent conversation entered from the `/profile` card.

The card's Phone, Neighbourhood, Interests and Times buttons ask that part's step again,
the same steps signup asks (`conversations.steps`): own phone number; district → dong →
location check; interests; times. The answer is stored at once, in one transaction, and the
card is shown again. The card's Language button is `handlers.profile`'s.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from telegram import Update
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
from conversations.owner import Conversation
from conversations.steps import (
    DISTRICT,
    DONG,
    END,
    LOCATION,
    PHONE,
    PICK_INTERESTS,
    PICK_TIMES,
    Steps,
    button,
    other_button,
    show,
    tell_refusal,
    wrong_button,
)
from storage import accounts, errors, profiles
from storage.db import transaction
from ui import signup as screens
from ui.callbacks import Action
from ui.profile import EDITABLE, profile_card, saved

NAME = "profile_edit"  # the persisted conversation's name
STEPS = Steps("profile_edit")  # the answers so far, in user_data["profile_edit"]
ASK = {
    "phone": STEPS.ask_phone,
    "region": STEPS.ask_district,
    "interests": STEPS.ask_interests,
    "times": STEPS.ask_times,
}


async def begin(update: Update, context: Context) -> int:
    """A part's button on the card: asks that part's step again, from the current choices."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    try:
        async with context.services.sessions() as session:
            account = await accounts.require_user(session, user.id)
    except errors.NotRegistered as missing:
        await context.answer()
        await tell_refusal(update, context, missing)
        return END
    await context.close_buttons()
    STEPS.reset(context, interests=list(account.interests), times=list(account.preferred_times))
    return await ASK[context.pressed.args[0]](update, context)


async def got_contact(update: Update, context: Context) -> int | None:
    """Keeps the sender's own number and stores it."""
    if not await STEPS.take_contact(update, context):
        return None
    answers = STEPS.answers(context)
    change = accounts.ProfileChange(
        phone_hash=answers["phone_hash"], phone_masked=answers["phone_masked"]
    )
    return await _save(update, context, change)


async def got_location(update: Update, context: Context) -> int | None:
    """A location inside the neighbourhood verifies it; the neighbourhood is stored."""
    if not await STEPS.check_location(update, context):
        return None
    return await _save(update, context, _region_change(context))


async def take_instead(update: Update, context: Context) -> int | None:
    """ "Use <동>": the neighbourhood the location fits is stored, verified."""
    if not await STEPS.take_instead(update, context):
        return None
    return await _save(update, context, _region_change(context))


async def skip_location(update: Update, context: Context) -> int:
    """ "Skip for now": the neighbourhood is stored unverified."""
    await STEPS.skip_location(update, context)
    return await _save(update, context, _region_change(context))


def _region_change(context: Context) -> accounts.ProfileChange:
    """The neighbourhood just chosen, verified or not."""
    answers = STEPS.answers(context)
    return accounts.ProfileChange(
        region_id=int(answers["region_id"]), region_verified=bool(answers.get("verified"))
    )


async def interests_done(update: Update, context: Context) -> int | None:
    """Done under the interests: they are stored."""
    if not await STEPS.done_choosing(update, context, "interests"):
        return None
    change = accounts.ProfileChange(interests=STEPS.answers(context)["interests"])
    return await _save(update, context, change)


async def times_done(update: Update, context: Context) -> int | None:
    """Done under the times: they are stored."""
    if not await STEPS.done_choosing(update, context, "times"):
        return None
    change = accounts.ProfileChange(preferred_times=STEPS.answers(context)["times"])
    return await _save(update, context, change)


async def _save(update: Update, context: Context, change: accounts.ProfileChange) -> int:
    """Stores the part and shows the card again, in one transaction; a neighbourhood closed
    meanwhile is asked again, any other refusal ends the edit with nothing changed."""
    user = update.effective_user
    assert user is not None
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            await accounts.change_profile(session, user.id, change, svc.clock.now())
            view = await profiles.profile_view(session, user.id)
    except errors.UnknownRegion as closed:
        await tell_refusal(update, context, closed)
        return await STEPS.ask_district(update, context)
    except (errors.PhoneTaken, errors.NotRegistered) as refused:
        await tell_refusal(update, context, refused)
        return END
    STEPS.forget(context)
    await show(update, (saved(context.lang), None))
    gates = (svc.rules.join_min_trust, svc.rules.host_min_trust)
    await show(update, profile_card(context.lang, view, gates))
    return END


async def cancel(update: Update, context: Context) -> int:
    """`/cancel`: ends the edit; the profile is unchanged. The open question loses its
    buttons."""
    await STEPS.close(update, context)
    STEPS.forget(context)
    await show(update, screens.edit_cancelled(context.lang))
    return END


async def timed_out(update: Update, context: Context) -> None:
    """Idle too long: the profile is unchanged, and the person is told so (PTB ends the
    edit)."""
    await STEPS.end_idle(update, context, screens.edit_timed_out(context.lang))


def conversation(
    timeout_seconds: float, people: Mapping[int, Mapping[str, Any]]
) -> ConversationHandler:
    """The edit conversation, read as a table: state → what may move it on."""
    private = filters.ChatType.PRIVATE
    # Tracked per person, not per message, on purpose (as signup).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return Conversation(
            entry_points=[button(begin, Action.PROFILE, *EDITABLE)],
            states={
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
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
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
            people=people,
        )


def register(application: Application) -> None:
    """Owns the card's edit buttons and, while someone edits, every press and message of
    theirs: right after signup (which owns a bare /start), before every other feature."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    application.add_handler(conversation(timeout, application.user_data))
