"""Builds the Application: settings in, handlers registered explicitly, commands per language.

The order of registration matters where noted; everything the bot reacts to is visible here.
"""

from __future__ import annotations

import logging

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden
from telegram.ext import (
    Application,
    ApplicationBuilder,
    Defaults,
)
from telegram.request import BaseRequest

from bot.context import CONTEXT_TYPES
from bot.ingress import DatabaseOutage, GroupCommit, PerUserProcessor, ordering_key
from bot.menus import publish_operator_menu
from bot.persistence import DatabasePersistence, Written
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings, follow_admin_chat
from bot.shared_budget import SharedBuckets
from bot.transport import BudgetRateLimiter, SendBudget
from conversations import appeal, changes, host, profile_edit, report, signup
from handlers import (
    admin_missions,
    anonymous_admins,
    banned,
    blocking,
    checkin,
    edits,
    errors,
    evidence,
    fallback,
    feedback,
    flood,
    gathering,
    groups,
    maps,
    market,
    meetups,
    missions,
    moderation,
    privacy,
    profile,
    review,
    start,
    stats,
    video_evidence,
)
from scheduler import jobs
from scheduler.outbox import MAX_CONCURRENCY as OUTBOX_CONCURRENCY
from storage import inbox, users
from storage.clock import Clock, SystemClock
from storage.db import SessionFactory, create_engine, session_factory, transaction
from ui.commands import Audience, commands_for
from ui.i18n import SUPPORTED, t

# Updates handled at once (PTB's own default is 256). Each holds a database connection for most
# of its run and the engine keeps `DB_POOL_SIZE`, so more would only queue there, while each
# one in flight may hold an HTTP connection to Telegram.
CONCURRENT_UPDATES = 32
# Database connections a bot or worker process keeps open, and how many more it may open for a
# moment. SQLAlchemy's default keeps 5 and opens up to 10 more on demand, closing each again
# when it comes back: under load the bot opened and closed a PostgreSQL connection on most
# updates (a connect costs the bot and the server milliseconds of CPU; issue 24's profile of
# the e2e run). Within PostgreSQL's default 100 connections for a bot and a worker.
DB_POOL_SIZE = 20
DB_POOL_OVERFLOW = 10
# Calls of jobs other than the outbox's sends (a daily post, verification, a chat's lookup).
JOB_CONNECTIONS = 4


def http_pool_size(*, handle_updates: bool, schedule_jobs: bool) -> int:
    """Connections to Telegram this process can use at once: one per update handled at once,
    the outbox's widest concurrency (`scheduler.outbox.concurrency_for` stays within it) and a
    few for the other jobs. PTB's default pool allows 256, and httpx's bookkeeping grows with
    every connection open (it measured ~30% of a reply's CPU with 200 people at once)."""
    size = CONCURRENT_UPDATES if handle_updates else 0
    if schedule_jobs:
        size += OUTBOX_CONCURRENCY + JOB_CONNECTIONS
    return max(size, 1)


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
    # The database going away is waited out, not failed on (bot.ingress.DatabaseOutage).
    outage = DatabaseOutage(sessions)
    builder = (
        ApplicationBuilder()
        .token(settings.token())
        .base_url(settings.bot_base_url)
        .base_file_url(settings.bot_file_url)
        # In groups `reply_text` quotes the command (PTB's do_quote), and Telegram refuses a
        # reply to a message that is gone (a cleanup bot deleted it) with 400 "message to be
        # replied not found" unless allow_sending_without_reply (Bot API, ReplyParameters):
        # every reply is sent anyway, unquoted (PTB puts it into each ReplyParameters).
        .defaults(Defaults(tzinfo=settings.zone, allow_sending_without_reply=True))
        .context_types(CONTEXT_TYPES)
        .post_init(_post_init)
        # Our own ingress feeds the update queue (bot.ingress); PTB's Updater is not used.
        .updater(None)
    )
    marker = InboxMarker(sessions, clock)
    processor = PerUserProcessor(CONCURRENT_UPDATES, on_done=marker.mark_done, outage=outage)
    builder = builder.concurrent_updates(processor)
    if handle_updates:
        marker.persistence = DatabasePersistence(sessions, clock)
        marker.persistence.busy = processor.busy
        builder = builder.persistence(marker.persistence)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        pool = http_pool_size(handle_updates=handle_updates, schedule_jobs=schedule_jobs)
        builder = builder.connection_pool_size(pool)
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
    marker.application = application
    application.bot_data[SERVICES_KEY] = Services.build(settings, clock, sessions)
    # A worker process (`halsaram worker`) runs jobs only: no handlers, no conversations.
    if handle_updates:
        # The first error handler: an update that met a database outage runs again when it is
        # back, instead of an apology from handlers/errors.py (registered last).
        application.add_error_handler(outage.on_error)
        register_handlers(application)
    else:
        # A job that raises is logged the same way (type and traceback, no personal data),
        # not by PTB's "No error handlers are registered" fallback.
        application.add_error_handler(errors.on_error)
    if schedule_jobs:
        jobs.schedule(application)
    return application


