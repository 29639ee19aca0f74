"""Step 2, review: admins publish, re-price or discard generated missions.

`halsaram missions generate` stores drafts; an admin sends `/drafts` in the admin group (or
in a private chat with the bot) and gets one card per waiting draft, with Publish, points
buttons and Discard. Each press is re-checked on the server: a forwarded card pressed by
someone who is not an admin changes nothing and gets a polite answer.
"""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import Context
from missions.categories import INTERESTS
from missions.draft import POINTS_MAX, POINTS_MIN
from storage import errors, missions
from storage.db import transaction
from storage.models import Mission
from ui import callbacks, keyboards
from ui.callbacks import Action, InvalidCallback
from ui.i18n import t

SHOWN = 10  # cards per /drafts; more would flood the group
STEPS = (-50, -10, 10, 50)


def review_card(mission: Mission, lang: str) -> str:
    """Both languages, since admins publish for everyone."""
    status = {
        "draft": t(lang, "📝 Draft, waiting for review"),
        "published": t(lang, "✅ Published"),
        "retired": t(lang, "🗑 Discarded"),
    }[mission.status]
    category = t(lang, INTERESTS[mission.category]) if mission.category in INTERESTS else "-"
    return t(
        lang,
        "Mission #{id} ({source})\n{title_ko}\n{title_en}\n\n{description_ko}\n{description_en}\n\n"
        "📍 {place_ko} / {place_en}\n🏷 {category} · 💪 {difficulty}/5 · ⏱ {duration} min · "
        "👥 {min_group}-{max_group}\n📸 {evidence_ko}\n📸 {evidence_en}\n🏆 {points} points\n\n"
        "{status}",
        id=mission.id,
        source=mission.source,
        title_ko=mission.title_ko,
        title_en=mission.title_en,
        description_ko=mission.description_ko,
        description_en=mission.description_en,
        place_ko=mission.place_name_ko,
        place_en=mission.place_name_en,
        category=category,
        difficulty=mission.difficulty,
        duration=mission.duration_min,
        min_group=mission.min_group,
        max_group=mission.max_group,
        evidence_ko=mission.evidence_rule_ko,
        evidence_en=mission.evidence_rule_en,
        points=mission.points,
        status=status,
    )


def review_buttons(mission: Mission, lang: str) -> InlineKeyboardMarkup | None:
    """Publish / points / Discard for a draft; a decided mission has no buttons."""
    if mission.status != "draft":
        return None
    # Each points button carries the resulting value, so a double tap sets it once.
    steps = [
        (f"{step:+d}", callbacks.encode(Action.DRAFT_POINTS, mission.id, mission.points + step))
        for step in STEPS
        if POINTS_MIN <= mission.points + step <= POINTS_MAX
    ]
    return keyboards.inline(
        [
            [
                (t(lang, "✅ Publish"), callbacks.encode(Action.DRAFT_PUBLISH, mission.id)),
                (t(lang, "🗑 Discard"), callbacks.encode(Action.DRAFT_DISCARD, mission.id)),
            ],
            steps,
        ]
    )


async def show_drafts(update: Update, context: Context) -> None:
    """`/drafts`: a review card for each waiting draft, in this chat."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None and chat is not None and user is not None
    lang = context.lang
    svc = context.services
    if chat.type != "private" and chat.id != svc.settings.admin_chat_id:
        return  # another group: not the place for reviews, and nobody there asked us
    async with svc.sessions() as session:
        try:
            await missions.require_admin(session, user.id)
        except errors.NotAdmin:
            await message.reply_text(t(lang, "Sorry, this command is for admins."))
            return
        drafts, total = await missions.pending_drafts(session, SHOWN)
    if not drafts:
        await message.reply_text(
            t(
                lang,
                "No drafts are waiting. Generate some with:\n"
                "halsaram missions generate --region songpa --count 50",
            )
        )
        return
    for mission in drafts:
        await context.bot.send_message(
            chat.id, review_card(mission, lang), reply_markup=review_buttons(mission, lang)
        )
    if total > len(drafts):
        await context.bot.send_message(
            chat.id,
            t(
                lang,
                "{shown} of {total} drafts shown. Send /drafts again for the next ones.",
                shown=len(drafts),
                total=total,
            ),
        )


async def review(update: Update, context: Context) -> None:
    """Publish, points or Discard on a review card; only an admin's press changes anything."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    try:
        data = callbacks.decode(query.data)
        mission_id = data.int_arg(0)
        points = data.int_arg(1) if data.action == Action.DRAFT_POINTS else 0
    except InvalidCallback:
        await query.answer(t(lang, "This button no longer works."))
        return
    admin_id = update.effective_user.id
    try:
        async with transaction(svc.sessions) as session:
            if data.action == Action.DRAFT_PUBLISH:
                mission = await missions.publish(session, mission_id, admin_id, svc.clock.now())
                notice = t(lang, "Published. People see it in /missions now.")
            elif data.action == Action.DRAFT_DISCARD:
                mission = await missions.discard(session, mission_id, admin_id)
                notice = t(lang, "Discarded.")
            else:
                mission = await missions.set_points(session, mission_id, admin_id, points)
                notice = t(lang, "Points set to {points}.", points=points)
    except errors.NotAdmin:
        await query.answer(t(lang, "Sorry, only admins can review missions."), show_alert=True)
        return
    except (errors.MissionNotFound, errors.PointsOutOfRange):
        await query.answer(t(lang, "This button no longer works."))
        return
    except errors.AlreadyReviewed:
        async with svc.sessions() as session:
            mission = await missions.get_mission(session, mission_id)
        notice = t(lang, "This mission was already reviewed.")
    await query.answer(notice)
    # The same text already (a double tap): nothing to change.
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            review_card(mission, lang), reply_markup=review_buttons(mission, lang)
        )


def register(application: Application) -> None:
    """/drafts and the review buttons; both re-check on the server that the presser is an admin."""
    application.add_handler(CommandHandler("drafts", show_drafts))
    application.add_handler(
        CallbackQueryHandler(
            review,
            pattern=callbacks.pattern_any(
                (Action.DRAFT_PUBLISH, Action.DRAFT_POINTS, Action.DRAFT_DISCARD)
            ),
        )
    )
