"""Builds the Application: settings in, handlers registered explicitly, commands per language.

The order of registration matters where noted; everything the bot reacts to is visible here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Update,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import metrics
from bot.context import CONTEXT_TYPES
from bot.ingress import PerUserProcessor
from bot.persistence import DatabasePersistence
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings
from bot.shared_budget import SharedBuckets
from bot.transport import BudgetRateLimiter, SendBudget
from conversations import host, signup
from handlers import (
    admin_missions,
    errors,
    evidence,
    feedback,
    flood,
    forwarded,
    groups,
    maps,
    market,
    meetups,
    missions,
    moderation,
    profile,
    review,
    start,
    stats,
)
from scheduler import jobs
from storage import inbox
from storage.clock import Clock, SystemClock
from storage.db import SessionFactory, create_engine, session_factory, transaction
from ui import callbacks
from ui.callbacks import Action
from ui.commands import COMMANDS
from ui.i18n import SUPPORTED, t


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    clock: Clock | None = None,
    sessions: SessionFactory | None = None,
    rate_limited: bool = True,
    schedule_jobs: bool = True,
    handle_updates: bool = True,
) -> Application:
    """The real bot. Tests pass a recording `request` and a frozen `clock`.

    With `rate_limited`, sends are paced under Telegram's limits (30/s overall, 20/min per
    group) and a 429 is retried after its `retry_after` instead of failing the reply.
    """
    if sessions is None:
        sessions = session_factory(create_engine(settings.database_url))
    clock = clock or SystemClock()
    builder = (
        ApplicationBuilder()
        .token(settings.token())
        .base_url(settings.bot_base_url)
        .base_file_url(settings.bot_file_url)
        .defaults(Defaults(tzinfo=settings.zone))
        .context_types(CONTEXT_TYPES)
        .post_init(_post_init)
        # Our own ingress feeds the update queue (bot.ingress); PTB's Updater is not used.
        .updater(None)
        .concurrent_updates(PerUserProcessor(on_done=_inbox_marker(sessions, clock)))
    )
    if handle_updates:
        builder = builder.persistence(DatabasePersistence(sessions, clock))
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if rate_limited:
        # One budget for replies and the outbox dispatcher alike (scheduler/ratelimit.py).
        budget = SendBudget(
            settings.outbox_per_second,
            settings.outbox_group_per_minute,
            settings.outbox_chat_per_second,
            shared=SharedBuckets(settings.redis_url) if settings.redis_url else None,
        )
        builder = builder.rate_limiter(BudgetRateLimiter(budget))  # type: ignore[arg-type]
    application = builder.build()
    application.bot_data[SERVICES_KEY] = Services.build(settings, clock, sessions)
    # A worker process (`halsaram worker`) runs jobs only: no handlers, no conversations.
    if handle_updates:
        register_handlers(application)
    if schedule_jobs:
        jobs.schedule(application)
    return application


async def _count_error(_update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    metrics.ERRORS.inc()


def _inbox_marker(sessions: SessionFactory, clock: Clock) -> Callable[[Update], Awaitable[None]]:
    async def mark_done(update: Update) -> None:
        async with transaction(sessions) as session:
            await inbox.mark_done(session, update.update_id, clock.now())

    return mark_done


def register_handlers(application: Application) -> None:
    """Every handler in one place; earlier groups run first, order inside a group matters."""
    private = filters.ChatType.PRIVATE
    settings = application.bot_data[SERVICES_KEY].settings
    timeout = settings.conversation_timeout_minutes * 60
    # Groups -2 and -1 run before every feature and may stop an update (ApplicationHandlerStop):
    # flood control first, then admin buttons pressed on a forwarded copy of a card.
    application.add_handler(TypeHandler(Update, flood.limit), group=-2)
    application.add_handler(
        CallbackQueryHandler(
            forwarded.admin_button_on_a_copy, pattern=callbacks.pattern_any(forwarded.ADMIN_ACTIONS)
        ),
        group=-1,
    )
    # A scanned check-in QR arrives as `/start c<token>`: before signup, which owns /start.
    checkin_link = filters.Regex(r"^/start c[A-Za-z0-9_-]+$")
    application.add_handler(
        CommandHandler("start", meetups.checkin_link, filters=private & checkin_link)
    )
    # A daily group post's button opens the bot as `/start m<mission id>`: the same reason.
    mission_link = filters.Regex(r"^/start m[0-9]+$")
    application.add_handler(
        CommandHandler("start", groups.mission_link, filters=private & mission_link)
    )
    # The signup conversation owns /start (it greets people who have an account) and the
    # profile's edit buttons; it must come before anything else that reacts to them.
    application.add_handler(signup.conversation(timeout))
    application.add_handler(CommandHandler("help", start.help_command))
    application.add_handler(CommandHandler("profile", profile.show_profile, filters=private))
    application.add_handler(CommandHandler("language", profile.choose_language))
    application.add_handler(CommandHandler("deleteme", profile.ask_delete, filters=private))
    application.add_handler(
        CallbackQueryHandler(
            profile.choose_language, pattern=callbacks.pattern(Action.PROFILE, "language")
        )
    )
    application.add_handler(
        CallbackQueryHandler(profile.set_language, pattern=callbacks.pattern(Action.LANGUAGE))
    )
    application.add_handler(
        CallbackQueryHandler(profile.confirm_delete, pattern=callbacks.pattern(Action.DELETE))
    )
    application.add_handler(
        CallbackQueryHandler(profile.already_confirmed, pattern=callbacks.pattern(Action.CONFIRM))
    )
    application.add_handler(
        CallbackQueryHandler(start.help_button, pattern=callbacks.pattern(Action.HELP))
    )

    # Step 2: missions. Browsing is for people with an account; /drafts and the review
    # buttons re-check on the server that the presser is an admin.
    application.add_handler(CommandHandler("missions", missions.list_missions, filters=private))
    application.add_handler(CommandHandler("drafts", admin_missions.show_drafts))
    for action, callback in (
        (Action.MISSION_LIST, missions.list_page),
        (Action.MISSION_FOR_YOU, missions.for_you),
        (Action.MISSION_SHOW, missions.show_mission),
        (Action.DRAFT_PUBLISH, admin_missions.review),
        (Action.DRAFT_POINTS, admin_missions.review),
        (Action.DRAFT_DISCARD, admin_missions.review),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))

    # Steps 3-4: meetups. The hosting conversations first: they own "create a meetup" and
    # the host's "message them" button.
    for conversation in host.conversations(timeout):
        application.add_handler(conversation)
    application.add_handler(CommandHandler("host", host.choose_mission, filters=private))
    application.add_handler(CommandHandler("meetups", meetups.list_meetups, filters=private))
    application.add_handler(CommandHandler("mymeetups", meetups.my_meetups, filters=private))
    application.add_handler(CommandHandler("checkin", meetups.checkin_code, filters=private))
    # A location outside a conversation (signup's location step comes first): distances.
    application.add_handler(
        MessageHandler((filters.LOCATION | filters.VENUE) & private, meetups.meetups_near)
    )
    for action, callback in (
        (Action.MEETUPS_OF, meetups.meetups_of_mission),
        (Action.MEETUP_VIEW, meetups.view_meetup),
        (Action.MEETUP_JOIN, meetups.join),
        (Action.MEETUP_LEAVE, meetups.leave),
        (Action.MEETUP_HOST, meetups.host_tool),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))

    # Steps 7-8: points and market.
    application.add_handler(CommandHandler("points", market.show_points, filters=private))
    application.add_handler(CommandHandler("market", market.show_market, filters=private))
    application.add_handler(CommandHandler("refund", market.refund_code, filters=private))
    for action, callback in (
        (Action.POINTS_PAGE, market.points_page),
        (Action.MARKET_ITEM, market.confirm_item),
        (Action.MARKET_BUY, market.buy),
        (Action.MARKET_CANCEL, market.cancel_item),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))

    # Step 7: feedback and safety.
    application.add_handler(moderation.report_conversation(timeout))
    application.add_handler(CommandHandler("report", moderation.report_command, filters=private))
    application.add_handler(CommandHandler("block", moderation.block_command, filters=private))
    for action, callback in (
        (Action.FEEDBACK, feedback.start_rating),
        (Action.FEEDBACK_STARS, feedback.stars),
        (Action.FEEDBACK_TAG, feedback.tag),
        (Action.MODERATE, moderation.moderate),
        (Action.BLOCK, moderation.block_person),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))

    # Steps 5-6: evidence. After every conversation (signup, hosting, reports), so a photo
    # one of them waits for goes there while it is active; albums are answered before the
    # single-photo handlers see them. Review buttons re-check on the server: admins only,
    # the first decision wins.
    photo_or_file = filters.PHOTO | filters.Document.ALL
    application.add_handler(
        MessageHandler(private & evidence.IN_ALBUM & photo_or_file, evidence.album)
    )
    application.add_handler(MessageHandler(private & filters.PHOTO, evidence.receive_photo))
    application.add_handler(
        MessageHandler(private & filters.Document.IMAGE, evidence.receive_document)
    )
    application.add_handler(MessageHandler(private & filters.Document.ALL, evidence.not_an_image))
    application.add_handler(CommandHandler("review", review.list_waiting, filters=private))
    for action, callback in (
        (Action.EVIDENCE_MEETUP, evidence.pick_meetup),
        (Action.REVIEW_APPROVE, review.decide),
        (Action.REVIEW_REASON, review.decide),
        (Action.REVIEW_AGAIN, review.decide),
        (Action.REVIEW_REJECT, review.reject_menu),
        (Action.REVIEW_BACK, review.back),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))

    # Step 9: groups. Admin commands and buttons re-check with getChatMember; the bot's own
    # membership changes arrive as my_chat_member (and a new_chat_members message).
    in_groups = filters.ChatType.GROUPS
    application.add_handler(
        ChatMemberHandler(groups.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(
        MessageHandler(in_groups & filters.StatusUpdate.NEW_CHAT_MEMBERS, groups.new_members)
    )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, groups.migrated))
    for name, command in (
        ("setregion", groups.set_region),
        ("settime", groups.set_time),
        ("pause", groups.pause),
        ("resume", groups.resume),
    ):
        application.add_handler(CommandHandler(name, command, filters=in_groups))
    for action, callback in (
        (Action.GROUP_DISTRICT, groups.district_chosen),
        (Action.GROUP_DONG, groups.dong_chosen),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))

    # Beyond: proof words, maps, stats. Proof words ride on check-in and the photo checks;
    # /stats re-checks on the server that the sender is an admin.
    application.add_handler(CommandHandler("map", maps.show_map, filters=private))
    application.add_handler(
        CallbackQueryHandler(maps.venue_map, pattern=callbacks.pattern(Action.MEETUP_MAP))
    )
    application.add_handler(CommandHandler("stats", stats.show_stats))

    # Last: whatever no feature claimed.
    application.add_handler(MessageHandler(filters.COMMAND & private, start.unknown_command))
    application.add_handler(CallbackQueryHandler(errors.stale_button))
    application.add_error_handler(errors.on_error)
    application.add_error_handler(_count_error)


async def _post_init(application: Application) -> None:
    """Publishes the command menu: Korean by default, each supported language on its own."""
    await publish_commands(application)


async def publish_commands(application: Application) -> None:
    bot = application.bot
    for lang in SUPPORTED:
        # An empty language_code is the fallback for every language without its own list.
        code = None if lang == "ko" else lang
        private = [BotCommand(c.name, t(lang, c.description)) for c in COMMANDS]
        groups = [
            BotCommand(c.name, t(lang, c.description)) for c in COMMANDS if not c.private_only
        ]
        await bot.set_my_commands(
            private, scope=BotCommandScopeAllPrivateChats(), language_code=code
        )
        await bot.set_my_commands(groups, scope=BotCommandScopeAllGroupChats(), language_code=code)