class InboxMarker:
    """Marks an update done in the inbox, in one transaction with the conversation step and
    scratch values it left (bot.persistence), so a kill at any moment replays an update
    against the position it found, or not at all.

    By group commit (`bot.ingress.GroupCommit`): the updates finished while a mark-done commits
    are marked together in the next transaction, each with its person's rows (one update per
    person at a time: `PerUserProcessor` holds a person's next until this one returns), and
    each waits for that commit before its person's next update starts."""

    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.application: Application | None = None
        self.persistence: DatabasePersistence | None = None
        self._commits: GroupCommit[Update, None] = GroupCommit(self._mark)

    async def mark_done(self, update: Update) -> None:
        await self._commits.submit(update)

    async def _mark(self, updates: list[Update]) -> list[None]:
        persistence, application = self.persistence, self.application
        if persistence is not None and application is not None:
            # PTB hands what changed to the persistence, which holds each person's rows
            # until they are written below.
            await application.update_persistence()
        written: Written = {}
        async with transaction(self.sessions) as session:
            if persistence is not None:
                for update in updates:
                    written.update(await persistence.save(session, ordering_key(update)))
            await inbox.mark_done(session, [u.update_id for u in updates], self.clock.now())
        if persistence is not None and written:
            persistence.saved(written)
        return [None] * len(updates)


def register_handlers(application: Application) -> None:
    """Includes every feature, in order: earlier groups run first, and inside group 0 the
    first handler that matches an update wins, so the order below is the routing."""
    # Group -4 before anything: an edited message (a live location moving every few seconds,
    # a corrected text) is not a new message and stops here, costing no database write, no
    # flood count and no reply. Telegram is not asked for edits (bot.ingress.ALLOWED_UPDATES).
    edits.register(application)
    # Group -5, before even that: a banned person's updates get the final message and stop
    # (issue 23), but for /privacy, /mydata and /deleteme.
    banned.register(application)
    # Group -3 next and never stops an update: a person blocking the bot (my_chat_member in
    # their private chat) is marked, and unblocking or writing again clears the mark.
    blocking.register(application)
    # Group -2 runs before every feature and may stop an update: flood control. (Telegram
    # drops callback buttons from forwarded copies, so no press arrives on a copy of a card.)
    flood.register(application)
    # Deep links arrive as `/start <payload>`: before signup, which owns /start.
    checkin.register_deep_link(application)
    groups.register_deep_link(application)
    # Signup, then profile editing: each catches every button press while it runs, so they
    # come before any feature with buttons.
    signup.register(application)
    profile_edit.register(application)
    start.register(application)
    profile.register(application)
    privacy.register(application)
    missions.register(application)
    admin_missions.register(application)
    # The hosting conversations own "create a meetup": before the meetup buttons.
    host.register(application)
    # The host's "Change time" and "Edit note" (issue 23): also before the meetup buttons.
    changes.register(application)
    # /checkin; and in group -1 the location step of a check-in, before "meetups near you".
    checkin.register(application)
    meetups.register(application)
    market.register(application)
    # /report and its conversation, then the moderators' buttons and /block.
    report.register(application)
    # An appeal of a rejected photo (issue 23): its reason step, before photos and free text.
    appeal.register(application)
    moderation.register(application)
    feedback.register(application)
    # Photos after every conversation, so a photo one of them waits for goes there; videos
    # (a round video message is live proof, issue 21) just before, as evidence's last handler
    # answers any other file as "not an image".
    video_evidence.register(application)
    evidence.register(application)
    review.register(application)
    groups.register(application)
    # The daily post's "🙋" and "who?", and /setgather (issue 23).
    gathering.register(application)
    maps.register(application)
    stats.register(application)
    # An anonymous admin's /refund in the admin group: asked for privately (who acted).
    anonymous_admins.register(application)
    # Every message has an answer (issue 23): /cancel with nothing running, a bare check-in
    # code, free text and stickers; the /checkin handlers are handed in (features are apart).
    fallback.register(application, checkin.checkin_code, checkin.checkin_link)
    # Last: whatever no feature claimed, and the one error handler.
    errors.register(application)


async def _post_init(application: Application) -> None:
    """Publishes the command menu: Korean by default, each supported language on its own."""
    await publish_commands(application)


async def publish_commands(application: Application) -> None:
    """The menu per scope (`ui.commands` says who sees what) and language: private chats,
    group members, group admins, and the admin group when there is one. Telegram shows each
    person the most specific scope set, so each list is whole (the admins' includes the
    members' commands; the admin group's is its own)."""
    A = Audience
    menus: list[tuple[BotCommandScope, tuple[Audience, ...]]] = [
        (BotCommandScopeAllPrivateChats(), (A.PRIVATE,)),
        (BotCommandScopeAllGroupChats(), (A.GROUP,)),
        (BotCommandScopeAllChatAdministrators(), (A.GROUP, A.GROUP_ADMIN)),
    ]
    admin_chat = application.bot_data[SERVICES_KEY].settings.admin_chat_id
    if admin_chat is not None:
        menus.append((BotCommandScopeChat(admin_chat), (A.ADMIN_GROUP,)))
    for lang in SUPPORTED:
        # An empty language_code is the fallback for every language without its own list.
        code = None if lang == "ko" else lang
        for index, (scope, audiences) in enumerate(menus):
            listed = [BotCommand(c.name, t(lang, c.description)) for c in commands_for(*audiences)]
            try:
                await application.bot.set_my_commands(listed, scope=scope, language_code=code)
            except ChatMigrated as exc:
                # The admin group is now a supergroup: followed (and the operator told), and
                # its menu set under the new id.
                settings = application.bot_data[SERVICES_KEY].settings
                if not follow_admin_chat(settings, admin_chat or 0, exc.new_chat_id):
                    raise
                admin_chat = exc.new_chat_id
                scope = BotCommandScopeChat(admin_chat)
                menus[index] = (scope, audiences)
                try:
                    await application.bot.set_my_commands(listed, scope=scope, language_code=code)
                except (BadRequest, Forbidden) as again:
                    logging.getLogger(__name__).warning(
                        "no command menu for the admin group %s: %s", admin_chat, again.message
                    )
            except (BadRequest, Forbidden) as exc:
                # The admin group's id is wrong, or the bot is not in it yet: its menu waits
                # for the next start; nothing else depends on it.
                if not isinstance(scope, BotCommandScopeChat):
                    raise
                logging.getLogger(__name__).warning(
                    "no command menu for the admin group %s: %s", admin_chat, exc.message
                )
    # Each operator's private chat: the private commands and theirs (issue 23, bot/menus.py).
    async with application.bot_data[SERVICES_KEY].sessions() as session:
        operators = await users.admin_ids(session)
    for operator in operators:
        await publish_operator_menu(application.bot, operator)
